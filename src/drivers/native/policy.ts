/*
 * The per-route policies of src/model/policy.ts in the native proxy: compiled once per
 * configuration, run per request after routing, in ingress-nginx's phase order: answers of the
 * rewrite phase (from-to-www, redirects, app-root), then access (allowlist, basic auth; the
 * external authentication, asynchronous, follows in proxy.ts and external-auth.ts), then limits,
 * then the changes to the upstream request and to the answer.
 */

import type { BlockList } from 'node:net';
import { isIP, isIPv4 } from 'node:net';
import { defined } from '../../shared/optional.ts';
import { normalizeHost, pathRegex } from '../../model/match.ts';
import { redirectLocation, redirectParts } from '../../model/redirect.ts';
import { rewrittenPath } from '../../model/rewrite.ts';
import type { RewritePolicy, RoutePolicy, WwwRedirectPolicy } from '../../model/policy.ts';
import { publicPortOf } from '../../model/types.ts';
import type { Route, RoutingModel } from '../../model/types.ts';
import type { BasicAuthCache, CompiledBasicAuth, Verdict } from './middlewares.ts';
import { checkBasicAuth, compileMiddlewares } from './middlewares.ts';
import { addressList } from './addresses.ts';
import { LimitTable, sharedClock } from './limit-table.ts';
import { dropNames } from './headers.ts';

/** A route's policy, ready for the request path. */
export interface CompiledPolicy {
  readonly policy: RoutePolicy;
  readonly denied?: Verdict;
  /** ssl-redirect: the https port clients reach (the first TLS entry point's public port). */
  readonly sslRedirect?: { readonly status: number; readonly port: number };
  readonly allow?: BlockList;
  readonly auth?: CompiledBasicAuth;
  /** Flat `[name, value, ...]` set on every answer of the route; HSTS only over TLS. */
  readonly responseHeaders: readonly string[];
  /** The answer's headers removed (before the set ones) and added (after), from the route's header policy. */
  readonly responseEdit?: HeaderEdit;
  /** The same for the request to the backend (its `set` ones included). */
  readonly requestEdit?: HeaderEdit;
  /** The lower-case names of `requestEdit.set`: computed once per configuration, not per request. */
  readonly requestSetNames?: readonly string[];
  readonly hsts?: string;
  readonly cors?: CompiledCors;
  /** `limits.rps` per client address (token bucket, burst 5× as ingress-nginx). */
  readonly rate?: RateLimiter;
  /** `limits.connections`: requests in progress per client address. */
  readonly concurrency?: ConcurrencyLimiter;
  /** The path a redirect with a path (`wwwRedirect.path`) sends a normalised request path to. */
  readonly redirectPath?: (path: string) => string;
  /** Header changes by the backend chosen (`backendHeaders`), by backend id. */
  readonly backendEdits?: ReadonlyMap<string, BackendEdit>;
}

/** One backend's header changes, applied after the route's: on the request, and on the answer (its set ones included). */
export interface BackendEdit {
  readonly request?: HeaderEdit;
  readonly requestSetNames: readonly string[];
  readonly response?: HeaderEdit;
}

/** Header changes in the policy's order: `remove` (lower-case names), then `set` (flat), then `add` (flat). */
export interface HeaderEdit {
  readonly remove: readonly string[];
  readonly set: readonly string[];
  readonly add: readonly string[];
}

/** The edit of one side of a header policy; undefined when it changes nothing. */
function headerEdit(remove: readonly string[] | undefined, set: Readonly<Record<string, string>> | undefined, add: Readonly<Record<string, string>> | undefined): HeaderEdit | undefined {
  if (remove === undefined && set === undefined && add === undefined) return undefined;
  return { remove: remove ?? [], set: Object.entries(set ?? {}).flat(), add: Object.entries(add ?? {}).flat() };
}

/** Applies a request edit in place (remove, set, add): `out` is what goes upstream. */
export function applyRequestEdit(out: string[], edit: HeaderEdit, setNames: readonly string[]): void {
  if (edit.remove.length !== 0) dropNames(out, edit.remove);
  if (edit.set.length !== 0) {
    dropNames(out, setNames);
    out.push(...edit.set);
  }
  out.push(...edit.add);
}

/**
 * An answer's extra (set) headers and edit followed by a second edit, as one: what the second
 * removes or sets leaves the first's set and added lines out.
 */
export function thenEdit(extra: readonly string[] | undefined, edit: HeaderEdit | undefined, next: HeaderEdit): { readonly extra: readonly string[]; readonly edit: HeaderEdit } {
  const replaced = new Set([...next.remove, ...next.set.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())]);
  const keep = (flat: readonly string[]): string[] => {
    const out: string[] = [];
    for (let i = 0; i < flat.length; i += 2) if (!replaced.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
    return out;
  };
  return {
    extra: [...keep(extra ?? []), ...next.set],
    edit: { remove: [...new Set([...(edit?.remove ?? []), ...next.remove])], set: [], add: [...keep(edit?.add ?? []), ...next.add] },
  };
}

/**
 * Flat headers after an edit: the removed names gone, a set name's lines replaced by its one line,
 * the added lines after the others. Returns `headers` itself when the edit is empty.
 */
export function editHeaders(headers: string[], edit: HeaderEdit): string[] {
  let out = headers;
  if (edit.remove.length !== 0) {
    out = [];
    for (let i = 0; i < headers.length; i += 2) if (!edit.remove.includes(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  out = setHeaders(out, edit.set);
  return edit.add.length === 0 ? out : [...out, ...edit.add];
}

/**
 * An upstream answer's headers for the client: the route's response edit's removals first, then its
 * set headers with `extra` (CORS, HSTS, affinity), then its added lines.
 */
export function responseHeaders(headers: string[], extra: readonly string[] | undefined, edit: HeaderEdit | undefined): string[] {
  if (edit === undefined) return extra === undefined ? headers : setHeaders(headers, extra);
  return editHeaders(headers, { remove: edit.remove, set: extra ?? [], add: edit.add });
}

/** CORS answers, precomputed. */
export interface CompiledCors {
  /** undefined: any origin (`*`). */
  readonly origins: ReadonlySet<string> | undefined;
  /** Origin patterns (`scheme://*.domain[:port]`) as regexes. */
  readonly patterns: readonly RegExp[];
  /** Any origin, answered by name rather than `*`. */
  readonly echoOrigin: boolean;
  readonly credentials: boolean;
  /** Headers of every CORS answer except the origin (flat). */
  readonly common: readonly string[];
  /** Extra headers of a preflight answer (flat). */
  readonly preflight: readonly string[];
  readonly echoMethods: boolean;
  readonly echoHeaders: boolean;
}

/** What a preflight asks for (Access-Control-Request-Method and -Headers). */
export interface CorsAsk {
  readonly method: string | undefined;
  readonly headers: string | undefined;
}

/** A token bucket per client address: `rps` per second, `burst` at once, kept in a {@link LimitTable} (shared by the worker threads). */
export class RateLimiter {
  readonly #rps: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #table: LimitTable;
  readonly #prefix: string;

  /** `prefix` names the limit in the table (a route: the same one in every thread). */
  constructor(rps: number, burst: number, now: () => number = sharedClock, table: LimitTable = new LimitTable(1024), prefix = '') {
    this.#rps = rps;
    this.#burst = burst;
    this.#now = now;
    this.#table = table;
    this.#prefix = `${prefix}\0r\0`;
  }

  /** Takes a token for this client; false when it has none left. */
  take(client: string): boolean {
    return this.#table.take(this.#prefix + client, this.#rps, this.#burst, this.#now());
  }
}

/** Requests in progress per client address, at most `max`, kept in a {@link LimitTable} (shared by the worker threads). */
export class ConcurrencyLimiter {
  readonly #max: number;
  readonly #table: LimitTable;
  readonly #prefix: string;

  constructor(max: number, table: LimitTable = new LimitTable(1024), prefix = '') {
    this.#max = max;
    this.#table = table;
    this.#prefix = `${prefix}\0c\0`;
  }

  /** Counts a request of this client in; false (and nothing counted) when it already has `max`. */
  acquire(client: string): boolean {
    return this.#table.acquire(this.#prefix + client, this.#max);
  }

  release(client: string): void {
    this.#table.release(this.#prefix + client);
  }
}

/** An origin pattern `scheme://*.domain[:port]` as a regex: one or more labels for the `*`, the port as written. */
function originPattern(pattern: string): RegExp {
  const [scheme = '', rest = ''] = pattern.split('://*.');
  return new RegExp(`^${scheme}://([a-z0-9-]+\\.)+${rest.replace(/[.]/g, '\\.')}$`, 'i');
}

function compileCors(c: NonNullable<RoutePolicy['cors']>): CompiledCors {
  const any = c.allowOrigins.includes('*');
  const common = [
    ...(c.allowCredentials ? ['access-control-allow-credentials', 'true'] : []),
    ...(c.allowMethods.length === 0 ? [] : ['access-control-allow-methods', c.allowMethods.join(', ')]),
    ...(c.allowHeaders.length === 0 ? [] : ['access-control-allow-headers', c.allowHeaders.join(', ')]),
    ...(c.exposeHeaders === undefined ? [] : ['access-control-expose-headers', c.exposeHeaders.join(', ')]),
  ];
  return {
    origins: any ? undefined : new Set(c.allowOrigins),
    patterns: (c.originPatterns ?? []).map(originPattern),
    echoOrigin: c.echoOrigin === true,
    credentials: c.allowCredentials,
    common,
    preflight: ['access-control-max-age', String(c.maxAgeSeconds)],
    echoMethods: c.echoMethods === true,
    echoHeaders: c.echoHeaders === true,
  };
}

/** The CORS headers for a request's Origin (none when the origin is not allowed); `ask`: a preflight's. */
export function corsHeaders(cors: CompiledCors, origin: string | undefined, ask?: CorsAsk): string[] {
  let allow: string | undefined;
  if (cors.origins === undefined) allow = cors.echoOrigin ? origin : '*';
  else if (origin !== undefined && (cors.origins.has(origin) || cors.patterns.some((p) => p.test(origin)))) allow = origin;
  if (allow === undefined) return [];
  const asked = ask === undefined ? [] : [...(cors.echoMethods && ask.method !== undefined ? ['access-control-allow-methods', ask.method] : []), ...(cors.echoHeaders && ask.headers !== undefined ? ['access-control-allow-headers', ask.headers] : [])];
  return ['access-control-allow-origin', allow, ...(allow === '*' ? [] : ['vary', 'Origin']), ...cors.common, ...(ask === undefined ? [] : [...cors.preflight, ...asked])];
}

const TEXT = 'text/plain; charset=utf-8';

/** Regex rewrites compiled once: keyed by the model's rewrite object, so they go with their model. */
const REWRITE_REGEX = new WeakMap<RewritePolicy, RegExp>();

function rewriteRegex(rw: Extract<RewritePolicy, { kind: 'regex' }>): RegExp {
  let re = REWRITE_REGEX.get(rw);
  if (re === undefined) {
    re = pathRegex(rw.pattern);
    REWRITE_REGEX.set(rw, re);
  }
  return re;
}

/**
 * Compiles a route's policy against the model (the https entry point for ssl-redirect); its limits
 * count in `limits` under the route's name, so every worker thread counts in the same place.
 */
export function compilePolicy(policy: RoutePolicy, model: RoutingModel, limits: LimitTable = new LimitTable(1024), route = '', modelRoute?: Pick<Route, 'path' | 'pathType'>): CompiledPolicy {
  if (policy.rewrite?.kind === 'regex') rewriteRegex(policy.rewrite);
  const tls = model.entryPoints.find((ep) => ep.tls);
  const auth = policy.basicAuth === undefined ? undefined : compileMiddlewares([{ kind: 'basicAuth', realm: policy.basicAuth.realm, users: policy.basicAuth.users, removeHeader: true }])[0];
  const hp = policy.headers;
  // The answer's set headers stay in responseHeaders (with CORS and HSTS); its remove and add go to responseEdit.
  const responseHeaders = Object.entries(hp?.response ?? {}).flat();
  const responseEdit = hp?.responseRemove === undefined && hp?.responseAdd === undefined ? undefined : headerEdit(hp.responseRemove, undefined, hp.responseAdd);
  const hsts = policy.hsts === undefined ? undefined : `max-age=${policy.hsts.maxAgeSeconds}${policy.hsts.includeSubdomains ? '; includeSubDomains' : ''}${policy.hsts.preload ? '; preload' : ''}`;
  const redirectPath = policy.wwwRedirect?.path;
  return {
    policy,
    responseHeaders,
    ...defined({
      // A redirect's path is its route's rewrite of the request path (a Prefix route "/" when compiled without one).
      redirectPath: redirectPath === undefined ? undefined : (path: string): string => rewrittenPath(redirectPath, modelRoute ?? { path: '/', pathType: 'Prefix' }, path) ?? path,
      responseEdit,
      requestEdit: headerEdit(hp?.requestRemove, hp?.request, hp?.requestAdd),
      requestSetNames: hp?.request === undefined ? undefined : Object.keys(hp.request).map((n) => n.toLowerCase()),
      backendEdits:
        policy.backendHeaders === undefined
          ? undefined
          : new Map(
              Object.entries(policy.backendHeaders).map(([id, b]): [string, BackendEdit] => [
                id,
                { ...defined({ request: headerEdit(b.requestRemove, b.request, b.requestAdd), response: headerEdit(b.responseRemove, b.response, b.responseAdd) }), requestSetNames: Object.keys(b.request ?? {}).map((n) => n.toLowerCase()) },
              ]),
            ),
      denied:
        policy.denied !== undefined ? { status: 503, headers: { 'content-type': TEXT }, body: `Service Unavailable: ${policy.denied}\n` }
        : policy.internalError !== undefined ? { status: 500, headers: { 'content-type': TEXT }, body: `Internal Server Error: ${policy.internalError}\n` }
        : undefined,
      sslRedirect: policy.sslRedirect === undefined || tls === undefined ? undefined : { status: policy.sslRedirect.status, port: publicPortOf(tls) },
      allow: addressList(policy.allowSourceRange),
      auth: auth?.kind === 'basicAuth' ? auth : undefined,
      hsts,
      cors: policy.cors === undefined ? undefined : compileCors(policy.cors),
      rate: policy.limits?.rps === undefined ? undefined : new RateLimiter(policy.limits.rps, policy.limits.rps * 5, sharedClock, limits, route),
      concurrency: policy.limits?.connections === undefined ? undefined : new ConcurrencyLimiter(policy.limits.connections, limits, route),
    }),
  };
}

/** What a request brings to its route's policy. */
export interface PolicyRequest {
  readonly tls: boolean;
  /** The public port of the entry point the request came in on (from-to-www-redirect keeps it); absent: the scheme's default. */
  readonly publicPort?: number;
  readonly host: string;
  /** Normalised path (routing's). */
  readonly path: string;
  /** Path and query as the backend would receive them. */
  readonly target: string;
  /** The client's address, after the entry point's trusted proxies. */
  readonly client: string;
  readonly authorization: string | undefined;
  /** The Content-Length of the request, when it has one. */
  readonly contentLength: number | undefined;
  readonly method: string;
  readonly origin: string | undefined;
  /** A CORS preflight's Access-Control-Request-Method and -Headers (read for routes whose CORS echoes them). */
  readonly corsAsk?: CorsAsk;
}

function redirect(status: number, location: string): Verdict {
  return { status, headers: { location, 'content-type': TEXT }, body: `Redirecting to ${location}\n` };
}

/**
 * Runs the answering part of a policy.
 * @returns the answer to send instead of proxying, or undefined to proxy.
 */
export function runPolicy(p: CompiledPolicy, req: PolicyRequest, cache: BasicAuthCache): Verdict | undefined {
  if (p.denied !== undefined) return p.denied;
  const policy = p.policy;
  if (policy.wwwRedirect !== undefined) {
    const target = p.redirectPath === undefined ? req.target : p.redirectPath(req.path) + req.target.slice(req.path.length);
    return redirect(policy.wwwRedirect.status, wwwLocation(policy.wwwRedirect, { ...req, target }));
  }
  if (policy.redirect !== undefined) return redirect(policy.redirect.status, policy.redirect.url);
  if (p.sslRedirect !== undefined && !req.tls) {
    const location = redirectLocation({ kind: 'redirect', entryPoint: '', scheme: 'https', port: p.sslRedirect.port, status: 308 }, normalizeHost(req.host), req.target);
    return redirect(p.sslRedirect.status, location);
  }
  if (policy.appRoot !== undefined && req.path === '/') return redirect(302, `${req.tls ? 'https' : 'http'}://${req.host}${policy.appRoot}`);
  // A CORS preflight is answered before access checks: browsers send it without credentials.
  if (p.cors !== undefined && req.method === 'OPTIONS' && req.origin !== undefined) {
    return { status: 204, headers: { ...pairs(corsHeaders(p.cors, req.origin, req.corsAsk ?? { method: undefined, headers: undefined })), 'content-type': TEXT, 'content-length': '0' }, body: '' };
  }
  // ingress-nginx answers its limits with 503 (limit-req-status-code, limit-conn-status-code).
  if (p.rate !== undefined && !p.rate.take(req.client)) return { status: 503, headers: { 'content-type': TEXT }, body: 'Service Unavailable: request rate limit\n' };
  if (p.allow !== undefined && !p.allow.check(req.client, isIPv4(req.client) ? 'ipv4' : 'ipv6')) {
    return { status: 403, headers: { 'content-type': TEXT }, body: 'Forbidden\n' };
  }
  if (p.auth !== undefined && !checkBasicAuth(p.auth, req.authorization, cache)) return p.auth.challenge;
  const max = policy.limits?.maxBodyBytes;
  if (max !== undefined && max > 0 && req.contentLength !== undefined && req.contentLength > max) {
    return { status: 413, headers: { 'content-type': TEXT, connection: 'close' }, body: 'Request Entity Too Large\n' };
  }
  return undefined;
}

/**
 * Where a from-to-www-redirect or Gateway API RequestRedirect sends a request (`redirectParts`): its
 * scheme, host and port, the request's when not set, the path and query kept.
 */
export function wwwLocation(policy: WwwRedirectPolicy, req: Pick<PolicyRequest, 'tls' | 'publicPort' | 'host' | 'target'>): string {
  const { scheme, port } = redirectParts(policy, req.tls, req.publicPort ?? (req.tls ? 443 : 80));
  // normalizeHost keeps an IPv6 literal's brackets.
  return `${scheme}://${policy.host ?? normalizeHost(req.host)}${port === undefined ? '' : `:${port}`}${req.target}`;
}

/** The target the backend receives under the route's rewrite (the query kept). */
export function rewriteTarget(policy: RoutePolicy, route: Route, path: string, target: string): string {
  const rw = policy.rewrite;
  if (rw === undefined) return target;
  const query = target.slice(path.length);
  if (rw.kind !== 'regex') return `${rewrittenPath(rw, route, path) ?? path}${query}`;
  // As nginx's `rewrite "(?i)^pattern" target`: the whole path becomes the target, $1..$9 its groups (empty when unset).
  const m = rewriteRegex(rw).exec(path);
  if (m === null) return target;
  return rw.target.replace(/\$([1-9])/g, (_, d: string) => m[Number(d)] ?? '') + query;
}

/** The answer's extra headers for a request through a TLS entry point or not, with its Origin. */
export function responseHeadersFor(p: CompiledPolicy, tls: boolean, origin?: string): readonly string[] {
  const cors = p.cors === undefined ? [] : corsHeaders(p.cors, origin);
  if ((p.hsts === undefined || !tls) && cors.length === 0) return p.responseHeaders;
  return [...p.responseHeaders, ...cors, ...(p.hsts === undefined || !tls ? [] : ['strict-transport-security', p.hsts])];
}

function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/**
 * The client a policy judges: the peer, or, when the peer is a trusted proxy, the right-most address
 * of X-Forwarded-For that is not one (what the peer chain vouches for).
 */
export function policyClient(trusted: BlockList | undefined, peer: string, xForwardedFor: string | undefined): string {
  const family = (ip: string): 'ipv4' | 'ipv6' => (isIPv4(ip) ? 'ipv4' : 'ipv6');
  if (trusted === undefined || xForwardedFor === undefined || !trusted.check(peer, family(peer))) return peer;
  const hops = xForwardedFor.split(',').map((s) => s.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] ?? '';
    if (isIP(hop) === 0) return peer;
    if (!trusted.check(hop, family(hop))) return hop;
  }
  return hops[0] ?? peer;
}

/** Flat headers with `extra` set: a name of `extra` replaces the same name in `headers` (Set-Cookie adds). */
export function setHeaders(headers: string[], extra: readonly string[]): string[] {
  if (extra.length === 0) return headers;
  const names = new Set<string>();
  // Set-Cookie is a list of cookies: one more is added, the upstream's are kept.
  for (let i = 0; i < extra.length; i += 2) if (extra[i]!.toLowerCase() !== 'set-cookie') names.add(extra[i]!.toLowerCase());
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  out.push(...extra);
  return out;
}

/** The value of one cookie of a Cookie header, if present. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie of session affinity to an endpoint (ingress-nginx's: HttpOnly, the route's path). */
export function affinityCookie(affinity: NonNullable<NonNullable<RoutePolicy['upstream']>['affinity']>, id: string, path: string): string {
  const age = affinity.maxAgeSeconds === undefined ? '' : `; Max-Age=${affinity.maxAgeSeconds}`;
  const site = affinity.sameSite === undefined ? '' : `; SameSite=${affinity.sameSite}${affinity.sameSite === 'None' ? '; Secure' : ''}`;
  return `${affinity.cookie}=${id}; Path=${path}${age}${site}; HttpOnly`;
}

/**
 * Whether a request goes to the route's canary, in ingress-nginx's order: the header (`always`, `never`,
 * or with canary-by-header-value that value), then the cookie (`always` / `never`), then the weight.
 * `random` is in [0, 100).
 */
export function choosesCanary(canary: NonNullable<RoutePolicy['canary']>, header: (name: string) => string | undefined, cookieHeader: string | undefined, random: number): boolean {
  if (canary.header !== undefined) {
    const value = header(canary.header);
    if (canary.headerValue !== undefined) {
      if (value === canary.headerValue) return true;
    } else if (value === 'always') return true;
    else if (value === 'never') return false;
  }
  if (canary.cookie !== undefined) {
    const value = cookieValue(cookieHeader, canary.cookie);
    if (value === 'always') return true;
    if (value === 'never') return false;
  }
  return canary.weight !== undefined && random < canary.weight;
}

/** The backend of a split for `random` in [0, 1): each with probability weight / sum of weights. */
export function pickSplit(split: NonNullable<RoutePolicy['split']>, random: number): string {
  const list = split.backends;
  let total = 0;
  for (const b of list) total += b.weight;
  let at = random * total;
  for (const b of list) {
    if (at < b.weight) return b.backend;
    at -= b.weight;
  }
  return list[list.length - 1]?.backend ?? '';
}
