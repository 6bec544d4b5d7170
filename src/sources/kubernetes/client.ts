/*
 * The thin HTTP client of the Kubernetes source. @kubernetes/client-node loads the configuration
 * (in-cluster service account, kubeconfig files, exec and token-file authentication, client
 * certificates) and fills the HTTPS options of each request; the requests themselves go through
 * node:https so that lists can be paged, watches can ask for bookmarks and a silent watch can be
 * noticed, and objects stay plain JSON (the typed API would turn timestamps into Date objects).
 */

import { existsSync } from 'node:fs';
import http from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type * as ClientNode from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { PassError } from '../../shared/errors.ts';
import { defined } from '../../shared/optional.ts';

/** Where the Kubernetes connection settings come from. */
export interface KubeConfigOptions {
  /** A kubeconfig file; when absent: in-cluster when running in a pod, else $KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig?: string;
  /** A context of that kubeconfig other than its current one. */
  readonly context?: string;
}

/**
 * @kubernetes/client-node, loaded on first use. Every module of it (its `config.js` included) imports
 * its whole generated API, about 80 MB of RSS in a bare Node and 50 MB in the controller, of which only
 * KubeConfig is used here: a process that never connects to Kubernetes (file source, `check`,
 * `render`) does not pay for it. There is no lighter entry point that keeps KubeConfig.
 */
let clientNode: typeof ClientNode | undefined;
function newKubeConfig(): KubeConfig {
  clientNode ??= createRequire(import.meta.url)('@kubernetes/client-node') as typeof ClientNode;
  return new clientNode.KubeConfig();
}

/** Thrown inside {@link loadKubeConfig} when there is nothing to load. */
class NoKubeConfig extends Error {}

/**
 * Loads the connection settings: the given kubeconfig file, else the pod's service account when
 * running in a cluster, else $KUBECONFIG / ~/.kube/config.
 */
export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const kc = newKubeConfig();
  try {
    if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
    else if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined && process.env['KUBECONFIG'] === undefined) kc.loadFromCluster();
    else if (!process.env['KUBECONFIG'] && !existsSync(path.join(homedir(), '.kube', 'config'))) throw new NoKubeConfig();
    else kc.loadFromDefault();
    if (options.context !== undefined) kc.setCurrentContext(options.context);
  } catch (err) {
    // Without this, client-node falls back to http://localhost:8080 and the start retries it for kubernetes.startupRetry.
    if (err instanceof NoKubeConfig) {
      throw new PassError(
        'PASS_KUBE_CONFIG',
        'no Kubernetes configuration found: not in a cluster (KUBERNETES_SERVICE_HOST is unset), no $KUBECONFIG, no ~/.kube/config; set [kubernetes] kubeconfig = "FILE", or turn the Kubernetes source off',
        { field: 'kubernetes.kubeconfig' },
      );
    }
    throw new PassError('PASS_KUBE_CONFIG', `cannot load the Kubernetes configuration: ${(err as Error).message}`, { field: 'kubernetes.kubeconfig', cause: err });
  }
  if (kc.getCurrentCluster() === null) {
    throw new PassError('PASS_KUBE_CONFIG', 'the Kubernetes configuration names no current cluster', { field: 'kubernetes.kubeconfig' });
  }
  return kc;
}

/** A failed API call: HTTP status (0 when the connection failed) and the apiserver's reason. */
export class KubeApiError extends PassError {
  readonly status: number;
  /** `metav1.Status.reason`, e.g. `NotFound`, `Conflict`, `Expired`, `Forbidden`. */
  readonly reason: string | undefined;
  /** The answer's Retry-After (429, 503), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, reason: string | undefined, cause?: unknown, retryAfterMs?: number) {
    super(status === 0 ? 'PASS_KUBE_UNREACHABLE' : 'PASS_KUBE_API', message, defined({ cause }));
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Reads a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds
 * from `now`; undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, now = Date.now()): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  // An HTTP date starts with the day's name; Date.parse would take "-1" for a year.
  const at = /^[A-Za-z]/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Query parameters; undefined values are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** Options of one request. */
export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** Default `application/json`; e.g. `application/merge-patch+json` for PATCH. */
  readonly contentType?: string;
  /** Whole-request timeout (default 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One line of a watch stream. */
export interface WatchEvent {
  readonly type: string;
  readonly object: unknown;
}

/** Options of one watch request. */
export interface WatchOptions {
  readonly query?: Query;
  /** Abort when no byte arrived for this long (the watchdog of a silent watch). */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** Called when the server has accepted the watch (HTTP 200), before any event. */
  readonly onOpen?: () => void;
}

type Headers = Record<string, string>;

function statusMessage(status: number, text: string): { message: string; reason: string | undefined } {
  try {
    const body = JSON.parse(text) as { message?: unknown; reason?: unknown };
    const message = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    return { message, reason: typeof body.reason === 'string' ? body.reason : undefined };
  } catch {
    return { message: `HTTP ${status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`, reason: undefined };
  }
}

/** A JSON client of one apiserver, with the authentication of a {@link KubeConfig}. */
export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #server: URL;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new PassError('PASS_KUBE_CONFIG', 'the Kubernetes configuration names no current cluster');
    this.#kc = kc;
    this.#server = new URL(cluster.server);
  }

  /** The apiserver URL. */
  get server(): string {
    return this.#server.toString();
  }

  /** The namespace of the current context (the pod's own in a cluster), if any. */
  get namespace(): string | undefined {
    const ctx = this.#kc.getContextObject(this.#kc.getCurrentContext());
    return ctx?.namespace;
  }

  #url(path: string, query: Query | undefined): URL {
    const base = this.#server.pathname.replace(/\/$/, '');
    const url = new URL(this.#server.toString());
    url.pathname = `${base}${path}`;
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async #open(method: string, url: URL, headers: Headers, signal: AbortSignal | undefined): Promise<http.ClientRequest> {
    const opts: https.RequestOptions = { method, headers: { ...headers } };
    await this.#kc.applyToHTTPSOptions(opts);
    if (signal) opts.signal = signal;
    return url.protocol === 'http:' ? http.request(url, { ...opts, agent: undefined }) : https.request(url, opts);
  }

  /** One request; resolves to the parsed JSON body, or throws a {@link KubeApiError}. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = this.#url(path, options.query);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Headers = { Accept: 'application/json' };
    if (payload) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let req: http.ClientRequest;
    try {
      req = await this.#open(method, url, headers, signal);
    } catch (err) {
      throw new KubeApiError(0, `${method} ${path}: ${(err as Error).message}`, undefined, err);
    }
    return new Promise<T>((resolve, reject) => {
      req.on('error', (err) => reject(new KubeApiError(0, `${method} ${path}: ${err.message}`, undefined, err)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new KubeApiError(0, `${method} ${path}: ${err.message}`, undefined, err)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve((text === '' ? undefined : JSON.parse(text)) as T);
            } catch (err) {
              reject(new KubeApiError(status, `${method} ${path}: the answer is not JSON`, undefined, err));
            }
            return;
          }
          const { message, reason } = statusMessage(status, text);
          reject(new KubeApiError(status, `${method} ${path}: ${message}`, reason, undefined, parseRetryAfter(res.headers['retry-after'])));
        });
      });
      req.end(payload);
    });
  }

  /**
   * Streams a watch: calls `onEvent` for every line, resolves when the server ends the stream,
   * rejects with a {@link KubeApiError} when the request fails or no byte arrives for
   * `idleTimeoutMs` (status 0, reason `Timeout`).
   */
  async watch(path: string, onEvent: (event: WatchEvent) => void, options: WatchOptions): Promise<void> {
    const url = this.#url(path, { ...options.query, watch: true });
    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        abort.abort();
      }, options.idleTimeoutMs);
      timer.unref();
    };
    arm();
    let req: http.ClientRequest;
    try {
      req = await this.#open('GET', url, { Accept: 'application/json' }, signal);
    } catch (err) {
      clearTimeout(timer);
      throw new KubeApiError(0, `watch ${path}: ${(err as Error).message}`, undefined, err);
    }
    const failed = (err: Error): KubeApiError =>
      idle
        ? new KubeApiError(0, `watch ${path}: nothing received for ${options.idleTimeoutMs} ms`, 'Timeout', err)
        : new KubeApiError(0, `watch ${path}: ${err.message}`, undefined, err);
    try {
      await new Promise<void>((resolve, reject) => {
        req.on('error', (err) => reject(failed(err)));
        req.on('response', (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', (err) => reject(failed(err)));
            res.on('end', () => {
              const { message, reason } = statusMessage(status, Buffer.concat(chunks).toString('utf8'));
              reject(new KubeApiError(status, `watch ${path}: ${message}`, reason, undefined, parseRetryAfter(res.headers['retry-after'])));
            });
            return;
          }
          arm();
          options.onOpen?.();
          res.on('data', arm);
          res.on('error', (err) => reject(failed(err)));
          res.on('aborted', () => reject(failed(new Error('connection aborted'))));
          const lines = createInterface({ input: res, crlfDelay: Infinity });
          // readline re-emits the errors of its input (an aborted connection).
          lines.on('error', (err) => reject(failed(err)));
          lines.on('line', (line) => {
            if (line.trim() === '') return;
            let event: unknown;
            try {
              event = JSON.parse(line);
            } catch {
              return;
            }
            if (typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string') {
              onEvent(event as WatchEvent);
            }
          });
          lines.on('close', () => (idle || signal.aborted ? reject(failed(new Error('aborted'))) : resolve()));
        });
        req.end();
      });
    } finally {
      clearTimeout(timer);
      if (!abort.signal.aborted) abort.abort();
    }
  }
}
