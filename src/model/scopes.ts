/* Where the proxies listen for the model's address scopes (Gateways with an address of their own). */

import { isIP } from 'node:net';
import type { EntryPoint, RoutingModel } from './types.ts';

/** A socket's local address as the model's address scopes write it (an IPv4-mapped IPv6 address as IPv4). */
export function scopeAddress(local: string | undefined): string {
  if (local === undefined) return '';
  return local.startsWith('::ffff:') && local.includes('.') ? local.slice(7) : local;
}

/**
 * The entry points as the proxies listen on them: the model's own, then, for each address scope, a
 * copy of its entry point when bound to one IP address of the scope's family (another address), moved
 * to the scope's address on the same port. An entry point on a wildcard address (no host, 0.0.0.0, ::)
 * already receives the scope's connections and gets no copy.
 */
export function listenedEntryPoints(model: RoutingModel): EntryPoint[] {
  const out = [...model.entryPoints];
  for (const scope of model.addressScopes ?? []) {
    const family = isIP(scope.address);
    const ep = model.entryPoints.find((e) => e.name === scope.entryPoint);
    const host = ep?.address.host;
    if (ep === undefined || host === undefined || host === '' || host === '0.0.0.0' || host === '::' || host === scope.address || isIP(host) !== family) continue;
    out.push({ ...ep, address: { ...ep.address, host: scope.address } });
  }
  return out;
}

/** The key of an address scope: its address and entry point. */
export function scopeKey(address: string, entryPoint: string): string {
  return `${address}|${entryPoint}`;
}
