/*
 * Gateway addresses of their own: each of our Gateways, oldest first, takes one address of
 * `[kubernetes] gatewayAddressPool`, so two Gateways never answer for each other's hosts.
 */

import type { ParsedGateway } from './read.ts';
import { GatewayCodes } from './codes.ts';

/** Reads the IP addresses of a Gateway's `status.addresses` (what it was given before). */
function statusAddresses(gw: ParsedGateway): string[] {
  const status = gw.header.body['status'];
  if (typeof status !== 'object' || status === null || !('addresses' in status) || !Array.isArray(status.addresses)) return [];
  return status.addresses.flatMap((a: unknown) => (typeof a === 'object' && a !== null && 'value' in a && typeof a.value === 'string' ? [a.value] : []));
}

/**
 * Gives each Gateway (`namespace/name` key, oldest first as given) an address of the pool: the one
 * its status already shows when still free (so deleting an older Gateway moves no other), else the
 * first free one. Gateways beyond the pool get none (they share the entry points' address) and are
 * told so. An empty pool gives none.
 */
export function assignAddresses(gateways: readonly ParsedGateway[], pool: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (pool.length === 0) return out;
  const free = new Set(pool);
  const waiting: { key: string; gw: ParsedGateway }[] = [];
  for (const gw of gateways) {
    const key = `${gw.header.namespace}/${gw.header.name}`;
    if (out.has(key) || waiting.some((w) => w.key === key)) continue;
    const kept = statusAddresses(gw).find((a) => free.has(a));
    if (kept === undefined) {
      waiting.push({ key, gw });
      continue;
    }
    out.set(key, kept);
    free.delete(kept);
  }
  for (const { key, gw } of waiting) {
    const next = pool.find((a) => free.has(a));
    if (next === undefined) {
      gw.header.reporter.warning(GatewayCodes.addressPoolExhausted, 'status.addresses', `every address of gatewayAddressPool (${pool.length}) is taken by an older Gateway; this one is served on the shared address, beside the Ingresses`);
      continue;
    }
    out.set(key, next);
    free.delete(next);
  }
  return out;
}
