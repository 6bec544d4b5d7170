/*
 * Per-route policies (src/model/policy.ts) in HAProxy terms, pure: each distinct policy becomes a
 * PolicyView with an id (`p` and a digest); the routing map gives the routes that use it the value `backend;ID`,
 * so a policy applies exactly to the requests its routes select, and a route change through the
 * runtime API carries its policy with it (a new or changed policy changes the configuration: a
 * reload). The native proxy (src/drivers/native/policy.ts) holds the reference semantics.
 */
import { createHash } from 'node:crypto';
import { rewriteParts, rewrittenPath } from '../../model/rewrite.ts';
import type { RewriteParts } from '../../model/rewrite.ts';
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import type { BasicAuthPolicy, CanaryPolicy, CorsPolicy, HeaderPolicy, HstsPolicy, MirrorPolicy, RoutePolicy, SplitPolicy, WwwRedirectPolicy } from '../../model/policy.ts';
import type { HtpasswdUser, Route } from '../../model/types.ts';
import { canCidr, canHeaderName, canLiteral, canName, canRegexLiteral, canRegexPath, canRoutePath, canText, canUser } from './quote.ts';
import { isPlainHost } from '../quote.ts';
import { upstreamView } from './upstream.ts';
import type { UpstreamView } from './upstream.ts';

/** A route basic auth: its own userlist and maps, as an entry point's (`AuthView`). */
export interface RouteAuthView {
  readonly userlist: string;
  readonly realm: string;
  /** Users with crypt(3) hashes (bcrypt) in the userlist. */
  readonly cryptUsers: readonly { readonly user: string; readonly hash: string }[];
  /** Map file of `{SHA}` users (user → base64 digest), or null. */
  readonly shaMap: string | null;
  /** Map file of the users the controller checks on `files.routeAuthSocket` (user → `key`), or null. */
  readonly externalMap: string | null;
  /** The name the controller knows these users by: a digest of them, so that it never names other users. */
  readonly key: string;
}

/** A CORS policy: the allowed origins and the headers of an answer to an allowed origin. */
export interface PolicyCorsView {
  /** Any origin, answered `*`; else an allowed origin is answered by name (`txn.pass_cors`). */
  readonly any: boolean;
  /** Any origin, answered by name (Gateway API: any origin with credentials). */
  readonly echoOrigin: boolean;
  /** Exact allowed origins, compared case-sensitively. */
  readonly origins: readonly string[];
  /** Origin patterns (`scheme://*.domain[:port]`) as regexes matched case-insensitively (`-m reg -i`), single-quoted by `re`. */
  readonly patterns: readonly string[];
  /** A preflight's Access-Control-Request-Method is answered as Access-Control-Allow-Methods (none when it asks none). */
  readonly echoMethods: boolean;
  /** A preflight's Access-Control-Request-Headers are answered as Access-Control-Allow-Headers (none when it asks none). */
  readonly echoHeaders: boolean;
  /** Headers besides Access-Control-Allow-Origin, and whether only preflights, or only the backend's answers, get them. */
  readonly headers: readonly { readonly name: string; readonly value: string; readonly preflightOnly: boolean; readonly answerOnly: boolean }[];
}

/**
 * The path the backend receives: `whole` when the request's path is `match` (or always when `match` is
 * null), else `prefix` followed by the request's path from byte `offset` on; the query is kept.
 */
export interface RewriteView {
  readonly match: string | null;
  readonly whole: string;
  readonly prefix: string;
  readonly offset: number;
}

/**
 * A regex rewrite (use-regex + rewrite-target with `$1`…): `replace-path` with `match` (the route's
 * pattern, case-insensitive from the start, then the rest of the path, so that the whole path is
 * replaced as nginx's `rewrite` does) and `replacement` (the target, `$N` as `\N`, `%` as `%%`).
 */
export interface RegexRewriteView {
  readonly match: string;
  readonly replacement: string;
}

/**
 * A canary (ingress-nginx canary Ingress): rules that switch the chosen backend to `backend` in the native
 * order: the header (`always` / `never`, or with `headerValue` that value), then the cookie (`always` /
 * `never`), then `weight` percent of the rest; the first that decides records it in `txn.pass_canary`.
 */
export interface CanaryView {
  /** The HAProxy backend of the canary (`pass_unavailable` when its backend has no section). */
  readonly backend: string;
  /** The header read (one occurrence, its whole value), or null. */
  readonly header: string | null;
  /** With `header`: the value that sends to the canary (other values decide nothing). */
  readonly headerValue: string | null;
  /** The cookie read, or null. */
  readonly cookie: string | null;
  /** Percent (0-100) of the requests the header and cookie leave undecided; 0: none. */
  readonly weight: number;
}

/**
 * The draws of a split (`txn.pass_split`, from `rand(total)`) that send to one of its backends:
 * `from` ≤ draw < `to`; null: no bound on that side.
 */
export interface SplitRangeView {
  /** The lowest draw (the sum of the weights before this backend), null for the first backend. */
  readonly from: number | null;
  /** The draw after the highest (`from` plus the weight), null for the last backend. */
  readonly to: number | null;
}

/** One backend of a split and the draws that choose it (as a {@link SplitRangeView}). */
export interface SplitTargetView {
  /** The HAProxy backend (`pass_unavailable` when its backend has no section). */
  readonly backend: string;
  /** The lowest draw that chooses it, null for the first backend. */
  readonly from: number | null;
  /** The draw after the highest that chooses it, null for the last backend. */
  readonly to: number | null;
}

/**
 * A split (more than two weighted backends, Gateway API backendRefs): one draw per request,
 * `rand(total)` (0 to total - 1) into `txn.pass_split`, then each backend sets `txn.be` on its range
 * of draws, so that each is chosen with probability weight / total.
 */
export interface SplitView {
  /** The sum of the weights. */
  readonly total: number;
  /** The backends of weight > 0 in the policy's order, their ranges adjacent from 0 to `total`. */
  readonly backends: readonly SplitTargetView[];
}

/**
 * A route policy, rendered in every frontend that routes. The routing map gives the routes that use it
 * the value `backend;ID`, which selects it (`acl pass_ID`); its rules run in the native proxy's order.
 */
export interface PolicyView {
  readonly id: string;
  /** The body of a route that answers by itself (nothing else is rendered then): 503 when its policy cannot be enforced, or 500 (internalError). */
  readonly denied: string | null;
  /** The status of the `denied` answer. */
  readonly deniedStatus: number;
  readonly redirect: { readonly location: string; readonly code: number } | null;
  /** from-to-www-redirect or Gateway API RequestRedirect (src/model/redirect.ts `redirectParts`); the request's path and query kept. */
  readonly wwwRedirect: (WwwRedirectPolicy & { readonly parts?: RewriteParts }) | null;
  /** app-root: `/` redirects (302) to this path. */
  readonly appRoot: string | null;
  readonly cors: PolicyCorsView | null;
  /** limits.rps: at most `count` requests per client in `periodMs` (a stick table of `gpc0_rate`), else 503. */
  readonly rate: { readonly table: string; readonly count: number; readonly periodMs: number; readonly expireMs: number } | null;
  /** allowlist-source-range: clients outside `ranges` (none: every client) get 403. */
  readonly allow: { readonly ranges: readonly string[] } | null;
  readonly auth: RouteAuthView | null;
  /**
   * externalAuth (auth-url), asked by the Lua action `pass_ext_auth` after the other access checks: the
   * URL, the sign-in URL (`-` for none) and the answer's headers copied to the request (comma-separated, `-` for none).
   */
  readonly externalAuth: { readonly url: string; readonly signin: string; readonly headers: string } | null;
  /** limits.maxBodyBytes: a larger body (Content-Length, or what HAProxy holds of a chunked one) gets 413. */
  readonly maxBody: number | null;
  /** limits.connections: requests in progress per client (a stick table of `conn_cur`), else 503. */
  readonly connections: { readonly table: string; readonly max: number } | null;
  readonly rewrite: RewriteView | null;
  readonly regexRewrite: RegexRewriteView | null;
  /** timeouts.read: HAProxy's server timeout for this request (ms; it bounds every wait on the backend), or null; see `serverTimeouts`. */
  readonly serverTimeout: number | null;
  /** Request headers set (upstream-vhost as `Host`), in order. */
  readonly requestHeaders: readonly { readonly name: string; readonly value: string }[];
  /** Headers set on the backend's answers (not on HAProxy's own). */
  readonly responseHeaders: readonly { readonly name: string; readonly value: string }[];
  /** Request headers removed (`del-header`, before the ones set), lower-case names. */
  readonly requestRemove: readonly string[];
  /** Request headers added as one more line (`add-header`, after the ones set). */
  readonly requestAdd: readonly { readonly name: string; readonly value: string }[];
  /** Headers removed from the backend's answers (before the ones set). */
  readonly responseRemove: readonly string[];
  /** Headers added to the backend's answers as one more line (after the ones set). */
  readonly responseAdd: readonly { readonly name: string; readonly value: string }[];
  /** Strict-Transport-Security on the answers of TLS frontends, or null. */
  readonly hsts: string | null;
  /** The allowlist or a limit judges the client (`txn.pass_client`, after the trusted proxies). */
  readonly judgesClient: boolean;
  /** A canary backend chosen per request, or null. */
  readonly canary: CanaryView | null;
  /** A backend chosen per request by weight among more than two, or null (then `canary` is null too). */
  readonly split: SplitView | null;
  /** Gateway API RequestMirror: the backends a copy of each request is sent to, in order (empty: none). */
  readonly mirror: readonly MirrorTargetView[];
  /** Header changes by the backend chosen (`backendHeaders`), after the route's own on each side (empty: none). */
  readonly backendHeaders: readonly BackendHeadersView[];
}

/**
 * One backend's header changes (Gateway API backendRef filters), for the requests that go to it and
 * its answers: with `split`, those whose draw is in its range; else the canary's when `canary`
 * (`txn.pass_canary` is 1), else the main backend's.
 */
export interface BackendHeadersView {
  /** Whether these are the canary's changes (else the main backend's); false with `split`. */
  readonly canary: boolean;
  /** A split backend's changes: the draws that choose it; else null. */
  readonly split: SplitRangeView | null;
  /** Request headers removed, lower-case names (first). */
  readonly requestRemove: readonly string[];
  /** Request headers set (after the removals). */
  readonly requestHeaders: readonly { readonly name: string; readonly value: string }[];
  /** Request headers added as one more line (last). */
  readonly requestAdd: readonly { readonly name: string; readonly value: string }[];
  /** Headers removed from the backend's answers (first). */
  readonly responseRemove: readonly string[];
  /** Headers set on the backend's answers (after the removals). */
  readonly responseHeaders: readonly { readonly name: string; readonly value: string }[];
  /** Headers added to the backend's answers as one more line (last). */
  readonly responseAdd: readonly { readonly name: string; readonly value: string }[];
}

/**
 * A mirror target: the Lua action `pass_mirror_to` names `backend` for the request, and the Lua filter
 * `pass_mirror` sends the copy there through the internal frontend (mirror.hbs) once the request is read.
 */
export interface MirrorTargetView {
  /** The HAProxy backend of the target (its base backend: the route's upstream settings are the route's). */
  readonly backend: string;
  /** The share of requests copied in hundredths of a percent (1–9999, `rand(10000) lt share`), null for every request. */
  readonly share: number | null;
}

/** Why a route answers 503 instead of serving a policy HAProxy cannot render (the reason of its body). */
export const UNRENDERABLE = {
  regexRewrite: 'the regex rewrite cannot be written into the HAProxy configuration',
  wwwRedirect: 'the www redirect host cannot be written into the HAProxy configuration',
  upstream: 'an upstream setting (retries, connect timeout or affinity cookie) cannot be written into the HAProxy configuration',
  rewritePath: 'the rewrite target cannot be written as an HAProxy path',
  redirectUrl: 'the redirect URL cannot be written into the HAProxy configuration',
  appRoot: 'the app-root path cannot be written as an HAProxy path',
  header: 'a header of this route cannot be written into the HAProxy configuration',
  bodySize: 'the body size limit is not a number of bytes',
  limit: 'a rate, connection or timeout limit is not a positive number',
  cors: 'the CORS policy cannot be written into the HAProxy configuration',
  externalAuth: 'the external authentication URL, sign-in URL or a header name cannot be written into the HAProxy configuration',
  denied: 'the policy of this route cannot be honoured',
} as const;

/** The Strict-Transport-Security value of a policy, as the native proxy writes it. */
export function hstsValue(hsts: HstsPolicy): string {
  return `max-age=${hsts.maxAgeSeconds}${hsts.includeSubdomains ? '; includeSubDomains' : ''}${hsts.preload ? '; preload' : ''}`;
}

// Framing and hop-by-hop headers: a route setting them could desynchronise HAProxy and the other side.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'keep-alive', 'te', 'trailer', 'proxy-connection']);

/** Whether a route may set this header: a name of `[A-Za-z0-9_.-]`, not a framing header. */
export function canHeader(name: string): boolean {
  return canHeaderName(name) && !FRAMING_HEADERS.has(name.toLowerCase());
}

/** Headers to set or add as HAProxy writes them, in order; undefined when one cannot be written (an empty value would be an empty word, which HAProxy's parser drops). */
function headerList(list: Readonly<Record<string, string>> | undefined): { name: string; value: string }[] | undefined {
  const out = Object.entries(list ?? {}).map(([name, value]) => ({ name, value }));
  return out.every((h) => canHeader(h.name) && canText(h.value) && h.value !== '') ? out : undefined;
}

/**
 * One backend's header changes in HAProxy terms: null when it changes nothing, undefined when a name
 * or value cannot be written (the route is refused, as for its own headers).
 */
export function backendHeadersView(headers: HeaderPolicy, canary: boolean, split: SplitRangeView | null = null): BackendHeadersView | null | undefined {
  const requestHeaders = headerList(headers.request);
  const requestAdd = headerList(headers.requestAdd);
  const responseHeaders = headerList(headers.response);
  const responseAdd = headerList(headers.responseAdd);
  const requestRemove = headers.requestRemove ?? [];
  const responseRemove = headers.responseRemove ?? [];
  if (requestHeaders === undefined || requestAdd === undefined || responseHeaders === undefined || responseAdd === undefined || !requestRemove.every(canHeader) || !responseRemove.every(canHeader)) return undefined;
  const view = { canary, split, requestRemove, requestHeaders, requestAdd, responseRemove, responseHeaders, responseAdd };
  return [requestRemove, requestHeaders, requestAdd, responseRemove, responseHeaders, responseAdd].every((l) => l.length === 0) ? null : view;
}

/**
 * A split in HAProxy terms: adjacent ranges of draws by weight (a backend of weight 0 has none);
 * null when a weight is not a whole number ≥ 0, or their sum is 0 or more than `rand` draws from.
 */
export function splitView(split: SplitPolicy, backendFor: (id: string) => string): SplitView | null {
  const drawn = split.backends.filter((b) => b.weight !== 0);
  if (!drawn.every((b) => Number.isSafeInteger(b.weight) && b.weight > 0)) return null;
  const total = drawn.reduce((sum, b) => sum + b.weight, 0);
  if (total < 1 || total > INT_MAX) return null;
  let from = 0;
  const backends = drawn.map((b, i): SplitTargetView => {
    const to = from + b.weight;
    const target = { backend: backendFor(b.backend), from: i === 0 ? null : from, to: i === drawn.length - 1 ? null : to };
    from = to;
    return target;
  });
  return { total, backends };
}

/** The path native `rewriteTarget` gives a normalised request path (without the query); undefined for a regex rewrite. */
export function rewritePath(route: Route, path: string): string | undefined {
  const rw = route.policy?.rewrite;
  return rw === undefined ? path : rewrittenPath(rw, route, path);
}

/**
 * A route's rewrite as HAProxy sets the path: the route's own path gives `whole`; a longer path (below a
 * Prefix route, so it continues with `/`, or anything after `/`) gives `prefix` and the rest of the path
 * after the route's path and its `/`. Null without a rewrite or when it changes nothing; undefined when
 * it cannot be rendered (a regex, or a target outside the path grammar).
 */
export function rewriteView(route: Route): RewriteView | null | undefined {
  const rw = route.policy?.rewrite;
  if (rw === undefined || rw.kind === 'regex') return rw === undefined ? null : undefined;
  // A Regex route's prefix rewrite takes the whole path as its rest, as below a Prefix "/" (rewrittenPath).
  if (route.pathType === 'Regex') return rewriteView({ ...route, pathType: 'Prefix', path: '/' });
  const parts = rewriteParts(rw, route);
  if (parts === undefined || !canRoutePath(parts.whole) || (parts.match !== null && !canRoutePath(parts.prefix))) return undefined;
  // A rewrite that gives every path back unchanged (strip-prefix of `/`) needs no rule.
  if (parts.match !== null && parts.whole === route.path && parts.prefix === (route.path === '/' ? '/' : `${route.path}/`)) return null;
  return parts;
}

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/;
const ORIGIN_PATTERN = /^(https?):\/\/\*\.([a-z0-9-]+(?:\.[a-z0-9-]+)*)((?::[0-9]{1,5})?)$/;

/** An origin pattern as a regex (native `originPattern`): one or more labels for the `*`, the port as written; undefined outside the grammar. */
export function originPatternRegex(pattern: string): string | undefined {
  const m = ORIGIN_PATTERN.exec(pattern);
  if (m === null) return undefined;
  const [, scheme = '', domain = '', port = ''] = m;
  return `^${scheme}://([a-z0-9-]+\\.)+${domain.replace(/\./g, '\\.')}${port}$`;
}

/** A CORS policy in HAProxy terms, or undefined when a value cannot be written; an origin or pattern HAProxy cannot hold is left out (fewer allowed, never more). */
export function corsView(cors: CorsPolicy): PolicyCorsView | undefined {
  const echoOrigin = cors.allowOrigins.includes('*') && cors.echoOrigin === true;
  const any = cors.allowOrigins.includes('*') && !echoOrigin;
  const origins = any || echoOrigin ? [] : cors.allowOrigins.filter((o) => ORIGIN.test(o));
  const patterns = any || echoOrigin ? [] : (cors.originPatterns ?? []).flatMap((p) => originPatternRegex(p) ?? []);
  const echoMethods = cors.echoMethods === true;
  const echoHeaders = cors.echoHeaders === true;
  const header = (name: string, value: string, on: 'all' | 'preflight' | 'answer' = 'all'): PolicyCorsView['headers'][number] => ({ name, value, preflightOnly: on === 'preflight', answerOnly: on === 'answer' });
  // A preflight of an echoing policy is answered what it asks, as the native proxy does (the list is then empty).
  const headers = [
    ...(any ? [] : [header('Vary', 'Origin')]),
    ...(cors.allowCredentials ? [header('Access-Control-Allow-Credentials', 'true')] : []),
    ...(cors.allowMethods.length === 0 ? [] : [header('Access-Control-Allow-Methods', cors.allowMethods.join(', '), echoMethods ? 'answer' : 'all')]),
    ...(cors.allowHeaders.length === 0 ? [] : [header('Access-Control-Allow-Headers', cors.allowHeaders.join(', '), echoHeaders ? 'answer' : 'all')]),
    header('Access-Control-Max-Age', String(cors.maxAgeSeconds), 'preflight'),
    ...(cors.exposeHeaders === undefined || cors.exposeHeaders.length === 0 ? [] : [header('Access-Control-Expose-Headers', cors.exposeHeaders.join(', '))]),
  ];
  if (!headers.every((h) => canText(h.value) && h.value !== '')) return undefined;
  return { any, echoOrigin, origins, patterns, echoMethods, echoHeaders, headers };
}

const INT_MAX = 2 ** 31 - 1;

/**
 * limits.rps as a count over a period: the native token bucket serves a burst of 5 × rps at once and rps
 * per second after it; HAProxy counts the requests served in a sliding period of 5 s (longer below 1 rps,
 * so that the count stays whole). Undefined when not a positive rate.
 */
export function rateOf(rps: number): { readonly count: number; readonly periodMs: number; readonly expireMs: number } | undefined {
  if (!Number.isFinite(rps) || rps <= 0) return undefined;
  const count = Math.max(1, Math.round(5 * rps));
  const periodMs = Math.max(1, Math.round((count * 1000) / rps));
  if (count > INT_MAX || periodMs > 24 * 3600 * 1000) return undefined;
  return { count, periodMs, expireMs: Math.max(10_000, 2 * periodMs) };
}

/**
 * A regex rewrite as `replace-path` writes it; undefined when the pattern is not of the regex path
 * grammar or the target cannot be written. As the native proxy: the route's pattern applies to the
 * whole path (a request it does not match keeps its path), `$1`..`$9` are its groups (empty when unset).
 */
export function regexRewriteView(rw: { readonly pattern: string; readonly target: string }): RegexRewriteView | undefined {
  if (!canRegexPath(rw.pattern)) return undefined;
  // The target is a path of the grammar with $1..$9: no quote, backslash or space can be in it.
  if (!canRoutePath(rw.target.replace(/\$[1-9]/g, 'x'))) return undefined;
  const replacement = rw.target.replace(/%/g, '%%').replace(/\$([1-9])/g, '\\$1');
  const match = `(?i)^(?:${rw.pattern}).*`;
  return canRegexLiteral(match) && canRegexLiteral(replacement) ? { match, replacement } : undefined;
}

const AUTH_URL = /^https?:\/\/[^\s'\\]+$/;

/** An external auth policy as the Lua action reads its arguments; undefined when a value cannot be written. */
export function externalAuthView(auth: { readonly url: string; readonly responseHeaders: readonly string[]; readonly signin?: string }): PolicyView['externalAuth'] | undefined {
  if (!AUTH_URL.test(auth.url) || !canLiteral(auth.url)) return undefined;
  if (auth.signin !== undefined && (!AUTH_URL.test(auth.signin) || !canLiteral(auth.signin))) return undefined;
  if (!auth.responseHeaders.every(canHeaderName)) return undefined;
  return { url: auth.url, signin: auth.signin ?? '-', headers: auth.responseHeaders.length === 0 ? '-' : auth.responseHeaders.join(',') };
}

/** Route basic auth users the controller checks, by key (see {@link RouteAuthView}). */
export interface RouteAuthEntry {
  readonly key: string;
  readonly users: readonly HtpasswdUser[];
}

/** A map file of the rendering, as HaproxyBuild lists it. */
export interface PolicyMap {
  readonly path: string;
  readonly entries: readonly (readonly [string, string])[];
  readonly secret: boolean;
}

function warning(code: Diagnostic['code'], message: string, object: ObjectRef, field: string): Diagnostic {
  return { severity: 'warning', code, message, object, field };
}

/** A policy's view before it has an id: what tells two policies apart. */
type Draft = Omit<PolicyView, 'id' | 'auth'> & { readonly auth: AuthDraft | null };

/** A route basic auth before it has an id: its realm and users sorted by how HAProxy checks them. */
interface AuthDraft {
  readonly realm: string;
  readonly crypt: readonly { readonly user: string; readonly hash: string }[];
  readonly sha: readonly (readonly [string, string])[];
  readonly external: readonly HtpasswdUser[];
}

/** What the policies of a rendering share: their ids, userlists, maps and the controller-checked users. */
export class PolicyRegistry {
  readonly views: PolicyView[] = [];
  readonly maps: PolicyMap[] = [];
  readonly routeAuth: RouteAuthEntry[] = [];
  readonly diagnostics: Diagnostic[] = [];
  readonly #ids = new Map<string, string>();
  readonly #reported = new Set<string>();
  readonly #workDir: string;
  /** Whether the model has a TLS entry point (ssl-redirect has somewhere to go). */
  readonly #https: boolean;
  /** The HAProxy backend of a model backend id (a canary's), or its variant with these upstream settings. */
  readonly #backendFor: (id: string, upstream: UpstreamView | null) => string;

  constructor(workDir: string, https: boolean, backendFor: (id: string, upstream: UpstreamView | null) => string) {
    this.#workDir = workDir;
    this.#https = https;
    this.#backendFor = backendFor;
  }

  /** The policies in a stable order (by id), whatever the order of the routes that use them. */
  sorted(): PolicyView[] {
    return [...this.views].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * What the routing map says of a route besides its backend: the id of its policy (`p` and a
   * digest; none when it renders nothing), and its ssl-redirect status, which constant rules of the
   * plain HTTP frontends read from the map, so that the most common policy needs no rule of its own.
   */
  routeValue(route: Route): { readonly id: string | undefined; readonly sslRedirect: number | undefined; readonly upstream: UpstreamView | null } {
    const policy = route.policy;
    if (policy === undefined) return { id: undefined, sslRedirect: undefined, upstream: null };
    const upstream = upstreamView(route);
    const draft = this.#draft(route, policy, upstream);
    // Denied and redirected routes answer before ssl-redirect would.
    const answers = policy.denied !== undefined || policy.internalError !== undefined || policy.redirect !== undefined || policy.wwwRedirect !== undefined || (draft !== undefined && draft.denied !== null);
    const sslRedirect = policy.sslRedirect !== undefined && this.#https && !answers ? policy.sslRedirect.status : undefined;
    return { id: draft === undefined ? undefined : this.#idOf(route, draft), sslRedirect, upstream: upstream ?? null };
  }

  #idOf(route: Route, draft: Draft): string {
    // Limits count per Ingress (as ingress-nginx's zones): the same numbers elsewhere get their own tables.
    const scope = draft.rate !== null || draft.connections !== null ? `${route.source.namespace ?? ''}/${route.source.name}` : '';
    // A policy without canary, www redirect, regex rewrite, header add/remove, mirror, backend headers, split or a 500 answer keeps the id it had before they rendered.
    const { canary, wwwRedirect, regexRewrite, externalAuth, requestRemove, requestAdd, responseRemove, responseAdd, deniedStatus, mirror, backendHeaders: byBackend, split, ...rest } = draft;
    // A canary's or main backend's changes (no split range) keep the key they had before splits rendered.
    const backendHeaders = byBackend.map(({ split: range, ...b }) => (range === null ? b : { ...b, split: range }));
    const headerLists = { requestRemove, requestAdd, responseRemove, responseAdd, mirror, backendHeaders };
    const changes = Object.fromEntries(Object.entries(headerLists).filter(([, list]) => list.length > 0));
    const later = { ...(wwwRedirect === null ? {} : { wwwRedirect }), ...(regexRewrite === null ? {} : { regexRewrite }), ...(externalAuth === null ? {} : { externalAuth }), ...changes, ...(deniedStatus === 503 ? {} : { deniedStatus }), ...(split === null ? {} : { split }) };
    const key = JSON.stringify(canary === null && Object.keys(later).length === 0 ? [rest, scope] : canary === null ? [rest, scope, later] : Object.keys(later).length === 0 ? [rest, scope, canary] : [rest, scope, canary, later]);
    const known = this.#ids.get(key);
    if (known !== undefined) return known;
    // Named by a digest of what it renders: a policy keeps its id (and the configuration its text)
    // whatever routes come and go, so that route changes stay runtime map updates.
    let id = `p${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
    for (let n = 2; this.views.some((v) => v.id === id); n++) id = `${id.slice(0, 13)}_${n}`;
    this.#ids.set(key, id);
    this.views.push({
      ...draft,
      id,
      rate: draft.rate === null ? null : { ...draft.rate, table: `pass_rate_${id}` },
      connections: draft.connections === null ? null : { ...draft.connections, table: `pass_conn_${id}` },
      auth: draft.auth === null ? null : this.#authView(id, draft.auth),
    });
    return id;
  }

  #authView(id: string, a: AuthDraft): RouteAuthView {
    let shaMap: string | null = null;
    if (a.sha.length > 0) {
      const path = `auth/routes/${id}-sha.map`;
      this.maps.push({ path, entries: a.sha, secret: true });
      shaMap = `${this.#workDir}/${path}`;
    }
    // Named by a digest of the users: a name always means the same users, whatever the rendering.
    const key = `route.${createHash('sha256').update(JSON.stringify(a.external)).digest('hex').slice(0, 20)}`;
    let externalMap: string | null = null;
    if (a.external.length > 0) {
      const path = `auth/routes/${id}-controller.map`;
      this.maps.push({ path, entries: a.external.map((u) => [u.user, key] as const), secret: false });
      externalMap = `${this.#workDir}/${path}`;
      if (!this.routeAuth.some((e) => e.key === key)) this.routeAuth.push({ key, users: a.external });
    }
    return { userlist: `rul_${id}`, realm: a.realm, cryptUsers: a.crypt, shaMap, externalMap, key };
  }

  /** A warning once per route and message. */
  #report(route: Route, code: Diagnostic['code'], message: string): void {
    const key = `${route.source.namespace ?? ''}/${route.source.name} ${route.field} ${code} ${message}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.diagnostics.push(warning(code, message, route.source, route.field));
  }

  #deny(reason: string): Draft {
    const body = `Service Unavailable: ${reason}`;
    return { ...EMPTY, denied: canText(body) ? body : `Service Unavailable: ${UNRENDERABLE.denied}` };
  }

  #internalError(reason: string): Draft {
    const body = `Internal Server Error: ${reason}`;
    return { ...EMPTY, denied: canText(body) ? body : 'Internal Server Error', deniedStatus: 500 };
  }

  /** What HAProxy cannot render answers 503 rather than serve the route without it; reported once per route. */
  #refuse(route: Route, reason: string): Draft {
    this.#report(route, 'PASS_POLICY_NOT_IN_MODE', `${reason}; the route answers 503`);
    return this.#deny(reason);
  }

  #draft(route: Route, policy: RoutePolicy, upstream: UpstreamView | null | undefined): Draft | undefined {
    if (policy.denied !== undefined) return this.#deny(policy.denied);
    if (policy.internalError !== undefined) return this.#internalError(policy.internalError);
    // Never served open: what cannot be written answers 503.
    const externalAuth = policy.externalAuth === undefined ? null : (externalAuthView(policy.externalAuth) ?? undefined);
    if (externalAuth === undefined) return this.#refuse(route, UNRENDERABLE.externalAuth);
    if (policy.redirect !== undefined) {
      if (!canText(policy.redirect.url)) return this.#refuse(route, UNRENDERABLE.redirectUrl);
      return { ...EMPTY, redirect: { location: policy.redirect.url, code: policy.redirect.status } };
    }
    if (policy.wwwRedirect !== undefined) {
      const w = policy.wwwRedirect;
      if ((w.host !== undefined && !isPlainHost(w.host)) || (w.port !== undefined && !(Number.isInteger(w.port) && w.port > 0 && w.port < 65536))) return this.#refuse(route, UNRENDERABLE.wwwRedirect);
      if (w.path === undefined) return { ...EMPTY, wwwRedirect: w };
      // The Location's path as the route's rewrite would give it: its own path, or a prefix and the rest.
      const parts = rewriteParts(w.path, route);
      if (parts === undefined || !canRoutePath(parts.whole) || !canRoutePath(parts.prefix)) return this.#refuse(route, UNRENDERABLE.wwwRedirect);
      return { ...EMPTY, wwwRedirect: { ...w, parts } };
    }
    if (upstream === undefined) return this.#refuse(route, UNRENDERABLE.upstream);
    if (policy.appRoot !== undefined && !canRoutePath(policy.appRoot)) return this.#refuse(route, UNRENDERABLE.appRoot);
    const regexRewrite = policy.rewrite?.kind === 'regex' ? (regexRewriteView(policy.rewrite) ?? undefined) : null;
    if (regexRewrite === undefined) return this.#refuse(route, UNRENDERABLE.regexRewrite);
    const rewrite = policy.rewrite?.kind === 'regex' ? null : rewriteView(route);
    if (rewrite === undefined) return this.#refuse(route, UNRENDERABLE.rewritePath);
    const requestHeaders: { name: string; value: string }[] = [];
    const vhost: [string, string][] = policy.upstream?.vhost === undefined ? [] : [['Host', policy.upstream.vhost]];
    // An empty value would be an empty word, which HAProxy's parser drops: refused rather than misread.
    for (const [name, value] of [...Object.entries(policy.headers?.request ?? {}), ...vhost]) {
      if (!canHeader(name) || !canText(value) || value === '') return this.#refuse(route, UNRENDERABLE.header);
      requestHeaders.push({ name, value });
    }
    const responseHeaders: { name: string; value: string }[] = [];
    for (const [name, value] of Object.entries(policy.headers?.response ?? {})) {
      if (!canHeader(name) || !canText(value) || value === '') return this.#refuse(route, UNRENDERABLE.header);
      responseHeaders.push({ name, value });
    }
    const requestAdd = headerList(policy.headers?.requestAdd);
    const responseAdd = headerList(policy.headers?.responseAdd);
    const requestRemove = policy.headers?.requestRemove ?? [];
    const responseRemove = policy.headers?.responseRemove ?? [];
    if (requestAdd === undefined || responseAdd === undefined || !requestRemove.every(canHeader) || !responseRemove.every(canHeader)) return this.#refuse(route, UNRENDERABLE.header);
    const cors = policy.cors === undefined ? null : (corsView(policy.cors) ?? undefined);
    if (cors === undefined) return this.#refuse(route, UNRENDERABLE.cors);
    const max = policy.limits?.maxBodyBytes;
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 0)) return this.#refuse(route, UNRENDERABLE.bodySize);
    const rps = policy.limits?.rps;
    const rate = rps === undefined ? null : (rateOf(rps) ?? undefined);
    const conns = policy.limits?.connections;
    if (rate === undefined || (conns !== undefined && (!Number.isInteger(conns) || conns < 1 || conns > INT_MAX))) return this.#refuse(route, UNRENDERABLE.limit);
    const read = policy.timeouts?.read;
    if (read !== undefined && (!Number.isInteger(read) || read < 1 || read > INT_MAX)) return this.#refuse(route, UNRENDERABLE.limit);
    const auth = policy.basicAuth === undefined ? null : this.#authDraft(route, policy.basicAuth);
    // An allowlist keeps only what HAProxy can read: an entry left out narrows it, never widens it.
    const allow = policy.allowSourceRange === undefined ? null : { ranges: policy.allowSourceRange.filter(canCidr) };
    const split = policy.split === undefined ? null : splitView(policy.split, (id) => this.#backendFor(id, upstream));
    // As in the native proxy: a split decides the backend whatever a canary would.
    const canary = policy.canary === undefined || split !== null ? null : this.#canaryView(policy.canary, upstream);
    const mirror = policy.mirror === undefined ? [] : this.#mirrorViews(route, policy.mirror);
    // As in a mode without canaries (or splits): the main backend serves every request (no access is lost).
    if (policy.canary !== undefined && canary === null && split === null) {
      this.#report(route, 'PASS_POLICY_NOT_IN_MODE', 'the canary header, header value, cookie or weight cannot be written into the HAProxy configuration; the main backend serves every request');
    }
    if (policy.split !== undefined && split === null) {
      this.#report(route, 'PASS_POLICY_NOT_IN_MODE', 'the split weights are not whole numbers HAProxy can draw from; the main backend serves every request');
    }
    const backendHeaders = this.#backendHeaders(route, policy, canary !== null, split);
    if (backendHeaders === undefined) return this.#refuse(route, UNRENDERABLE.header);
    const draft: Draft = {
      denied: null,
      deniedStatus: 503,
      redirect: null,
      wwwRedirect: null,
      appRoot: policy.appRoot ?? null,
      cors,
      rate: rate === null ? null : { table: '', ...rate },
      allow,
      auth,
      externalAuth,
      maxBody: max === undefined || max === 0 ? null : max,
      connections: conns === undefined ? null : { table: '', max: conns },
      rewrite,
      regexRewrite,
      serverTimeout: read ?? null,
      requestHeaders,
      responseHeaders,
      requestRemove,
      requestAdd,
      responseRemove,
      responseAdd,
      hsts: policy.hsts === undefined ? null : hstsValue(policy.hsts),
      judgesClient: allow !== null || rate !== null || conns !== undefined,
      canary,
      split,
      mirror,
      backendHeaders,
    };
    return JSON.stringify(draft) === JSON.stringify(EMPTY) ? undefined : draft;
  }

  /**
   * The header changes of the backends a request can go to: with a split rendered, each of its
   * backends' on its range of draws; else the route's own, and the canary's when it is rendered.
   * Undefined when one cannot be written.
   */
  #backendHeaders(route: Route, policy: RoutePolicy, canary: boolean, split: SplitView | null): BackendHeadersView[] | undefined {
    const by = policy.backendHeaders;
    if (by === undefined) return [];
    const out: BackendHeadersView[] = [];
    type Chosen = readonly [id: string, canary: boolean, range: SplitRangeView | null];
    const drawn = split === null || policy.split === undefined ? [] : policy.split.backends.filter((b) => b.weight > 0);
    const chosen: Chosen[] =
      split !== null
        ? split.backends.map((t, i): Chosen => [drawn[i]?.backend ?? '', false, { from: t.from, to: t.to }])
        : [[route.backend, false, null], ...(canary && policy.canary !== undefined ? [[policy.canary.backend, true, null] as Chosen] : [])];
    for (const [id, isCanary, range] of chosen) {
      const headers = by[id];
      if (headers === undefined) continue;
      const view = backendHeadersView(headers, isCanary, range);
      if (view === undefined) return undefined;
      if (view !== null) out.push(view);
    }
    return out;
  }

  /** A mirror's targets in HAProxy terms; a target without a backend section or with no share is left out (serving without a copy changes no answer). */
  #mirrorViews(route: Route, mirror: MirrorPolicy): MirrorTargetView[] {
    const out: MirrorTargetView[] = [];
    for (const t of mirror.targets) {
      const backend = this.#backendFor(t.backend, null);
      const share = Number.isFinite(t.percent) ? Math.round(t.percent * 100) : 0;
      if (backend === 'pass_unavailable' || share <= 0) {
        if (backend === 'pass_unavailable') this.#report(route, 'PASS_POLICY_NOT_IN_MODE', `the mirror backend ${t.backend} has no HAProxy backend; no copy is sent to it`);
        continue;
      }
      out.push({ backend, share: share >= 10_000 ? null : share });
    }
    return out;
  }

  /** A canary in HAProxy terms; null when its header, value or cookie cannot be written or its weight is not a whole percent. */
  #canaryView(canary: CanaryPolicy, upstream: UpstreamView | null): CanaryView | null {
    const { header, headerValue, cookie, weight } = canary;
    if (header !== undefined && !canHeaderName(header)) return null;
    if (header !== undefined && headerValue !== undefined && !canText(headerValue)) return null;
    if (cookie !== undefined && !canName(cookie)) return null;
    if (weight !== undefined && !(Number.isInteger(weight) && weight >= 0 && weight <= 100)) return null;
    return {
      // The canary's pods are reached as the route's (protocol, balance, affinity...).
      backend: this.#backendFor(canary.backend, upstream),
      header: header ?? null,
      headerValue: header === undefined ? null : (headerValue ?? null),
      cookie: cookie ?? null,
      weight: weight ?? 0,
    };
  }

  #authDraft(route: Route, auth: BasicAuthPolicy): AuthDraft {
    const crypt: { user: string; hash: string }[] = [];
    const sha: [string, string][] = [];
    const external: HtpasswdUser[] = [];
    const skipped: string[] = [];
    for (const u of auth.users) {
      if (!canUser(u.user)) skipped.push(u.user);
      else if (/^\$2[aby]\$\d\d\$[./0-9A-Za-z]{53}$/.test(u.hash)) crypt.push({ user: u.user, hash: u.hash });
      else if (/^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(u.hash)) sha.push([u.user, u.hash.slice(5)]);
      // HAProxy's crypt(3) has no $apr1$ (Apache MD5): the controller checks those, and any other hash.
      else external.push({ user: u.user, hash: u.hash });
    }
    if (skipped.length > 0) {
      this.#report(route, 'PASS_HAPROXY_AUTH_USER', `users ${skipped.map((u) => JSON.stringify(u)).join(', ')} of the basic-auth Secret ${auth.secret} have characters HAProxy cannot hold in a userlist; they cannot log in`);
    }
    // WWW-Authenticate carries the realm in a quoted string that HAProxy does not escape.
    let realm = auth.realm;
    if (!canText(realm) || /["\\]/.test(realm)) {
      this.#report(route, 'PASS_HAPROXY_AUTH_REALM', `the realm of the basic-auth Secret ${auth.secret} has characters HAProxy cannot quote; "passerelle" is used`);
      realm = 'passerelle';
    }
    return { realm, crypt, sha, external };
  }
}

/** A policy that renders nothing. */
const EMPTY: Draft = {
  denied: null,
  deniedStatus: 503,
  redirect: null,
  wwwRedirect: null,
  appRoot: null,
  cors: null,
  rate: null,
  allow: null,
  auth: null,
  externalAuth: null,
  maxBody: null,
  connections: null,
  rewrite: null,
  regexRewrite: null,
  serverTimeout: null,
  requestHeaders: [],
  responseHeaders: [],
  requestRemove: [],
  requestAdd: [],
  responseRemove: [],
  responseAdd: [],
  hsts: null,
  judgesClient: false,
  canary: null,
  split: null,
  mirror: [],
  backendHeaders: [],
};
