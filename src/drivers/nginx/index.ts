import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createNginxRenderer } from '../../render/nginx/index.ts';
import { PassError } from '../../shared/errors.ts';
import { ExternalDriver } from '../external/apply.ts';
import type { Dialect, ExternalDriverOptions } from '../external/apply.ts';
import { readIfExists, writeAtomic } from '../external/files.ts';
import type { ManagedProcess } from '../external/process.ts';

/** Options of the nginx driver. */
export interface NginxDriverOptions extends ExternalDriverOptions {
  /** `worker_processes` (default 2). */
  readonly workerProcesses?: number;
  /** The pid file of the nginx master (sidecar: on the shared volume; default `<workDir>/nginx.pid`). */
  readonly pidFile?: string;
}

/** Child pids of a process (Linux /proc). */
async function childrenOf(pid: number): Promise<Set<number>> {
  const text = await readIfExists(`/proc/${pid}/task/${pid}/children`);
  return new Set((text ?? '').split(/\s+/).filter((s) => s !== '').map(Number));
}

async function masterPid(proc: ManagedProcess | undefined, pidFile: string): Promise<number | undefined> {
  if (proc?.pid !== undefined) return proc.pid;
  const text = await readIfExists(pidFile);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The nginx half of the external driver: `nginx -t`, SIGHUP reloads through the master process. */
export function nginxDialect(options: NginxDriverOptions): Dialect {
  const renderer = createNginxRenderer(options.templates);
  const pidFileOf = (workDir: string): string => options.pidFile ?? path.join(workDir, 'nginx.pid');
  return {
    name: 'nginx',
    defaultBinary: 'nginx',
    stopSignal: 'SIGQUIT',
    render(model, ctx) {
      return renderer.render(model, {
        workDir: ctx.workDir,
        ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
        ...(options.readTimeoutMs === undefined ? {} : { readTimeoutMs: options.readTimeoutMs }),
        ...(options.gracePeriodMs === undefined ? {} : { gracePeriodMs: options.gracePeriodMs }),
        ...(options.forwardedHeader === undefined ? {} : { forwardedHeader: options.forwardedHeader }),
        ...(options.workerProcesses === undefined ? {} : { workerProcesses: options.workerProcesses }),
        ...(ctx.acmeChallengeAddress === undefined ? {} : { acmeChallengeAddress: ctx.acmeChallengeAddress }),
      });
    },
    async writeDefaultCertificate(workDir, pair) {
      await writeAtomic(path.join(workDir, 'certs/default.crt'), pair.certPem, 0o644);
      await writeAtomic(path.join(workDir, 'certs/default.key'), pair.keyPem, 0o600);
    },
    validateArgs: (configFile, workDir) => ['-t', '-q', '-c', configFile, '-p', `${workDir}/`, '-e', 'stderr'],
    processSpec(binary, configFile, workDir) {
      return { binary, args: ['-c', configFile, '-p', `${workDir}/`, '-e', 'stderr'], cwd: workDir };
    },
    async waitReady(proc, workDir) {
      // nginx writes its pid file after it has bound every listener.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const text = await readIfExists(pidFileOf(workDir));
        if (text !== undefined && Number(text.trim()) === proc?.pid) return;
        if (proc !== undefined && !proc.running) throw new PassError('PASS_PROXY_START', 'nginx exited during start');
        if (Date.now() > deadline) throw new PassError('PASS_PROXY_TIMEOUT', 'nginx did not write its pid file within 15 s');
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async reload(proc, workDir) {
      const pid = await masterPid(proc, pidFileOf(workDir));
      if (pid === undefined) throw new PassError('PASS_PROXY_RELOAD', `no nginx master to reload (pid file ${pidFileOf(workDir)})`);
      const before = await childrenOf(pid);
      process.kill(pid, 'SIGHUP');
      // The reload is done once the master runs workers that did not exist before.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const now = await childrenOf(pid);
        if ([...now].some((c) => !before.has(c))) {
          // Done once new workers run and every old worker has stopped accepting (exited or "shutting down").
          const cmd = async (c: number): Promise<string> => readFile(`/proc/${c}/cmdline`, 'utf8').catch(() => '');
          const fresh = await Promise.all([...now].filter((c) => !before.has(c)).map(cmd));
          const old = await Promise.all([...before].filter((c) => now.has(c)).map(cmd));
          if (fresh.some((c) => c.includes('worker process')) && old.every((c) => !c.includes('worker process') || c.includes('shutting down'))) return;
        }
        if (Date.now() > deadline) throw new PassError('PASS_PROXY_TIMEOUT', 'nginx did not start new workers within 15 s of SIGHUP');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** The nginx driver: renders nginx.conf, validates with `nginx -t`, reloads through the master. */
export class NginxDriver extends ExternalDriver {
  constructor(options: NginxDriverOptions = {}) {
    super(nginxDialect(options), options);
  }
}

/** Creates the nginx driver; nothing runs until the first `apply`. */
export function createNginxDriver(options: NginxDriverOptions = {}): NginxDriver {
  return new NginxDriver(options);
}
