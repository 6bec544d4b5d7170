/* Gateway API hostnames: the listener's and the route's, and where they meet (the spec's intersection). */

import type { HostKind } from '../../types.ts';

/** A valid hostname (lower case): exact, or `*.domain` (matching one or more labels in the spec). */
export interface Hostname {
  readonly host: string;
  readonly kind: Exclude<HostKind, 'any'>;
}

/** Whether `name` is under the wildcard `*.suffix` (one or more labels more, as the Gateway API reads wildcards). */
function under(wildcard: string, name: string): boolean {
  const suffix = wildcard.slice(1);
  return name.length > suffix.length && name.endsWith(suffix);
}

/**
 * The hostname requests of both a listener and a route match, the more specific of the two, or
 * undefined when they have none in common (the spec's rule for attaching a route to a listener).
 */
export function intersectHostname(listener: Hostname, route: Hostname): Hostname | undefined {
  if (listener.kind === 'exact') {
    if (route.kind === 'exact') return route.host === listener.host ? route : undefined;
    return under(route.host, listener.host) ? listener : undefined;
  }
  if (route.kind === 'exact') return under(listener.host, route.host) ? route : undefined;
  if (route.host === listener.host || under(listener.host, route.host.slice(2))) return route;
  return under(route.host, listener.host.slice(2)) ? listener : undefined;
}

/** A hostname as the model's host pattern: a Gateway API wildcard is a `suffix` (one or more labels). */
function asVirtualHost(h: Hostname): { readonly host: string; readonly kind: HostKind } {
  return h.kind === 'wildcard' ? { host: h.host, kind: 'suffix' } : h;
}

/**
 * The hosts a route serves through a listener: every route hostname's intersection with the
 * listener's (each once, in the route's order); the route's own when the listener has none; the
 * listener's when the route has none; `*` (every host) when neither has. Wildcards come out as
 * `suffix` hosts: the Gateway API's `*.example.com` matches one or more labels.
 */
export function routeHosts(listener: Hostname | undefined, route: readonly Hostname[]): { readonly host: string; readonly kind: HostKind }[] {
  if (route.length === 0) return listener === undefined ? [{ host: '*', kind: 'any' }] : [asVirtualHost(listener)];
  if (listener === undefined) return route.map(asVirtualHost);
  const out: Hostname[] = [];
  for (const h of route) {
    const m = intersectHostname(listener, h);
    if (m !== undefined && !out.some((o) => o.host === m.host)) out.push(m);
  }
  return out.map(asVirtualHost);
}

/** Whether requests for every host of `h` match a listener hostname (none: every host). */
function covers(listener: Hostname | undefined, h: { readonly host: string; readonly kind: HostKind }): boolean {
  if (listener === undefined) return true;
  if (h.kind === 'any') return false;
  if (listener.kind === 'exact') return h.kind === 'exact' && h.host === listener.host;
  return h.kind === 'exact' ? under(listener.host, h.host) : h.host === listener.host || under(listener.host, h.host.slice(2));
}

/** How specific a listener hostname is: none, then wildcards by length, then an exact name. */
function specificity(h: Hostname | undefined): number {
  if (h === undefined) return 0;
  return h.kind === 'exact' ? Number.MAX_SAFE_INTEGER : 1 + h.host.length;
}

/**
 * Listener isolation: of the hosts a route serves through `listener`, those whose requests go to no
 * more specific listener of the same port (`others`, the Gateway's listeners there). A request is
 * matched to the most specific listener its host matches, and only that listener's routes serve it.
 */
export function isolatedHosts(hosts: readonly { readonly host: string; readonly kind: HostKind }[], listener: Hostname | undefined, others: readonly (Hostname | undefined)[]): { readonly host: string; readonly kind: HostKind }[] {
  const own = specificity(listener);
  return hosts.filter((h) => !others.some((o) => specificity(o) > own && covers(o, h)));
}
