/*
 * Per-route policies: what an Ingress asks of the routes it declares beyond host, path and backend
 * (redirects, rewrites, access, limits, upstream options, headers, canary). Proxy-neutral and typed:
 * every value has passed a strict grammar (src/model/annotations/) before it gets here, so a renderer
 * only ever quotes a number, a CIDR, a header name or a URL it can trust the shape of.
 */

import type { HtpasswdUser } from '../config/htpasswd.ts';

/** HTTP status codes a redirect policy may use. */
export type RedirectStatus = 301 | 302 | 303 | 307 | 308;

/** Plain HTTP to this route goes to https (ingress-nginx `ssl-redirect` / `force-ssl-redirect`). */
export interface SslRedirectPolicy {
  /** 308 by default (ingress-nginx's `http-redirect-code`). */
  readonly status: RedirectStatus;
}

/** Every request of the route is redirected to one URL (`permanent-redirect` / `temporal-redirect`). */
export interface UrlRedirectPolicy {
  /** An absolute http(s) URL; the request path is not appended (as ingress-nginx). */
  readonly url: string;
  readonly status: RedirectStatus;
}

/**
 * A redirect to the request's own URL with parts replaced, the path and query kept: `from-to-www-redirect`
 * (the host) and the Gateway API RequestRedirect filter (scheme, hostname, port). See {@link redirectParts}.
 */
export interface WwwRedirectPolicy {
  /** A host name (lower case, no wildcard, no port); absent: the request's host. */
  readonly host?: string;
  /** Absent: the request's (https through a TLS entry point). */
  readonly scheme?: 'http' | 'https';
  /** Absent: the scheme's default port when `scheme` is set, else the entry point's public port. */
  readonly port?: number;
  /**
   * The path of the Location (the query kept), as a rewrite of the route gives it (`rewrittenPath`):
   * Gateway API ReplaceFullPath (`replace-path`) or ReplacePrefixMatch (`prefix`, on a Prefix route).
   * Absent: the request's path.
   */
  readonly path?: Extract<RewritePolicy, { readonly kind: 'prefix' | 'replace-path' }>;
  /** 308 for from-to-www-redirect (ingress-nginx's default `http-redirect-code`). */
  readonly status: RedirectStatus;
}

/** The path the backend receives instead of the request's. */
export type RewritePolicy =
  /** `rewrite-target` without capture groups: the matched prefix is replaced by `target`. */
  | { readonly kind: 'prefix'; readonly target: string }
  /** `use-regex` + `rewrite-target` with `$1`…: the route's regex path, its groups substituted. */
  | { readonly kind: 'regex'; readonly pattern: string; readonly target: string }
  /** Traefik 1 `PathPrefixStrip`: the matched prefix is removed. */
  | { readonly kind: 'strip-prefix' }
  /** Traefik 1 `ReplacePath`: the whole path becomes `path`. */
  | { readonly kind: 'replace-path'; readonly path: string };

/** Basic auth from a Secret (`auth-type: basic`, `auth-secret`, `auth-realm`). */
export interface BasicAuthPolicy {
  readonly realm: string;
  readonly users: readonly HtpasswdUser[];
  /** `namespace/name` of the Secret, for diagnostics and the report. */
  readonly secret: string;
}

/** External authentication (`auth-url`, `auth-response-headers`, `auth-signin`). */
export interface ExternalAuthPolicy {
  /** http(s) URL asked with the original method line and headers; 2xx lets the request through. */
  readonly url: string;
  /** Headers of the auth answer copied into the upstream request. */
  readonly responseHeaders: readonly string[];
  /** Where a 401 sends the browser (with `rd=` the original URL), when set. */
  readonly signin?: string;
}

/** Request limits. Absent fields: the entry point's defaults. */
export interface LimitPolicy {
  /** Largest request body in bytes, else 413; 0 means no limit (`proxy-body-size: 0`). */
  readonly maxBodyBytes?: number;
  /** Requests per second per client address, per replica (burst 5×, as ingress-nginx). */
  readonly rps?: number;
  /** Concurrent connections per client address, per replica. */
  readonly connections?: number;
}

/** Upstream timeouts in milliseconds (`proxy-connect-timeout`, `-send-`, `-read-`). */
export interface TimeoutPolicy {
  readonly connect?: number;
  readonly send?: number;
  readonly read?: number;
}

/** How the backend is reached. */
export interface UpstreamPolicy {
  /** `backend-protocol`; `grpc` is h2c, `https`/`grpcs` TLS to the pod (not verified, as ingress-nginx). */
  readonly protocol?: 'http' | 'https' | 'grpc' | 'grpcs';
  /** `upstream-vhost`: the Host header the backend receives. */
  readonly vhost?: string;
  /** `load-balance`. */
  readonly loadBalance?: 'round_robin' | 'least_conn' | 'ewma';
  /** `proxy-next-upstream-tries`: attempts in all (1 = no retry). */
  readonly tries?: number;
  /** `affinity: cookie`. */
  readonly affinity?: { readonly cookie: string; readonly maxAgeSeconds?: number; readonly sameSite?: 'Strict' | 'Lax' | 'None' };
}

/** CORS answers (`enable-cors` and `cors-allow-*`; the Gateway API CORS filter sets the optional fields too). */
export interface CorsPolicy {
  /** `*` or exact origins (scheme://host[:port]). */
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
  /** Origins allowed beside `allowOrigins`: `scheme://*.domain[:port]`, the `*` one or more labels (lower case). */
  readonly originPatterns?: readonly string[];
  /** With `allowOrigins` `*`: the answer names the request's Origin instead of `*` (needed with credentials). */
  readonly echoOrigin?: boolean;
  /** A preflight's Access-Control-Request-Method is allowed as asked (`allowMethods` `*`); `allowMethods` is then empty. */
  readonly echoMethods?: boolean;
  /** A preflight's Access-Control-Request-Headers are allowed as asked (`allowHeaders` `*`); `allowHeaders` is then empty. */
  readonly echoHeaders?: boolean;
  /** Access-Control-Expose-Headers on every CORS answer, preflights included (names, or `*`). */
  readonly exposeHeaders?: readonly string[];
}

/** Strict-Transport-Security on https answers. */
export interface HstsPolicy {
  readonly maxAgeSeconds: number;
  readonly includeSubdomains: boolean;
  readonly preload: boolean;
}

/**
 * Header changes: names are RFC 9110 tokens, values visible ASCII (checked by the grammar). On each
 * side the changes apply in this order: `remove`, then `set` (every line of the name replaced by one),
 * then `add` (one more line of the name, after those it already has: a reader joining the lines sees
 * `old,added`).
 */
export interface HeaderPolicy {
  /** Set on the request to the backend (Traefik 1 `custom-request-headers`, Gateway API RequestHeaderModifier `set`). */
  readonly request?: Readonly<Record<string, string>>;
  /** Set on the answer to the client (`custom-headers` ConfigMap, Traefik 1 `custom-response-headers`, ResponseHeaderModifier `set`). */
  readonly response?: Readonly<Record<string, string>>;
  /** Added to the request to the backend (Gateway API RequestHeaderModifier `add`). */
  readonly requestAdd?: Readonly<Record<string, string>>;
  /** Removed from the request to the backend, lower-case names (RequestHeaderModifier `remove`). */
  readonly requestRemove?: readonly string[];
  /** Added to the answer to the client (ResponseHeaderModifier `add`). */
  readonly responseAdd?: Readonly<Record<string, string>>;
  /** Removed from the answer to the client, lower-case names (ResponseHeaderModifier `remove`). */
  readonly responseRemove?: readonly string[];
}

/** A canary Ingress's alternative backend for the same host and path. */
export interface CanaryPolicy {
  /** Backend id of the canary. */
  readonly backend: string;
  /** Header name: `always` → canary, `never` → main; or, with `headerValue`, that value → canary. */
  readonly header?: string;
  readonly headerValue?: string;
  /** Cookie name: `always` / `never` as the header. */
  readonly cookie?: string;
  /** Share of the remaining requests sent to the canary, 0-100. */
  readonly weight?: number;
}

/**
 * Gateway API weighted backendRefs beyond two (two are a weight-only {@link CanaryPolicy}): each
 * request goes to one of `backends`, chosen with probability weight / sum of weights. The route's
 * `backend` is the first of them.
 */
export interface SplitPolicy {
  /** At least three, each with a weight > 0, in the rule's order. */
  readonly backends: readonly { readonly backend: string; readonly weight: number }[];
}

/**
 * Gateway API RequestMirror: each request is also sent to other backends, their answers discarded.
 * The copy is the request as the route's backend receives it (method, path and query, headers, body)
 * except that a body is mirrored only while the copy keeps up (see each mode in docs/gateway-api.md).
 */
export interface MirrorPolicy {
  /** In the filters' order; `percent` (0–100, fractions allowed) of the requests are copied to `backend`. */
  readonly targets: readonly { readonly backend: string; readonly percent: number }[];
}

/** Everything a route may carry besides its match and backend. All absent: the plain route. */
export interface RoutePolicy {
  readonly sslRedirect?: SslRedirectPolicy;
  readonly redirect?: UrlRedirectPolicy;
  /** `app-root`: `/` redirects (302) to this path. */
  readonly appRoot?: string;
  /**
   * `from-to-www-redirect`, on the route translate adds for the other name of a host (`www.host` ↔
   * `host`): every request goes to the same scheme on `host` with its path and query kept.
   */
  readonly wwwRedirect?: WwwRedirectPolicy;
  readonly rewrite?: RewritePolicy;
  /** Client addresses or CIDR ranges allowed (`allowlist-source-range`); others get 403. */
  readonly allowSourceRange?: readonly string[];
  readonly basicAuth?: BasicAuthPolicy;
  readonly externalAuth?: ExternalAuthPolicy;
  readonly limits?: LimitPolicy;
  readonly timeouts?: TimeoutPolicy;
  readonly upstream?: UpstreamPolicy;
  readonly cors?: CorsPolicy;
  readonly hsts?: HstsPolicy;
  readonly headers?: HeaderPolicy;
  /** A canary Ingress's backend for this route (set by translate from the canary Ingress). */
  readonly canary?: CanaryPolicy;
  /** More than two weighted backends (Gateway API); never with `canary`. */
  readonly split?: SplitPolicy;
  /** Copies of each request to other backends (Gateway API RequestMirror). */
  readonly mirror?: MirrorPolicy;
  /**
   * Header changes by the backend a request goes to (Gateway API filters on the backendRefs of a rule
   * with a canary or a split), by backend id; applied after `headers`.
   */
  readonly backendHeaders?: Readonly<Record<string, HeaderPolicy>>;
  /** Traefik 1 `traefik.frontend.priority`: a higher one is matched first among routes of a host. */
  readonly priority?: number;
  /**
   * Set by translate when an access policy cannot be honoured (its Secret is missing, its value is
   * invalid): the route answers 503 with this reason rather than serve without the check, as
   * ingress-nginx denies such a location.
   */
  readonly denied?: string;
  /**
   * Set by translate on a Gateway API rule none of whose backendRefs can be used (none written, or
   * each of an unknown kind, not permitted, or not found): the route answers 500 with this reason,
   * as the spec requires.
   */
  readonly internalError?: string;
}

/** The policy names, in a stable order (reports, docs, the README table). */
export const POLICY_KEYS = [
  'sslRedirect',
  'redirect',
  'appRoot',
  'wwwRedirect',
  'rewrite',
  'allowSourceRange',
  'basicAuth',
  'externalAuth',
  'limits',
  'timeouts',
  'upstream',
  'cors',
  'hsts',
  'headers',
  'canary',
  'split',
  'mirror',
  'backendHeaders',
  'priority',
  'denied',
  'internalError',
] as const satisfies readonly (keyof RoutePolicy)[];

/** One of {@link POLICY_KEYS}. */
export type PolicyKey = (typeof POLICY_KEYS)[number];
