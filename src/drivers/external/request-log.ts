/*
 * Request logs of HAProxy and nginx: their templates give each a JSON log format (templates/
 * haproxy.cfg.hbs, templates/nginx.conf.hbs) sent as syslog over UDP to a receiver of the
 * controller on 127.0.0.1 (one per driver, its port chosen at start). Each line becomes a
 * RequestRecord; the route is found again by matching host and path against the model served.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { modelForScope, normalizeHost, requestPath, selectRoute, selectVirtualHost } from '../../model/match.ts';
import { scopeAddress, scopeKey } from '../../model/scopes.ts';
import type { RoutingModel, VirtualHost } from '../../model/types.ts';
import type { HostPort } from '../../render/types.ts';
import { PassError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { RequestRecord } from '../types.ts';
import { routeName } from '../types.ts';

/** A parsed line before the route is known: the record and what tells why an upstream failed. */
export interface ParsedLine {
  readonly record: RequestRecord;
  /** The proxy's own words for a failure (HAProxy's termination state, nginx's upstream status). */
  readonly failure?: string;
}

/** The JSON object of a syslog datagram (after `<PRI>date tag:` when the proxy prefixes one). */
function jsonOf(datagram: string): Record<string, unknown> | undefined {
  const start = datagram.indexOf('{');
  if (start < 0) return undefined;
  // HAProxy's +E escapes `]` as `\]`, which JSON does not know; every other escape it writes is JSON's.
  const text = datagram.slice(start).trim().replace(/\\(.)/g, (all, c: string) => (c === ']' ? ']' : all));
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  // Both proxies write "-" for a value they do not have.
  return typeof v === 'string' && v !== '-' ? v : typeof v === 'number' ? String(v) : '';
}

function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
}

/** The backend id of a section name: `be_ns.svc:port` (HAProxy), `be_ns.svc_port` (nginx). */
export function backendIdOf(section: string): string | undefined {
  const m = /^be_([a-z0-9-]+)\.([a-z0-9-]+)[:_]([A-Za-z0-9-]+)$/.exec(section);
  return m === null ? undefined : `${m[1] ?? ''}/${m[2] ?? ''}:${m[3] ?? ''}`;
}

/** HAProxy's `#XX` escapes of a logged request target, decoded. */
function unhash(text: string): string {
  return text.replace(/#([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * Why HAProxy failed a request, from its two-letter termination state (%ts): the first letter says
 * who ended it (S server, s server timeout, ...), the second in which phase (C connect, H headers, D data).
 */
export function haproxyFailure(ts: string, server: string): string | undefined {
  const who = ts[0];
  const phase = ts[1];
  if (who === 's') return phase === 'C' ? 'timeout connecting to the upstream' : phase === 'D' ? 'the upstream stalled while sending the body (timeout)' : 'the upstream did not answer in time';
  if (who === 'S') {
    if (phase === 'C') return 'connection to the upstream refused or failed';
    if (phase === 'H') return 'the upstream closed the connection or sent an invalid answer before its headers';
    if (phase === 'D') return 'the upstream broke off its answer';
    return 'the upstream failed';
  }
  if (server === '' || server === '<NOSRV>') return 'no endpoint is ready';
  return undefined;
}

/** A HAProxy log line (the log-format of templates/haproxy.cfg.hbs) as a record, or undefined. */
export function parseHaproxyLine(datagram: string): ParsedLine | undefined {
  const o = jsonOf(datagram);
  if (o === undefined || typeof o['t'] !== 'number') return undefined;
  const section = str(o, 'b');
  const backend = backendIdOf(section);
  const si = str(o, 'si');
  const sp = str(o, 'sp');
  const server = str(o, 'sv');
  const upstream = si === '' || sp === '' || server === '<NOSRV>' ? undefined : si.includes(':') ? `[${si}]:${sp}` : `${si}:${sp}`;
  const frontend = str(o, 'f');
  const ta = num(o, 'Ta');
  const ts = str(o, 'ts');
  const failure = haproxyFailure(ts, server);
  let status = Math.max(0, num(o, 's'));
  // The template answers a failed connection with its 502 page (errorfile 503): HAProxy logs 503.
  if (status === 503 && upstream !== undefined && (ts[0] === 'S' || ts[0] === 's') && ts[1] === 'C') status = 502;
  // %B counts the status line and headers too: the Content-Length (when the answer had one) is the body.
  const sent = num(o, 'B');
  const declared = str(o, 'cl');
  const bytes = /^\d+$/.test(declared) && str(o, 'm') !== 'HEAD' ? Math.min(Number(declared), sent) : declared === '' ? sent : 0;
  const record: RequestRecord = {
    time: new Date(num(o, 't')),
    entryPoint: frontend.startsWith('ep_') ? frontend.slice(3) : frontend,
    client: str(o, 'c'),
    ...(str(o, 'l') === '' ? {} : { local: str(o, 'l') }),
    method: str(o, 'm').replace(/^<BADREQ>$/, ''),
    host: str(o, 'h'),
    path: unhash(str(o, 'u')).replace(/^<BADREQ>$/, ''),
    ...(str(o, 'v') === '' ? {} : { protocol: str(o, 'v') }),
    status,
    bytes,
    durationMs: ta < 0 ? 0 : ta,
    ...(upstream === undefined ? {} : { upstream }),
    ...(backend === undefined ? {} : { backend }),
  };
  return failure === undefined ? { record } : { record, failure };
}

/** Why nginx failed a request, from its status and the upstream's (`-` or `502, 502` when none answered). */
export function nginxFailure(status: number, upstreamStatus: string, connectTime: string, upstream: string): string | undefined {
  if (status === 503 && upstream === '') return 'no endpoint is ready';
  const last = upstreamStatus.split(/[,:]\s*/).pop()?.trim() ?? '';
  if (status === 504 || last === '504') return 'the upstream did not answer in time';
  if (status === 502 || last === '502') {
    const connected = connectTime.split(/[,:]\s*/).pop()?.trim() ?? '-';
    return connected === '-' || connected === '' ? 'connection to the upstream refused or failed' : 'the upstream closed the connection or sent an invalid answer';
  }
  return undefined;
}

/** An nginx log line (the log_format of templates/nginx.conf.hbs) as a record, or undefined. */
export function parseNginxLine(datagram: string): ParsedLine | undefined {
  const o = jsonOf(datagram);
  if (o === undefined || o['s'] === undefined) return undefined;
  const durationMs = num(o, 'rt') * 1000;
  // $upstream_addr lists every endpoint tried ("a:1, b:2", ": " across upstream groups): the last answered.
  const upstream = str(o, 'ua').split(/,\s*|\s:\s/).pop()?.trim() ?? '';
  const status = num(o, 's');
  const backend = backendIdOf(str(o, 'b'));
  const failure = status >= 500 ? nginxFailure(status, str(o, 'us'), str(o, 'uct'), upstream) : undefined;
  const record: RequestRecord = {
    // $msec is when the line is written: the request began $request_time earlier.
    time: new Date(Math.round(num(o, 't') * 1000 - durationMs)),
    entryPoint: str(o, 'p'),
    client: str(o, 'c'),
    ...(str(o, 'l') === '' ? {} : { local: str(o, 'l') }),
    method: str(o, 'm'),
    host: str(o, 'h'),
    path: str(o, 'u'),
    ...(str(o, 'v') === '' ? {} : { protocol: str(o, 'v') }),
    status,
    bytes: num(o, 'B'),
    durationMs,
    ...(upstream === '' || upstream.startsWith('unix:') ? {} : { upstream }),
    ...(backend === undefined ? {} : { backend }),
  };
  return failure === undefined ? { record } : { record, failure };
}

/**
 * Completes parsed records with what the served model adds: the route matched (as the proxy matched
 * it), the backend when the line did not name one, and the entry point's name (nginx logs its port).
 */
export class RecordCompleter {
  readonly #model: RoutingModel;
  /** Virtual host per logged host: a scan of every virtual host per line would not scale. */
  readonly #hosts = new Map<string, VirtualHost | null>();
  /** The models of the address scopes' connections, by scopeKey (modelForScope). */
  readonly #scopes: ReadonlyMap<string, RoutingModel>;
  readonly #scopeAddresses: ReadonlySet<string>;
  /** The model's own hosts per entry point, when some are served on some entry points only (modelForScope). */
  readonly #byEntryPoint: ReadonlyMap<string, RoutingModel>;

  constructor(model: RoutingModel) {
    this.#model = model;
    const restricted = model.virtualHosts.some((v) => v.entryPoints !== undefined);
    this.#byEntryPoint = new Map(restricted ? model.entryPoints.map((e) => [e.name, modelForScope(model, undefined, e.name)]) : []);
    this.#scopes = new Map((model.addressScopes ?? []).map((s) => [scopeKey(s.address, s.entryPoint), modelForScope(model, s.address, s.entryPoint)]));
    this.#scopeAddresses = new Set((model.addressScopes ?? []).map((s) => s.address));
  }

  get model(): RoutingModel {
    return this.#model;
  }

  complete(record: RequestRecord): RequestRecord {
    let entryPoint = record.entryPoint;
    if (/^\d+$/.test(entryPoint)) entryPoint = this.#model.entryPoints.find((e) => String(e.address.port) === entryPoint)?.name ?? entryPoint;
    const local = record.local === undefined ? undefined : scopeAddress(record.local);
    const scoped = local === undefined || !this.#scopeAddresses.has(local) ? undefined : (this.#scopes.get(scopeKey(local, entryPoint)) ?? modelForScope(this.#model, local, entryPoint));
    const model = scoped ?? this.#byEntryPoint.get(entryPoint) ?? this.#model;
    const path = requestPath(record.path);
    if (record.host === '' || !path.startsWith('/')) return entryPoint === record.entryPoint ? record : { ...record, entryPoint };
    // The cache holds the model's own hosts (per entry point when they differ); an address scope's connections are looked up each time (rare).
    const key = this.#byEntryPoint.size === 0 ? record.host : `${entryPoint}\u0000${record.host}`;
    let vhost = scoped === undefined ? this.#hosts.get(key) : (selectVirtualHost(model.virtualHosts, normalizeHost(record.host)) ?? null);
    if (vhost === undefined) {
      vhost = selectVirtualHost(model.virtualHosts, normalizeHost(record.host)) ?? null;
      if (this.#hosts.size >= 4096) this.#hosts.clear();
      this.#hosts.set(key, vhost);
    }
    const r = vhost === null ? undefined : selectRoute(vhost, path);
    let route: string | undefined;
    let backend: string | undefined;
    if (vhost !== null && r !== undefined) {
      route = routeName(vhost.host, r.path, r.pathType);
      backend = r.backend;
    } else if (model.defaultBackend !== undefined) {
      route = model.defaultBackend;
      backend = model.defaultBackend;
    }
    return { ...record, entryPoint, ...(route === undefined ? {} : { route }), ...(record.backend === undefined && backend !== undefined ? { backend } : {}) };
  }
}

/** A syslog receiver on 127.0.0.1 (UDP) for one driver's proxy; see the file comment. */
export class RequestLogReceiver {
  readonly #onLine: (datagram: string) => void;
  readonly #logger: Logger;
  #socket: Socket | undefined;
  #address: HostPort | undefined;
  /** Datagrams that were not a request line (a truncated line, another sender). */
  unreadable = 0;

  constructor(onLine: (datagram: string) => void, logger: Logger) {
    this.#onLine = onLine;
    this.#logger = logger;
  }

  #open(): Socket {
    const socket = createSocket({ type: 'udp4' });
    socket.on('message', (msg, rinfo) => {
      // Loopback only (the socket is bound to 127.0.0.1 too).
      if (rinfo.address !== '127.0.0.1') return;
      this.#onLine(msg.toString('utf8'));
    });
    return socket;
  }

  /** Counts a datagram that did not parse; the first one and then every 1000th is logged. */
  dropped(datagram: string): void {
    this.unreadable++;
    if (this.unreadable % 1000 === 1) this.#logger.debug({ unreadable: this.unreadable, datagram: datagram.slice(0, 200) }, 'a request log line could not be read');
  }

  /**
   * Binds 127.0.0.1: on `preferred`'s port when given and free (a restart keeps the rendered
   * configuration the same), else on a free port. Returns the address the proxy logs to.
   */
  async start(preferred?: HostPort): Promise<HostPort> {
    if (this.#address !== undefined) return this.#address;
    // A socket whose bind failed cannot bind again: each attempt opens its own.
    const bind = (port: number): Promise<Socket> =>
      new Promise<Socket>((resolve, reject) => {
        const socket = this.#open();
        const failed = (err: Error): void => {
          socket.close();
          reject(err);
        };
        socket.once('error', failed);
        socket.bind(port, '127.0.0.1', () => {
          socket.off('error', failed);
          socket.on('error', (err) => this.#logger.warn({ err }, 'the request log receiver failed'));
          resolve(socket);
        });
      });
    const wanted = preferred?.host === '127.0.0.1' ? preferred.port : 0;
    let socket: Socket;
    try {
      socket = await bind(wanted);
    } catch (err) {
      // Taken by another process since: any free port will do (the configuration then changes).
      if (wanted === 0) throw err;
      socket = await bind(0);
    }
    this.#socket = socket;
    const a = socket.address();
    if (a.port === 0) throw new PassError('PASS_PROXY_START', 'the request log receiver has no UDP port');
    this.#address = { host: '127.0.0.1', port: a.port };
    return this.#address;
  }

  async stop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
