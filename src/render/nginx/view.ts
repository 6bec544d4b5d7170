/*
 * The nginx view: one server block per (entry point, set of virtual hosts served alike), locations built so that
 * nginx's own matching gives the model's order:
 *   Exact /p   → location = /p
 *   Prefix /p  → location = /p  and  location ^~ /p/   (element-wise; `= /p` of an Exact wins)
 *   Prefix /   → location /
 *   Regex re   → location ~* "^(?:re)"   (in the model's order: longest pattern first)
 * nginx picks `=` first, then the longest `^~` prefix: the longest match, Exact on a tie. On a host
 * with Regex routes, Prefix locations drop `^~` (nginx then tries the regexes, in order, before the
 * longest prefix) and a Prefix's `= /p` serves the route the model picks for `/p` exactly: Exact,
 * then Regex, then Prefix, as compareRoutes.
 * Host lookup goes through nginx's server-name hash; wildcards become one-label regexes, suffix hosts
 * (Gateway API `*.domain`) regexes of one or more labels, ordered longest domain first. A location whose
 * routes have conditions (method, headers, query) picks its route with a chain of maps (conditions.ts).
 */
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';
import { trustedRanges } from '../trust.ts';
import { DEFAULT_CLIENT_TIMEOUTS, publicPortOf } from '../../model/types.ts';
import type { BasicAuthMiddleware, ClientTimeouts, EntryPoint, Route, RoutingModel, VirtualHost } from '../../model/types.ts';
import { pathMatches, selectRoute, servedOn } from '../../model/match.ts';
import { unavailableCause } from '../../model/unavailable.ts';
import { hasConditions, isPlainHost, isWildcardHost } from '../quote.ts';
import { conditionProblem, ConditionRegistry } from './conditions.ts';
import type { ChainOutcome, ConditionMapView, HeaderJoinView, QueryValueView } from './conditions.ts';
import type { HostPort, RequestLogTarget } from '../types.ts';
import { canAddress, canCidr, canLiteral, canName, canPathRegex, canRewriteTarget, canRoutePath, canText, canUser } from './quote.ts';
import { backendEdits, backendHeaderProblem, canHeader, corsEntry, hstsValue, PolicyRegistry, rateOf, regexLiteral, requestHeaderVariable, UNRENDERABLE, upstreamPath } from './policy.ts';
import type { CanaryPolicy, SplitPolicy, WwwRedirectPolicy } from '../../model/policy.ts';
import { rewriteParts } from '../../model/rewrite.ts';
import type { RewriteParts } from '../../model/rewrite.ts';
import { affinityEntry, authHeaderVariable, authTarget, leastConnOf, UpstreamVariants } from './upstream.ts';
import type { AffinityView, UpstreamView } from './upstream.ts';

export type { AffinityView, UpstreamServerView, UpstreamView } from './upstream.ts';
export type { ConditionMapView, ConditionValueView, HeaderJoinView, QueryValueView } from './conditions.ts';

/** What the nginx rendering needs besides the model. */
export interface NginxRenderOptions {
  readonly workDir: string;
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** worker_shutdown_timeout: how long old workers may finish after a reload or stop. */
  readonly gracePeriodMs?: number;
  readonly forwardedHeader?: boolean;
  readonly acmeChallengeAddress?: HostPort;
  /** Where request log lines go (the controller's syslog receiver); absent: `access_log off`. */
  readonly requestLog?: RequestLogTarget;
  /** `worker_processes` (default 2). */
  readonly workerProcesses?: number;
  /**
   * The headers-more dynamic module (Debian package libnginx-mod-http-headers-more-filter), which
   * sets `Server: passerelle` when the upstream sends none; null leaves nginx's own Server header.
   * Default: the Debian path.
   */
  readonly headersMoreModule?: string | null;
  /**
   * The Lua modules (Debian libnginx-mod-http-lua: the NDK and the Lua module): the backends' own
   * upstreams then take their endpoints from shared memory, which the controller replaces through an
   * admin unix socket without a reload. Null or absent: the endpoints are written in the upstreams.
   */
  readonly luaModules?: LuaModules | null;
  /** The `user` directive: the account workers run as when the master runs as root (omitted otherwise). */
  readonly workerUser?: { readonly user: string; readonly group: string };
  /**
   * Whether a host name of an external-auth URL resolves (the driver looks them up before rendering):
   * nginx resolves a `proxy_pass` host once when it loads the configuration and refuses the whole
   * configuration when one does not, so such a route is denied instead. Undefined (or no function):
   * not known, written as it is.
   */
  readonly resolvesHost?: (host: string) => boolean | undefined;
  /**
   * Why a certificate's chain and key would not load, or undefined (the driver checks them: nginx
   * reads a certificate at each handshake, so `nginx -t` cannot). One that would not is left out
   * with a diagnostic and its hosts get the default certificate. No function: not checked.
   */
  readonly certificateProblem?: (certPem: string, keyPem: string) => string | undefined;
}

/**
 * What a location does: proxy to an upstream; answer `status` with `body` (a text, or for a 3xx the
 * Location URL: denied routes, fixed redirects, 404 and 503); or redirect to a Location nginx builds
 * from the request (ssl-redirect, app-root).
 */
export type Action =
  | { readonly proxy: string; readonly status: null; readonly body: null; readonly redirect: null }
  | { readonly proxy: null; readonly status: number; readonly body: string; readonly redirect: null }
  | { readonly proxy: null; readonly status: number; readonly body: null; readonly redirect: RedirectView };

/** A redirect whose Location nginx builds from the request: exactly one of the two is set. */
export interface RedirectView {
  /** ssl-redirect: `https://`, the host without its port, `:port` (null for 443), the request's path and query. */
  readonly https: { readonly port: number | null } | null;
  /** app-root: the request's scheme and authority, then this path. */
  readonly appRoot: string | null;
  /** from-to-www-redirect or Gateway API RequestRedirect (src/model/redirect.ts `redirectParts`): the request's path and query kept. */
  readonly www: (WwwRedirectPolicy & { readonly parts?: RewriteParts }) | null;
}

export interface LocationView {
  /** `=`, `^~`, `~*` (a regex location: `path` is the route's pattern) or empty (a prefix tried after the regexes). */
  readonly modifier: string;
  readonly path: string;
  /** `modifier` is `~*`: the template writes `path` with the regex helper. */
  readonly regex: boolean;
  /**
   * A regex rewrite: `rewrite "(?i)^(?:pattern)" "target" break`, then a proxy_pass without a path
   * sends the rewritten path (and the query); `upstreamPath` is unused. Null otherwise.
   */
  readonly rewrite: { readonly pattern: string; readonly target: string } | null;
  /**
   * A regex location without a rewrite: `rewrite ^ $uri break` keeps the normalised path (a regex
   * location's proxy_pass may name no path, and would otherwise send the request's raw target).
   */
  readonly keepUri: boolean;
  readonly action: Action;
  /**
   * The path in `proxy_pass`: nginx replaces the part of the normalised path the location matched with
   * it (the location's own path unless the route rewrites it), and appends the query.
   */
  readonly upstreamPath: string;
  /** The route replaces the whole path (replace-path): `upstreamPath` is sent as it is, then the query. */
  readonly replacesPath: boolean;
  /** What the route's policy adds to a proxied location, or null (no policy, or nothing to add). */
  readonly policy: LocationPolicyView | null;
  /** `https` for backend-protocol HTTPS (the pod's certificate not verified: nginx's proxy_ssl_verify is off), else `http`. */
  readonly scheme: 'http' | 'https';
  /**
   * The upstream is the value of a variable: the route's canary ({@link CanaryView}) or cookie affinity
   * ({@link AffinityView}); null otherwise.
   */
  readonly canary: LocationCanaryView | null;
  /** backend-protocol GRPC / GRPCS: `grpc_pass` instead of `proxy_pass`, or null. */
  readonly grpc: GrpcView | null;
  /**
   * A location whose routes have conditions (conditions.ts): `$variable` (also `canary.variable`, the
   * upstream proxied to) is the chain's choice; each of `answers` is a value for which the location
   * returns `status` and `body` itself (a route without endpoints, no route: the default answer). Null otherwise.
   */
  readonly choice: ChoiceView | null;
}

/** See {@link LocationView.choice}. */
export interface ChoiceView {
  /** The chain's first variable (`pass_cN_0_0`): the upstream name the request goes to, or an answer's value. */
  readonly variable: string;
  /** What the location answers itself when the chain gives `value` (a route without endpoints, no route, a route nginx cannot read). */
  readonly answers: readonly { readonly value: string; readonly status: number; readonly body: string }[];
  /** The headers the chain reads whose lines Lua joins first (`set_by_lua_block`), with the Lua module only. */
  readonly joins: readonly HeaderJoinView[];
}

/**
 * A gRPC location. `grpc_pass` names no path: nginx sends the request's URI unless a rewrite changed it,
 * so the path is always set by a `rewrite ... break` first (the normalised `$uri`, or the route's rewrite).
 */
export interface GrpcView {
  /** grpcs: TLS to the pod, its certificate not verified (as ingress-nginx). */
  readonly tls: boolean;
  /** The TLS server name sent (upstream-vhost), or null for none. */
  readonly sni: string | null;
  /** The whole path sent (an Exact location's rewrite, replace-path), or null. */
  readonly whole: string | null;
  /** A prefix location's rewrite: its first `length` characters replaced, as {@link LocationCanaryView.strip}. */
  readonly strip: { readonly length: number; readonly target: string } | null;
  /** grpc_connect/send/read_timeout in milliseconds (the route's, else the entry point defaults). */
  readonly timeouts: { readonly connect: number; readonly send: number; readonly read: number };
  /** Lower-case names of the route's request headers: `grpc-headers.hbs` leaves out its own line for them. */
  readonly replaces: Readonly<Record<string, boolean>>;
  /** The Lua balancer runs: `$pass_upstream` names the upstream (grpc_pass sets no `$proxy_host`). */
  readonly lua: boolean;
}

/**
 * A proxied location of a route with a canary: `proxy_pass` names the variable `$variable` (an upstream
 * name, which nginx looks up among the `upstream` blocks), and since nginx then sends a path given in
 * `proxy_pass` as it is, the path is built before: as `rewrite`, `keepUri` and `replacesPath` do, or
 * for the plain case, with `target` (`=` locations: `set $pass_path`, the whole path replaced) or `strip`.
 */
export interface LocationCanaryView {
  /** `pass_canary_N`: empty when the chosen backend has no endpoint (then `unavailable` is answered). */
  readonly variable: string;
  /** The 503 body for a request sent to the backend without endpoints (only one of the two may have none), or null. */
  readonly unavailable: string | null;
  /**
   * A prefix location without a rewrite of its own: `rewrite "(?s)^.{strip}(.*)" "target" break` replaces
   * the `strip` characters the location matched of the normalised path (as `proxy_pass` with a path
   * does), `target` being `upstreamPath` then `$1`. Null for the other locations.
   */
  readonly strip: { readonly length: number; readonly target: string } | null;
}

/**
 * A canary (ingress-nginx's order, as native `choosesCanary`): `$pass_canary_N` is the upstream name a
 * request goes to, from the maps of `stages` (the header, then the cookie) and the `split_clients` of the
 * weight. A split (more than two weighted backends, as native `pickSplit`) is a `split_clients` only.
 */
export interface CanaryView {
  /** The canary cookie: `map $http_cookie $variable`, the first cookie of that name (value trimmed) by the regex `pattern`, which captures it as `capture`. */
  readonly cookie: { readonly variable: string; readonly pattern: string; readonly capture: string } | null;
  /** The maps, in order: the header's (`$pass_canary_N`, the one the locations name) then the cookie's. */
  readonly stages: readonly CanaryStageView[];
  /**
   * The weights: `split_clients "$request_id" $variable`, each of `shares` `percent`% (written
   * `whole.tenths` then `hundredths`, then `%`) to its `upstream` in order, the rest (`*`) to `rest`;
   * a canary has one share. Upstream names are empty for a backend without endpoints.
   */
  readonly split: { readonly variable: string; readonly shares: readonly { readonly percent: SharePercentView; readonly upstream: string }[]; readonly rest: string } | null;
}

/** A percentage as nginx's `split_clients` reads it: `whole.tenths hundredths` (`33.33`: 33, 3, 3). */
export interface SharePercentView {
  readonly whole: number;
  readonly tenths: number;
  readonly hundredths: number;
}

/**
 * A header value by the backend a canary chose (`backendHeaders`): `map $source $variable`, `$source`
 * being the canary's `pass_canary_N` (an upstream name); each entry's upstream gives its value (a text,
 * or with `variable` the variable named `value`), any other value the empty one (a line not sent).
 */
export interface BackendMapView {
  readonly source: string;
  readonly variable: string;
  readonly entries: readonly { readonly upstream: string; readonly value: string; readonly variable: boolean }[];
}

/** One map of a canary: `map $source $variable`, each regex `pattern` giving its `upstream`; otherwise `$next`, or `upstream` when `next` is null. */
export interface CanaryStageView {
  /** The variable read: the header's (`http_x_canary`) or the cookie's (`CanaryView.cookie.variable`). */
  readonly source: string;
  /** The variable set: `pass_canary_N` for the first map of a canary, then `pass_canary_N_c`, `pass_canary_N_w`. */
  readonly variable: string;
  /** Case-sensitive regexes of the map (`always`, `never`, or the header value) and the upstream name each gives. */
  readonly rules: readonly { readonly pattern: string; readonly upstream: string }[];
  /** The variable of the next map or of the `split_clients`, for a request no rule decides; null: `upstream`. */
  readonly next: string | null;
  /** The upstream name when no rule matches and `next` is null (empty: a backend without endpoints). */
  readonly upstream: string;
}

/** A route's policy in a proxied location, in nginx's phase order (after the answers of `action`). */
export interface LocationPolicyView {
  /** CORS: a preflight (OPTIONS with an Origin, `$pass_preflight`) gets 204 at once, its headers from `responseHeaders`. */
  readonly preflight: boolean;
  /**
   * On an entry point that trusts proxies, their ranges when the location judges the client (allowlist,
   * limits), for nginx's realip module: the client is then the right-most X-Forwarded-For address they
   * do not cover, as in native mode. Empty otherwise.
   */
  readonly realIpFrom: readonly string[];
  /** limits.rps: the `limit_req` zone (of `limitZones`) and the burst beyond the first request. */
  readonly rate: { readonly zone: string; readonly burst: number } | null;
  /** limits.connections: the `limit_conn` zone (of `limitZones`) and the requests in progress allowed per client. */
  readonly connections: { readonly zone: string; readonly max: number } | null;
  /** allowlist-source-range: `allow` the `ranges`, then `deny all` (no range denies everyone); null: no allowlist. */
  readonly allow: { readonly ranges: readonly string[] } | null;
  /** Route basic auth: the realm and the htpasswd file. */
  readonly auth: { readonly realm: string; readonly file: string } | null;
  /** `client_max_body_size` (`amount`, in kilobytes when `kilobytes`; 0: no limit), or null for the server's. */
  readonly maxBody: { readonly amount: number; readonly kilobytes: boolean } | null;
  /** proxy-next-upstream-tries: attempts in all (1: no retry), or null for nginx's (each server once). */
  readonly tries: number | null;
  /** proxy-connect/send/read-timeout in milliseconds, each null for the server's. */
  readonly timeouts: { readonly connect: number | null; readonly send: number | null; readonly read: number | null };
  /**
   * Request headers the route sets (upstream-vhost as `Host`, the auth answer's headers), in order; the
   * forwarding headers are rendered again with them. `variable`: the value is that variable (`auth_request_set`,
   * `http_NAME`: the client's line a header the route adds one to keeps, or `pass_bh_M`: the line of the
   * backend a canary chose, {@link BackendMapView}). An empty value removes the
   * header; a name may come twice (a line added after the one set or kept: two lines, as native sends).
   */
  readonly requestHeaders: readonly { readonly name: string; readonly value: string; readonly variable: boolean }[];
  /** Lower-case names of `requestHeaders`: `headers.hbs` leaves out its own line for them (`replaces` there). */
  readonly replaces: Readonly<Record<string, boolean>>;
  /**
   * Response headers (the route's, CORS, HSTS on TLS servers): the name and the variable holding the
   * value, which a `map` of `nginx.conf.hbs` leaves empty on answers that do not get it (nginx's own
   * 401, 403, 413 and 503: only upstream answers and CORS preflights get headers, as in native mode);
   * a header the backends change is a `pass_bh_M` ({@link BackendMapView}) whose values are those.
   */
  readonly responseHeaders: readonly { readonly name: string; readonly variable: string }[];
  /**
   * External auth: `auth_request` to the server's internal location `uri`, the answer's headers copied
   * into `$variable` (`auth_request_set`, then set on the request as `requestHeaders`), and for a 401
   * the named location `@signin` (a 302 to the sign-in URL) when the policy has one.
   */
  readonly externalAuth: { readonly uri: string; readonly sets: readonly { readonly variable: string; readonly upstream: string }[]; readonly signin: string | null } | null;
  /** Cookie affinity: `add_header Set-Cookie $variable always` (empty when the cookie is already right). */
  readonly affinityCookie: string | null;
  /** Headers removed from the upstream's answers (`proxy_hide_header`), those also set left out. */
  readonly responseRemove: readonly string[];
  /** Headers added to answers from an upstream as one more line (`add_header ... always`, the value in `variable` as `responseHeaders`). */
  readonly responseAdd: readonly { readonly name: string; readonly variable: string }[];
  /** RequestMirror: `mirror uri` for each of the server's internal {@link MirrorView} locations the request is copied to (empty: none). */
  readonly mirrors: readonly string[];
}


/**
 * The internal location of an external-auth URL: `location = uri { internal; ... proxy_pass url; }`,
 * asked by `auth_request` without the request body, with the original URL and method in headers.
 */
export interface AuthCheckView {
  /** `/_pass|auth|N`: `|` is outside the route path grammar, so no route has this location. */
  readonly uri: string;
  readonly url: string;
}

/**
 * The internal location of a mirror target (RequestMirror, nginx's mirror module: a background
 * subrequest whose answer nginx discards): `location = uri { internal; ... proxy_pass http://upstream$request_uri; }`
 * with the client's method, request URI and body, and the headers the route's backend gets.
 */
export interface MirrorView {
  /** `/_pass|mirror|N`: `|` is outside the route path grammar, so no route has this location. */
  readonly uri: string;
  /** The mirror backend's upstream (its own, which the Lua balancer serves through `$proxy_host`). */
  readonly upstream: string;
  /** A share below 100 %: the `split_clients` variable ({@link MirrorSampleView}), empty for a request not copied (answered 204 there, never proxied); null: every request. */
  readonly sample: string | null;
  /** The route's request headers, as {@link LocationPolicyView.requestHeaders} (empty: the server's `proxy_set_header` lines apply). */
  readonly requestHeaders: LocationPolicyView['requestHeaders'];
  /** As {@link LocationPolicyView.replaces}. */
  readonly replaces: LocationPolicyView['replaces'];
  /** proxy_connect/send/read_timeout in milliseconds: short, so a stuck mirror holds the client connection briefly. */
  readonly timeouts: { readonly connect: number; readonly send: number; readonly read: number };
}

/**
 * The share of requests a mirror copies: `split_clients "$request_id variable" $variable`, `percent`
 * (written `whole.tenths` then `hundredths`, then `%`) of them `1`, the others empty.
 */
export interface MirrorSampleView {
  readonly variable: string;
  /** The percentage as digits (`33.33`: 33, 3, 3): nginx reads two decimals. */
  readonly percent: { readonly whole: number; readonly tenths: number; readonly hundredths: number };
}

/**
 * The named location a 401 of external auth goes to: a 302 to `prefix`, the original URL escaped as
 * encodeURIComponent escapes it (as native `signinLocation`), then `suffix`.
 */
export interface SigninView {
  readonly name: string;
  /** The sign-in URL before any fragment, then `?rd=` (`&rd=` when it has a query, `rd=` after a final `?` or `&`). */
  readonly prefix: string;
  /** The sign-in URL's fragment, or empty. */
  readonly suffix: string;
  /** The sign-in URL alone, for an original URL with more characters to escape than the unrolled steps. */
  readonly url: string;
}

/** A shared-memory zone of the route limits (one per route and kind). */
export interface LimitZoneView {
  readonly name: string;
  /** `limit_req_zone` at `amount` requests per second (per minute when `perMinute`); null: a `limit_conn_zone`. */
  readonly rate: { readonly amount: number; readonly perMinute: boolean } | null;
}

/** A CORS policy: `$pass_cors_N` is the Access-Control-Allow-Origin value for the request's Origin, or empty. */
export interface CorsView {
  /** Any origin (`*`, or the request's Origin when `echo`); else `origins` are the allowed ones. */
  readonly any: boolean;
  /** With `any`: the request's Origin is answered (`$http_origin`, with Vary: Origin) rather than `*`. */
  readonly echo: boolean;
  /** The allowed origins as regexes of the map: exact origins case-sensitive (`~`), `scheme://*.domain[:port]` patterns not (`~*`). */
  readonly origins: readonly string[];
  /**
   * The other headers of an answer with an allowed origin (`$pass_cors_N_M`): the value, or the request
   * header `variable` answered as it is (a preflight's ask; empty, so not sent, when the request has none),
   * whether only preflights get them, and the variable of the upstream's own (kept when the origin is not
   * allowed, as native changes nothing then). `$pass_cors_N_origin` is Access-Control-Allow-Origin itself.
   */
  readonly headers: readonly { readonly name: string; readonly value: string; readonly variable: string | null; readonly preflightOnly: boolean; readonly upstream: string }[];
}

export interface ServerBlockView {
  readonly listenHost: string;
  readonly listenPort: number;
  /** The port clients connect to (the entry point's publicPort, else listenPort): sent as X-Forwarded-Port. */
  readonly publicPort: number;
  readonly tls: boolean;
  readonly defaultServer: boolean;
  /** Exact host, `*.domain` (rendered as a one-label regex) or `**.domain` (a suffix host: one or more labels); empty for the default server. */
  readonly names: readonly string[];
  readonly proto: 'http' | 'https';
  readonly redirect: { readonly scheme: 'http' | 'https'; readonly port: number | null; readonly code: number } | null;
  readonly auth: { readonly realm: string; readonly file: string; readonly removeHeader: boolean } | null;
  readonly locations: readonly LocationView[];
  /** The entry point's name: names its trust variables (`$pass_xff_NAME`, ...). */
  readonly entryPoint: string;
  /** Client-side timeouts (ms). */
  readonly timeouts: ClientTimeouts;
  /** Whether the entry point trusts some clients' forwarding headers (then its maps exist). */
  readonly trusted: boolean;
  /** The internal locations of the external auth its locations ask. */
  readonly authChecks: readonly AuthCheckView[];
  /** The sign-in named locations of its locations. */
  readonly signins: readonly SigninView[];
  /** The internal mirror locations its locations copy requests to. */
  readonly mirrors: readonly MirrorView[];
  /** On an address scope's TLS server blocks with listener hostnames: its misdirected-request check (421), else null. */
  readonly misdirected: MisdirectedView | null;
}

/**
 * Misdirected requests (AddressScope.listenerHostnames, match.ts `misdirected`): `$pass_lsni_N` and
 * `$pass_lhost_N` number the listener hostname the TLS server name and the Host fall to (`hostnames`
 * maps: exact, else the longest `*.domain`, else the fallback); `$pass_misdirected_N` is non-empty
 * when a server name is given and the two differ, and the server block answers 421.
 */
export interface MisdirectedView {
  /** N of the maps' variables: one per address scope and entry point. */
  readonly index: number;
  /** The maps are written (at http level) before this server block: the scope's first. */
  readonly maps: boolean;
  /** The listener hostnames (exact or `*.domain`, the listener without hostname left out), numbered from 1. */
  readonly listeners: readonly { readonly name: string; readonly value: number }[];
  /** The number of a name under no listed hostname: the listener without hostname's, else 0 (no listener). */
  readonly fallback: number;
}

/** An entry point that trusts some clients: a `geo` block and the maps choosing kept or replaced headers. */
export interface TrustView {
  readonly entryPoint: string;
  readonly ranges: readonly string[];
  readonly proto: 'http' | 'https';
  /** The default X-Forwarded-Port (the public port) when the client is not trusted. */
  readonly port: number;
}

export interface NginxView {
  readonly workDir: string;
  readonly pidFile: string;
  readonly workerProcesses: number;
  readonly workerUser: { readonly user: string; readonly group: string } | null;
  readonly headersMoreModule: string | null;
  /** The Lua balancer: its modules and the admin socket's path, or null (endpoints in the upstreams). */
  readonly lua: { readonly ndk: string; readonly lua: string; readonly adminSocket: string } | null;
  readonly shutdownTimeoutMs: number;
  readonly timeouts: { readonly connect: number; readonly read: number };
  readonly namesHash: { readonly maxSize: number; readonly bucketSize: number };
  readonly forwardedHeader: boolean;
  readonly acme: HostPort | null;
  /** The controller's syslog receiver and whether every request is logged, or null. */
  /** `local`: the lines carry the local address (an address scope's requests are told apart); a system call per line on a wildcard listen, so only with scopes. */
  readonly requestLog: { readonly host: string; readonly port: number; readonly all: boolean; readonly local: boolean } | null;
  /**
   * The certificate of each TLS handshake, by the client's server name (a map on `$ssl_server_name`,
   * one PEM file of chain and key each): no server block per certificate, and names without a route
   * (`[[acme.domains]]`) served too. Null without TLS entry points.
   */
  readonly sni: { readonly entries: readonly { readonly name: string; readonly pem: string }[]; readonly default: string } | null;
  readonly upstreams: readonly UpstreamView[];
  readonly servers: readonly ServerBlockView[];
  readonly trust: readonly TrustView[];
  /** Response header values of route policies: `$pass_rh_N` is the Nth for answers from an upstream, empty for others. */
  readonly responseValues: readonly string[];
  /** CORS policies of routes (`$pass_cors_N`). */
  readonly cors: readonly CorsView[];
  /** The zones of route rate and connection limits. */
  readonly limitZones: readonly LimitZoneView[];
  /** Canaries of routes (`$pass_canary_N`). */
  readonly canaries: readonly CanaryView[];
  /** Cookie affinities of routes (`$pass_aff_N`). */
  readonly affinities: readonly AffinityView[];
  /** Header values by the backend a canary chose (`$pass_bh_M`: Gateway API filters on weighted backendRefs). */
  readonly backendMaps: readonly BackendMapView[];
  /**
   * Some route signs in on a 401 of its external auth: the unrolled steps of the sign-in locations (each
   * escapes one character of the original URL) and the `$pass_rd_escaped` map (regex of a character → escape).
   */
  readonly signinSteps: readonly number[];
  readonly signinEscapes: readonly { readonly pattern: string; readonly escape: string }[];
  /** Some value written by the `text` helper holds `$`: declare `$pass_dollar` (a literal `$`). */
  readonly dollar: boolean;
  /** The first value of each query parameter a route condition reads (`$pass_qv_N`). */
  readonly queryValues: readonly QueryValueView[];
  /** The maps of the route condition chains (`$pass_cN_K_J`), in order. */
  readonly conditionMaps: readonly ConditionMapView[];
  /** The shares of mirrors copying less than every request (`$pass_mirror_N`). */
  readonly mirrorSamples: readonly MirrorSampleView[];
}

export interface NginxBuild {
  readonly view: NginxView;
  /** htpasswd files by relative path. */
  readonly htpasswd: readonly { readonly path: string; readonly users: readonly { readonly user: string; readonly hash: string }[] }[];
  /** Certificate files (chain, key) by relative path. */
  /** One file per certificate: its chain then its key (one file, so a handshake never reads a chain with the other's key). */
  readonly certs: readonly { readonly id: string; readonly path: string; readonly pem: string }[];
  /** The endpoints of the upstreams the Lua balancer serves, by upstream name; null without Lua. */
  readonly luaEndpoints: Readonly<Record<string, readonly LuaEndpoint[]>> | null;
  readonly diagnostics: readonly Diagnostic[];
}

/** The dynamic module files of the Lua balancer (NDK first: the Lua module needs it). */
export interface LuaModules {
  readonly ndk: string;
  readonly lua: string;
}

/** Where Debian's libnginx-mod-http-lua installs its modules. */
export const LUA_MODULES: LuaModules = { ndk: '/usr/lib/nginx/modules/ndk_http_module.so', lua: '/usr/lib/nginx/modules/ngx_http_lua_module.so' };

/** The admin socket of the Lua balancer, relative to the work directory (nginx's prefix). */
export const LUA_ADMIN_SOCKET = 'lua-admin.sock';

/** The endpoints file the Lua balancer starts from (at start and at every reload), relative to the work directory. */
export const LUA_ENDPOINTS_FILE = 'lua-endpoints.json';
/** The default certificate's chain and key (one PEM file), written by the driver, read by nginx's workers at each handshake without another certificate. */
export const DEFAULT_CERTIFICATE_FILE = 'certs/default.pem';

/** One endpoint of an upstream as the Lua balancer reads it (JSON data, never code). */
export interface LuaEndpoint {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

/** Where Debian's libnginx-mod-http-headers-more-filter installs the headers-more module. */
export const HEADERS_MORE_MODULE = '/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so';

/** Upstream name for a backend id `ns/service:port`. */
export function nginxUpstreamName(id: string): string {
  return `be_${id.replace('/', '.').replace(':', '_')}`;
}

function skipped(code: Diagnostic['code'], message: string, object?: ObjectRef, field?: string): Diagnostic {
  return { severity: 'warning', code, message, ...defined({ object, field }) };
}

const NOT_FOUND: Action = { proxy: null, status: 404, body: 'Not Found', redirect: null };
const UNAVAILABLE: Action = { proxy: null, status: 503, body: 'Service Unavailable: no endpoint is ready', redirect: null };
const INT_MAX = 2 ** 31 - 1;
/** Characters of the original URL a sign-in redirect escapes (one per step); beyond, `rd` is left out. */
const SIGNIN_STEPS = 32;
/** What encodeURIComponent escapes among printable ASCII (all but `A-Za-z0-9-_.!~*'()`), as a map of regexes. */
const SIGNIN_ESCAPES = [...Array(95).keys()]
  .map((i) => String.fromCharCode(32 + i))
  .filter((c) => !/[A-Za-z0-9\-_.!~*'()]/.test(c))
  .map((c) => ({ pattern: `~^${regexLiteral(c) ?? ''}\\z`, escape: encodeURIComponent(c) }));

/**
 * The timeouts of a mirror location (ms; connect also at most the server's): nginx keeps a client's
 * connection (its next request on it) until the copies of its request end, whose answers it discards.
 */
const MIRROR_TIMEOUTS = { connect: 1000, send: 2000, read: 2000 } as const;

/**
 * A mirror's percent as nginx's `split_clients` reads it (two decimals, rounded; a share above 0 is at
 * least 0.01 %): `all` from 99.995, `none` for 0 or less (or not a number).
 */
export function mirrorShare(percent: number): MirrorSampleView['percent'] | 'all' | 'none' {
  if (!Number.isFinite(percent) || percent <= 0) return 'none';
  const hundredths = Math.max(1, Math.round(percent * 100));
  if (hundredths >= 10_000) return 'all';
  return { whole: Math.floor(hundredths / 100), tenths: Math.floor(hundredths / 10) % 10, hundredths: hundredths % 10 };
}

/** A 503 answer saying why. */
function refusal(reason: string): Action {
  return { proxy: null, status: 503, body: `Service Unavailable: ${reason}`, redirect: null };
}

/** How the locations of one server block see route policies: they differ by these only. */
interface ServerSide {
  readonly tls: boolean;
  /** The entry point's trusted ranges (realip, for allowlists). */
  readonly trusted: readonly string[];
  /** The entry point asks for basic auth itself. */
  readonly entryPointAuth: boolean;
  /** What a request no route takes gets: the default backend, except on an address scope's server blocks (a Gateway's address). */
  readonly fallback: Action;
}

/** Builds the nginx view and its auxiliary files from the model (pure). */
export function buildNginxView(model: RoutingModel, options: NginxRenderOptions): NginxBuild {
  const workDir = options.workDir.replace(/\/+$/, '');
  const diags: Diagnostic[] = [];

  const variants = new UpstreamVariants();
  const actions = new Map<string, Action>();
  for (const [id, b] of Object.entries(model.backends)) {
    const name = nginxUpstreamName(id);
    const ref: ObjectRef = { kind: 'Service', namespace: b.namespace, name: b.service };
    if (!canName(name)) {
      diags.push(skipped('PASS_NGINX_BACKEND_NAME', `backend ${JSON.stringify(id)} cannot be named in nginx; its routes answer 503`, ref));
      continue;
    }
    const eps = b.endpoints.filter((e) => canAddress(e.address, e.port));
    if (eps.length !== b.endpoints.length) diags.push(skipped('PASS_NGINX_ENDPOINT', `backend ${id}: endpoints with an address nginx cannot hold were left out`, ref));
    // nginx has no weight 0: such endpoints are left out, unless all are 0 (then spread evenly, as native does).
    const positive = eps.filter((e) => e.weight >= 1);
    const chosen = positive.length > 0 ? positive : eps;
    if (chosen.length === 0) {
      // nginx reloads on every change: the body can say why (the Service missing, or no endpoint).
      actions.set(id, b.unresolved === undefined ? UNAVAILABLE : refusal(unavailableCause(b)));
      continue;
    }
    const view: UpstreamView = { id, name, leastConn: false, lua: false, servers: chosen.map((e) => ({ host: e.address, port: e.port, weight: positive.length > 0 ? Math.min(1000, Math.floor(e.weight)) : 1, backup: false })) };
    variants.base(view);
    actions.set(id, { proxy: name, status: null, body: null, redirect: null });
  }
  const actionFor = (id: string): Action => actions.get(id) ?? UNAVAILABLE;
  const modelFallback: Action = model.defaultBackend === undefined ? NOT_FOUND : actionFor(model.defaultBackend);

  const connectMs = options.connectTimeoutMs ?? 5000;
  const readMs = options.readTimeoutMs ?? 60_000;
  const registry = new PolicyRegistry();
  const conditions = new ConditionRegistry(options.luaModules !== undefined && options.luaModules !== null);
  const refused = new Set<string>();
  let dollar = false;
  const https = model.entryPoints.find((ep) => ep.tls);
  const httpsPort = https === undefined ? undefined : publicPortOf(https) === 443 ? null : publicPortOf(https);
  // External auth: one internal location per URL, one sign-in location per sign-in URL.
  const authChecks: AuthCheckView[] = [];
  const signins: SigninView[] = [];
  // RequestMirror: one internal location per distinct copy (upstream, share, headers), one split per share below 100 %.
  const mirrors: MirrorView[] = [];
  const mirrorKeys = new Map<string, string>();
  const mirrorSamples: MirrorSampleView[] = [];
  const mirrorUri = (upstream: string, share: MirrorSampleView['percent'] | null, requestHeaders: MirrorView['requestHeaders'], replaces: MirrorView['replaces']): string => {
    const key = JSON.stringify([upstream, share, requestHeaders, replaces]);
    const known = mirrorKeys.get(key);
    if (known !== undefined) return known;
    let sample: string | null = null;
    if (share !== null) {
      sample = `pass_mirror_${mirrorSamples.length}`;
      mirrorSamples.push({ variable: sample, percent: share });
    }
    const uri = `/_pass|mirror|${mirrors.length}`;
    mirrors.push({ uri, upstream, sample, requestHeaders, replaces, timeouts: { connect: Math.min(connectMs, MIRROR_TIMEOUTS.connect), send: MIRROR_TIMEOUTS.send, read: MIRROR_TIMEOUTS.read } });
    mirrorKeys.set(key, uri);
    return uri;
  };
  const affinities: AffinityView[] = [];
  const affinityKeys = new Map<string, number>();
  const reportedOnce = new Set<string>();
  const reportOnce = (route: Route, code: Diagnostic['code'], message: string, severity: Diagnostic['severity'] = 'warning'): void => {
    const key = `${route.source.namespace ?? ''}/${route.source.name} ${route.field} ${code} ${message}`;
    if (reportedOnce.has(key)) return;
    reportedOnce.add(key);
    diags.push({ ...skipped(code, message, route.source, route.field), severity });
  };
  // A canary nginx cannot read is left out (the main backend serves every request), reported once per route.
  const canaryOf = (route: Route, canary: CanaryPolicy, main: Action, leastConn: boolean): { readonly base: Action; readonly backend: string | null; readonly variable: string | null; readonly unavailable: string | null } => {
    const alt = balancedAction(canary.backend, leastConn);
    const { n, entry } = registry.canary(canary, main.proxy ?? '', alt.proxy ?? '');
    if (entry === undefined) {
      reportOnce(route, 'PASS_POLICY_NOT_IN_MODE', 'nginx cannot read the canary header of this route (a name of letters, digits and - only); the main backend serves every request');
      return { base: main, backend: route.backend, variable: null, unavailable: null };
    }
    if (entry === 'main' || entry === 'canary') return { base: entry === 'main' ? main : alt, backend: entry === 'main' ? route.backend : canary.backend, variable: null, unavailable: null };
    // Both without endpoints: the route's own answer. Otherwise the location proxies, and answers for the one that has none.
    if (main.proxy === null && alt.proxy === null) return { base: main, backend: route.backend, variable: null, unavailable: null };
    const down = main.proxy === null ? main : alt.proxy === null ? alt : null;
    return { base: main.proxy === null ? alt : main, backend: null, variable: `pass_canary_${n}`, unavailable: down?.body ?? null };
  };
  // A split nginx cannot read is left out (its first backend serves every request), reported once per route.
  const splitOf = (route: Route, split: SplitPolicy, leastConn: boolean): ReturnType<typeof canaryOf> => {
    const main = balancedAction(route.backend, leastConn);
    const each = split.backends.map((b) => ({ id: b.backend, weight: b.weight, action: balancedAction(b.backend, leastConn) }));
    // No backend with endpoints: the route's own answer.
    if (each.every((b) => b.action.proxy === null)) return { base: main, backend: route.backend, variable: null, unavailable: null };
    const { n, entry } = registry.split(each.map((b) => ({ weight: b.weight, upstream: b.action.proxy ?? '' })));
    if (entry === undefined) {
      reportOnce(route, 'PASS_POLICY_NOT_IN_MODE', 'nginx cannot share requests by the weights of this split (not numbers ≥ 0, or none above 0); the first backend serves every request');
      return { base: main, backend: route.backend, variable: null, unavailable: null };
    }
    if (typeof entry === 'number') {
      const only = each[entry];
      return only === undefined ? { base: main, backend: route.backend, variable: null, unavailable: null } : { base: only.action, backend: only.id, variable: null, unavailable: null };
    }
    // The location proxies, and answers for the backends without endpoints (those with a share: an empty upstream name).
    const shared = new Set([...(entry.split?.shares.map((s) => s.upstream) ?? []), entry.split?.rest]);
    const up = each.find((b) => b.action.proxy !== null && shared.has(b.action.proxy)) ?? each.find((b) => b.action.proxy !== null);
    const bodies = shared.has('') ? [...new Set(each.filter((b) => b.action.proxy === null && b.weight > 0).map((b) => b.action.body ?? ''))] : [];
    // One 503 body for every backend without endpoints: the reason when they share it.
    const unavailable = bodies.length === 0 ? null : bodies.length === 1 ? (bodies[0] ?? null) : UNAVAILABLE.body;
    return { base: up?.action ?? main, backend: null, variable: `pass_canary_${n}`, unavailable };
  };
  // A backend's action through its least_conn variant when the route asks for one.
  const balancedAction = (id: string, leastConn: boolean): Action => {
    const action = actionFor(id);
    if (action.proxy === null || !leastConn) return action;
    const name = variants.balanced(id, true);
    return name === undefined ? action : { ...action, proxy: name };
  };
  const affinityOf = (route: Route, backend: string, fallbackUpstream: string, cookiePath: string): AffinityView | undefined => {
    const affinity = route.policy?.upstream?.affinity;
    if (affinity === undefined) return undefined;
    const pins = variants.pinned(backend);
    const key = JSON.stringify([affinity, backend, fallbackUpstream, cookiePath]);
    const known = affinityKeys.get(key);
    if (known !== undefined) return affinities[known];
    const entry = pins === undefined ? undefined : affinityEntry(affinities.length, affinity, cookiePath, pins, fallbackUpstream);
    if (entry === undefined) {
      reportOnce(route, 'PASS_POLICY_NOT_IN_MODE', 'the affinity cookie of this route cannot be written into the nginx configuration; requests are balanced without it');
      return undefined;
    }
    affinityKeys.set(key, affinities.length);
    affinities.push(entry);
    return entry;
  };
  const policyLocation = (modifier: string, path: string, route: Route, side: ServerSide): LocationView => {
    const leastConn = leastConnOf(route.policy?.upstream);
    const canaryPolicy = route.policy?.canary;
    const splitPolicy = route.policy?.split;
    const routed = canaryPolicy !== undefined ? canaryOf(route, canaryPolicy, balancedAction(route.backend, leastConn), leastConn) : splitPolicy !== undefined ? splitOf(route, splitPolicy, leastConn) : null;
    const base = routed?.base ?? balancedAction(route.backend, leastConn);
    const answer = (action: Action): LocationView => ({ modifier, path, regex: modifier === '~*', action, upstreamPath: path, replacesPath: false, rewrite: null, keepUri: false, policy: null, scheme: 'http', canary: null, grpc: null, choice: null });
    const texts: string[] = [];
    // Values the `text` helper will write: a `$` among them needs `$pass_dollar` declared.
    const noted = (value: string): string => {
      texts.push(value);
      return value;
    };
    const done = (view: LocationView): LocationView => {
      if (texts.some((t) => t.includes('$'))) dollar = true;
      return view;
    };
    // What nginx cannot render answers 503 rather than serve the route without it; reported once per route.
    const refuse = (reason: string): LocationView => {
      const key = `${route.source.namespace ?? ''}/${route.source.name} ${route.field} ${reason}`;
      if (!refused.has(key)) {
        refused.add(key);
        diags.push(skipped('PASS_POLICY_NOT_IN_MODE', `${reason}; the route answers 503`, route.source, route.field));
      }
      return answer(refusal(reason));
    };
    const policy = route.policy ?? {};
    // The answers of native runPolicy, in its order: denied, redirect, www redirect, ssl-redirect, app-root.
    if (policy.denied !== undefined) {
      const body = `Service Unavailable: ${policy.denied}`;
      return done(answer(canText(body) ? { proxy: null, status: 503, body: noted(body), redirect: null } : refusal('the policy of this route cannot be honoured')));
    }
    if (policy.internalError !== undefined) {
      const body = `Internal Server Error: ${policy.internalError}`;
      return done(answer({ proxy: null, status: 500, body: noted(canText(body) ? body : 'Internal Server Error'), redirect: null }));
    }
    if (policy.redirect !== undefined) {
      if (!canText(policy.redirect.url)) return refuse(UNRENDERABLE.redirectUrl);
      return done(answer({ proxy: null, status: policy.redirect.status, body: noted(policy.redirect.url), redirect: null }));
    }
    if (policy.wwwRedirect !== undefined) {
      const w = policy.wwwRedirect;
      if (w.host !== undefined && (!isPlainHost(w.host) || !canLiteral(w.host))) return refuse(UNRENDERABLE.wwwHost);
      // With a path: the route's own path (an `=` location) gives `whole`, a longer one `prefix` and its rest.
      const parts = w.path === undefined ? undefined : rewriteParts(w.path, route);
      if (w.path !== undefined && (parts === undefined || !canRoutePath(parts.whole) || !canRoutePath(parts.prefix))) return refuse(UNRENDERABLE.wwwHost);
      return answer({ proxy: null, status: w.status, body: null, redirect: { https: null, appRoot: null, www: parts === undefined ? w : { ...w, parts } } });
    }
    if (policy.sslRedirect !== undefined && !side.tls && httpsPort !== undefined) {
      return answer({ proxy: null, status: policy.sslRedirect.status, body: null, redirect: { https: { port: httpsPort }, appRoot: null, www: null } });
    }
    if (policy.appRoot !== undefined && modifier === '=' && path === '/') {
      if (!canRoutePath(policy.appRoot)) return refuse(UNRENDERABLE.appRoot);
      return answer({ proxy: null, status: 302, body: null, redirect: { https: null, appRoot: policy.appRoot, www: null } });
    }
    // nginx answers in its rewrite phase, before the access phase: no endpoint means 503 at once.
    if (base.proxy === null) return answer(base);
    const sent = upstreamOf(route, modifier, path);
    if (typeof sent === 'string') return refuse(sent);
    // Cookie affinity: the upstream is `$pass_aff_N` (a pinned endpoint's upstream, else the balanced one).
    let affinity: AffinityView | undefined;
    if (policy.upstream?.affinity !== undefined) {
      if (routed !== null && routed.backend === null) {
        reportOnce(route, 'PASS_POLICY_NOT_IN_MODE', 'nginx cannot keep cookie affinity on a route whose canary is chosen per request; requests are balanced without it');
      } else {
        affinity = affinityOf(route, routed?.backend ?? route.backend, base.proxy, route.pathType === 'Prefix' ? route.path : '/');
      }
    }
    const variable = routed?.variable ?? affinity?.variable ?? null;
    let canary: LocationCanaryView | null = null;
    if (variable !== null) {
      // With a variable, nginx sends a path of proxy_pass as it is: a prefix location builds the path with a rewrite.
      const plain = sent.rewrite === null && !sent.keepUri && !sent.replacesPath && modifier !== '=';
      const target = `${sent.upstreamPath}$1`;
      if (plain && !canRewriteTarget(target)) return refuse(UNRENDERABLE.canaryPath);
      const down = routed !== null && routed.variable !== null ? routed.unavailable : null;
      const unavailable = down === null ? null : canText(down) ? noted(down) : 'Service Unavailable';
      canary = { variable, unavailable, strip: plain ? { length: path.length, target } : null };
    }
    const request = new Map<string, { name: string; value: string; variable: boolean }>();
    const vhost: [string, string][] = policy.upstream?.vhost === undefined ? [] : [['Host', policy.upstream.vhost]];
    // As ingress-nginx: the credentials of a route's basic auth are not passed on to the backend.
    const noCredentials: [string, string][] = policy.basicAuth === undefined ? [] : [['Authorization', '']];
    // Header changes in the model's order: remove (an empty value is not sent), set, then add.
    for (const name of policy.headers?.requestRemove ?? []) {
      if (!canHeader(name)) return refuse(UNRENDERABLE.header);
      request.set(name.toLowerCase(), { name, value: '', variable: false });
    }
    for (const [name, value] of [...Object.entries(policy.headers?.request ?? {}), ...vhost, ...noCredentials]) {
      if (!canHeader(name) || !canText(value)) return refuse(UNRENDERABLE.header);
      request.set(name.toLowerCase(), { name, value: noted(value), variable: false });
    }
    // An added line follows the lines the header has: the client's (its first line: `$http_NAME`, not
    // sent when empty), or the route's own value; removed, the added line is the only one.
    const added: { name: string; value: string; variable: boolean }[] = [];
    for (const [name, value] of Object.entries(policy.headers?.requestAdd ?? {})) {
      if (!canHeader(name) || !canText(value)) return refuse(UNRENDERABLE.header);
      const known = request.get(name.toLowerCase());
      if (known?.variable === true) return refuse(UNRENDERABLE.header);
      if (known !== undefined && known.value === '') {
        request.set(name.toLowerCase(), { name, value: noted(value), variable: false });
        continue;
      }
      // A name nginx does not read is a header nginx drops from the client: the added line is the only one.
      const source = requestHeaderVariable(name);
      if (known === undefined && source !== undefined) request.set(name.toLowerCase(), { name, value: source, variable: true });
      added.push({ name, value: noted(value), variable: false });
    }
    const response = new Map<string, { name: string; variable: string }>();
    const routeResponse: [string, string][] = Object.entries(policy.headers?.response ?? {});
    for (const [name, value] of routeResponse) {
      if (!canHeader(name) || !canText(value)) return refuse(UNRENDERABLE.header);
    }
    const responseRemove = (policy.headers?.responseRemove ?? []).filter((n) => !routeResponse.some(([name]) => name.toLowerCase() === n.toLowerCase()));
    if (!responseRemove.every(canHeader)) return refuse(UNRENDERABLE.header);
    const responseAdded: [string, string][] = [];
    for (const [name, value] of Object.entries(policy.headers?.responseAdd ?? {})) {
      if (!canHeader(name) || !canText(value)) return refuse(UNRENDERABLE.header);
      // Also set by the route: one line, the set value then the added one (joined with ",").
      const set = routeResponse.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
      const before = routeResponse[set];
      if (before === undefined) responseAdded.push([name, value]);
      else if (canText(`${before[1]},${value}`)) routeResponse[set] = [before[0], `${before[1]},${value}`];
      else return refuse(UNRENDERABLE.header);
    }
    const cors = policy.cors === undefined ? undefined : corsEntry(policy.cors);
    if (policy.cors !== undefined && cors === undefined) return refuse(UNRENDERABLE.cors);
    let maxBody: LocationPolicyView['maxBody'] = null;
    const max = policy.limits?.maxBodyBytes;
    if (max !== undefined) {
      if (!Number.isInteger(max) || max < 0) return refuse(UNRENDERABLE.bodySize);
      // Beyond what `int` writes: in kilobytes, rounded up.
      maxBody = max <= INT_MAX ? { amount: max, kilobytes: false } : { amount: Math.min(INT_MAX, Math.ceil(max / 1024)), kilobytes: true };
    }
    const rps = policy.limits?.rps;
    const rate = rps === undefined ? undefined : rateOf(rps);
    const conns = policy.limits?.connections;
    const tries = policy.upstream?.tries;
    const count = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n >= 1 && n <= INT_MAX);
    const t = policy.timeouts;
    if ((rps !== undefined && rate === undefined) || !count(conns) || !count(tries) || !count(t?.connect) || !count(t?.send) || !count(t?.read)) {
      return refuse(UNRENDERABLE.limit);
    }
    let auth: LocationPolicyView['auth'] = null;
    if (policy.basicAuth !== undefined) {
      // A location's auth_basic replaces the server's, and nginx has one per location: refuse rather than drop one.
      if (side.entryPointAuth) return refuse(UNRENDERABLE.authWithEntryPoint);
      let realm = policy.basicAuth.realm;
      if (!canText(realm)) {
        diags.push(skipped('PASS_NGINX_AUTH_REALM', 'the realm has characters nginx cannot write; "passerelle" is used', route.source, route.field));
        realm = 'passerelle';
      }
      auth = { realm: noted(realm), file: `${workDir}/${registry.htpasswdFor(policy.basicAuth)}` };
    }
    let externalAuth: LocationPolicyView['externalAuth'] = null;
    const ext = policy.externalAuth;
    if (ext !== undefined) {
      const target = authTarget(ext);
      if (target === undefined) return refuse(UNRENDERABLE.authUrl);
      // nginx resolves a proxy_pass host when it loads the configuration and refuses all of it when one does not resolve.
      if (target.isName && options.resolvesHost?.(target.host) === false) {
        const reason = `the external auth host ${target.host} does not resolve`;
        reportOnce(route, 'PASS_NGINX_AUTH_HOST', `${reason}; the route answers 503 until it does`, 'error');
        return answer(refusal(reason));
      }
      const sets: { variable: string; upstream: string }[] = [];
      for (const name of ext.responseHeaders) {
        const v = authHeaderVariable(name);
        if (v === undefined || !canHeader(name)) return refuse(UNRENDERABLE.authHeader);
        sets.push({ variable: v, upstream: `upstream_http_${name.toLowerCase().replace(/-/g, '_')}` });
        // Set even when the auth answer lacks it (then empty, so not sent): a client's own never reaches the backend.
        request.set(name.toLowerCase(), { name, value: v, variable: true });
      }
      if (ext.signin !== undefined && !canText(ext.signin)) return refuse(UNRENDERABLE.authUrl);
      let n = authChecks.findIndex((c) => c.url === target.url);
      if (n < 0) n = authChecks.push({ uri: `/_pass|auth|${authChecks.length}`, url: target.url }) - 1;
      let signin: string | null = null;
      if (ext.signin !== undefined) {
        let m = signins.findIndex((s) => s.url === ext.signin);
        if (m < 0) {
          // As native signinLocation: rd= before the fragment, joined to the query the URL may have.
          const hash = ext.signin.indexOf('#');
          const base = hash === -1 ? ext.signin : ext.signin.slice(0, hash);
          const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
          m = signins.push({ name: `pass_signin_${signins.length}`, prefix: noted(`${base}${sep}rd=`), suffix: noted(hash === -1 ? '' : ext.signin.slice(hash)), url: noted(ext.signin) }) - 1;
        }
        signin = signins[m]?.name ?? null;
      }
      externalAuth = { uri: authChecks[n]?.uri ?? '', sets, signin };
    }
    // Header changes by the backend chosen (Gateway API backendRef filters), after the route's: the
    // backends a request may go to, with their upstream names (those of a canary or a split chosen per request).
    const byBackend = policy.backendHeaders;
    const choices: { readonly id: string; readonly upstream: string }[] = [];
    if (byBackend !== undefined) {
      const perRequest = policy.canary !== undefined ? [route.backend, policy.canary.backend] : (policy.split?.backends.map((b) => b.backend) ?? []);
      if (routed !== null && routed.variable !== null && perRequest.length > 0) {
        // A backend listed twice has one upstream: one entry in the maps.
        for (const id of new Set(perRequest)) {
          const upstream = balancedAction(id, leastConn).proxy;
          if (upstream !== null) choices.push({ id, upstream });
        }
      } else choices.push({ id: routed?.backend ?? route.backend, upstream: '' });
      for (const { id } of choices) {
        const problem = backendHeaderProblem(byBackend[id], responseAdded);
        if (problem !== undefined) return refuse(problem);
      }
    }
    // Everything is writable from here on: register the shared values.
    for (const [name, value] of routeResponse) response.set(name.toLowerCase(), { name, variable: `pass_rh_${registry.responseValue(noted(value))}` });
    const responseAdd = responseAdded.map(([name, value]) => ({ name, variable: `pass_rh_${registry.responseValue(noted(value))}` }));
    if (cors !== undefined) {
      const n = registry.corsIndex(cors);
      response.set('access-control-allow-origin', { name: 'Access-Control-Allow-Origin', variable: `pass_cors_${n}_origin` });
      cors.headers.forEach((h, i) => {
        noted(h.value);
        response.set(h.name.toLowerCase(), { name: h.name, variable: `pass_cors_${n}_${i}` });
      });
    }
    if (side.tls && policy.hsts !== undefined) {
      response.set('strict-transport-security', { name: 'Strict-Transport-Security', variable: `pass_rh_${registry.responseValue(hstsValue(policy.hsts))}` });
    }
    if (affinity !== undefined) {
      noted(affinity.setCookie.prefix);
      noted(affinity.setCookie.suffix);
    }
    // An allowlist keeps only what nginx can read: an entry left out narrows it, never widens it.
    const allow = policy.allowSourceRange === undefined ? null : { ranges: policy.allowSourceRange.filter(canCidr) };
    const judged = allow !== null || rate !== undefined || conns !== undefined;
    const requestHeaders = [...request.values(), ...added];
    const replaces = Object.fromEntries([...request.keys()].map((k) => [k, true]));
    const source = routed?.variable ?? '';
    const edits = byBackend === undefined ? null : backendEdits(byBackend, choices, source, { request, added, response, responseRemove, responseAdd }, registry, noted);
    const locationHeaders = edits === null ? requestHeaders : [...requestHeaders.filter((h) => edits.request.names[h.name.toLowerCase()] !== true), ...edits.request.lines];
    const locationReplaces = edits === null ? replaces : { ...replaces, ...edits.request.names };
    const protocol = policy.upstream?.protocol;
    const mirrorUris: string[] = [];
    if (policy.mirror !== undefined) {
      if (protocol === 'grpc' || protocol === 'grpcs') {
        reportOnce(route, 'PASS_POLICY_NOT_IN_MODE', 'nginx cannot mirror a gRPC route (its mirror locations speak HTTP/1.1); requests are served without copies');
      } else {
        for (const target of policy.mirror.targets) {
          // A target without endpoints gets no copy, as in native mode.
          const upstream = actionFor(target.backend).proxy;
          const share = mirrorShare(target.percent);
          if (upstream === null || share === 'none') continue;
          mirrorUris.push(mirrorUri(upstream, share === 'all' ? null : share, locationHeaders, locationReplaces));
        }
      }
    }
    const view: LocationPolicyView = {
      preflight: cors !== undefined,
      realIpFrom: judged ? side.trusted : [],
      rate: rate === undefined ? null : { zone: registry.limitZone(route, { amount: rate.amount, perMinute: rate.perMinute }), burst: rate.burst },
      connections: conns === undefined ? null : { zone: registry.limitZone(route, null), max: conns },
      allow,
      auth,
      maxBody,
      tries: tries ?? null,
      timeouts: { connect: t?.connect ?? null, send: t?.send ?? null, read: t?.read ?? null },
      requestHeaders: locationHeaders,
      replaces: locationReplaces,
      responseHeaders: edits?.responseHeaders ?? [...response.values()],
      externalAuth,
      affinityCookie: affinity?.setCookie.variable ?? null,
      responseRemove: edits?.responseRemove ?? responseRemove,
      responseAdd: edits?.responseAdd ?? responseAdd,
      mirrors: mirrorUris,
    };
    const empty =
      !judged && cors === undefined && auth === null && maxBody === null && tries === undefined && t === undefined && request.size === 0 && added.length === 0 && response.size === 0 && externalAuth === null && affinity === undefined && responseRemove.length === 0 && responseAdd.length === 0 && mirrorUris.length === 0 && edits === null;
    let grpc: GrpcView | null = null;
    if (protocol === 'grpc' || protocol === 'grpcs') {
      // grpc_pass names no path: the path is set by a rewrite (the regex rewrite, the whole path, or a prefix replaced).
      const whole = sent.rewrite === null && !sent.keepUri && policy.rewrite !== undefined && (modifier === '=' || sent.replacesPath) ? sent.upstreamPath : null;
      const prefix = sent.rewrite === null && !sent.keepUri && policy.rewrite !== undefined && whole === null ? `${sent.upstreamPath}$1` : null;
      if ((whole !== null && !canRewriteTarget(whole)) || (prefix !== null && !canRewriteTarget(prefix))) return refuse(UNRENDERABLE.grpcPath);
      const sni = policy.upstream?.vhost;
      grpc = {
        tls: protocol === 'grpcs',
        sni: protocol === 'grpcs' && sni !== undefined && isPlainHost(sni) ? sni : null,
        whole,
        strip: prefix === null ? null : { length: path.length, target: prefix },
        timeouts: { connect: t?.connect ?? connectMs, send: t?.send ?? readMs, read: t?.read ?? readMs },
        replaces: view.replaces,
        lua: options.luaModules !== undefined && options.luaModules !== null,
      };
    }
    const scheme = protocol === 'https' ? 'https' : 'http';
    return done({ modifier, path, regex: modifier === '~*', action: base, ...sent, policy: empty ? null : view, scheme, canary, grpc, choice: null });
  };
  const locationOf = (modifier: string, path: string, route: Route | undefined, side: ServerSide): LocationView => {
    if (route?.policy !== undefined) return policyLocation(modifier, path, route, side);
    const regex = modifier === '~*';
    return { modifier, path, regex, action: route === undefined ? side.fallback : actionFor(route.backend), upstreamPath: path, replacesPath: false, rewrite: null, keepUri: regex, policy: null, scheme: 'http', canary: null, grpc: null, choice: null };
  };

  // A location of a host with conditional routes: the routes it may serve, in the model's order, up to
  // the first without conditions; a chain of maps picks the first whose conditions hold.
  const choiceLocation = (modifier: string, path: string, routes: readonly Route[], side: ServerSide): LocationView => {
    const served = routes.filter((r) => {
      if (modifier === '=') return pathMatches(r, path);
      // A regex location serves its pattern's routes; after them, what follows depends on the path.
      if (modifier === '~*') return r.pathType === 'Regex' && r.path === path;
      // A prefix location `/p/` (or `/`): the Prefix routes of `/p` and above; nginx tried the `=` and regex ones.
      const bare = path === '/' ? '/' : path.slice(0, -1);
      return r.pathType === 'Prefix' && (r.path === '/' || r.path === bare || bare.startsWith(`${r.path}/`));
    });
    // A route whose conditions nginx cannot read answers 503 in its place (requests that reach it never go further).
    const problems = new Map<Route, string>();
    for (const r of served) {
      const problem = conditionProblem(r);
      if (problem !== undefined) problems.set(r, problem);
    }
    const end = served.findIndex((r) => !hasConditions(r) || problems.has(r));
    const chain = end === -1 ? served : served.slice(0, end + 1);
    const first = chain[0];
    const refuse = (reason: string): LocationView => {
      for (const r of chain) if (hasConditions(r)) reportOnce(r, 'PASS_POLICY_NOT_IN_MODE', `${reason}; the route answers 503`);
      return locationOf(modifier, path, first === undefined ? undefined : { ...first, policy: { denied: reason } }, side);
    };
    const unreadable = (r: Route): string | undefined => {
      const problem = problems.get(r);
      if (problem !== undefined) reportOnce(r, 'PASS_POLICY_NOT_IN_MODE', `${problem}; the route answers 503`);
      return problem;
    };
    if (first === undefined || !hasConditions(first)) return locationOf(modifier, path, first, side);
    const firstProblem = unreadable(first);
    if (firstProblem !== undefined) return locationOf(modifier, path, { ...first, policy: { denied: firstProblem } }, side);
    // After a regex location's own routes, the next route depends on the path: nginx cannot fall through there.
    if (modifier === '~*' && end === -1) return refuse('nginx cannot fall through from a regex path route with conditions to the routes after it');
    // One location serves the whole chain: its routes may differ by backend only (the same policy, one
    // that picks no upstream itself; a rewrite only on routes of the same path), and a request no route
    // takes gets the default answer, which has no policy.
    const policy = first.policy;
    const samePolicy = chain.every((r) => JSON.stringify(r.policy) === JSON.stringify(policy));
    const pathBound = policy?.rewrite !== undefined && chain.some((r) => r.path !== first.path || r.pathType !== first.pathType);
    if (!samePolicy || (policy !== undefined && (end === -1 || pathBound || policy.canary !== undefined || policy.split !== undefined || policy.upstream?.affinity !== undefined))) {
      return refuse('nginx cannot render routes with conditions and different policies or filters (header changes, rewrites, ...) on one path');
    }
    const outcomes: ChainOutcome[] = [];
    const answers: { value: string; status: number; body: string }[] = [];
    const outcomeOf = (action: Action): ChainOutcome => {
      if (action.proxy !== null) return { upstream: action.proxy };
      const value = `pass_answer_${answers.length}`;
      // A reason nginx cannot write (not ASCII) is answered in general words.
      answers.push({ value, status: action.status, body: action.body !== null && canText(action.body) ? action.body : 'Service Unavailable' });
      return { answer: value };
    };
    // The last route of the chain may be one nginx cannot read: it is the chain's end, as a 503 without conditions.
    const last = chain[chain.length - 1];
    const lastProblem = last === undefined ? undefined : unreadable(last);
    const links = lastProblem === undefined ? chain : chain.slice(0, -1);
    const leastConn = leastConnOf(policy?.upstream);
    for (const r of links) outcomes.push(outcomeOf(balancedAction(r.backend, leastConn)));
    if (lastProblem !== undefined) outcomes.push(outcomeOf(refusal(lastProblem)));
    else if (end === -1) outcomes.push(outcomeOf(side.fallback));
    const made = conditions.chain(links, outcomes);
    if ('problem' in made) return refuse(made.problem);
    const { variable, joins } = made;
    if (answers.some((a) => a.body.includes('$'))) dollar = true;
    const proxied = [...links.map((r) => balancedAction(r.backend, leastConn)), ...(lastProblem === undefined && end === -1 ? [side.fallback] : [])].find((a) => a.proxy !== null);
    // The location of the first route that proxies (its policy is the chain's), else a plain one.
    const model = links.find((r) => balancedAction(r.backend, leastConn).proxy !== null);
    const base = locationOf(modifier, path, model, side);
    // The policy answers every request itself (a redirect, a refusal): the same for every route of the chain.
    if (policy !== undefined && base.action.proxy === null) return base;
    // With a variable upstream nginx sends a path of proxy_pass as it is: a prefix location rewrites the path (as a canary's).
    const plain = base.rewrite === null && !base.keepUri && !base.replacesPath && modifier !== '=';
    const target = `${base.upstreamPath}$1`;
    if (plain && !canRewriteTarget(target)) return refuse('nginx cannot choose among the routes of this path by their conditions (the path cannot be a rewrite target)');
    const choice: ChoiceView = { variable, answers, joins };
    if (proxied === undefined) return { ...base, action: answers.length > 0 ? { proxy: null, status: 503, body: 'Service Unavailable', redirect: null } : base.action, choice };
    return { ...base, action: proxied, canary: { variable, unavailable: null, strip: plain ? { length: path.length, target } : null }, choice };
  };

  // The routes nginx can hold, per virtual host (reported once, whatever the server blocks).
  const routable = new Map<VirtualHost | undefined, readonly Route[]>();
  const routesOf = (v: VirtualHost | undefined): readonly Route[] => {
    const known = routable.get(v);
    if (known !== undefined) return known;
    const routes = (v?.routes ?? []).filter((r) => {
      if (r.pathType === 'Regex' ? canPathRegex(r.path) : canRoutePath(r.path)) return true;
      diags.push(skipped('PASS_NGINX_PATH', `path ${JSON.stringify(r.path)} cannot be written as an nginx location; left out`, r.source, r.field));
      return false;
    });
    routable.set(v, routes);
    return routes;
  };
  const buildLocations = (v: VirtualHost | undefined, side: ServerSide): LocationView[] => {
    const out = new Map<string, LocationView>();
    const routes = routesOf(v);
    // Regexes are tried after the longest prefix unless it is `^~`: a host with some keeps its prefixes plain.
    const regexHost = routes.some((r) => r.pathType === 'Regex');
    const prefix = regexHost ? '' : '^~';
    // A host with conditional routes: each location chooses among the routes it may serve (conditions.ts).
    const conditional = routes.some(hasConditions);
    for (const r of routes) {
      const add = (modifier: string, path: string): void => {
        const key = `${modifier} ${path}`;
        if (out.has(key)) return;
        if (conditional) {
          out.set(key, choiceLocation(modifier, path, routes, side));
          return;
        }
        // An `=` stops nginx before the regexes: on such a host it serves what the model picks for that path.
        const chosen = regexHost && modifier === '=' && v !== undefined ? (selectRoute(v, path) ?? r) : r;
        out.set(key, locationOf(modifier, path, chosen, side));
      };
      // Routes come in match order, so the first to claim a location is the one the model picks.
      if (r.pathType === 'Exact') add('=', r.path);
      else if (r.pathType === 'Regex') add('~*', r.path);
      else if (r.path === '/') {
        // `/` itself, when the policy treats it apart from the paths below (app-root, a rewrite).
        if (r.policy?.appRoot !== undefined || r.policy?.rewrite !== undefined) add('=', '/');
        add('', '/');
      } else {
        add('=', r.path);
        add(prefix, `${r.path}/`);
      }
    }
    // nginx answers 301 "add a slash" for `/p` when a proxied location is `/p/`: pin `= /p` to what the model says.
    for (const l of [...out.values()]) {
      if (l.regex || l.path === '/' || !l.path.endsWith('/')) continue;
      const bare = l.path.slice(0, -1);
      if (out.has(`= ${bare}`)) continue;
      out.set(`= ${bare}`, conditional ? choiceLocation('=', bare, routes, side) : locationOf('=', bare, v === undefined ? undefined : selectRoute(v, bare), side));
    }
    if (!out.has(' /')) out.set(' /', conditional ? choiceLocation('', '/', routes, side) : locationOf('', '/', undefined, side));
    return [...out.values()];
  };
  // Locations depend on the server only through route policies: computed once per host otherwise.
  const built = new Map<VirtualHost | undefined, Map<string, LocationView[]>>();
  const locationsOf = (v: VirtualHost | undefined, side: ServerSide): LocationView[] => {
    const key = (v?.routes ?? []).some((r) => r.policy !== undefined) ? JSON.stringify(side) : side.fallback === modelFallback ? '' : 'scope';
    let bySide = built.get(v);
    if (bySide === undefined) built.set(v, (bySide = new Map()));
    let locations = bySide.get(key);
    if (locations === undefined) bySide.set(key, (locations = buildLocations(v, side)));
    return locations;
  };

  // The internal auth locations and sign-in locations a server block's locations name.
  const authOfLocations = (locations: readonly LocationView[]): Pick<ServerBlockView, 'authChecks' | 'signins' | 'mirrors'> => {
    const uris = new Set(locations.map((l) => l.policy?.externalAuth?.uri).filter((u) => u !== undefined));
    const names = new Set(locations.map((l) => l.policy?.externalAuth?.signin).filter((u) => u !== undefined && u !== null));
    const copies = new Set(locations.flatMap((l) => l.policy?.mirrors ?? []));
    return { authChecks: authChecks.filter((c) => uris.has(c.uri)), signins: signins.filter((s) => names.has(s.name)), mirrors: mirrors.filter((m) => copies.has(m.uri)) };
  };

  // Certificates: the first certificate naming a host serves it.
  const certs: NginxBuild['certs'][number][] = [];
  const certByHost = new Map<string, string>();
  const certById = new Map<string, string>();
  for (const c of model.certificates) {
    const base = c.id.replace('/', '_');
    if (!/^[a-z0-9][a-z0-9._-]{0,250}$/.test(base) || certById.has(c.id)) {
      diags.push(skipped('PASS_NGINX_CERTIFICATE', `certificate ${JSON.stringify(c.id)} cannot be given a file name; its hosts get the default certificate`, c.source));
      continue;
    }
    const problem = options.certificateProblem?.(c.certPem, c.keyPem);
    if (problem !== undefined) {
      diags.push({ ...skipped('PASS_NGINX_CERTIFICATE', `certificate ${JSON.stringify(c.id)} cannot be served: ${problem}; its hosts get the default certificate`, c.source), severity: 'error' });
      continue;
    }
    const file = `certs/${base}.pem`;
    certById.set(c.id, `${workDir}/${file}`);
    certs.push({ id: c.id, path: file, pem: `${c.certPem.trimEnd()}\n${c.keyPem.trimEnd()}\n` });
    for (const h of c.hosts) if (!certByHost.has(h.toLowerCase())) certByHost.set(h.toLowerCase(), `${workDir}/${file}`);
  }

  // The hosts of one address: the model's own (listenHost undefined: the entry point's), or an address scope's.
  interface HostSet {
    readonly listenHost: string | undefined;
    /** An address scope's entry point: its server blocks are written for that entry point only. */
    readonly entryPoint: string | undefined;
    readonly vhosts: VirtualHost[];
    readonly any: VirtualHost | undefined;
    readonly suffixHosts: boolean;
    /** An address scope's listener hostnames (misdirected requests on its TLS entry point). */
    readonly listenerHostnames: readonly string[] | undefined;
  }
  const hostSet = (list: readonly VirtualHost[], listenHost: string | undefined, entryPoint: string | undefined, listenerHostnames?: readonly string[]): HostSet => {
    const vhosts: VirtualHost[] = [];
    const seen = new Set<string>();
    let any: VirtualHost | undefined;
    for (const v of list) {
      if (v.kind === 'any') {
        any ??= v;
        continue;
      }
      if (!(v.kind === 'exact' ? isPlainHost(v.host) : isWildcardHost(v.host))) {
        diags.push(skipped('PASS_NGINX_HOST', `host ${JSON.stringify(v.host)} cannot be an nginx server_name; left out`, v.sources[0]));
        continue;
      }
      if (seen.has(`${v.kind} ${v.host}`)) continue;
      seen.add(`${v.kind} ${v.host}`);
      vhosts.push(v);
    }
    // nginx tries regex server names in the order of the file: with suffix hosts (which may overlap each
    // other and the one-label wildcards), the longest domain first, a one-label wildcard before a suffix.
    const suffixHosts = vhosts.some((v) => v.kind === 'suffix');
    if (suffixHosts) vhosts.sort((a, b) => patternRank(b) - patternRank(a));
    for (const v of vhosts) routesOf(v);
    routesOf(any);
    // A scope without `*` still has its own default server locations (404), apart from the model's.
    if (listenHost !== undefined) any ??= { host: '*', kind: 'any', routes: [], sources: [] };
    return { listenHost, entryPoint, vhosts, any, suffixHosts, listenerHostnames };
  };
  const patternRank = (v: VirtualHost): number => (v.kind === 'exact' ? -1 : v.host.length * 2 + (v.kind === 'suffix' ? 0 : 1));
  const serverNameOf = (v: VirtualHost): string => (v.kind === 'suffix' ? `*${v.host}` : v.host);
  const hostSets: HostSet[] = [hostSet(model.virtualHosts, undefined, undefined)];
  for (const scope of model.addressScopes ?? []) {
    if (canAddress(scope.address, 1)) hostSets.push(hostSet(scope.virtualHosts, scope.address, scope.entryPoint, scope.listenerHostnames));
    else diags.push(skipped('PASS_NGINX_HOST', `address ${JSON.stringify(scope.address)} cannot be an nginx listen address; its hosts are left out`, scope.virtualHosts[0]?.sources[0]));
  }
  const vhosts = hostSets.flatMap((h) => h.vhosts);
  // Hosts restricted to some entry points (VirtualHost.entryPoints): on another, the model's set is
  // written without them, so nginx falls through to a less specific name or the default server as if
  // they were not in the model (match.ts modelForScope). Address scopes' hosts are never restricted.
  const restricted = model.virtualHosts.some((v) => v.entryPoints !== undefined);
  const anyHosts = restricted ? model.virtualHosts.filter((v) => v.kind === 'any') : [];
  const servedSet = (set: HostSet, entryPoint: string): HostSet => {
    if (!restricted || set.listenHost !== undefined) return set;
    const served = set.vhosts.filter((v) => servedOn(v, entryPoint));
    return { ...set, vhosts: served, any: anyHosts.find((v) => servedOn(v, entryPoint)), suffixHosts: served.some((v) => v.kind === 'suffix') };
  };

  // A route's own certificate (its Ingress's TLS Secret) first, then any certificate naming the host.
  const sniNames = new Map<string, string>();
  for (const v of vhosts) {
    const own = v.certificate === undefined ? undefined : certById.get(v.certificate);
    if (own !== undefined) sniNames.set(v.host, own);
  }
  for (const [host, pem] of certByHost) {
    if (!sniNames.has(host) && (isPlainHost(host) || isWildcardHost(host))) sniNames.set(host, pem);
  }

  const htpasswd: NginxBuild['htpasswd'][number][] = [];
  const servers: ServerBlockView[] = [];
  const trust: TrustView[] = [];
  const seenListen = new Set<string>();
  const listenerNames: string[] = [];
  let misdirectedCount = 0;
  // A scope's listener hostnames as map keys (exact or `*.domain` of `[a-z0-9-]` labels only, so the `q` literal is
  // never a regex nor a variable): all of them or no check (a name left out would move its requests to another listener).
  const misdirectedOf = (set: HostSet): MisdirectedView | null => {
    if (set.listenerHostnames === undefined || set.listenHost === undefined) return null;
    const names = [...new Set(set.listenerHostnames)];
    const bad = names.find((n) => n !== '' && !isPlainHost(n) && !isWildcardHost(n));
    if (bad !== undefined) {
      diags.push(skipped('PASS_NGINX_HOST', `listener hostname ${JSON.stringify(bad)} of address ${set.listenHost} cannot be an nginx map key; misdirected requests (421) are not detected there`, set.vhosts[0]?.sources[0]));
      return null;
    }
    const listeners = names.filter((n) => n !== '').map((name, i) => ({ name, value: i + 1 }));
    listenerNames.push(...listeners.map((l) => l.name));
    return { index: misdirectedCount++, maps: true, listeners, fallback: names.includes('') ? listeners.length + 1 : 0 };
  };
  for (const ep of model.entryPoints) {
    const epRef: ObjectRef = { kind: 'EntryPoint', name: ep.name };
    if (!canAddress(ep.address.host, ep.address.port) || !/^[A-Za-z0-9_-]+$/.test(ep.name)) {
      diags.push(skipped('PASS_NGINX_ENTRYPOINT', `entry point ${JSON.stringify(ep.name)} cannot be written as an nginx listen; left out`, epRef));
      continue;
    }
    const listenKey = `${ep.address.host ?? ''}:${ep.address.port}`;
    if (seenListen.has(listenKey)) continue;
    seenListen.add(listenKey);
    let redirect: ServerBlockView['redirect'] = null;
    let auth: ServerBlockView['auth'] = null;
    for (const mw of ep.middlewares) {
      if (mw.kind === 'redirect' && redirect === null && auth === null) {
        redirect = { scheme: mw.scheme, port: mw.port === (mw.scheme === 'https' ? 443 : 80) ? null : mw.port, code: mw.status };
      } else if (mw.kind === 'basicAuth' && auth === null) {
        auth = authOf(ep, mw, workDir, diags, htpasswd);
      }
    }
    const proto = ep.tls ? ('https' as const) : ('http' as const);
    const ranges = trustedRanges(ep, (r) => diags.push(skipped('PASS_NGINX_TRUSTED_IP', `trusted address ${JSON.stringify(r)} of entry point ${JSON.stringify(ep.name)} is not an IP or CIDR range; left out`, epRef, `entryPoints.${ep.name}.forwardedHeaders.trustedIPs`)));
    if (ranges.length !== 0) trust.push({ entryPoint: ep.name, ranges, proto, port: publicPortOf(ep) });
    const common = {
      listenHost: ep.address.host ?? '',
      listenPort: ep.address.port,
      publicPort: publicPortOf(ep),
      tls: ep.tls,
      proto,
      redirect,
      auth,
      entryPoint: ep.name,
      timeouts: ep.timeouts ?? DEFAULT_CLIENT_TIMEOUTS,
      trusted: ranges.length !== 0,
      misdirected: null,
    };
    if (ep.allowEncodedSlashes === true) {
      diags.push(skipped('PASS_NGINX_ENCODED_SLASHES', 'nginx decodes %2F before routing: allowEncodedSlashes is not supported in nginx mode, encoded slashes get 400', epRef, `entryPoints.${ep.name}.allowEncodedSlashes`));
    }
    const side: ServerSide = { tls: ep.tls, trusted: ranges, entryPointAuth: auth !== null, fallback: modelFallback };
    for (const set of hostSets) {
      // An address scope is listened on at its entry point's port: nginx picks its server blocks by the connection's local address.
      if (set.listenHost !== undefined && (set.entryPoint !== ep.name || set.listenHost === common.listenHost || seenListen.has(`${set.listenHost}:${ep.address.port}`))) continue;
      if (set.listenHost !== undefined) seenListen.add(`${set.listenHost}:${ep.address.port}`);
      const misdirected = ep.tls ? misdirectedOf(set) : null;
      servers.push(...serverBlocks(servedSet(set, ep.name), { ...common, listenHost: set.listenHost ?? common.listenHost, misdirected }, set.listenHost === undefined ? side : { ...side, fallback: NOT_FOUND }));
    }
  }

  function serverBlocks(set: HostSet, common: Omit<ServerBlockView, 'defaultServer' | 'names' | 'locations' | 'authChecks' | 'signins' | 'mirrors'>, side: ServerSide): ServerBlockView[] {
    const out: ServerBlockView[] = [];
    const defaultLocations = common.redirect === null ? locationsOf(set.any, side) : [];
    out.push({ ...common, defaultServer: true, names: [], locations: defaultLocations, ...authOfLocations(defaultLocations) });
    // An entry point that redirects answers every host the same way: no per-host blocks needed.
    if (common.redirect !== null) return out;
    const suffixHosts = set.suffixHosts;
    // Hosts served the same way share one server block: nginx's per-block cost (location tree,
    // module configurations, an SSL context on TLS) is paid once; certificates come from the SNI map.
    const blocks = new Map<string, { names: string[]; locations: readonly LocationView[] }>();
    let previous: { key: string; block: { names: string[] } } | undefined;
    for (const v of set.vhosts) {
      const locations = locationsOf(v, side);
      const json = JSON.stringify(locations);
      // With suffix hosts, a wildcard or suffix shares only the block of the one before it (their order counts).
      const ordered = suffixHosts && v.kind !== 'exact';
      const key = ordered ? `${blocks.size} ${json}` : json;
      if (ordered && previous !== undefined && previous.key === json) {
        previous.block.names.push(serverNameOf(v));
        continue;
      }
      const block = blocks.get(key);
      if (block === undefined) {
        const created = { names: [serverNameOf(v)], locations };
        blocks.set(key, created);
        previous = ordered ? { key: json, block: created } : undefined;
      } else block.names.push(serverNameOf(v));
    }
    // The scope's maps are written once, before its first server block.
    const rest = common.misdirected === null ? common : { ...common, misdirected: { ...common.misdirected, maps: false } };
    for (const b of blocks.values()) out.push({ ...rest, defaultServer: false, ...b, ...authOfLocations(b.locations) });
    return out;
  }

  for (const [secret, users] of registry.skippedUsers) {
    const [namespace = '', name = secret] = secret.includes('/') ? secret.split('/') : [undefined, secret];
    const ref: ObjectRef = namespace === '' ? { kind: 'Secret', name } : { kind: 'Secret', namespace, name };
    diags.push(skipped('PASS_NGINX_AUTH_USER', `users ${users.map((u) => JSON.stringify(u)).join(', ')} of the basic-auth Secret ${secret} cannot be written to an htpasswd file; they cannot log in`, ref));
  }

  // server_names_hash: a bucket holds entries of 8 + align8(length + 2) bytes plus an 8-byte end mark.
  // Sized for 4 of the longest name per bucket: with room for one only, nginx needs a hash without any
  // collision, tries every size up to max_size for it (seconds at 10,000 hosts) and still fails.
  // The SNI map (map_hash_*) holds names of the same kind: sized the same way.
  const longest = Math.max(0, ...vhosts.map((v) => v.host.length), ...[...sniNames.keys()].map((h) => h.length), ...listenerNames.map((h) => h.length));
  const entry = 8 + Math.ceil((longest + 2) / 8) * 8;
  let bucket = 128;
  while (bucket < 4 * entry + 8) bucket *= 2;
  let maxSize = 512;
  while (maxSize < Math.max(vhosts.length, sniNames.size, listenerNames.length) * 2) maxSize *= 2;
  // The Lua balancer serves the backends' own upstreams; least_conn and affinity variants keep their servers.
  const lua = options.luaModules ?? null;
  const upstreams: UpstreamView[] = variants.all.map((u) => ({ ...u, lua: lua !== null && u.name === nginxUpstreamName(u.id) && !u.leastConn && u.servers.every((s) => !s.backup) }));
  const luaEndpoints = lua === null ? null : Object.fromEntries(upstreams.filter((u) => u.lua).map((u) => [u.name, u.servers.map((s) => ({ host: s.host, port: s.port, weight: s.weight }))]));
  const acme = options.acmeChallengeAddress && canAddress(options.acmeChallengeAddress.host, options.acmeChallengeAddress.port) ? options.acmeChallengeAddress : null;
  return {
    view: {
      workDir,
      pidFile: `${workDir}/nginx.pid`,
      workerProcesses: options.workerProcesses ?? 2,
      workerUser: options.workerUser ?? null,
      headersMoreModule: options.headersMoreModule === undefined ? HEADERS_MORE_MODULE : options.headersMoreModule,
      lua: lua === null ? null : { ndk: lua.ndk, lua: lua.lua, adminSocket: `${workDir}/${LUA_ADMIN_SOCKET}` },
      shutdownTimeoutMs: Math.max(1000, options.gracePeriodMs ?? 10_000),
      timeouts: { connect: connectMs, read: readMs },
      namesHash: { maxSize, bucketSize: bucket },
      forwardedHeader: options.forwardedHeader ?? false,
      acme,
      requestLog: options.requestLog !== undefined && canAddress(options.requestLog.address.host, options.requestLog.address.port) ? { ...options.requestLog.address, all: options.requestLog.all, local: (model.addressScopes ?? []).length > 0 } : null,
      sni: servers.some((s) => s.tls) ? { entries: [...sniNames].map(([name, pem]) => ({ name, pem })), default: `${workDir}/${DEFAULT_CERTIFICATE_FILE}` } : null,
      upstreams,
      servers,
      trust,
      responseValues: registry.responseValues,
      cors: registry.cors,
      limitZones: registry.limitZones,
      canaries: registry.canaries,
      backendMaps: registry.backendMaps,
      affinities,
      // Unrolled: nginx has no loop and no URL-escaping variable without third-party modules.
      signinSteps: signins.length === 0 ? [] : Array.from({ length: SIGNIN_STEPS }, (_, i) => i),
      signinEscapes: signins.length === 0 ? [] : SIGNIN_ESCAPES,
      dollar,
      queryValues: conditions.queryValues,
      conditionMaps: conditions.maps,
      mirrorSamples,
    },
    htpasswd: [...htpasswd, ...registry.htpasswd],
    certs,
    luaEndpoints,
    diagnostics: diags,
  };
}

function authOf(ep: EntryPoint, mw: BasicAuthMiddleware, workDir: string, diags: Diagnostic[], htpasswd: NginxBuild['htpasswd'][number][]): ServerBlockView['auth'] {
  const epRef: ObjectRef = { kind: 'EntryPoint', name: ep.name };
  const users = mw.users.filter((u) => {
    if (canUser(u.user)) return true;
    diags.push(skipped('PASS_NGINX_AUTH_USER', `user ${JSON.stringify(u.user)} cannot be written to an htpasswd file; it cannot log in`, epRef, `entryPoints.${ep.name}.auth.basic.users`));
    return false;
  });
  const rel = `auth/${ep.name}.htpasswd`;
  htpasswd.push({ path: rel, users });
  let realm = mw.realm;
  if (!canLiteral(realm)) {
    diags.push(skipped('PASS_NGINX_AUTH_REALM', 'the realm has characters nginx cannot quote ("$", quote, backslash); "passerelle" is used', epRef, `entryPoints.${ep.name}.auth.basic.realm`));
    realm = 'passerelle';
  }
  return { realm, file: `${workDir}/${rel}`, removeHeader: mw.removeHeader };
}

/** How a proxied location sends the path upstream (the {@link LocationView} fields), or why nginx cannot. */
function upstreamOf(route: Route, modifier: string, path: string): Pick<LocationView, 'upstreamPath' | 'replacesPath' | 'rewrite' | 'keepUri'> | string {
  const rw = route.policy?.rewrite;
  if (rw?.kind === 'regex') {
    if (!canPathRegex(rw.pattern) || !canRewriteTarget(rw.target)) return UNRENDERABLE.regexRewrite;
    return { upstreamPath: path, replacesPath: false, rewrite: { pattern: rw.pattern, target: rw.target }, keepUri: false };
  }
  if (modifier === '~*') {
    // A regex location's proxy_pass may name no path: only a whole new path (a variable) or none.
    if (rw === undefined) return { upstreamPath: path, replacesPath: false, rewrite: null, keepUri: true };
    if (rw.kind !== 'replace-path') return UNRENDERABLE.rewritePath;
  }
  const target = upstreamPath(route, modifier, path);
  if (target === undefined || !canRoutePath(target.path)) return UNRENDERABLE.rewritePath;
  return { upstreamPath: target.path, replacesPath: target.whole, rewrite: null, keepUri: false };
}
