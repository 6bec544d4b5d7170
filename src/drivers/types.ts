import { isIPv6 } from 'node:net';
import type { RoutingModel } from '../model/types.ts';
import type { Logger } from '../shared/logger.ts';
import type { ApplyVia } from '../shared/telemetry.ts';

/** A way of serving the routing model: native proxy, HAProxy or nginx. */
export interface ProxyDriver {
  readonly name: string;
  /** Serves `model` from now on; on failure the previous configuration keeps running. */
  apply(model: RoutingModel): Promise<void>;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  stop(graceMs?: number): Promise<void>;
  /**
   * Whether the proxy serves what was applied (readiness): native, every entry point listens;
   * haproxy/nginx, the proxy process answers. Never rejects; false before the first apply.
   */
  probe?(): Promise<boolean>;
  /** How the last successful {@link apply} took effect (reload, runtime API, swap, unchanged), for metrics. */
  readonly lastApply?: ApplyVia | undefined;
  /**
   * What the proxy knows now of the endpoints it serves, keyed by {@link endpointKey}; an endpoint
   * absent from the map is unknown (no traffic yet). Absent in a mode that cannot tell (nginx).
   * Never rejects: an unreachable proxy gives an empty map.
   */
  endpointStates?(): Promise<ReadonlyMap<string, EndpointLiveState>>;
}

/**
 * An endpoint as the proxy last saw it: `up` (it answered), `down` (connections to it failed; the
 * native proxy skips it until it retries it, HAProxy with health checks until a check passes).
 */
export type EndpointLiveState = 'up' | 'down';

/**
 * The key of one endpoint of one backend in {@link ProxyDriver.endpointStates}.
 *
 * @param backendId the backend id (`namespace/service:port`)
 * @param address the endpoint's IP address (IPv6 without brackets)
 * @param port the endpoint's port
 * @returns `"<backendId> <host>:<port>"`, IPv6 hosts in brackets
 */
export function endpointKey(backendId: string, address: string, port: number): string {
  return `${backendId} ${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/** Answers an HTTP-01 token with its key authorization, or `undefined` when unknown. */
export type AcmeChallengeHook = (token: string) => string | undefined;

export { ACME_CHALLENGE_PREFIX } from '../model/redirect.ts';

/**
 * One finished request, in every mode (native: measured by the proxy; haproxy/nginx: parsed from
 * the proxy's own log line). What access logs and traffic metrics are made of.
 */
export interface RequestRecord {
  /** When the request arrived. */
  readonly time: Date;
  /** The entry point name (native, haproxy) or its listening port (nginx, when the name is unknown). */
  readonly entryPoint: string;
  /** The client address (the TCP peer, not X-Forwarded-For). */
  readonly client: string;
  /** The address the client connected to, when the mode logs it (it picks an address scope's hosts). */
  readonly local?: string;
  readonly method: string;
  /** The Host the request was routed by (without normalisation). */
  readonly host: string;
  /** The path and query as requested. */
  readonly path: string;
  /** `HTTP/1.1`, `HTTP/2.0`, ... when the mode knows it. */
  readonly protocol?: string;
  /** The status sent; 0 when the connection closed before an answer. */
  readonly status: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
  /** From the request's arrival to the end of the answer. */
  readonly durationMs: number;
  /** `host:port` of the endpoint that answered (or was tried last). */
  readonly upstream?: string;
  /** The route that matched: `"host path pathType"`, or the backend id for the default backend. */
  readonly route?: string;
  /** The backend id (`namespace/service:port`). */
  readonly backend?: string;
  /** Why the upstream failed (502/503/504 given by the proxy): connection refused, timeout, ... */
  readonly error?: string;
}

/** Receives every finished request; must not throw and must be cheap (it runs on the request path). */
export type RequestObserver = (record: RequestRecord) => void;

/** Options every driver understands; drivers add their own. */
export interface DriverCommonOptions {
  readonly logger?: Logger;
  readonly acmeChallenge?: AcmeChallengeHook;
  /** Called once per finished request (see {@link RequestRecord}). */
  readonly observe?: RequestObserver;
}

/** The route text of {@link RequestRecord.route} for a route of a virtual host. */
export function routeName(host: string, path: string, pathType: string): string {
  return `${host} ${path} ${pathType}`;
}
