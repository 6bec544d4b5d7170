/*
 * Certificate intents: what each of our Ingresses asks a certificate for, as translate reads it, so
 * that ACME never parses an Ingress itself (and a Gateway listener can become another producer).
 * One intent per `spec.tls` entry (a Secret named or not: an entry without one is a request for an
 * issued certificate), then one per rule host outside every TLS entry (Traefik 1's onHostRule).
 */

import type { CertificateIntent, HostKind } from '../types.ts';
import type { ParsedIngress } from './ingress.ts';
import { isRecord } from './object.ts';
import { parseHost } from './validate.ts';

/** The annotation that opts an Ingress in (`"true"`) or out (`"false"`) of ACME, as in kube-lego and cert-manager. */
export const TLS_ACME_ANNOTATION = 'kubernetes.io/tls-acme';

/** What `[acme]` certifies, as translate needs it to report a missing TLS Secret (absent: no ACME). */
export interface AcmeIssuance {
  /** `[acme] onHostRule`: an intent without the annotation is certified. */
  readonly onHostRule: boolean;
  /** Wildcard names can be ordered (a DNS-01 provider is configured). */
  readonly wildcards: boolean;
}

/**
 * Whether ACME certifies every host of a TLS entry's intent, so that its missing Secret is no error:
 * the Ingress asks for ACME (or onHostRule does), no host of the entry was invalid, and its wildcard
 * names, if any, can be ordered. (Exact names a Secret covers are served by it, the others by ACME.)
 */
export function acmeServes(intent: CertificateIntent, acme: AcmeIssuance | undefined): boolean {
  if (acme === undefined || !(intent.acme ?? acme.onHostRule) || intent.incomplete) return false;
  return acme.wildcards || intent.hosts.every((h) => h.kind !== 'wildcard');
}

/** The certificate intents of one of our Ingresses, TLS entries first, in their order. */
export function certificateIntents(ing: ParsedIngress): CertificateIntent[] {
  const h = ing.header;
  const v = h.annotations[TLS_ACME_ANNOTATION];
  const acme = v === 'true' ? true : v === 'false' ? false : undefined;
  const base = { source: h.ref, ...(h.location === undefined ? {} : { location: h.location }), ...(acme === undefined ? {} : { acme }) };
  const ruleHosts = ing.rules.filter((r) => r.kind === 'exact' && r.paths.length > 0).map((r) => r.host);
  const out: CertificateIntent[] = [];
  const inTls = new Set<string>();
  const spec = h.body['spec'];
  const entries = isRecord(spec) && Array.isArray(spec['tls']) ? (spec['tls'] as readonly unknown[]) : [];
  entries.forEach((entry, k) => {
    if (!isRecord(entry)) return;
    const raw = entry['hosts'];
    // An entry without hosts covers the Ingress's own rule hosts.
    const named = Array.isArray(raw) && raw.length > 0 ? (raw as readonly unknown[]).filter((x): x is string => typeof x === 'string') : ruleHosts;
    const hosts: { host: string; kind: Exclude<HostKind, 'any'> }[] = [];
    let incomplete = named.length === 0;
    for (const name of named) {
      const p = parseHost(name);
      // translate reports an invalid host; the entry is then not wholly served by ACME.
      if (!p.ok) {
        incomplete = true;
        continue;
      }
      inTls.add(p.host);
      hosts.push({ host: p.host, kind: p.kind });
    }
    out.push({ ...base, field: `spec.tls[${k}]`, kind: 'tls', hosts, incomplete });
  });
  ing.rules.forEach((r) => {
    if (r.kind !== 'exact' || r.paths.length === 0 || inTls.has(r.host)) return;
    out.push({ ...base, field: r.field, kind: 'rule', hosts: [{ host: r.host, kind: 'exact' }], incomplete: false });
  });
  return out;
}
