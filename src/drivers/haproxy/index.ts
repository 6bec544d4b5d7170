import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createHaproxyRenderer, parseHaproxyLayout, ROUTES_MAP, UNAVAILABLE_MAP } from '../../render/haproxy/index.ts';
import type { HaproxyBuild, HaproxyLayout, HaproxyRenderOptions } from '../../render/haproxy/index.ts';
import type { RenderedConfig } from '../../render/types.ts';
import type { RoutingModel } from '../../model/types.ts';
import { PassError } from '../../shared/errors.ts';
import { defined } from '../../shared/optional.ts';
import { ExternalDriver } from '../external/apply.ts';
import type { Dialect, ExternalDriverOptions, RenderContext } from '../external/apply.ts';
import { writeAtomic } from '../external/files.ts';
import type { ManagedProcess } from '../external/process.ts';
import { haproxyCommand, workerPid } from './socket.ts';
import { parseServerStats, serverLiveState } from './stats.ts';
import type { SeenCounters } from './stats.ts';
import { endpointKey } from '../types.ts';
import type { EndpointLiveState } from '../types.ts';
import { parseHaproxyLine } from '../external/request-log.ts';
import { silentLogger } from '../../shared/logger.ts';
import { RouteAuth } from './route-auth.ts';
import { mapEdits, mapEditText, planRuntime, serverCommandText } from './runtime.ts';
import type { CertificatePlan, MapEdit, ServerCommand } from './runtime.ts';

/** Options of the HAProxy driver. */
export interface HaproxyDriverOptions extends ExternalDriverOptions {
  /** Master CLI socket (`-S`): reloads go through it (default `<workDir>/haproxy-master.sock`). */
  readonly masterSocket?: string;
  /** See {@link HaproxyRenderOptions.answerPlainHttpOnTls} (default false: plain HTTP on a TLS entry point gets the connection closed). */
  readonly answerPlainHttpOnTls?: boolean;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, alive?: () => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (alive !== undefined && !alive()) throw new PassError('PASS_PROXY_START', `${what}: the proxy exited`);
    if (Date.now() > deadline) throw new PassError('PASS_PROXY_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The largest payload sent in one `add map` command (HAProxy reads a command into one 16 kB buffer). */
const MAP_CHUNK_BYTES = 8000;

/**
 * Replaces the contents of a loaded map atomically: `prepare map`, `add map @version` in chunks,
 * `commit map @version`. Requests see either the old or the new contents, never a mix.
 */
export async function replaceMap(socket: string, mapFile: string, content: string): Promise<void> {
  const prepared = await haproxyCommand(socket, `prepare map ${mapFile}`);
  const version = /New version created: (\d+)/.exec(prepared)?.[1];
  if (version === undefined) throw new PassError('PASS_HAPROXY_RUNTIME', `haproxy did not prepare a new version of ${mapFile}: ${prepared.trim()}`);
  const lines = content.split('\n').filter((l) => l !== '');
  let chunk: string[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const out = (await haproxyCommand(socket, `add map @${version} ${mapFile} <<\n${chunk.join('\n')}\n\n`)).trim();
    if (out !== '') throw new PassError('PASS_HAPROXY_RUNTIME', `haproxy refused entries of ${mapFile}: ${out}`);
    chunk = [];
    bytes = 0;
  };
  for (const line of lines) {
    if (bytes + line.length + 1 > MAP_CHUNK_BYTES) await flush();
    chunk.push(line);
    bytes += line.length + 1;
  }
  await flush();
  const committed = (await haproxyCommand(socket, `commit map @${version} ${mapFile}`)).trim();
  if (committed !== '') throw new PassError('PASS_HAPROXY_RUNTIME', `haproxy did not commit ${mapFile}: ${committed}`);
}

/** Above this many changed entries, the routing map is replaced whole (about 60 ms for 20,000 entries) rather than edited. */
const MAX_MAP_EDITS = 500;

/** The routing map's keys that lead to the others: hosts (`h:`, `w:`, `s:`) and `any`, with their scope or entry point suffix (`@…`). */
const isHostKey = (key: string): boolean => /^(?:any(?:@|$)|[hws]:)/.test(key);

/** Sends map edits in order, chained with `;` on lines of at most {@link MAP_CHUNK_BYTES}; throws on any answer but success. */
export async function sendMapEdits(socket: string, mapFile: string, edits: readonly MapEdit[]): Promise<void> {
  let line: string[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (line.length === 0) return;
    const out = (await haproxyCommand(socket, line.join('; '))).trim();
    if (out !== '') throw new PassError('PASS_HAPROXY_RUNTIME', `haproxy refused an edit of ${mapFile}: ${out}`);
    line = [];
    bytes = 0;
  };
  for (const e of edits) {
    const cmd = mapEditText(mapFile, e);
    if (bytes + cmd.length + 2 > MAP_CHUNK_BYTES) await flush();
    line.push(cmd);
    bytes += cmd.length + 2;
  }
  await flush();
}

/** Sends a runtime API command; throws unless the answer matches `ok`. */
async function expectAnswer(socket: string, command: string, ok: RegExp, what: string): Promise<void> {
  const out = (await haproxyCommand(socket, command)).trim();
  if (!ok.test(out)) throw new PassError('PASS_HAPROXY_RUNTIME', `haproxy refused ${what}: ${out}`);
}

/**
 * Certificates through the runtime API, without a reload: new ones are created, filled, committed
 * and added to the crt-list; renewed ones replaced (`set` + `commit ssl cert`); gone ones removed.
 */
async function applyCertificates(sock: string, plan: CertificatePlan): Promise<void> {
  const { crtList } = plan;
  // crt-list entries whose names changed, or whose certificate goes: out first.
  for (const r of plan.removeEntries) {
    await expectAnswer(sock, `del ssl crt-list ${crtList} ${r.file}`, /deleted/i, `to remove ${r.file} from the crt-list`);
    if (r.deleteCert) await expectAnswer(sock, `del ssl cert ${r.file}`, /deleted/i, `to delete the certificate ${r.file}`);
  }
  for (const c of plan.store) {
    if (c.isNew) await expectAnswer(sock, `new ssl cert ${c.file}`, /New empty certificate store/i, `to create the certificate ${c.id}`);
    await expectAnswer(sock, `set ssl cert ${c.file} <<\n${c.pem}\n\n`, /Transaction (created|updated)/i, `the certificate ${c.id}`);
    await expectAnswer(sock, `commit ssl cert ${c.file}`, /Success/i, `to commit the certificate ${c.id}`);
  }
  for (const c of plan.addEntries) {
    await expectAnswer(sock, `add ssl crt-list ${crtList} <<\n${c.file} [alpn h2,http/1.1] ${c.snis.join(' ')}\n\n`, /Success/i, `to add ${c.file} to the crt-list`);
  }
}

/** Where the controller checks route basic auth users HAProxy cannot ($apr1$). */
function routeAuthSocket(workDir: string): string {
  return path.join(workDir, 'route-auth.sock');
}

/** The render options of the HAProxy driver: its own options plus what the apply loop passes. */
function haproxyRenderOptions(options: HaproxyDriverOptions, ctx: RenderContext<HaproxyLayout>): HaproxyRenderOptions {
  return {
    workDir: ctx.workDir,
    runtimeSocket: path.join(ctx.workDir, 'haproxy.sock'),
    routeAuthSocket: routeAuthSocket(ctx.workDir),
    ...defined({
      connectTimeoutMs: options.connectTimeoutMs,
      readTimeoutMs: options.readTimeoutMs,
      gracePeriodMs: options.gracePeriodMs,
      forwardedHeader: options.forwardedHeader,
      acmeChallengeAddress: ctx.acmeChallengeAddress,
      requestLog: ctx.requestLog,
      answerPlainHttpOnTls: options.answerPlainHttpOnTls,
    }),
  };
}

/**
 * The HAProxy half of the external driver: master-worker, master CLI reloads, runtime API updates.
 * Rendering is stateless: each rendering starts from the layout of the previous one (server slots,
 * prefix depth), which the apply loop keeps and saves beside the configuration, and runtime API
 * commands are computed between the builds of two renderings.
 */
export function haproxyDialect(options: HaproxyDriverOptions, routeAuth?: RouteAuth): Dialect<HaproxyBuild, HaproxyLayout> {
  let renderer = createHaproxyRenderer(options.templates);
  const runtimeSocket = (workDir: string): string => path.join(workDir, 'haproxy.sock');
  const masterSocket = (workDir: string): string => options.masterSocket ?? path.join(workDir, 'haproxy-master.sock');

  return {
    name: 'haproxy',
    defaultBinary: 'haproxy',
    reloadTemplates() {
      renderer = createHaproxyRenderer(options.templates);
    },
    stopSignal: 'SIGUSR1',
    authSocket: (workDir) => path.join(workDir, 'auth.sock'),
    render(model, ctx) {
      const { rendered, build } = renderer.renderWithView(model, haproxyRenderOptions(options, ctx), ctx.previous);
      // Before the configuration that refers to them is validated and served.
      routeAuth?.remember(build.routeAuth);
      return { config: rendered, state: build, layout: build.layout };
    },
    parseLayout: parseHaproxyLayout,
    parseRequestLine: parseHaproxyLine,
    async writeDefaultCertificate(workDir, pair) {
      await writeAtomic(path.join(workDir, 'certs/default.pem'), `${pair.certPem.trimEnd()}\n${pair.keyPem.trimEnd()}\n`, 0o600);
    },
    validateArgs: (configFile) => ['-c', '-f', configFile],
    processSpec(binary, configFile, workDir) {
      return { binary, args: ['-W', '-S', `${masterSocket(workDir)},mode,600`, '-f', configFile], cwd: workDir };
    },
    async waitReady(proc, workDir) {
      await waitFor('haproxy start', 15_000, () => workerPid(runtimeSocket(workDir)), () => proc?.running ?? true);
    },
    async probe(workDir) {
      // The runtime socket answers `show info` only while a worker runs the configuration.
      return (await workerPid(runtimeSocket(workDir))) !== undefined;
    },
    async reload(proc: ManagedProcess | undefined, workDir) {
      const before = await workerPid(runtimeSocket(workDir));
      try {
        await haproxyCommand(masterSocket(workDir), 'reload', 5000);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (proc === undefined && (code === 'ENOENT' || code === 'ECONNREFUSED')) {
          // Sidecar not up yet: it reads the configuration when it starts.
          throw new PassError('PASS_PROXY_NOT_RUNNING', `haproxy master socket ${masterSocket(workDir)} does not answer: ${(err as Error).message}`, { cause: err });
        }
        throw err;
      }
      await waitFor('haproxy reload', 15_000, async () => {
        const pid = await workerPid(runtimeSocket(workDir));
        return pid !== undefined && pid !== before ? pid : undefined;
      });
    },
    async runtimeApply(previous, next, workDir) {
      const sock = runtimeSocket(workDir);
      const mapOf = (r: RenderedConfig, file: string): string | undefined => r.files.find((f) => f.path === file)?.content;
      const changedMap = (file: string): string | undefined => {
        const content = mapOf(next.config, file);
        return content !== undefined && content !== mapOf(previous.config, file) ? content : undefined;
      };
      const unavailable = changedMap(UNAVAILABLE_MAP);
      const routes = changedMap(ROUTES_MAP);
      // Everything is checked before the first command: a change that cannot be sent typed is reloaded, after validation.
      const plan = planRuntime(workDir, previous.state, next.state, [unavailable, routes].filter((m) => m !== undefined));
      if (plan === undefined) return false;
      const send = async (commands: readonly ServerCommand[]): Promise<void> => {
        for (const c of commands) {
          const cmd = serverCommandText(c);
          const out = (await haproxyCommand(sock, cmd)).trim();
          if (out !== '' && !/^(IP changed|no need to change|nothing changed|IP changed from)/i.test(out) && !/changed from/.test(out)) {
            throw new PassError('PASS_HAPROXY_RUNTIME', `haproxy runtime API refused "${cmd}": ${out}`);
          }
        }
      };
      await send(plan.ups);
      // Missing Services: between the two, so that their 503 says why as soon as their servers go.
      if (unavailable !== undefined) await replaceMap(sock, path.join(workDir, UNAVAILABLE_MAP), unavailable);
      await send(plan.downs);
      if (plan.certs !== undefined) await applyCertificates(sock, plan.certs);
      // The routing map, after the servers it points to are ready: a few entries edited in an order
      // that keeps every request's answer an old or a new one, else replaced in one atomic commit.
      if (routes !== undefined) {
        const file = path.join(workDir, ROUTES_MAP);
        const edits = mapEdits(mapOf(previous.config, ROUTES_MAP) ?? '', routes, MAX_MAP_EDITS, isHostKey);
        // An edit refused halfway leaves the map between the two: replacing it whole sets it right.
        if (edits === undefined || !(await sendMapEdits(sock, file, edits).then(() => true, () => false))) await replaceMap(sock, file, routes);
      }
      return true;
    },
  };
}

/** The HAProxy driver: renders haproxy.cfg, validates, applies by master-socket reload or the runtime API. */
export class HaproxyDriver extends ExternalDriver<HaproxyBuild, HaproxyLayout> {
  readonly #routeAuth: RouteAuth;
  #stopped = false;

  constructor(options: HaproxyDriverOptions = {}) {
    const routeAuth = new RouteAuth((options.logger ?? silentLogger).child({ driver: 'haproxy', auth: 'routes' }));
    super(haproxyDialect(options, routeAuth), options);
    this.#routeAuth = routeAuth;
  }

  /** Renders, validates and applies the model (see {@link ExternalDriver.apply}), the route auth socket listening first. */
  override async apply(model: RoutingModel): Promise<void> {
    if (!this.#stopped) await this.#routeAuth.start(routeAuthSocket(this.workDir));
    await super.apply(model);
  }

  /** Stops the proxy, then the route auth socket. */
  override async stop(graceMs?: number): Promise<void> {
    this.#stopped = true;
    await super.stop(graceMs);
    await this.#routeAuth.stop();
  }

  /** The counters of each server slot at the last look, by `backend/server address:port`. */
  #seen = new Map<string, SeenCounters>();

  /**
   * The endpoints' live states from the runtime API (`show stat`, servers only): HAProxy's check
   * status when the servers have health checks, else what the failed-connection and answer
   * counters did since the last call (see stats.ts). Empty when the socket does not answer.
   */
  async endpointStates(): Promise<ReadonlyMap<string, EndpointLiveState>> {
    const build = this.currentState;
    const states = new Map<string, EndpointLiveState>();
    if (build === undefined) return states;
    let csv: string;
    try {
      csv = await haproxyCommand(path.join(this.workDir, 'haproxy.sock'), 'show stat -1 4 -1', 2000);
    } catch {
      return states;
    }
    const stats = new Map(parseServerStats(csv).map((r) => [`${r.backend}/${r.server}`, r]));
    const seen = new Map<string, SeenCounters>();
    // An endpoint is a server of its backend and of each variant backend: the section that saw it
    // fail or answer since the last look says how it is, else the state one of them last said.
    const fresh = new Set<string>();
    for (const be of build.view.backends) {
      for (const server of be.servers) {
        if (server.disabled) continue;
        const stat = stats.get(`${be.name}/${server.name}`);
        if (stat === undefined) continue;
        const slot = `${be.name}/${server.name} ${server.host}:${server.port}`;
        const before = this.#seen.get(slot);
        const now = serverLiveState(stat, before);
        seen.set(slot, now);
        if (now.state === undefined) continue;
        const key = endpointKey(be.id, server.host, server.port);
        const changed = before === undefined || now.failures !== before.failures || now.answers !== before.answers;
        if (changed && !fresh.has(key)) {
          fresh.add(key);
          states.set(key, now.state);
        } else if (!fresh.has(key) && !states.has(key)) {
          states.set(key, now.state);
        }
      }
    }
    this.#seen = seen;
    return states;
  }

  /** Removes stale sockets of an earlier run before starting. */
  static async cleanSockets(workDir: string): Promise<void> {
    await rm(path.join(workDir, 'haproxy.sock'), { force: true });
    await rm(path.join(workDir, 'haproxy-master.sock'), { force: true });
  }
}

/** Creates the HAProxy driver; nothing runs until the first `apply`. */
export function createHaproxyDriver(options: HaproxyDriverOptions = {}): HaproxyDriver {
  return new HaproxyDriver(options);
}
