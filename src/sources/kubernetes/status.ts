/*
 * Ingress status write-back: `.status.loadBalancer.ingress` of our Ingresses is set to the address of
 * the publish Service (its LoadBalancer ingress, else its external IPs) or to the configured
 * address(es); it is removed from an Ingress that stops being ours; nothing is written when the
 * status already says it. Ingresses of other controllers are never touched.
 */

import { isIP } from 'node:net';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import type { KubeObject } from '../../model/k8s.ts';
import type { KubeClient } from './client.ts';
import { INGRESS, objectKey, resourcePath } from './informer.ts';

/** One entry of `.status.loadBalancer.ingress`. */
export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
}

type Rec = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readEntries(list: unknown): LoadBalancerIngress[] {
  if (!Array.isArray(list)) return [];
  const out: LoadBalancerIngress[] = [];
  for (const e of list as unknown[]) {
    if (!isRecord(e)) continue;
    if (typeof e['ip'] === 'string' && e['ip'] !== '') out.push({ ip: e['ip'] });
    else if (typeof e['hostname'] === 'string' && e['hostname'] !== '') out.push({ hostname: e['hostname'] });
  }
  return out;
}

/** The addresses of a publish Service: its LoadBalancer ingress, else its `spec.externalIPs`. */
export function addressesOfService(svc: KubeObject | undefined): LoadBalancerIngress[] {
  if (svc === undefined) return [];
  const status = svc.status;
  const lb = isRecord(status) && isRecord(status['loadBalancer']) ? readEntries(status['loadBalancer']['ingress']) : [];
  if (lb.length > 0) return sortAddresses(lb);
  const spec = svc.spec;
  const external = isRecord(spec) && Array.isArray(spec['externalIPs']) ? (spec['externalIPs'] as unknown[]) : [];
  return sortAddresses(external.filter((ip): ip is string => typeof ip === 'string' && ip !== '').map((ip) => ({ ip })));
}

/** A configured address list, `"203.0.113.7"` or `"lb.example.net, 203.0.113.8"`: IPs and host names. */
export function addressesOfText(text: string): LoadBalancerIngress[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return sortAddresses(parts.map((p) => (isIP(p) === 0 ? { hostname: p } : { ip: p })));
}

function sortAddresses(list: LoadBalancerIngress[]): LoadBalancerIngress[] {
  const key = (a: LoadBalancerIngress): string => a.ip ?? `~${a.hostname ?? ''}`;
  const seen = new Set<string>();
  return list
    .filter((a) => {
      const k = key(a);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The addresses an Ingress's status holds now. */
export function addressesOfIngress(ing: KubeObject): LoadBalancerIngress[] {
  const status = ing.status;
  return sortAddresses(isRecord(status) && isRecord(status['loadBalancer']) ? readEntries(status['loadBalancer']['ingress']) : []);
}

function same(a: readonly LoadBalancerIngress[], b: readonly LoadBalancerIngress[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What one reconcile did. */
export interface StatusResult {
  readonly written: number;
  readonly removed: number;
  readonly failed: number;
}

interface Written {
  /** The resourceVersion the write was based on: while the cache still shows it, the write is in flight. */
  readonly basedOn: string | undefined;
  readonly addresses: string;
}

/** Writes Ingress status; see the file comment. */
export class StatusWriter {
  readonly #client: KubeClient;
  readonly #log: Logger;
  /** uid → our last write. */
  readonly #written = new Map<string, Written>();

  constructor(client: KubeClient, logger: Logger = silentLogger) {
    this.#client = client;
    this.#log = logger.child({ part: 'status' });
  }

  /**
   * Brings the status of every Ingress in line: ours get `addresses`, and an Ingress that is not
   * ours loses the addresses only when we wrote them (in this process, or they equal ours).
   */
  async reconcile(ingresses: readonly KubeObject[], isOurs: (ing: KubeObject) => boolean, addresses: readonly LoadBalancerIngress[]): Promise<StatusResult> {
    let written = 0;
    let removed = 0;
    let failed = 0;
    const desired = sortAddresses([...addresses]);
    const live = new Set<string>();
    for (const ing of ingresses) {
      const uid = ing.metadata?.uid ?? objectKey(ing);
      live.add(uid);
      const current = addressesOfIngress(ing);
      const ours = isOurs(ing);
      const mine = this.#written.get(uid);
      let target: readonly LoadBalancerIngress[];
      if (ours) target = desired;
      else if (current.length > 0 && (mine?.addresses === JSON.stringify(current) || same(current, desired))) target = [];
      else continue;
      if (same(current, target)) {
        if (!ours) this.#written.delete(uid);
        continue;
      }
      // Our previous write has not reached the cache yet.
      if (mine !== undefined && mine.addresses === JSON.stringify(target) && mine.basedOn === ing.metadata?.resourceVersion) continue;
      try {
        await this.#patch(ing, target);
        if (target.length === 0) removed++;
        else written++;
        this.#written.set(uid, { basedOn: ing.metadata?.resourceVersion, addresses: JSON.stringify(target) });
      } catch (err) {
        failed++;
        this.#log.warn({ ingress: objectKey(ing), err: (err as Error).message }, 'could not write the Ingress status');
      }
    }
    for (const uid of this.#written.keys()) if (!live.has(uid)) this.#written.delete(uid);
    if (written + removed > 0) this.#log.info({ written, removed, addresses: desired }, 'Ingress status updated');
    return { written, removed, failed };
  }

  async #patch(ing: KubeObject, addresses: readonly LoadBalancerIngress[]): Promise<void> {
    const ns = ing.metadata?.namespace ?? 'default';
    const name = ing.metadata?.name ?? '';
    const body = { status: { loadBalancer: { ingress: addresses.length === 0 ? null : addresses } } };
    await this.#client.request('PATCH', resourcePath(INGRESS, ns, name, 'status'), { body, contentType: 'application/merge-patch+json' });
  }
}
