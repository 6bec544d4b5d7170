import type { Backend, HostKind, PathType, Route, RouteConditions, RoutingModel, ValueCondition, VirtualHost } from './types.ts';

/**
 * Lower-cases a Host header (or SNI name) and drops its port and trailing dot.
 * `[::1]:8080` gives `[::1]`.
 */
export function normalizeHost(hostHeader: string): string {
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** Whether a virtual host pattern matches a normalised host: `*.a.b` matches exactly one more label (suffix: one or more). */
export function hostMatches(pattern: { readonly host: string; readonly kind: HostKind }, host: string): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'exact':
      return pattern.host === host;
    case 'wildcard': {
      const suffix = pattern.host.slice(1); // ".a.b"
      if (!host.endsWith(suffix)) return false;
      const label = host.slice(0, host.length - suffix.length);
      return label.length > 0 && !label.includes('.');
    }
    case 'suffix':
      return host.length > pattern.host.length - 1 && host.endsWith(pattern.host.slice(1));
  }
}

/**
 * The virtual host for a normalised host: an exact name first, then the most specific matching
 * `*.domain` (the longest pattern; a one-label `wildcard` or a one-or-more-label `suffix`), then `*`.
 * Among equal patterns the first in the list wins.
 */
export function selectVirtualHost(vhosts: readonly VirtualHost[], host: string): VirtualHost | undefined {
  let wildcard: VirtualHost | undefined;
  let any: VirtualHost | undefined;
  for (const v of vhosts) {
    if (v.kind === 'exact') {
      if (v.host === host) return v;
    } else if (v.kind === 'any') {
      any ??= v;
    } else if ((wildcard === undefined || v.host.length > wildcard.host.length) && hostMatches(v, host)) {
      wildcard = v;
    }
  }
  return wildcard ?? any;
}

/** Prefix paths drop their trailing slashes (`/` stays `/`); Exact and Regex paths are kept as written. */
export function normalizeRulePath(path: string, pathType: PathType): string {
  if (pathType !== 'Prefix') return path;
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/**
 * The RegExp of a Regex route's pattern (validated by `regexPathProblem`): case-insensitive and
 * anchored at the start of the path as a whole (`^(?:a|b)`, so a top-level `|` never unanchors).
 */
export function pathRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})`, 'i');
}

/** Compiled patterns for {@link pathMatches}; bounded, since patterns come from the cluster. */
const REGEX_CACHE = new Map<string, RegExp>();

function cachedRegex(pattern: string): RegExp {
  let re = REGEX_CACHE.get(pattern);
  if (re === undefined) {
    if (REGEX_CACHE.size >= 1024) REGEX_CACHE.clear();
    re = pathRegex(pattern);
    REGEX_CACHE.set(pattern, re);
  }
  return re;
}

/**
 * Path matching on the request path (no query): Exact is a case-sensitive string compare; Prefix
 * matches element-wise on `/` (`/foo` matches `/foo`, `/foo/`, `/foo/bar`, not `/foobar`); Regex is
 * its pattern, case-insensitive, from the start of the path (`/foo` also matches `/FOObar`).
 */
export function pathMatches(route: { readonly path: string; readonly pathType: PathType }, path: string): boolean {
  switch (route.pathType) {
    case 'Exact':
      return route.path === path;
    case 'Regex':
      return cachedRegex(route.path).test(path);
    case 'Prefix':
      if (route.path === '/') return path.startsWith('/');
      return path === route.path || path.startsWith(`${route.path}/`);
  }
}

/** Exact routes first, then Regex, then Prefix: the order of nginx (`=`, then regexes, then prefixes). */
const TYPE_ORDER: Readonly<Record<PathType, number>> = { Exact: 0, Regex: 1, Prefix: 2 };

/**
 * Match order: Exact routes, then Regex routes, then Prefix routes; within each, the longest path
 * first (ingress-nginx orders regex locations by length), then by path text for stability. An Exact
 * route ahead of a longer Prefix changes nothing: a Prefix longer than a path never matches it.
 * Routes of the same path and type (Gateway API precedence): one with a method condition first, then
 * the one with more header conditions, then more query conditions; equal ones keep their order (the
 * sort is stable: translate's order, oldest HTTPRoute first, then rule and match order).
 */
export function compareRoutes(a: Route, b: Route): number {
  if (a.pathType !== b.pathType) return TYPE_ORDER[a.pathType] - TYPE_ORDER[b.pathType];
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  return compareConditions(a.conditions, b.conditions);
}

/** Gateway API precedence of conditions on one path: a method first, then more headers, then more query parameters. */
export function compareConditions(a: RouteConditions | undefined, b: RouteConditions | undefined): number {
  const am = a?.method === undefined ? 1 : 0;
  const bm = b?.method === undefined ? 1 : 0;
  if (am !== bm) return am - bm;
  const ah = a?.headers?.length ?? 0;
  const bh = b?.headers?.length ?? 0;
  if (ah !== bh) return bh - ah;
  return (b?.query?.length ?? 0) - (a?.query?.length ?? 0);
}

/** A stable text of a route's conditions: equal texts, equal conditions (conflict checks of translate). */
export function conditionsKey(c: RouteConditions | undefined): string {
  if (c === undefined) return '';
  const values = (list: readonly ValueCondition[] | undefined): string[] => (list ?? []).map((v) => `${v.name}\u0000${v.type}\u0000${v.value}`).sort();
  return JSON.stringify([c.method ?? '', values(c.headers), values(c.query)]);
}

/** Whether two routes match the same requests by their match alone: same path, path type and conditions. */
export function sameMatch(a: Route, b: Route): boolean {
  return a.path === b.path && a.pathType === b.pathType && conditionsKey(a.conditions) === conditionsKey(b.conditions);
}

/**
 * What a request brings to route conditions. `header` takes a lower-case name and gives the field
 * value (several lines of one header: their values joined with ", ", as Node reads them), undefined
 * when absent; `query` is the raw query string without its `?` ('' when none).
 */
export interface ConditionRequest {
  readonly method: string;
  header(name: string): string | undefined;
  readonly query: string;
}

/** A plain `GET` without headers or query: what a request is when only host and path are known. */
export const PLAIN_REQUEST: ConditionRequest = { method: 'GET', header: () => undefined, query: '' };

/**
 * The value of the first query parameter named `name` (case-sensitive) in a raw query string, as
 * written (not percent-decoded, `+` kept); '' for a parameter without `=`; undefined when absent.
 */
export function queryParam(query: string, name: string): string | undefined {
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq === -1 || eq > end ? end : eq;
    if (keyEnd - start === name.length && query.startsWith(name, start)) return keyEnd === end ? '' : query.slice(keyEnd + 1, end);
    start = end + 1;
  }
  return undefined;
}

/** The RegExp of a header or query condition: case-sensitive, the whole value (`^(?:re)$`). */
export function valueRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

const VALUE_REGEX_CACHE = new Map<string, RegExp>();

function cachedValueRegex(pattern: string): RegExp {
  let re = VALUE_REGEX_CACHE.get(pattern);
  if (re === undefined) {
    if (VALUE_REGEX_CACHE.size >= 1024) VALUE_REGEX_CACHE.clear();
    re = valueRegex(pattern);
    VALUE_REGEX_CACHE.set(pattern, re);
  }
  return re;
}

/** Whether a value (undefined: absent, never matches) meets a header or query condition. */
export function valueMatches(c: ValueCondition, value: string | undefined): boolean {
  if (value === undefined) return false;
  return c.type === 'Exact' ? c.value === value : cachedValueRegex(c.value).test(value);
}

/**
 * Whether a request meets a route's conditions (all of them; none: always): the method exactly, every
 * header (by lower-case name) and every query parameter (the first of its name, raw) by its condition.
 */
export function routeConditionsHold(route: { readonly conditions?: RouteConditions }, request: ConditionRequest): boolean {
  const c = route.conditions;
  if (c === undefined) return true;
  if (c.method !== undefined && c.method !== request.method) return false;
  if (c.headers !== undefined) for (const h of c.headers) if (!valueMatches(h, request.header(h.name))) return false;
  if (c.query !== undefined) for (const q of c.query) if (!valueMatches(q, queryParam(request.query, q.name))) return false;
  return true;
}

/**
 * The first route (in match order) that matches the path and whose conditions the request meets (a
 * route it fails falls through to the next); without `request`, a plain GET ({@link PLAIN_REQUEST}).
 */
export function selectRoute(vhost: VirtualHost, path: string, request: ConditionRequest = PLAIN_REQUEST): Route | undefined {
  return vhost.routes.find((r) => pathMatches(r, path) && routeConditionsHold(r, request));
}

/** The request path without its query string. */
export function requestPath(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** What serves a request: a route, the default backend, or nothing (404). */
export type Resolution =
  | { readonly outcome: 'route'; readonly vhost: VirtualHost; readonly route: Route; readonly backend: Backend | undefined }
  | { readonly outcome: 'default'; readonly vhost: VirtualHost | undefined; readonly backend: Backend | undefined }
  | { readonly outcome: 'not-found'; readonly vhost: VirtualHost | undefined };

/**
 * The listener hostname of `listenerHostnames` a name falls to: itself when listed, else the longest
 * `*.d` it is under (one or more labels), else `''` when listed (a listener without hostname), else
 * undefined (no listener).
 */
export function listenerOf(listenerHostnames: readonly string[], name: string): string | undefined {
  if (listenerHostnames.includes(name)) return name;
  let best: string | undefined;
  for (const h of listenerHostnames) {
    if (h.startsWith('*.') && name.length > h.length - 1 && name.endsWith(h.slice(1)) && (best === undefined || h.length > best.length)) best = h;
  }
  return best ?? (listenerHostnames.includes('') ? '' : undefined);
}

/**
 * Whether a request on a TLS connection is misdirected (421): its Host (normalised, as
 * {@link normalizeHost}) falls to another listener than the connection's server name (SNI, lower
 * case). No server name, or no listener hostnames: never.
 */
export function misdirected(listenerHostnames: readonly string[] | undefined, serverName: string | undefined, host: string): boolean {
  if (listenerHostnames === undefined || serverName === undefined || serverName === '') return false;
  return listenerOf(listenerHostnames, serverName.toLowerCase()) !== listenerOf(listenerHostnames, host);
}

/** Whether a virtual host is served through an entry point (VirtualHost.entryPoints; absent: every one). */
export function servedOn(vhost: VirtualHost, entryPoint: string): boolean {
  return vhost.entryPoints === undefined || vhost.entryPoints.includes(entryPoint);
}

/** The model's own hosts as an entry point serves them: those restricted to other entry points left out. */
export function hostsOnEntryPoint(model: RoutingModel, entryPoint: string): readonly VirtualHost[] {
  return model.virtualHosts.some((v) => v.entryPoints !== undefined) ? model.virtualHosts.filter((v) => servedOn(v, entryPoint)) : model.virtualHosts;
}

/**
 * The model a connection made to local address `local` (undefined: unknown, the shared address)
 * through `entryPoint` is served by: an address scope's hosts alone (no default backend: the address
 * is a Gateway's; none on an entry point the address has no scope for), else the model's own hosts
 * that entry point serves.
 */
export function modelForScope(model: RoutingModel, local: string | undefined, entryPoint: string): RoutingModel {
  const scopes = local === undefined ? [] : (model.addressScopes?.filter((s) => s.address === local) ?? []);
  if (scopes.length === 0) {
    const hosts = hostsOnEntryPoint(model, entryPoint);
    return hosts === model.virtualHosts ? model : { ...model, virtualHosts: hosts };
  }
  const { defaultBackend: _, ...rest } = model;
  return { ...rest, virtualHosts: scopes.find((s) => s.entryPoint === entryPoint)?.virtualHosts ?? [] };
}

/**
 * Resolves a (host header, path) pair against the model the way every driver must; `request` brings
 * the method, headers and query that route conditions read (absent: a plain GET).
 */
export function resolveRequest(model: RoutingModel, hostHeader: string, path: string, request: ConditionRequest = PLAIN_REQUEST): Resolution {
  const vhost = selectVirtualHost(model.virtualHosts, normalizeHost(hostHeader));
  const route = vhost ? selectRoute(vhost, path, request) : undefined;
  if (vhost && route) return { outcome: 'route', vhost, route, backend: model.backends[route.backend] };
  if (model.defaultBackend !== undefined) {
    return { outcome: 'default', vhost, backend: model.backends[model.defaultBackend] };
  }
  return { outcome: 'not-found', vhost };
}
