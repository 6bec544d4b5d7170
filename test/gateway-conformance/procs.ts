/*
 * Child processes of the conformance run (kube-controller-manager, kube-scheduler, kwok, echo-basic,
 * the suite): their last output lines are kept for failure messages, and all are killed when this
 * process exits, whatever happened.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A started process and the last lines of its output. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines of stdout and stderr, interleaved. */
  tail(lines?: number): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Options of {@link startProc}. */
export interface ProcOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Lines kept (default 300). */
  readonly keep?: number;
  /** Called with each output line as it comes, with the stream it came on. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Spawns `bin args` with stdin closed and its output kept. */
export function startProc(name: string, bin: string, args: readonly string[], options: ProcOptions = {}): Proc {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  live.add(child);
  const keep = options.keep ?? 300;
  const log: string[] = [];
  const partial = { out: '', err: '' };
  const take = (which: 'out' | 'err') => (chunk: Buffer): void => {
    const text = partial[which] + chunk.toString('utf8');
    const lines = text.split('\n');
    partial[which] = lines.pop() ?? '';
    for (const line of lines) {
      log.push(line);
      options.onLine?.(line, which === 'out' ? 'stdout' : 'stderr');
    }
    if (log.length > keep) log.splice(0, log.length - keep);
  };
  child.stdout.on('data', take('out'));
  child.stderr.on('data', take('err'));
  child.on('error', (err) => log.push(`${name}: ${err.message}`));
  const exit = once(child, 'exit').catch(() => undefined);
  child.on('exit', (code, signal) => {
    live.delete(child);
    log.push(`${name} exited (${signal ?? `code ${code ?? '?'}`})`);
  });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    child,
    tail: (lines = 40) => [...log.slice(-lines), ...[partial.out, partial.err].filter((l) => l !== '')].join('\n'),
    exited,
    async stop(graceMs = 5000) {
      if (exited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
