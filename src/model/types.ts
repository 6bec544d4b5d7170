import type { Diagnostic, ObjectRef, SourceLocation } from '../shared/diagnostics.ts';
import type { RoutePolicy } from './policy.ts';
import type { GatewayStatuses } from './translate/gateway/status.ts';

/** An htpasswd user: the name and the hash as written (`$apr1$`, `$2y$`/`$2a$`/`$2b$`, `{SHA}`). */
export interface HtpasswdUser {
  readonly user: string;
  readonly hash: string;
}

/** Redirect every request of an entry point to another (TLS) entry point. */
export interface RedirectMiddleware {
  readonly kind: 'redirect';
  /** Target entry point name (seed: `https`). */
  readonly entryPoint: string;
  readonly scheme: 'http' | 'https';
  /** Port written in the Location header; omitted there when it is the scheme's default. */
  readonly port: number;
  /** 302 by default, 308 when `permanent = true`. */
  readonly status: 302 | 308;
}

/** HTTP basic authentication against htpasswd users. */
export interface BasicAuthMiddleware {
  readonly kind: 'basicAuth';
  readonly realm: string;
  readonly users: readonly HtpasswdUser[];
  /** Remove the Authorization header before forwarding upstream. */
  readonly removeHeader: boolean;
}

export type Middleware = RedirectMiddleware | BasicAuthMiddleware;

/** A listening address, `host` undefined meaning all interfaces. */
export interface ListenAddress {
  readonly host?: string;
  readonly port: number;
}

/** Client-side timeouts of an entry point, in milliseconds (defaults: {@link DEFAULT_CLIENT_TIMEOUTS}). */
export interface ClientTimeouts {
  /** The request line and headers must be complete within this, else 408. */
  readonly requestHeader: number;
  /** An idle keep-alive connection is closed after this. */
  readonly idle: number;
  /** Longest pause while a request body is received, else 408 (or the connection is cut once answered). */
  readonly body: number;
}

/** What an entry point without `timeouts` uses: close to HAProxy's usual settings. */
export const DEFAULT_CLIENT_TIMEOUTS: ClientTimeouts = { requestHeader: 10_000, idle: 10_000, body: 60_000 };

/** Where the proxy listens; middlewares run in order (redirect before auth). */
export interface EntryPoint {
  readonly name: string;
  readonly address: ListenAddress;
  /**
   * The port clients connect to when something in front (a Service, a load balancer, a NAT) maps it
   * to `address.port`: sent as X-Forwarded-Port (redirects to this entry point already carry it in
   * their own `port`). Absent: `address.port`; see {@link publicPortOf}.
   */
  readonly publicPort?: number;
  readonly tls: boolean;
  readonly middlewares: readonly Middleware[];
  /** Absent: {@link DEFAULT_CLIENT_TIMEOUTS}. */
  readonly timeouts?: ClientTimeouts;
  /**
   * Client addresses or CIDR ranges whose X-Forwarded-*, X-Real-IP and Forwarded headers are kept
   * and extended; from any other client they are replaced. Absent or empty: trust nobody.
   */
  readonly trustedIPs?: readonly string[];
  /** Keep `%2F` and `%5C` in paths (encoded, inside a segment) instead of refusing them with 400. */
  readonly allowEncodedSlashes?: boolean;
}

/** The port clients connect to on an entry point: its `publicPort`, else the port it listens on. */
export function publicPortOf(ep: EntryPoint): number {
  return ep.publicPort ?? ep.address.port;
}

/** A ready endpoint of a backend. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** Pod (targetRef) name or hostname when known. */
  readonly name?: string;
}

/** A Service port resolved to its ready endpoints. Id: `namespace/service:port`. */
export interface Backend {
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  /** The port as the Ingress named it (number or port name). */
  readonly servicePort: number | string;
  /** Endpoints that are ready, sorted; empty means 503. */
  readonly endpoints: readonly Endpoint[];
  /** Upstream protocol (`http`; `https` reserved for an appProtocol/annotation later). */
  readonly protocol: 'http';
  /**
   * Why the reference resolved to no endpoints at all, when it did not resolve: the Service does not
   * exist, it has no such port, or it is an ExternalName Service (unsupported). The 503 says so.
   */
  readonly unresolved?: BackendUnresolved;
}

/** See {@link Backend.unresolved}. */
export type BackendUnresolved = 'service' | 'port' | 'externalName';

/** How a route's path matches; `Regex` comes from ingress-nginx's use-regex (src/model/match.ts). */
export type PathType = 'Exact' | 'Prefix' | 'Regex';

/** One path rule of a virtual host. */
export interface Route {
  /**
   * For Prefix: normalised without trailing slash (`/` stays `/`). For Exact: as written. For Regex:
   * the pattern as written (the grammar of `regexPathProblem`), matched case-insensitively from the start.
   */
  readonly path: string;
  readonly pathType: PathType;
  /** Backend id. */
  readonly backend: string;
  /** The Ingress the route came from. */
  readonly source: ObjectRef;
  /** The field of that Ingress, e.g. `spec.rules[0].http.paths[0]`. */
  readonly field: string;
  /** What the Ingress's annotations ask of this route (absent: nothing). */
  readonly policy?: RoutePolicy;
  /** Conditions besides host and path (Gateway API HTTPRoute matches); a request failing them falls through to the next route. */
  readonly conditions?: RouteConditions;
}

/**
 * Request conditions of a route besides host and path; all must hold. Ordering among routes with the
 * same path (`compareRoutes`): a method condition first, then more headers, then more query parameters.
 */
export interface RouteConditions {
  /** Upper-case HTTP method token (`GET`, `PATCH`, ...). */
  readonly method?: string;
  /** Header conditions (names lower-case, unique); values compared case-sensitively. */
  readonly headers?: readonly ValueCondition[];
  /** Query parameter conditions (names case-sensitive, unique); the first value of a repeated parameter counts. */
  readonly query?: readonly ValueCondition[];
}

/** One header or query parameter condition: the exact value, or a regular expression (RE2 subset, whole value). */
export interface ValueCondition {
  readonly name: string;
  readonly type: 'Exact' | 'RegularExpression';
  readonly value: string;
}

/**
 * `wildcard`: `*.domain` matching exactly one more label (Ingress); `suffix`: `*.domain` matching one or
 * more labels (Gateway API hostnames).
 */
export type HostKind = 'exact' | 'wildcard' | 'suffix' | 'any';

/** Routes for one host name (exact), one `*.domain` (wildcard or suffix), or every host (`any`, host `*`). */
export interface VirtualHost {
  /** Lower-case host; `*.example.com` for wildcard; `*` for any. */
  readonly host: string;
  readonly kind: HostKind;
  /** Routes in match order (`compareRoutes`): Exact, then Regex, then Prefix, longer paths first in each. */
  readonly routes: readonly Route[];
  /** Certificate id (`namespace/secret`) chosen for this host, if any. */
  readonly certificate?: string;
  readonly sources: readonly ObjectRef[];
  /**
   * The entry points (names, sorted) this host is served through, when not every one: a Gateway API
   * host on the shared address is served only on its listeners' ports. Absent: every entry point.
   */
  readonly entryPoints?: readonly string[];
}

/** A certificate and key (PEM) with the host names it is used for. Id: `namespace/secret`. */
export interface Certificate {
  readonly id: string;
  /** Host names (exact or `*.domain`) whose SNI selects this certificate. */
  readonly hosts: readonly string[];
  readonly certPem: string;
  readonly keyPem: string;
  readonly source: ObjectRef;
}

/** The `source.kind` of a model certificate made from an {@link IssuedCertificate}. */
export const ISSUED_CERTIFICATE_KIND = 'AcmeCertificate';

/**
 * A certificate ACME issued: an input of translate beside the TLS Secrets (`Snapshot.issuedCertificates`),
 * served for those of its names no Secret serves. Id: `acme.passerelle/<main>`.
 */
export interface IssuedCertificate {
  readonly id: string;
  /** Names as ordered (main first; wildcards as `*.domain`). */
  readonly names: readonly string[];
  /** Leaf first, then the chain. */
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * What an object asks a certificate for (translate makes them from our Ingresses; ACME decides which
 * it orders): a TLS entry's hosts, or a rule host outside every TLS entry.
 */
export interface CertificateIntent {
  readonly source: ObjectRef;
  readonly location?: SourceLocation;
  /** `spec.tls[k]`, or `spec.rules[r]` for a rule host outside every TLS entry. */
  readonly field: string;
  readonly kind: 'tls' | 'rule';
  /** Valid host names, lower case, in the entry's order (wildcards as `*.domain`). */
  readonly hosts: readonly { readonly host: string; readonly kind: Exclude<HostKind, 'any'> }[];
  /** A host of the entry was invalid or it named none: ACME does not serve the entry whole. */
  readonly incomplete: boolean;
  /** The object's `kubernetes.io/tls-acme` annotation; absent: `[acme] onHostRule` decides. */
  readonly acme?: boolean;
}

/** The proxy-neutral routing model: what every driver serves. */
export interface RoutingModel {
  readonly entryPoints: readonly EntryPoint[];
  /** Sorted: exact hosts by name, then wildcards, then `*`. */
  readonly virtualHosts: readonly VirtualHost[];
  /** Backends by id, sorted by id. */
  readonly backends: Readonly<Record<string, Backend>>;
  /** Used when no virtual host or no route matches; otherwise 404. */
  readonly defaultBackend?: string;
  readonly certificates: readonly Certificate[];
  readonly diagnostics: readonly Diagnostic[];
  /** What our objects ask certificates for, oldest object first (absent: none, e.g. a hand-made model). */
  readonly certificateIntents?: readonly CertificateIntent[];
  /**
   * The status of our Gateway API objects (GatewayClasses, Gateways, HTTPRoutes), as translate decided
   * it; absent when the snapshot holds none of ours. Not served: no driver reads it, and it is not part
   * of the serving hash. Nothing writes it yet.
   */
  readonly gatewayStatus?: GatewayStatuses;
  /**
   * Hosts served only to connections made to one local address, sorted by address (Gateways with an
   * address of their own, `[kubernetes] gatewayAddressPool`). A connection to one of these addresses
   * sees only its scope's hosts; every other connection sees `virtualHosts`. Absent: none.
   */
  readonly addressScopes?: readonly AddressScope[];
}

/** The hosts one local address serves through one entry point (see {@link RoutingModel.addressScopes}). */
export interface AddressScope {
  /** An IP address, as the proxy sees its local address (IPv4 dotted, IPv6 compressed). */
  readonly address: string;
  /** The entry point (its port) the hosts are served on at `address`: a Gateway listener's port. */
  readonly entryPoint: string;
  /** Sorted as the model's. */
  readonly virtualHosts: readonly VirtualHost[];
  /**
   * On a TLS entry point where the Gateway has HTTPS listeners of several hostnames (sorted; `''`: a
   * listener without hostname, `*.d`: one or more labels before `.d`): a request whose Host falls to
   * another listener than its TLS server name (SNI) is misdirected and answered 421 (see
   * match.ts `misdirected`). Absent: never 421.
   */
  readonly listenerHostnames?: readonly string[];
}
