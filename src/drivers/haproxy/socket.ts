import { connect } from 'node:net';

/** Sends one command line (or a payload command) to an HAProxy CLI socket and returns the answer. */
export function haproxyCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`HAProxy socket ${socketPath}: no answer to "${command.split('\n')[0] ?? ''}" in ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write(command.endsWith('\n') ? command : `${command}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** The worker pid from `show info`, or undefined when the socket does not answer. */
export async function workerPid(runtimeSocket: string): Promise<number | undefined> {
  try {
    const info = await haproxyCommand(runtimeSocket, 'show info', 2000);
    const m = /^Pid: (\d+)$/m.exec(info);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
