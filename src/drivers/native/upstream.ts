import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { Pool } from 'undici';
import type { Logger } from '../../shared/logger.ts';
import type { EndpointLiveState } from '../types.ts';

/** Timeouts and pool sizing for upstream connections. */
export interface UpstreamOptions {
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Upper bound of connections per endpoint; `undefined` is unbounded. */
  readonly connectionsPerEndpoint: number | undefined;
}

function poolOptions(options: UpstreamOptions): Pool.Options {
  return {
    connectTimeout: options.connectTimeoutMs,
    headersTimeout: options.readTimeoutMs,
    bodyTimeout: options.readTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connections: options.connectionsPerEndpoint ?? null,
    pipelining: 1,
  };
}

/** How long an endpoint that refused a connection is skipped by the picker. */
const DOWN_MS = 2000;

/** One endpoint with its keep-alive pool; shared by successive routers until removed. */
export class Upstream {
  readonly key: string;
  readonly pool: Pool;
  /** Epoch ms until which the picker avoids this endpoint; 0 when healthy. */
  downUntil = 0;
  /** Whether it ever answered (response headers, or a WebSocket connection): `up` for /api/backends. */
  answered = false;
  /** What a session-affinity cookie holds for this endpoint: a digest of its address, not the address. */
  readonly affinityId: string;

  readonly #options: UpstreamOptions;
  #tls: Pool | undefined;

  constructor(key: string, origin: string, options: UpstreamOptions) {
    this.key = key;
    this.#options = options;
    this.affinityId = createHash('sha1').update(key).digest('hex').slice(0, 16);
    this.pool = new Pool(origin, poolOptions(options));
  }

  /**
   * The pool of TLS connections to the same endpoint (backend-protocol HTTPS), made on first use. As
   * ingress-nginx (proxy-ssl-verify off by default), the pod's certificate is not verified.
   */
  tlsPool(): Pool {
    this.#tls ??= new Pool(`https://${this.key}`, { ...poolOptions(this.#options), connect: { rejectUnauthorized: false } });
    return this.#tls;
  }

  /** Closes its pools once their requests are done. */
  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.#tls?.close()]);
  }

  /** Destroys its pools at once. */
  async destroy(): Promise<void> {
    await Promise.all([this.pool.destroy(), this.#tls?.destroy()]);
  }

  /**
   * What is known of this endpoint: `down` from a failed connection until the picker retries it
   * (and again if the retry fails), `up` once it answered, undefined before either.
   */
  liveState(): EndpointLiveState | undefined {
    if (this.downUntil !== 0) return 'down';
    return this.answered ? 'up' : undefined;
  }

  /** Remembers a failed connect so the next requests try the other endpoints first. */
  markDown(): void {
    this.downUntil = Date.now() + DOWN_MS;
  }
}

/** The pools of every endpoint in use, keyed `address:port`. */
export class UpstreamRegistry {
  readonly #options: UpstreamOptions;
  readonly #logger: Logger;
  readonly #upstreams = new Map<string, Upstream>();

  constructor(options: UpstreamOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** The upstream for an endpoint, creating its pool on first use. */
  get(address: string, port: number): Upstream {
    const host = isIPv6(address) ? `[${address}]` : address;
    const key = `${host}:${port}`;
    let u = this.#upstreams.get(key);
    if (u === undefined) {
      u = new Upstream(key, `http://${key}`, this.#options);
      this.#upstreams.set(key, u);
    }
    return u;
  }

  /** Drops every upstream not in `keep`; their pools close once their in-flight requests finish. */
  retain(keep: ReadonlySet<string>): void {
    for (const [key, u] of this.#upstreams) {
      if (keep.has(key)) continue;
      this.#upstreams.delete(key);
      u.close().catch((err: unknown) => this.#logger.debug({ err, upstream: key }, 'closing upstream pool'));
    }
  }

  /** Closes every pool, destroying what is still running after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    const all = [...this.#upstreams.values()];
    this.#upstreams.clear();
    await Promise.all(
      all.map(async (u) => {
        const timer = setTimeout(() => void u.destroy().catch(() => undefined), graceMs);
        try {
          await u.close();
        } catch {
          // Destroyed at the deadline: nothing left to wait for.
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const CONNECTION_FAILURES = new Set([
  ...CONNECT_FAILURES,
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** The connection could not be opened: the endpoint is likely down. */
export function isConnectFailure(err: unknown): boolean {
  return CONNECT_FAILURES.has(errorCode(err));
}

/** The connection failed before a response: safe to retry an idempotent request elsewhere. */
export function isConnectionFailure(err: unknown): boolean {
  return CONNECTION_FAILURES.has(errorCode(err));
}

/** The upstream was too slow (connect or response): answered 504. */
export function isTimeout(err: unknown): boolean {
  return TIMEOUTS.has(errorCode(err));
}
