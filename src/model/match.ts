import type { Backend, HostKind, PathType, Route, RoutingModel, VirtualHost } from './types.ts';

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

/** The virtual host for a normalised host: an exact name first, then a one-label wildcard, then `*`. */
export function selectVirtualHost(vhosts: readonly VirtualHost[], host: string): VirtualHost | undefined {
  let wildcard: VirtualHost | undefined;
  let any: VirtualHost | undefined;
  for (const v of vhosts) {
    if (v.kind === 'exact') {
      if (v.host === host) return v;
    } else if (v.kind === 'wildcard') {
      if (wildcard === undefined && hostMatches(v, host)) wildcard = v;
    } else {
      any ??= v;
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
 */
export function compareRoutes(a: Route, b: Route): number {
  if (a.pathType !== b.pathType) return TYPE_ORDER[a.pathType] - TYPE_ORDER[b.pathType];
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** The first route (in match order) that matches the path. */
export function selectRoute(vhost: VirtualHost, path: string): Route | undefined {
  return vhost.routes.find((r) => pathMatches(r, path));
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

/** Resolves a (host header, path) pair against the model the way every driver must. */
export function resolveRequest(model: RoutingModel, hostHeader: string, path: string): Resolution {
  const vhost = selectVirtualHost(model.virtualHosts, normalizeHost(hostHeader));
  const route = vhost ? selectRoute(vhost, path) : undefined;
  if (vhost && route) return { outcome: 'route', vhost, route, backend: model.backends[route.backend] };
  if (model.defaultBackend !== undefined) {
    return { outcome: 'default', vhost, backend: model.backends[model.defaultBackend] };
  }
  return { outcome: 'not-found', vhost };
}
