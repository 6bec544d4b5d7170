/*
 * Which certificates ACME should provide: `[[acme.domains]]`, and (with onHostRule or the per-Ingress
 * annotation `kubernetes.io/tls-acme: "true"`) the hosts of our Ingresses that no Secret certificate
 * covers. Pure: reads the certificate intents translate put in the model (it never parses an
 * Ingress itself) and the Secret certificates of the model (the issued ones it also serves, which
 * translate made from ACME's own certificates, do not cover a name: they stay requested, so renewed).
 */

import type { PassCode } from '../shared/codes.ts';
import type { Diagnostic, ObjectRef } from '../shared/diagnostics.ts';
import { defined } from '../shared/optional.ts';
import { ISSUED_CERTIFICATE_KIND } from '../model/types.ts';
import type { RoutingModel } from '../model/types.ts';
import { DiagnosticList } from '../model/translate/diagnostics.ts';
import { chooseChallenge } from './dns/choice.ts';
import type { ChallengeConfig } from './dns/choice.ts';
import { acmeCertificateId } from './types.ts';
import type { CertificateRequest } from './types.ts';

export { TLS_ACME_ANNOTATION } from '../model/translate/intents.ts';

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
  /** The challenge settings: a wildcard name is ordered only when DNS-01 can prove it (default HTTP-01 only). */
  readonly challenge?: ChallengeConfig;
}

/** The requests and the problems found while collecting them. */
export interface AcmeRequestSet {
  readonly requests: readonly CertificateRequest[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Whether a Secret certificate of the model covers `host` (exact name or one-label wildcard); issued ones do not count. */
function coveredBy(model: RoutingModel): (host: string) => boolean {
  const exact = new Set<string>();
  const wild = new Set<string>();
  for (const c of model.certificates) {
    if (c.source.kind === ISSUED_CERTIFICATE_KIND) continue;
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

/**
 * The certificates ACME should provide. `[[acme.domains]]` come first, then Ingresses oldest first;
 * a name claimed by an earlier request is left out of later ones. Hosts of one TLS entry share one
 * certificate; rule hosts outside every TLS entry (Traefik 1.x `onHostRule`) get one each. Hosts a
 * Secret certificate covers are left to it; wildcard names are ordered when a DNS-01 provider is
 * configured (only DNS-01 proves them), and reported otherwise.
 */
export function acmeRequests(model: RoutingModel, options: AcmeRequestOptions): AcmeRequestSet {
  const diags = new DiagnosticList();
  const claimed = new Set<string>();
  const requests: CertificateRequest[] = [];
  const covered = coveredBy(model);
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

  // What translate read of each Ingress, oldest first: its TLS entries, then its rule hosts outside them.
  const groups: Group[] = [];
  for (const intent of model.certificateIntents ?? []) {
    if (!(intent.acme ?? options.onHostRule)) continue;
    if (intent.kind === 'rule') {
      const host = intent.hosts[0]?.host;
      if (host !== undefined && !covered(host)) groups.push({ names: [host], source: intent.source });
      continue;
    }
    const names: string[] = [];
    for (const { host, kind } of intent.hosts) {
      if (kind === 'wildcard') {
        const secret = covered(host.slice(2)) || model.certificates.some((c) => c.source.kind !== ISSUED_CERTIFICATE_KIND && c.hosts.includes(host));
        const refused = wildcardRefused(host);
        if (refused === undefined && !secret) {
          names.push(host);
          continue;
        }
        if (!secret && refused !== undefined) {
          diags.add({ severity: 'warning', code: AcmeCodes.wildcard, message: `${host}: ${refused}; give it a TLS Secret or configure [acme.dnsChallenge]`, object: intent.source, field: `${intent.field}.hosts`, ...defined({ location: intent.location }) });
        }
        continue;
      }
      if (!covered(host)) names.push(host);
    }
    if (names.length > 0) groups.push({ names, source: intent.source });
  }
  for (const g of groups) add(g.names, 'ingress', g.source);

  return { requests, diagnostics: diags.sorted() };
}
