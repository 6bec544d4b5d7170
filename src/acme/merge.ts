/* Issued ACME certificates → the routing model the drivers serve. Pure. */

import type { Certificate, RoutingModel, VirtualHost } from '../model/types.ts';
import type { StoredCertificate } from './types.ts';

/**
 * The model with ACME certificates added for the names no Secret certificate serves: each becomes a
 * model certificate (after the Secret ones, which keep priority) listing only those names, and the
 * exact virtual hosts without a certificate point at it. `now` drops expired certificates.
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
    if (vh.certificate !== undefined || vh.kind !== 'exact') return vh;
    const id = byHost.get(vh.host);
    return id === undefined ? vh : { ...vh, certificate: id };
  });
  return { ...model, virtualHosts, certificates: [...model.certificates, ...added] };
}
