/* Issued ACME certificates → the routing model the drivers serve, and the diagnostics that ACME settles. Pure. */

import type { Certificate, RoutingModel, VirtualHost } from '../model/types.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { Codes } from '../model/translate/diagnostics.ts';
import type { TlsEntryRef } from './requests.ts';
import type { StoredCertificate } from './types.ts';

/**
 * The model with ACME certificates added for the names no Secret certificate serves: each becomes a
 * model certificate (after the Secret ones, which keep priority) listing only those names, and the
 * virtual hosts without a certificate point at it (a wildcard one serves the hosts one label below
 * it). `now` drops expired certificates.
 */
export function withAcmeCertificates(model: RoutingModel, certs: readonly StoredCertificate[], now: Date): RoutingModel {
  const taken = new Set<string>();
  const wild = new Set<string>();
  for (const c of model.certificates) {
    for (const h of c.hosts) {
      if (h.startsWith('*.')) wild.add(h.slice(1));
      else taken.add(h);
    }
  }
  const coveredBySecret = (h: string): boolean => taken.has(h) || (h.indexOf('.') > 0 && wild.has(h.slice(h.indexOf('.'))));
  const added: Certificate[] = [];
  const byHost = new Map<string, string>();
  const t = now.getTime();
  const sorted = [...certs].filter((c) => Date.parse(c.notAfter) > t).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const c of sorted) {
    const hosts = c.names.filter((h) => !coveredBySecret(h) && !byHost.has(h));
    if (hosts.length === 0) continue;
    for (const h of hosts) byHost.set(h, c.id);
    added.push({ id: c.id, hosts: [...hosts].sort(), certPem: c.certPem, keyPem: c.keyPem, source: { kind: 'AcmeCertificate', name: c.names[0] ?? c.id } });
  }
  if (added.length === 0) return model;
  const virtualHosts = model.virtualHosts.map((vh): VirtualHost => {
    if (vh.certificate !== undefined || vh.kind === 'any') return vh;
    // An exact host without its own certificate is served by a wildcard one of its parent, as translate does with Secrets.
    const parent = vh.kind === 'exact' && vh.host.indexOf('.') > 0 ? `*${vh.host.slice(vh.host.indexOf('.'))}` : undefined;
    const id = byHost.get(vh.host) ?? (parent === undefined ? undefined : byHost.get(parent));
    return id === undefined ? vh : { ...vh, certificate: id };
  });
  return { ...model, virtualHosts, certificates: [...model.certificates, ...added] };
}

/**
 * Diagnostics where "TLS Secret does not exist" on a TLS entry whose hosts ACME serves is no longer
 * an error: it becomes a warning saying the certificate is issued by ACME (an order that fails is
 * reported on its own, as `PASS_ACME_ORDER_FAILED`).
 */
export function relaxMissingSecrets(diagnostics: readonly Diagnostic[], entries: readonly TlsEntryRef[]): Diagnostic[] {
  const served = new Set(entries.map((e) => `${e.object.kind}|${e.object.namespace ?? ''}|${e.object.name}|${e.field}.secretName`));
  return diagnostics.map((d) => {
    if (d.code !== Codes.missingSecret || d.object === undefined || d.field === undefined) return d;
    if (!served.has(`${d.object.kind}|${d.object.namespace ?? ''}|${d.object.name}|${d.field}`)) return d;
    return { ...d, severity: 'warning', message: `${d.message.replace(/; these hosts use the default certificate$/, '')}: the certificate is issued by ACME` };
  });
}
