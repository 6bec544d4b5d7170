/*
 * Gateway addresses of their own: each of our Gateways, oldest first, takes one address of
 * `[kubernetes] gatewayAddressPool`, so two Gateways never answer for each other's hosts. A Gateway
 * may ask for one (spec.addresses): it gets it when the pool has it free, or is not served.
 */

import { isIP } from 'node:net';
import type { ParsedGateway } from './read.ts';
import { GatewayCodes } from './codes.ts';

/** Why a Gateway that asks for addresses is not served: not accepted (`unsupported`), or not programmed (`notUsable`). */
export interface AddressProblem {
  readonly kind: 'unsupported' | 'notUsable';
  readonly message: string;
}

/** Gateways' addresses (by `namespace/name`) and the Gateways whose requested addresses cannot be served. */
export interface AddressAssignment {
  readonly addressOf: Map<string, string>;
  readonly problems: Map<string, AddressProblem>;
}

/** An IP address as the model writes it (IPv6 compressed, lower case); undefined when not one. */
function canonicalIp(value: string): string | undefined {
  const family = isIP(value);
  if (family === 4) return value;
  if (family === 6) return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  return undefined;
}

/** Reads the IP addresses of a Gateway's `status.addresses` (what it was given before). */
function statusAddresses(gw: ParsedGateway): string[] {
  const status = gw.header.body['status'];
  if (typeof status !== 'object' || status === null || !('addresses' in status) || !Array.isArray(status.addresses)) return [];
  return status.addresses.flatMap((a: unknown) => (typeof a === 'object' && a !== null && 'value' in a && typeof a.value === 'string' ? [canonicalIp(a.value) ?? a.value] : []));
}

/** The one IP address a Gateway asks for, or why it cannot have it whatever the pool (undefined: it asks for none, or for any IPAddress). */
function requested(gw: ParsedGateway): { address: string } | AddressProblem | undefined {
  if (gw.addresses.length === 0) return undefined;
  const wanted = new Set<string>();
  for (const a of gw.addresses) {
    // An IPAddress without a value asks for any one: what a Gateway that asks for nothing gets.
    if (a.type === 'IPAddress' && a.value === '') continue;
    const ip = a.type === 'IPAddress' ? canonicalIp(a.value) : undefined;
    if (ip === undefined) {
      const message = a.type === 'IPAddress' ? `${a.field}: ${JSON.stringify(a.value)} is not an IP address` : `${a.field}: address type ${JSON.stringify(a.type)} is not supported (only IPAddress)`;
      gw.header.reporter.error(GatewayCodes.addressUnsupported, a.field, `${message}; the Gateway is not accepted`);
      return { kind: 'unsupported', message };
    }
    wanted.add(ip);
  }
  if (wanted.size === 0) return undefined;
  if (wanted.size > 1) {
    const message = `spec.addresses asks for ${wanted.size} addresses; a Gateway is served on one`;
    gw.header.reporter.error(GatewayCodes.addressNotUsable, 'spec.addresses', `${message}; the Gateway is not served`);
    return { kind: 'notUsable', message };
  }
  return { address: [...wanted][0] ?? '' };
}

/**
 * Gives each Gateway (`namespace/name` key, oldest first as given) an address of the pool. One that
 * asks for an address gets it when the pool has it and no other Gateway holds it (in its status, or
 * asked for by an older one), else none and a problem; the others get the one their status already
 * shows when still free (so deleting an older Gateway moves no other), else the first free one.
 * Gateways beyond the pool get none (they share the entry points' address) and are told so. An empty
 * pool gives none (and every requested address is not usable).
 */
export function assignAddresses(gateways: readonly ParsedGateway[], pool: readonly string[]): AddressAssignment {
  const addressOf = new Map<string, string>();
  const problems = new Map<string, AddressProblem>();
  const keyOf = (gw: ParsedGateway): string => `${gw.header.namespace}/${gw.header.name}`;
  const inPool = new Set(pool.map((a) => canonicalIp(a) ?? a));
  const free = new Set(inPool);
  const held = new Map<string, string>();
  for (const gw of gateways) for (const a of statusAddresses(gw)) if (!held.has(a)) held.set(a, keyOf(gw));

  const waiting: { key: string; gw: ParsedGateway }[] = [];
  const seen = new Set<string>();
  for (const gw of gateways) {
    const key = keyOf(gw);
    if (seen.has(key)) continue;
    seen.add(key);
    const asked = requested(gw);
    if (asked === undefined) {
      waiting.push({ key, gw });
      continue;
    }
    if ('kind' in asked) {
      problems.set(key, asked);
      continue;
    }
    const holder = held.get(asked.address);
    if (free.has(asked.address) && (holder === undefined || holder === key)) {
      addressOf.set(key, asked.address);
      free.delete(asked.address);
      continue;
    }
    const owner = holder !== undefined && holder !== key ? holder : [...addressOf].find(([, a]) => a === asked.address)?.[0];
    const why = inPool.has(asked.address) ? `is held by Gateway ${owner ?? '?'}` : 'is not in gatewayAddressPool';
    const message = `spec.addresses asks for ${asked.address}, which ${why}`;
    gw.header.reporter.error(GatewayCodes.addressNotUsable, 'spec.addresses', `${message}; the Gateway is not served`);
    problems.set(key, { kind: 'notUsable', message });
  }

  const rest: { key: string; gw: ParsedGateway }[] = [];
  for (const { key, gw } of waiting) {
    const kept = statusAddresses(gw).find((a) => free.has(a) && (held.get(a) ?? key) === key);
    if (kept === undefined) {
      rest.push({ key, gw });
      continue;
    }
    addressOf.set(key, kept);
    free.delete(kept);
  }
  for (const { key, gw } of rest) {
    const next = [...free][0];
    if (next === undefined) {
      if (pool.length > 0) gw.header.reporter.warning(GatewayCodes.addressPoolExhausted, 'status.addresses', `every address of gatewayAddressPool (${pool.length}) is taken by an older Gateway; this one is served on the shared address, beside the Ingresses`);
      continue;
    }
    addressOf.set(key, next);
    free.delete(next);
  }
  return { addressOf, problems };
}
