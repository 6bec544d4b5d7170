/*
 * The read-only web server of `[web]` (`--web`): health probes, the JSON API, /metrics and the
 * dashboard's static files. It reads the controller and never changes it. Optional basic auth
 * covers everything except the probes (a kubelet sends no credentials).
 */

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { verifyHtpasswd } from '../config/htpasswd.ts';
import type { HtpasswdUser } from '../config/htpasswd.ts';
import type { ListenAddress, EntryPoint } from '../model/types.ts';
import type { ControllerState } from '../controller/sync.ts';
import type { EndpointLiveState } from '../drivers/types.ts';
import { healthText, liveness, readiness } from './health.ts';
import type { HealthReport } from './health.ts';
import { apiError, backendsOf, certificatesOf, diagnosticsOf, explainOf, overviewOf, redactSecrets, routersOf, servedModel } from './api.ts';
import type { AcmeView, ApiAnswer } from './api.ts';

/** The dashboard's static files (D's folder). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

/** What /metrics serves (prom-client's registry). */
export type RenderMetrics = () => Promise<{ readonly contentType: string; readonly body: string }>;

/** An extra `/api/NAME` handler (e.g. live rates for the dashboard). */
export type ApiHandler = (query: URLSearchParams) => ApiAnswer | Promise<ApiAnswer>;

/** Options of {@link WebServer}. */
export interface WebServerOptions {
  readonly address: ListenAddress;
  /** Basic auth users (htpasswd); absent: no authentication. */
  readonly users?: readonly HtpasswdUser[];
  readonly realm?: string;
  /** `native`, `haproxy` or `nginx`. */
  readonly mode: string;
  readonly version: string;
  readonly controller: { readonly state: ControllerState };
  /** The driver's readiness probe (see ProxyDriver.probe). */
  readonly probe?: () => Promise<boolean>;
  /** The driver's live endpoint states (see ProxyDriver.endpointStates); absent when the mode has none. */
  readonly endpointStates?: () => Promise<ReadonlyMap<string, EndpointLiveState>>;
  /** The configured entry points (shown before the first apply). */
  readonly entryPoints: readonly EntryPoint[];
  /** ACME's state, when `[acme]` is configured. */
  readonly acme?: () => AcmeView;
  readonly metrics?: RenderMetrics;
  /** More `/api/NAME` routes, by NAME. */
  readonly api?: Readonly<Record<string, ApiHandler>>;
  /** Folder of the dashboard's files (default {@link DEFAULT_UI_DIR}). */
  readonly uiDir?: string;
  /** A sync running longer than this fails /healthz (default 120 s). */
  readonly wedgedAfterMs?: number;
  readonly logger: Logger;
  readonly now?: () => Date;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Routes a kubelet calls without credentials. */
const PROBES = new Set(['/healthz', '/readyz', '/ping', '/livez']);

/** Accepted credentials are remembered this long, so bcrypt is not run on every dashboard poll. */
const AUTH_CACHE_MS = 60_000;

/** The web server; nothing listens until {@link start}. */
export class WebServer {
  readonly #o: WebServerOptions;
  readonly #server: Server;
  readonly #uiDir: string;
  readonly #accepted = new Map<string, number>();

  constructor(options: WebServerOptions) {
    this.#o = options;
    this.#uiDir = path.resolve(options.uiDir ?? DEFAULT_UI_DIR);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#o.logger.error({ err, path: req.url }, 'web request failed');
        if (!res.headersSent) this.#json(res, 500, { error: { code: 'PASS_WEB_INTERNAL', message: 'internal error' } });
        else res.destroy();
      });
    });
    // Slow or idle clients do not hold sockets forever.
    this.#server.requestTimeout = 30_000;
    this.#server.headersTimeout = 10_000;
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Where it listens (after {@link start}): the actual port when 0 was asked. */
  get address(): { readonly host: string; readonly port: number } {
    const a = this.#server.address() as AddressInfo | null;
    return { host: a?.address ?? '', port: a?.port ?? 0 };
  }

  /**
   * Listens on the configured address.
   *
   * @throws PassError PASS_WEB_LISTEN when the address cannot be bound
   */
  async start(): Promise<void> {
    const { host, port } = this.#o.address;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PassError('PASS_WEB_LISTEN', `the web server cannot listen on ${host ?? ''}:${port}: ${err.message}`, { field: 'web.address', cause: err }));
      this.#server.once('error', onError);
      this.#server.listen({ port, ...(host === undefined ? {} : { host }) }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#o.logger.info({ address: `${this.address.host}:${this.address.port}`, auth: this.#o.users !== undefined }, 'web server listening');
  }

  /** Stops listening and closes every connection. */
  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  /** /healthz: the sync loop is alive. */
  health(): HealthReport {
    return liveness(this.#o.controller.state, this.#now(), this.#o.wedgedAfterMs);
  }

  /** /readyz: a configuration is applied and the proxy answers. */
  async ready(): Promise<HealthReport> {
    const state = this.#o.controller.state;
    // The proxy is only asked once something was applied: before that the answer is known.
    const answers = state.appliedAt === undefined || this.#o.probe === undefined ? undefined : await this.#o.probe().catch(() => false);
    return readiness(state, answers);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('cache-control', 'no-store');
    const url = new URL(req.url ?? '/', 'http://web.invalid');
    const route = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      this.#json(res, 405, { error: { code: 'PASS_WEB_BAD_REQUEST', message: 'the web server is read-only: GET and HEAD only' } });
      return;
    }
    if (PROBES.has(route)) {
      const verbose = url.searchParams.has('verbose');
      if (route === '/ping') return this.#text(res, 200, 'OK');
      const r = route === '/readyz' ? await this.ready() : this.health();
      return this.#text(res, r.status, healthText(r, verbose));
    }
    if (!this.#authorized(req)) {
      res.setHeader('www-authenticate', `Basic realm="${(this.#o.realm ?? 'passerelle').replaceAll('"', '')}", charset="UTF-8"`);
      return this.#json(res, 401, { error: { code: 'PASS_WEB_UNAUTHORIZED', message: 'authentication required' } });
    }
    if (route === '/') {
      res.setHeader('location', '/dashboard/');
      res.statusCode = 302;
      res.end();
      return;
    }
    if (route === '/metrics') {
      if (this.#o.metrics === undefined) return this.#json(res, 404, { error: { code: 'PASS_WEB_NOT_FOUND', message: 'metrics are not available in this build' } });
      const m = await this.#o.metrics();
      res.setHeader('content-type', m.contentType);
      res.statusCode = 200;
      res.end(req.method === 'HEAD' ? undefined : m.body);
      return;
    }
    if (route.startsWith('/api/')) {
      const a = await this.#api(route.slice('/api/'.length), url.searchParams);
      return this.#json(res, a.status, a.body);
    }
    if (route === '/dashboard') {
      res.setHeader('location', '/dashboard/');
      res.statusCode = 301;
      res.end();
      return;
    }
    if (route.startsWith('/dashboard/')) return this.#static(req, res, route.slice('/dashboard/'.length));
    return this.#json(res, 404, { error: { code: 'PASS_WEB_NOT_FOUND', message: `no route ${route}` } });
  }

  async #api(name: string, query: URLSearchParams): Promise<ApiAnswer> {
    const state = this.#o.controller.state;
    const model = servedModel(state);
    switch (name) {
      case 'overview':
        return { status: 200, body: overviewOf({ mode: this.#o.mode, version: this.#o.version, state, entryPoints: this.#o.entryPoints }) };
      case 'routers':
        return { status: 200, body: routersOf(model, query.get('host') ?? undefined) };
      case 'backends':
        return { status: 200, body: backendsOf(model, await this.#endpointStates()) };
      case 'certificates':
        return { status: 200, body: certificatesOf(model, this.#o.acme?.(), this.#now()) };
      case 'diagnostics':
        return { status: 200, body: diagnosticsOf(model.diagnostics) };
      case 'explain':
        return explainOf(model, query);
      default: {
        const extra = Object.hasOwn(this.#o.api ?? {}, name) ? this.#o.api?.[name] : undefined;
        if (extra !== undefined) return extra(query);
        return apiError(404, 'PASS_WEB_NOT_FOUND', `no API /api/${name}`);
      }
    }
  }

  /** The driver's endpoint states; empty (all unknown) when it fails, undefined when the mode has none. */
  async #endpointStates(): Promise<ReadonlyMap<string, EndpointLiveState> | undefined> {
    const states = this.#o.endpointStates;
    if (states === undefined) return undefined;
    return states().catch((err: unknown) => {
      this.#o.logger.debug({ err }, 'endpoint states unavailable');
      return new Map<string, EndpointLiveState>();
    });
  }

  #authorized(req: IncomingMessage): boolean {
    const users = this.#o.users;
    if (users === undefined) return true;
    const header = req.headers.authorization;
    if (header === undefined) return false;
    const key = createHash('sha256').update(header).digest('hex');
    const now = Date.now();
    const until = this.#accepted.get(key);
    if (until !== undefined && until > now) return true;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (m?.[1] === undefined) return false;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = users.find((u) => u.user === decoded.slice(0, colon));
    if (user === undefined || !verifyHtpasswd(user, decoded.slice(colon + 1))) return false;
    if (this.#accepted.size > 1000) this.#accepted.clear();
    this.#accepted.set(key, now + AUTH_CACHE_MS);
    return true;
  }

  async #static(req: IncomingMessage, res: ServerResponse, rel: string): Promise<void> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rel);
    } catch {
      return this.#json(res, 400, { error: { code: 'PASS_WEB_BAD_REQUEST', message: 'bad escape in path' } });
    }
    const file = path.resolve(this.#uiDir, decoded === '' || decoded.endsWith('/') ? `${decoded}index.html` : decoded);
    // Nothing outside the UI folder is ever served.
    if (file !== this.#uiDir && !file.startsWith(`${this.#uiDir}${path.sep}`)) return this.#json(res, 404, { error: { code: 'PASS_WEB_NOT_FOUND', message: 'not found' } });
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) return this.#json(res, 404, { error: { code: 'PASS_WEB_NOT_FOUND', message: `no dashboard file ${decoded}` } });
    const body = await readFile(file);
    res.statusCode = 200;
    res.setHeader('content-type', CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream');
    res.setHeader('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    res.setHeader('cache-control', 'no-cache');
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(`${JSON.stringify(redactSecrets(body), null, 2)}\n`);
  }

  #text(res: ServerResponse, status: number, body: string): void {
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(body);
  }
}
