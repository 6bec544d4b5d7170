/*
 * Which certificates ACME should provide: `[[acme.domains]]`, and (with onHostRule or the per-Ingress
 * annotation `kubernetes.io/tls-acme: "true"`) the hosts of our Ingresses that no Secret certificate
 * covers. Pure: reads the snapshot and the model translate built from it.
 */

import type { PassCode } from '../shared/codes.ts';
import type { Diagnostic, ObjectRef } from '../shared/diagnostics.ts';
import { defined } from '../shared/optional.ts';
import type { Snapshot } from '../model/k8s.ts';
import type { RoutingModel } from '../model/types.ts';
import { isOurIngress } from '../model/translate/index.ts';
import type { ClassOptions } from '../model/translate/index.ts';
import { DiagnosticList } from '../model/translate/diagnostics.ts';
import { parseIngress } from '../model/translate/ingress.ts';
import { compareAge, isRecord, readHeader } from '../model/translate/object.ts';
import type { ObjectHeader } from '../model/translate/object.ts';
import { parseHost } from '../model/translate/validate.ts';
import { chooseChallenge } from './dns/choice.ts';
import type { ChallengeConfig } from './dns/choice.ts';
import { acmeCertificateId } from './types.ts';
import type { CertificateRequest } from './types.ts';

/** The annotation that opts an Ingress in (`"true"`) or out (`"false"`) of ACME, as in kube-lego and cert-manager. */
export const TLS_ACME_ANNOTATION = 'kubernetes.io/tls-acme';

/** Diagnostic codes of the ACME subsystem. */
export const AcmeCodes = {
  wildcard: 'PASS_ACME_WILDCARD',
  orderFailed: 'PASS_ACME_ORDER_FAILED',
  budget: 'PASS_ACME_BUDGET',
  account: 'PASS_ACME_ACCOUNT',
  onDemandRefused: 'PASS_ACME_ON_DEMAND_REFUSED',
} as const satisfies Record<string, PassCode>;

/** A `[[acme.domains]]` entry. */
export interface AcmeDomain {
  readonly main: string;
  readonly sans: readonly string[];
}

/** What {@link acmeRequests} reads besides the snapshot and the model. */
export interface AcmeRequestOptions {
  /** Order certificates for every Ingress host without a Secret certificate. */
  readonly onHostRule: boolean;
  readonly domains: readonly AcmeDomain[];
  /** The same class options translate was given. */
  readonly classOptions: ClassOptions;
  /** The challenge settings: a wildcard name is ordered only when DNS-01 can prove it (default HTTP-01 only). */
  readonly challenge?: ChallengeConfig;
}

/** A `spec.tls[k]` entry of an Ingress. */
export interface TlsEntryRef {
  readonly object: ObjectRef;
  /** `spec.tls[k]`. */
  readonly field: string;
}

/** The requests and the problems found while collecting them. */
export interface AcmeRequestSet {
  readonly requests: readonly CertificateRequest[];
  readonly diagnostics: readonly Diagnostic[];
  /** TLS entries every host of which ACME serves (its Secret, when missing, is not a problem). */
  readonly acmeTlsEntries: readonly TlsEntryRef[];
}

/** Whether a Secret certificate of the model covers `host` (exact name or one-label wildcard). */
function coveredBy(model: RoutingModel): (host: string) => boolean {
  const exact = new Set<string>();
  const wild = new Set<string>();
  for (const c of model.certificates) {
    for (const h of c.hosts) {
      if (h.startsWith('*.')) wild.add(h.slice(1));
      else exact.add(h);
    }
  }
  return (host) => {
    if (exact.has(host)) return true;
    const dot = host.indexOf('.');
    return dot > 0 && wild.has(host.slice(dot));
  };
}

interface Group {
  readonly names: string[];
  readonly source: ObjectRef;
}

function ingressWants(h: ObjectHeader, onHostRule: boolean): boolean {
  const v = h.annotations[TLS_ACME_ANNOTATION];
  if (v === 'true') return true;
  if (v === 'false') return false;
  return onHostRule;
}

/** Hosts of the raw `spec.tls` entries (entries without a secretName included), grouped per entry. */
function tlsGroups(h: ObjectHeader, ruleHosts: readonly string[]): { field: string; hosts: string[] }[] {
  const spec = h.body['spec'];
  if (!isRecord(spec) || !Array.isArray(spec['tls'])) return [];
  const out: { field: string; hosts: string[] }[] = [];
  (spec['tls'] as readonly unknown[]).forEach((entry, k) => {
    if (!isRecord(entry)) return;
    const raw = entry['hosts'];
    const hosts: string[] = [];
    if (Array.isArray(raw) && raw.length > 0) {
      for (const r of raw as readonly unknown[]) if (typeof r === 'string') hosts.push(r.toLowerCase());
    } else {
      hosts.push(...ruleHosts);
    }
    out.push({ field: `spec.tls[${k}]`, hosts });
  });
  return out;
}

/**
 * The certificates ACME should provide. `[[acme.domains]]` come first, then Ingresses oldest first;
 * a name claimed by an earlier request is left out of later ones. Hosts of one TLS entry share one
 * certificate; rule hosts outside every TLS entry (Traefik 1.x `onHostRule`) get one each. Hosts a
 * Secret certificate covers are left to it; wildcard names are ordered when a DNS-01 provider is
 * configured (only DNS-01 proves them), and reported otherwise.
 */
export function acmeRequests(snapshot: Snapshot, model: RoutingModel, options: AcmeRequestOptions): AcmeRequestSet {
  const diags = new DiagnosticList();
  const quiet = new DiagnosticList();
  const claimed = new Set<string>();
  const requests: CertificateRequest[] = [];
  const covered = coveredBy(model);
  const served: TlsEntryRef[] = [];
  const challenge = options.challenge ?? { challenge: 'http-01' };
  // Why a wildcard cannot be ordered, or undefined when DNS-01 can prove it.
  const wildcardRefused = (name: string): string | undefined => {
    const c = chooseChallenge([name], challenge);
    return c.types.length === 0 ? c.why : undefined;
  };

  const add = (names: readonly string[], origin: CertificateRequest['origin'], source: ObjectRef): void => {
    const fresh: string[] = [];
    for (const n of names) {
      if (claimed.has(n) || fresh.includes(n)) continue;
      fresh.push(n);
    }
    const main = fresh[0];
    if (main === undefined) return;
    for (const n of fresh) claimed.add(n);
    const sans = fresh.slice(1).sort();
    requests.push({ id: acmeCertificateId(main), names: [main, ...sans], origin, sources: [source] });
  };

  for (const d of options.domains) {
    const source: ObjectRef = { kind: 'AcmeDomain', name: d.main };
    const names = [d.main, ...d.sans].map((n) => n.toLowerCase());
    const wild = names.filter((n) => n.startsWith('*.'));
    const refused = wild[0] === undefined ? undefined : wildcardRefused(wild[0]);
    if (refused !== undefined) {
      diags.add({ severity: 'warning', code: AcmeCodes.wildcard, message: `${wild.join(', ')}: ${refused}; the other names are ordered`, object: source, field: 'acme.domains' });
    }
    add(
      names.filter((n) => refused === undefined || !n.startsWith('*.')),
      'domains',
      source,
    );
  }

  const headers: ObjectHeader[] = [];
  snapshot.ingresses.forEach((obj, i) => {
    if (!isRecord(obj) || !isOurIngress(obj, snapshot.ingressClasses, options.classOptions).ours) return;
    const h = readHeader(obj, 'Ingress', true, `ingresses[${i}]`, quiet);
    if (h !== undefined) headers.push(h);
  });
  headers.sort(compareAge);

  for (const h of headers) {
    if (!ingressWants(h, options.onHostRule)) continue;
    const parsed = parseIngress({ ...h, reporter: quiet.reporter(h.ref, h.location) });
    if (parsed === undefined) continue;
    const ruleHosts = parsed.rules.filter((r) => r.kind === 'exact' && r.paths.length > 0).map((r) => r.host);
    const groups: Group[] = [];
    const inTls = new Set<string>();
    for (const entry of tlsGroups(h, ruleHosts)) {
      const names: string[] = [];
      let allServed = entry.hosts.length > 0;
      for (const raw of entry.hosts) {
        const p = parseHost(raw);
        if (!p.ok) {
          allServed = false;
          continue; // translate reports it
        }
        inTls.add(p.host);
        if (p.kind === 'wildcard') {
          const secret = covered(p.host.slice(2)) || model.certificates.some((c) => c.hosts.includes(p.host));
          const refused = wildcardRefused(p.host);
          if (refused === undefined && !secret) {
            names.push(p.host);
            continue;
          }
          allServed = false;
          if (!secret && refused !== undefined) {
            diags.add({ severity: 'warning', code: AcmeCodes.wildcard, message: `${p.host}: ${refused}; give it a TLS Secret or configure [acme.dnsChallenge]`, object: h.ref, field: `${entry.field}.hosts`, ...defined({ location: h.location }) });
          }
          continue;
        }
        if (!covered(p.host)) names.push(p.host);
      }
      if (names.length > 0) groups.push({ names, source: h.ref });
      if (allServed) served.push({ object: h.ref, field: entry.field });
    }
    for (const host of ruleHosts) if (!inTls.has(host) && !covered(host)) groups.push({ names: [host], source: h.ref });
    for (const g of groups) add(g.names, 'ingress', g.source);
  }

  return { requests, diagnostics: diags.sorted(), acmeTlsEntries: served };
}
