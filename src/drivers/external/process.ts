import { execa } from 'execa';
import type { Logger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';

/** How to run a proxy as a child process. */
export interface ProcessSpec {
  readonly binary: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** Run before every start and restart (nginx: remove its admin socket a crash left behind, which it cannot bind again). */
  readonly beforeStart?: () => void;
}

/**
 * A proxy run as a child of the controller ("bundled" mode): started with execa, restarted with
 * exponential backoff (0.5 s to 30 s) when it exits on its own, stopped with a signal on request.
 */
export class ManagedProcess {
  readonly #spec: ProcessSpec;
  readonly #logger: Logger;
  #child: { readonly pid: number | undefined; kill(sig: NodeJS.Signals): boolean } | undefined;
  #stopping = false;
  #backoffMs = 500;
  #restartTimer: NodeJS.Timeout | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Set by the owner: called after an unexpected exit, once the process runs again. */
  onRestart: (() => void) | undefined;
  restarts = 0;

  constructor(spec: ProcessSpec, logger: Logger) {
    this.#spec = spec;
    this.#logger = logger;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process; resolves once it is spawned (readiness is the caller's to check). */
  start(): void {
    this.#stopping = false;
    this.#spec.beforeStart?.();
    const child = execa(this.#spec.binary, [...this.#spec.args], {
      reject: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      cleanup: true,
      ...defined({ cwd: this.#spec.cwd }),
    });
    const handle = { pid: child.pid, kill: (sig: NodeJS.Signals): boolean => child.kill(sig) };
    this.#child = handle;
    const log = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.#logger.debug({ pid: child.pid }, line.trim());
    };
    child.stdout?.on('data', log);
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        if (/ALERT|emerg|\[crit\]|\[alert\]/.test(line)) this.#logger.warn({ pid: child.pid }, line.trim());
        else this.#logger.debug({ pid: child.pid }, line.trim());
      }
    });
    const started = Date.now();
    this.#exited = child.then((result) => {
      if (this.#child === handle) this.#child = undefined;
      if (this.#stopping) return;
      if (Date.now() - started > 60_000) this.#backoffMs = 500;
      this.#logger.warn({ exitCode: result.exitCode, signal: result.signal, restartInMs: this.#backoffMs }, `${this.#spec.binary} exited unexpectedly; restarting`);
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        if (this.#stopping) return;
        this.restarts++;
        this.start();
        this.onRestart?.();
      }, this.#backoffMs);
      this.#backoffMs = Math.min(30_000, this.#backoffMs * 2);
    });
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Sends a signal to the running process. */
  signal(sig: NodeJS.Signals): void {
    this.#child?.kill(sig);
  }

  /** Sends `sig`, waits up to `graceMs` for the exit, then kills. */
  async stop(sig: NodeJS.Signals, graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child === undefined) return;
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs + 500);
    try {
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
