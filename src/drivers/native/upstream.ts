import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { Logger } from '../../shared/logger.ts';
import type { EndpointLiveState } from '../types.ts';
import { recordLatency } from './load.ts';
import { CONNECT_TIMEOUT, connectTimeoutError, H2Client } from './h2-client.ts';

/** Timeouts and pool sizing for upstream connections. */
export interface UpstreamOptions {
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Upper bound of connections per endpoint; `undefined` is unbounded. */
  readonly connectionsPerEndpoint: number | undefined;
}

/**
 * A connector whose connect timeout (TCP, and the TLS handshake for HTTPS) fires on time: undici's
 * own has a resolution of about a second (its fast timers), too coarse for a route's
 * proxy-connect-timeout. Expiry fails the connection with {@link CONNECT_TIMEOUT}.
 */
function timedConnector(tls: boolean, ms: number): buildConnector.connector {
  const base = buildConnector({ timeout: 0, ...(tls ? { rejectUnauthorized: false } : {}) });
  return (opts, callback) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket?.destroy();
      callback(connectTimeoutError(ms), null);
    }, ms);
    const socket = (base as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket | undefined)(opts, (...args: Parameters<buildConnector.Callback>) => {
      if (settled) {
        args[1]?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      callback(...args);
    });
  };
}

function poolOptions(options: UpstreamOptions, tls: boolean, connectTimeoutMs: number): Pool.Options {
  return {
    connect: timedConnector(tls, connectTimeoutMs),
    headersTimeout: options.readTimeoutMs,
    bodyTimeout: options.readTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connections: options.connectionsPerEndpoint ?? null,
    pipelining: 1,
  };
}

/** How long an endpoint that refused a connection is skipped by the picker. */
const DOWN_MS = 2000;

/**
 * One endpoint with its keep-alive pools; shared by successive routers until removed. Its load
 * (requests in flight, peak EWMA of latency) is the endpoint's, whichever backend sends there.
 */
export class Upstream {
  readonly key: string;
  /** Epoch ms until which the picker avoids this endpoint; 0 when healthy. */
  downUntil = 0;
  /** Whether it ever answered (response headers, or a WebSocket connection): `up` for /api/backends. */
  answered = false;
  /** What a session-affinity cookie holds for this endpoint: a digest of its address, not the address. */
  readonly affinityId: string;
  /** Requests (and WebSocket connections) in flight to this endpoint. */
  inflight = 0;
  /** Peak EWMA of its response latency in ms, as of {@link ewmaAt}; 0 before its first answer. */
  ewma = 0;
  /** `performance.now()` of the last latency recorded. */
  ewmaAt = 0;

  readonly #options: UpstreamOptions;
  /** HTTP/1.1 pools by protocol and connect timeout, made on first use. */
  readonly #pools = new Map<string, Pool>();
  /** HTTP/2 clients by protocol and connect timeout, made on first use. */
  readonly #h2 = new Map<string, H2Client>();
  #closed = false;
  /** What {@link close} is closing, for {@link destroy} at the deadline. */
  #closing: (Pool | H2Client)[] = [];

  constructor(key: string, options: UpstreamOptions) {
    this.key = key;
    this.#options = options;
    this.affinityId = createHash('sha1').update(key).digest('hex').slice(0, 16);
  }

  /**
   * The HTTP/1.1 pool for plain or TLS connections (backend-protocol HTTPS: as ingress-nginx,
   * proxy-ssl-verify off by default, the pod's certificate is not verified), with a route's connect
   * timeout or the driver's.
   */
  pool(tls: boolean, connectTimeoutMs?: number): Pool {
    const ms = connectTimeoutMs ?? this.#options.connectTimeoutMs;
    const id = `${tls ? 'https' : 'http'}|${ms}`;
    let pool = this.#pools.get(id);
    if (pool === undefined) {
      pool = new Pool(`${tls ? 'https' : 'http'}://${this.key}`, poolOptions(this.#options, tls, ms));
      // Closed meanwhile (removed from the model while a request was routed): it is not kept.
      if (!this.#closed) this.#pools.set(id, pool);
      else queueMicrotask(() => void pool?.close().catch(() => undefined));
    }
    return pool;
  }

  /** The HTTP/2 client for gRPC (h2c) or gRPC over TLS, with a route's connect timeout or the driver's. */
  h2(tls: boolean, connectTimeoutMs?: number): H2Client {
    const ms = connectTimeoutMs ?? this.#options.connectTimeoutMs;
    const id = `${tls ? 'grpcs' : 'grpc'}|${ms}`;
    let client = this.#h2.get(id);
    if (client === undefined) {
      client = new H2Client(this.key, tls, ms, this.#options.keepAliveTimeoutMs);
      if (!this.#closed) this.#h2.set(id, client);
      else queueMicrotask(() => void client?.close());
    }
    return client;
  }

  /** The driver's read timeout (a route's `timeouts.read` replaces it). */
  get readTimeoutMs(): number {
    return this.#options.readTimeoutMs;
  }

  /** Records the latency of an answer (ms) into the peak EWMA. */
  recordLatency(ms: number, now: number = performance.now()): void {
    recordLatency(this, ms, now);
  }

  /**
   * Closes its pools once their requests are done. A request a previous router still sends here
   * afterwards gets a pool of its own, closed once it is done.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    const clients = [...this.#h2.values()];
    this.#pools.clear();
    this.#h2.clear();
    this.#closing = [...pools, ...clients];
    await Promise.all([...pools.map((p) => p.close()), ...clients.map((c) => c.close())]);
  }

  /** Destroys its pools at once. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const all = [...this.#closing, ...this.#pools.values(), ...this.#h2.values()];
    this.#pools.clear();
    this.#h2.clear();
    await Promise.all(all.map((p) => p.destroy()));
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
      u = new Upstream(key, this.#options);
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

/** The error code of a request body the upstream took nothing of for `timeouts.send`. */
export const SEND_TIMEOUT = 'ERR_UPSTREAM_SEND_TIMEOUT';
/** The error code of an upstream that sent nothing for the read timeout (HTTP/2 streams; undici has its own). */
export const READ_TIMEOUT = 'ERR_UPSTREAM_READ_TIMEOUT';

/** The error of an upstream silent for `ms`. */
export function readTimeoutError(ms: number): Error {
  return Object.assign(new Error(`the upstream sent nothing for ${ms} ms (read timeout)`), { code: READ_TIMEOUT });
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', CONNECT_TIMEOUT]);
const CONNECTION_FAILURES = new Set([
  ...CONNECT_FAILURES,
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', CONNECT_TIMEOUT, SEND_TIMEOUT, READ_TIMEOUT]);

/** The code of an error, or of its cause when it has none of its own that says more (node:http2 cancels pending streams with the connection's error as cause). */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_HTTP2_STREAM_CANCEL' || code === undefined) {
    const cause = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
    if (typeof cause === 'string') return cause;
  }
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
