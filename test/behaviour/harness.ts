import { createHash } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import { compareRoutes, normalizeRulePath } from '../../src/model/match.ts';
import type {
  Backend,
  Certificate,
  ClientTimeouts,
  EntryPoint,
  Endpoint,
  Middleware,
  PathType,
  Route,
  RoutingModel,
  VirtualHost,
} from '../../src/model/types.ts';
import type { ProxyDriver } from '../../src/drivers/types.ts';
import type { DriverSettings } from './modes.ts';
import { driverFactory } from './modes.ts';
import type { Recorder } from './raw.ts';
import { startRecorder } from './raw.ts';
export { freePort } from '../ports.ts';

/** What an echo server answers by default. */
export interface Echo {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
}

/** What the upload endpoint answers. */
export interface UploadEcho {
  readonly id: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly headers: IncomingHttpHeaders;
}

/** A test upstream on a loopback address. */
export interface EchoServer {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  endpoint(weight?: number): Endpoint;
  close(): Promise<void>;
}

/** The byte at offset `i` of every download: a pattern that makes misplaced bytes visible. */
export function patternByte(i: number): number {
  return (i * 31 + 7) & 0xff;
}

const CHUNK = Buffer.alloc(65536);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = patternByte(i);

/** Expected digest of an N-byte download. */
export function patternSha256(n: number): string {
  const h = createHash('sha256');
  let left = n;
  while (left > 0) {
    const take = Math.min(left, CHUNK.length);
    h.update(CHUNK.subarray(0, take));
    left -= take;
  }
  return h.digest('hex');
}

let nextAddress = 2;
/** Upstreams spread over 127.0.0.2 to 127.0.0.20. */
export function nextLoopback(): string {
  const host = `127.0.0.${nextAddress}`;
  nextAddress = nextAddress >= 20 ? 2 : nextAddress + 1;
  return host;
}



/** Starts an echo upstream: JSON echo, streaming download/upload, slow and hanging answers, WebSocket echo. */
export async function startEcho(id: string, host = nextLoopback()): Promise<EchoServer> {
  const server: Server = createHttpServer((req, res) => {
    const url = req.url ?? '/';
    const echo = (): void => {
      const body = JSON.stringify({ id, method: req.method ?? '', url, httpVersion: req.httpVersion, headers: req.headers } satisfies Echo);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.startsWith('/__download/')) {
      const total = Number(url.slice('/__download/'.length));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total, 'x-echo-id': id });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const take = Math.min(CHUNK.length, total - sent);
          sent += take;
          if (!res.write(take === CHUNK.length ? CHUNK : CHUNK.subarray(0, take))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    if (url.startsWith('/__upload')) {
      const h = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        h.update(c);
      });
      req.on('end', () => {
        const body = JSON.stringify({ id, bytes, sha256: h.digest('hex'), headers: req.headers } satisfies UploadEcho);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    if (url.startsWith('/__drip')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      setTimeout(() => res.end('second'), 700);
      return;
    }
    if (url.startsWith('/__slow/')) {
      setTimeout(echo, Number(url.slice('/__slow/'.length)));
      return;
    }
    if (url.startsWith('/__hang')) return;
    if (url.startsWith('/__hop')) {
      res.setHeader('connection', 'x-up-hop');
      res.setHeader('x-up-hop', '1');
      res.setHeader('x-up-keep', '1');
      echo();
      return;
    }
    if (url.startsWith('/__server')) res.setHeader('server', 'echo-server');
    echo();
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${id}:${String(data)}`, { binary: isBinary }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('echo server has no port');
  const port = addr.port;
  let closed: Promise<void> | undefined;
  return {
    id,
    host,
    port,
    endpoint: (weight = 1) => ({ address: host, port, weight, name: id }),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// ---------------------------------------------------------------- model builders

const SOURCE = { kind: 'Ingress', namespace: 'default', name: 'behaviour' } as const;

/** A backend `default/NAME:80` with endpoints. */
export function backend(name: string, endpoints: readonly Endpoint[]): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints, protocol: 'http' };
}

/** A route with the model's path normalisation. */
export function route(path: string, pathType: PathType, backendName: string): Route {
  return { path: normalizeRulePath(path, pathType), pathType, backend: `default/${backendName}:80`, source: SOURCE, field: 'spec.rules[0].http.paths[0]' };
}

/** A virtual host; the kind follows from the name (`*`, `*.x`, or exact), routes sorted in match order. */
export function vhost(host: string, routes: readonly Route[], certificate?: string): VirtualHost {
  const kind = host === '*' ? 'any' : host.startsWith('*.') ? 'wildcard' : 'exact';
  return { host, kind, routes: [...routes].sort(compareRoutes), sources: [SOURCE], ...(certificate === undefined ? {} : { certificate }) };
}

/** Options of {@link entryPoint}; absent fields keep the model's defaults. */
export interface EntryPointOptions {
  readonly host?: string;
  readonly tls?: boolean;
  readonly middlewares?: readonly Middleware[];
  /** Client timeouts (request head, idle keep-alive, body pause), in ms. */
  readonly timeouts?: ClientTimeouts;
  /** Clients whose forwarding headers are kept and extended (addresses or CIDRs). */
  readonly trustedIPs?: readonly string[];
  /** Keep `%2F`/`%5C` encoded in paths instead of refusing them. */
  readonly allowEncodedSlashes?: boolean;
}

/** An entry point on a loopback address. */
export function entryPoint(name: string, port: number, opts: EntryPointOptions = {}): EntryPoint {
  return {
    name,
    address: { host: opts.host ?? '127.0.0.1', port },
    tls: opts.tls ?? false,
    middlewares: opts.middlewares ?? [],
    ...(opts.timeouts === undefined ? {} : { timeouts: opts.timeouts }),
    ...(opts.trustedIPs === undefined ? {} : { trustedIPs: opts.trustedIPs }),
    ...(opts.allowEncodedSlashes === undefined ? {} : { allowEncodedSlashes: opts.allowEncodedSlashes }),
  };
}

const KIND_ORDER = { exact: 0, wildcard: 1, suffix: 2, any: 3 } as const;

/** A routing model, sorted the way the model builder sorts it. */
export function model(parts: {
  entryPoints: readonly EntryPoint[];
  virtualHosts: readonly VirtualHost[];
  backends: readonly Backend[];
  defaultBackend?: string;
  certificates?: readonly Certificate[];
}): RoutingModel {
  const vhosts = [...parts.virtualHosts].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const backends: Record<string, Backend> = {};
  for (const b of [...parts.backends].sort((x, y) => (x.id < y.id ? -1 : 1))) backends[b.id] = b;
  return {
    entryPoints: parts.entryPoints,
    virtualHosts: vhosts,
    backends,
    ...(parts.defaultBackend === undefined ? {} : { defaultBackend: `default/${parts.defaultBackend}:80` }),
    certificates: parts.certificates ?? [],
    diagnostics: [],
  };
}

// ---------------------------------------------------------------- harness

/** A driver of the mode under test plus the upstreams of one test; everything stops in `t.after`. */
export class Harness {
  readonly driver: ProxyDriver;
  readonly #echoes: EchoServer[] = [];
  readonly #recorders: Recorder[] = [];
  #stopped = false;

  private constructor(driver: ProxyDriver) {
    this.driver = driver;
  }

  /** Creates the driver and registers the cleanup on the test. */
  static async create(t: TestContext, settings: DriverSettings = {}): Promise<Harness> {
    const h = await Harness.start(settings);
    t.after(() => h.close());
    return h;
  }

  /** Creates the driver for a whole file (the caller closes it, e.g. in `after`). */
  static async start(settings: DriverSettings = {}): Promise<Harness> {
    return new Harness(await driverFactory()(settings));
  }

  /** Starts an echo upstream owned by this harness. */
  async echo(id: string, host?: string): Promise<EchoServer> {
    const e = await startEcho(id, host);
    this.#echoes.push(e);
    return e;
  }

  /** Starts a recording upstream (raw bytes, see raw.ts) owned by this harness. */
  async recorder(id: string, host: string = nextLoopback()): Promise<Recorder> {
    const r = await startRecorder(id, host);
    this.#recorders.push(r);
    return r;
  }

  /** Several recording upstreams at once. */
  recorders(...ids: string[]): Promise<Recorder[]> {
    return Promise.all(ids.map((id) => this.recorder(id)));
  }

  /** Several echo upstreams at once. */
  echoes(...ids: string[]): Promise<EchoServer[]> {
    return Promise.all(ids.map((id) => this.echo(id)));
  }

  apply(m: RoutingModel): Promise<void> {
    return this.driver.apply(m);
  }

  /** Stops the driver (short grace) and the upstreams. */
  async close(graceMs = 500): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      await this.driver.stop(graceMs);
    }
    await Promise.all([...this.#echoes.map((e) => e.close()), ...this.#recorders.map((r) => r.close())]);
  }
}

// ---------------------------------------------------------------- client

/** A complete answer. */
export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

export interface RequestOptions {
  readonly port: number;
  readonly address?: string;
  readonly path?: string;
  readonly method?: string;
  /** Host header; the SNI name too for TLS unless `servername` is set. */
  readonly host?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | string | Readable;
  readonly tls?: boolean;
  readonly servername?: string;
  readonly agent?: HttpAgent | HttpsAgent | false;
  readonly timeoutMs?: number;
}

/** One HTTP/1.1 request through the proxy (new connection unless an agent is given). */
export function request(o: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...(o.host === undefined ? {} : { host: o.host }), ...o.headers };
    const options = {
      host: o.address ?? '127.0.0.1',
      port: o.port,
      path: o.path ?? '/',
      method: o.method ?? 'GET',
      headers,
      agent: o.agent ?? false,
      timeout: o.timeoutMs ?? 10_000,
    };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
    };
    const req = o.tls
      ? httpsRequest({ ...options, servername: o.servername ?? o.host?.replace(/:\d+$/, '') ?? '', rejectUnauthorized: false }, onResponse)
      : httpRequest(options, onResponse);
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    const body = o.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** The echo JSON of a reply (asserting it is one). */
export function echoOf(r: Reply): Echo {
  if (r.status !== 200) throw new Error(`expected 200 from an echo server, got ${r.status}: ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text) as Echo;
}

/** The id of the echo server that answered. */
export async function whoAnswers(o: RequestOptions): Promise<string> {
  return echoOf(await request(o)).id;
}
