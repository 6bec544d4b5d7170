import { lookup } from 'node:dns/promises';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createNginxRenderer } from '../../render/nginx/index.ts';
import { DEFAULT_CERTIFICATE_FILE, HEADERS_MORE_MODULE, LUA_ADMIN_SOCKET, LUA_ENDPOINTS_FILE, LUA_MODULES } from '../../render/nginx/view.ts';
import type { LuaModules } from '../../render/nginx/view.ts';
import { authTarget } from '../../render/nginx/upstream.ts';
import { certificateChecker } from './certificates.ts';
import type { PendingChecks } from './certificates.ts';
import type { RoutingModel } from '../../model/types.ts';
import { PassError } from '../../shared/errors.ts';
import { defined } from '../../shared/optional.ts';
import { ExternalDriver } from '../external/apply.ts';
import type { Dialect, EarlyWork, ExternalDriverOptions } from '../external/apply.ts';
import { readIfExists, writeAtomic } from '../external/files.ts';
import { firstEntryPointAnswers } from '../external/probe.ts';
import type { ManagedProcess } from '../external/process.ts';
import { parseNginxLine } from '../external/request-log.ts';

/** Options of the nginx driver. */
export interface NginxDriverOptions extends ExternalDriverOptions {
  /** `worker_processes` (default 2). */
  readonly workerProcesses?: number;
  /** The pid file of the nginx master (sidecar: on the shared volume; default `<workDir>/nginx.pid`). */
  readonly pidFile?: string;
  /**
   * The account nginx workers run as when the controller (and so the nginx master) runs as root
   * (default `nobody`, nginx's own default). Ignored when not root: workers keep the master's user.
   */
  readonly workerUser?: string;
  /**
   * The headers-more module file (`Server: passerelle` when the upstream sends none); default the
   * Debian package's path, used when it exists; false never loads it.
   */
  readonly headersMoreModule?: string | false;
  /**
   * The Lua balancer (Debian packages libnginx-mod-http-lua and lua-cjson): endpoint-only changes are
   * sent to nginx's admin socket instead of reloading. Default: the Debian module paths, used when
   * they and cjson are installed (bundled mode only; sidecar mode uses it only when set); false keeps
   * the endpoints in the upstream blocks (every change reloads).
   */
  readonly luaModules?: LuaModules | false;
}

/** Certificate pairs being checked on worker threads while the driver renders and writes. */
class CertificateChecks implements EarlyWork {
  readonly pending: PendingChecks;
  constructor(pending: PendingChecks) {
    this.pending = pending;
  }
  settle(): Promise<boolean> {
    return this.pending.settle();
  }
}

/** Whether LuaJIT finds cjson (Debian lua-cjson: /usr/lib/<triplet>/lua/5.1/cjson.so). */
function hasCjson(): boolean {
  if (existsSync('/usr/local/lib/lua/5.1/cjson.so')) return true;
  try {
    return readdirSync('/usr/lib').some((d) => existsSync(path.join('/usr/lib', d, 'lua/5.1/cjson.so')));
  } catch {
    return false;
  }
}

/** Sends the Lua balancer's endpoint document to nginx's admin socket; true once nginx took it whole. */
async function putEndpoints(socketPath: string, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, method: 'PUT', path: '/endpoints', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** A worker account: names for the `user` directive, the gid for file ownership, uid and groups for the readability check. */
interface NginxWorker {
  readonly user: string;
  readonly group: string;
  readonly gid: number;
  readonly uid: number;
  /** The primary group and the supplementary ones (nginx calls initgroups). */
  readonly gids: readonly number[];
}

/** Looks an account and its primary group up in /etc/passwd and /etc/group. */
function lookupAccount(user: string): NginxWorker {
  const read = (file: string): string[] => {
    try {
      return readFileSync(file, 'utf8').split('\n');
    } catch {
      return [];
    }
  };
  const field = (file: string, key: string, index: number): string[] | undefined => {
    for (const line of read(file)) {
      const parts = line.split(':');
      if (parts[index] === key) return parts;
    }
    return undefined;
  };
  const pw = field('/etc/passwd', user, 0);
  const gid = Number(pw?.[3]);
  const uid = Number(pw?.[2]);
  if (pw === undefined || !Number.isInteger(gid) || !Number.isInteger(uid)) {
    throw new PassError('PASS_NGINX_WORKER_USER', `nginx runs as root, so its workers run as "${user}", but /etc/passwd has no such user: create it or set the worker user`);
  }
  const group = field('/etc/group', String(gid), 2)?.[0] ?? String(gid);
  const supplementary = read('/etc/group')
    .map((line) => line.split(':'))
    .filter((parts) => (parts[3] ?? '').split(',').includes(user))
    .map((parts) => Number(parts[2]))
    .filter((g) => Number.isInteger(g));
  return { user, group, gid, uid, gids: [gid, ...supplementary] };
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

/**
 * The nginx half of the external driver: `nginx -t`, SIGHUP reloads through the master process.
 * Its renderings carry no state and no layout; with the Lua balancer, endpoint-only changes go to
 * nginx's admin socket (the runtime path), everything else reloads.
 */
export function nginxDialect(options: NginxDriverOptions, authHosts: ReadonlyMap<string, boolean> = new Map()): Dialect<undefined, undefined> {
  let renderer = createNginxRenderer(options.templates);
  // nginx started as root runs its workers as another user; they read the password files.
  const worker = process.getuid?.() === 0 ? lookupAccount(options.workerUser ?? 'nobody') : undefined;
  const moreFile = options.headersMoreModule === false ? undefined : (options.headersMoreModule ?? HEADERS_MORE_MODULE);
  const headersMore = moreFile !== undefined && existsSync(moreFile) ? moreFile : null;
  if (headersMore === null && options.headersMoreModule !== false) {
    options.logger?.warn(
      { module: moreFile },
      'the nginx headers-more module is not installed (Debian package libnginx-mod-http-headers-more-filter): responses without a Server header from the upstream get "Server: nginx" instead of "Server: passerelle"',
    );
  }
  // Sidecar: the proxy runs from another image (and restarts apart, where a stale admin socket would stop it): Lua only when asked for.
  const luaWanted = options.luaModules === false || (options.luaModules === undefined && options.reload === 'sidecar') ? undefined : (options.luaModules ?? LUA_MODULES);
  const lua = luaWanted !== undefined && existsSync(luaWanted.ndk) && existsSync(luaWanted.lua) && hasCjson() ? luaWanted : null;
  if (lua !== null) {
    options.logger?.info({ module: lua.lua }, 'nginx endpoints: Lua balancer (endpoint-only changes are applied through the admin socket, without a reload)');
  } else {
    options.logger?.info(
      { module: luaWanted?.lua ?? null },
      `nginx endpoints: template path (every change reloads nginx)${
        options.luaModules === false ? '' : luaWanted === undefined ? '; sidecar mode uses the Lua balancer only when luaModules is set' : '; install the Debian packages libnginx-mod-http-lua and lua-cjson to apply endpoint-only changes without a reload'
      }`,
    );
  }
  const certificateProblem = certificateChecker();
  const pidFileOf = (workDir: string): string => options.pidFile ?? path.join(workDir, 'nginx.pid');
  return {
    name: 'nginx',
    defaultBinary: 'nginx',
    reloadTemplates() {
      renderer = createNginxRenderer(options.templates);
    },
    stopSignal: 'SIGQUIT',
    ...defined({ workerGroup: worker?.gid, workerAccount: worker === undefined ? undefined : { user: worker.user, uid: worker.uid, gids: worker.gids } }),
    startRender: (model) => new CertificateChecks(certificateProblem.start(model.certificates)),
    render(model, ctx) {
      const config = renderer.render(model, {
        workDir: ctx.workDir,
        headersMoreModule: headersMore,
        luaModules: lua,
        resolvesHost: (host) => authHosts.get(host),
        // Until the checks settle, a pair still being checked is taken as loading (the driver verifies before the start).
        certificateProblem: ctx.early instanceof CertificateChecks ? ctx.early.pending.check : certificateProblem,
        ...defined({
          connectTimeoutMs: options.connectTimeoutMs,
          readTimeoutMs: options.readTimeoutMs,
          gracePeriodMs: options.gracePeriodMs,
          forwardedHeader: options.forwardedHeader,
          workerProcesses: options.workerProcesses,
          workerUser: worker === undefined ? undefined : { user: worker.user, group: worker.group },
          acmeChallengeAddress: ctx.acmeChallengeAddress,
          requestLog: ctx.requestLog,
        }),
      });
      return { config, state: undefined, layout: undefined };
    },
    parseLayout: () => undefined,
    // Same structure: only the Lua balancer's endpoints changed (the endpoints file is already written).
    async runtimeApply(_previous, next, workDir) {
      const doc = next.config.files.find((f) => f.path === LUA_ENDPOINTS_FILE);
      if (lua === null || doc === undefined) return false;
      return putEndpoints(path.join(workDir, LUA_ADMIN_SOCKET), doc.content);
    },
    parseRequestLine: parseNginxLine,
    // A TLS handshake without a certificate of its own reads the default one.
    workerFiles: (model) => (model.entryPoints.some((e) => e.tls) ? [DEFAULT_CERTIFICATE_FILE] : []),
    async writeDefaultCertificate(workDir, pair) {
      // Read by the workers at handshakes without another certificate (the SNI map's default).
      const pem = `${pair.certPem.trimEnd()}\n${pair.keyPem.trimEnd()}\n`;
      await writeAtomic(path.join(workDir, DEFAULT_CERTIFICATE_FILE), pem, worker === undefined ? 0o600 : 0o640, worker?.gid);
    },
    validateArgs: (configFile, workDir) => ['-t', '-q', '-c', configFile, '-p', `${workDir}/`, '-e', 'stderr'],
    processSpec(binary, configFile, workDir) {
      // A socket file left by an nginx that did not stop cleanly makes the next one fail to bind it.
      const beforeStart = lua === null ? undefined : (): void => rmSync(path.join(workDir, LUA_ADMIN_SOCKET), { force: true });
      return { binary, args: ['-c', configFile, '-p', `${workDir}/`, '-e', 'stderr'], cwd: workDir, ...defined({ beforeStart }) };
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
    probe(_workDir, model) {
      // nginx has no control socket: its listener answering is the proof.
      return firstEntryPointAnswers(model);
    },
    async reload(proc, workDir) {
      const pid = await masterPid(proc, pidFileOf(workDir));
      if (pid === undefined) throw new PassError('PASS_PROXY_NOT_RUNNING', `no nginx master to reload (pid file ${pidFileOf(workDir)})`);
      const before = await childrenOf(pid);
      try {
        process.kill(pid, 'SIGHUP');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new PassError('PASS_PROXY_NOT_RUNNING', `the nginx master ${pid} (pid file ${pidFileOf(workDir)}) is not running`, { cause: err });
        throw err;
      }
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

/** How long a host name of an external-auth URL may take to resolve before it counts as not resolving. */
const AUTH_LOOKUP_MS = 3000;

/**
 * Looks up the host names of the model's external-auth URLs, as nginx will when it loads the
 * configuration (getaddrinfo: /etc/hosts, then DNS with the search domains): true when one resolves.
 */
export async function lookupAuthHosts(model: RoutingModel): Promise<Map<string, boolean>> {
  const names = new Set<string>();
  for (const v of model.virtualHosts) {
    for (const r of v.routes) {
      const ext = r.policy?.externalAuth;
      const target = ext === undefined ? undefined : authTarget(ext);
      if (target?.isName === true) names.add(target.host);
    }
  }
  const found = await Promise.all(
    [...names].map(async (name): Promise<[string, boolean]> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), AUTH_LOOKUP_MS)));
      const ok = await Promise.race([lookup(name).then(() => true, () => false), late]);
      clearTimeout(timer);
      return [name, ok];
    }),
  );
  return new Map(found);
}

/** The nginx driver: renders nginx.conf, validates with `nginx -t`, reloads through the master. */
export class NginxDriver extends ExternalDriver<undefined, undefined> {
  readonly #authHosts: Map<string, boolean>;

  constructor(options: NginxDriverOptions = {}) {
    const authHosts = new Map<string, boolean>();
    super(nginxDialect(options, authHosts), options);
    this.#authHosts = authHosts;
  }

  /**
   * Applies a model once the host names of its external-auth URLs are looked up: nginx refuses a whole
   * configuration naming a host it cannot resolve, so the routes asking for one answer 503 instead.
   */
  override async apply(model: RoutingModel): Promise<void> {
    // Kept across applies (not cleared): an apply queued behind this one still finds its own names.
    for (const [name, ok] of await lookupAuthHosts(model)) this.#authHosts.set(name, ok);
    return super.apply(model);
  }
}

/** Creates the nginx driver; nothing runs until the first `apply`. */
export function createNginxDriver(options: NginxDriverOptions = {}): NginxDriver {
  return new NginxDriver(options);
}
