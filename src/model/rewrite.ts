/* The path a route's rewrite gives: one definition for the native proxy and the haproxy and nginx renderers. Pure. */

import type { RewritePolicy } from './policy.ts';
import type { Route } from './types.ts';

/** How a prefix or replace-path rewrite of a route changes every path it matches (see {@link rewriteParts}). */
export interface RewriteParts {
  /** The route's own path, when longer paths get `prefix` + their rest; null: every path gets `whole`. */
  readonly match: string | null;
  /** The path the route's own path (or every path, when `match` is null) becomes. */
  readonly whole: string;
  /** What a longer path becomes before its rest: the part after the route's path and its `/` (from byte `offset`). */
  readonly prefix: string;
  readonly offset: number;
}

/**
 * A prefix or replace-path rewrite of a Prefix or Exact route as two cases a proxy can write without a
 * regex: the route's own path gives `whole`; a longer path gives `prefix` and its rest from `offset`
 * (the same for every rest, by construction of `rewrittenPath`). Undefined for a rewrite whose result is
 * not of that shape (none of the kinds here: a guard).
 */
export function rewriteParts(rw: Extract<RewritePolicy, { readonly kind: 'prefix' | 'replace-path' | 'strip-prefix' }>, route: Pick<Route, 'path' | 'pathType'>): RewriteParts | undefined {
  const whole = rewrittenPath(rw, route, route.path);
  if (whole === undefined) return undefined;
  if (rw.kind === 'replace-path' || route.pathType !== 'Prefix') return { match: null, whole, prefix: whole, offset: 0 };
  const offset = route.path === '/' ? 1 : route.path.length + 1;
  const probe = rewrittenPath(rw, route, `${route.path === '/' ? '' : route.path}/x`);
  if (probe === undefined || !probe.endsWith('x')) return undefined;
  return { match: route.path, whole, prefix: probe.slice(0, -1), offset };
}

/**
 * The path the backend receives for a normalised request path (without the query) under a prefix,
 * strip-prefix or replace-path rewrite; undefined for a regex rewrite (each proxy runs its own regex).
 */
export function rewrittenPath(rw: RewritePolicy, route: Pick<Route, 'path' | 'pathType'>, path: string): string | undefined {
  switch (rw.kind) {
    case 'replace-path':
      return rw.path;
    case 'regex':
      return undefined;
    case 'strip-prefix':
    case 'prefix': {
      const rest = route.pathType === 'Prefix' && route.path !== '/' ? path.slice(route.path.length) : route.pathType === 'Exact' ? '' : path.slice(1);
      const base = rw.kind === 'prefix' ? rw.target : '';
      const joined = base.endsWith('/') && rest.startsWith('/') ? base + rest.slice(1) : base === '' || rest === '' || rest.startsWith('/') ? base + rest : `${base}/${rest}`;
      return joined.startsWith('/') ? joined : `/${joined}`;
    }
  }
}
