/* The path a route's rewrite gives: one definition for the native proxy and the haproxy and nginx renderers. Pure. */

import type { RewritePolicy } from './policy.ts';
import type { Route } from './types.ts';

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
