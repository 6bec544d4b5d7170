/*
 * Gateway API status write-back (the leader's): the status translate decided (GatewayClass
 * conditions; Gateway conditions, listeners and addresses; the HTTPRoute `status.parents` entries of
 * our controllerName) goes to the `/status` subresource of each object, only when it differs from what
 * is stored, ignoring lastTransitionTime. A condition whose status is unchanged keeps its stored
 * lastTransitionTime, so that a restarted controller writes nothing. Other controllers' entries of an
 * HTTPRoute are kept; each write carries the resourceVersion it was computed from, and a conflict
 * (409) re-reads the object and computes again.
 */

import { isIP } from 'node:net';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import type { KubeObject } from '../../model/k8s.ts';
import type { GatewayCondition, GatewayStatuses, RouteParentStatus } from '../../model/translate/gateway/index.ts';
import { KubeApiError, type KubeClient } from './client.ts';
import { objectKey, resourcePath } from './informer.ts';
import type { ResourceType } from './resources.ts';

type Rec = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One entry of a Gateway's `status.addresses`. */
export interface GatewayAddress {
  readonly type: 'IPAddress' | 'Hostname';
  readonly value: string;
}

/** Gateway addresses from IPs and host names (the type is told by the text), without duplicates. */
export function gatewayAddresses(values: readonly string[]): GatewayAddress[] {
  const seen = new Set<string>();
  const out: GatewayAddress[] = [];
  for (const raw of values) {
    const value = raw.trim();
    if (value === '' || seen.has(value)) continue;
    seen.add(value);
    out.push({ type: isIP(value) === 0 ? 'Hostname' : 'IPAddress', value });
  }
  return out;
}

/** JSON with object keys sorted: equal values give equal text whatever the key order the apiserver used. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A list of conditions as compared: without lastTransitionTime. */
function conditionsKey(list: unknown): string {
  const items = Array.isArray(list) ? (list as unknown[]) : [];
  return canonical(items.map((c) => (isRecord(c) ? { ...c, lastTransitionTime: undefined } : c)));
}

/** `metav1.Time`: RFC 3339 in whole seconds. */
function timestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Our conditions with their lastTransitionTime: the stored one when the stored condition of that type
 * has the same status, else `now`.
 */
export function withTransitionTimes(conditions: readonly GatewayCondition[], stored: unknown, now: string): Record<string, unknown>[] {
  const old = Array.isArray(stored) ? (stored as unknown[]).filter(isRecord) : [];
  return conditions.map((c) => {
    const previous = old.find((o) => o['type'] === c.type);
    const keep = previous !== undefined && previous['status'] === c.status && typeof previous['lastTransitionTime'] === 'string';
    return { ...c, lastTransitionTime: keep ? (previous['lastTransitionTime'] as string) : now };
  });
}

/** The status fields we own of one object, computed from what it stores now; undefined: nothing to own. */
type Desired = (stored: Rec, now: string) => Record<string, unknown>;

/** What one reconcile did. */
export interface GatewayStatusResult {
  readonly written: number;
  readonly failed: number;
}

/** The objects whose status may be written, as the informers hold them (with their status). */
export interface GatewayStatusObjects {
  readonly gatewayClasses: readonly KubeObject[];
  readonly gateways: readonly KubeObject[];
  readonly httpRoutes: readonly KubeObject[];
}

/** The resource types to write to (ReferenceGrant is never written). */
export interface GatewayStatusTypes {
  readonly gatewayClass: ResourceType;
  readonly gateway: ResourceType;
  readonly httpRoute: ResourceType;
}

interface Written {
  /** The resourceVersion our write was computed from: while the cache still shows it, the write is in flight. */
  readonly basedOn: string | undefined;
  readonly key: string;
}

const MAX_CONFLICTS = 5;

/** Writes Gateway API status; see the file comment. */
export class GatewayStatusWriter {
  readonly #client: KubeClient;
  readonly #log: Logger;
  readonly #controllerName: string;
  readonly #types: GatewayStatusTypes;
  readonly #written = new Map<string, Written>();
  readonly #now: () => Date;

  constructor(client: KubeClient, types: GatewayStatusTypes, controllerName: string, logger: Logger = silentLogger, now: () => Date = () => new Date()) {
    this.#client = client;
    this.#types = types;
    this.#controllerName = controllerName;
    this.#log = logger.child({ part: 'gateway-status' });
    this.#now = now;
  }

  /**
   * Brings the status of our GatewayClasses, Gateways and the HTTPRoutes naming them in line with
   * `status` (translate's), with `addresses` as the address of every Gateway without one of its own (`GatewayStatus.address`). An HTTPRoute absent from
   * `status` loses the parents entries of our controllerName, if it has any.
   */
  async reconcile(status: GatewayStatuses, objects: GatewayStatusObjects, addresses: readonly GatewayAddress[]): Promise<GatewayStatusResult> {
    let written = 0;
    let failed = 0;
    const live = new Set<string>();
    const one = async (type: ResourceType, obj: KubeObject | undefined, desired: Desired): Promise<void> => {
      if (obj === undefined) return;
      const id = `${type.kind} ${obj.metadata?.uid ?? objectKey(obj)}`;
      live.add(id);
      try {
        if (await this.#write(type, id, obj, desired)) written++;
      } catch (err) {
        failed++;
        this.#log.warn({ kind: type.kind, object: objectKey(obj), err: (err as Error).message }, 'could not write the Gateway API status');
      }
    };

    const classes = new Map(objects.gatewayClasses.map((o) => [objectKey(o), o]));
    for (const c of status.gatewayClasses) {
      await one(this.#types.gatewayClass, classes.get(c.name), (stored, now) => ({ conditions: withTransitionTimes(c.conditions, stored['conditions'], now), supportedFeatures: c.supportedFeatures.map((name) => ({ name })) }));
    }

    const gateways = new Map(objects.gateways.map((o) => [objectKey(o), o]));
    for (const g of status.gateways) {
      await one(this.#types.gateway, gateways.get(`${g.namespace}/${g.name}`), (stored, now) => {
        const oldListeners = Array.isArray(stored['listeners']) ? (stored['listeners'] as unknown[]).filter(isRecord) : [];
        const own = g.unserved === true ? [] : g.address === undefined ? addresses : gatewayAddresses([g.address]);
        return {
          addresses: own.length === 0 ? undefined : own.map((a) => ({ type: a.type, value: a.value })),
          conditions: withTransitionTimes(g.conditions, stored['conditions'], now),
          listeners: g.listeners.map((l) => ({
            name: l.name,
            supportedKinds: l.supportedKinds.map((k) => ({ group: k.group, kind: k.kind })),
            attachedRoutes: l.attachedRoutes,
            conditions: withTransitionTimes(l.conditions, oldListeners.find((o) => o['name'] === l.name)?.['conditions'], now),
          })),
        };
      });
    }

    const routeStatus = new Map(status.httpRoutes.map((r) => [`${r.namespace}/${r.name}`, r.parents]));
    for (const route of objects.httpRoutes) {
      const ours = routeStatus.get(objectKey(route)) ?? [];
      // A route we have nothing to say about, and never said anything about: not ours to touch.
      if (ours.length === 0 && !this.#hasOurParents(route.status)) continue;
      await one(this.#types.httpRoute, route, (stored, now) => ({ parents: this.#parents(ours, stored['parents'], now) }));
    }

    for (const id of this.#written.keys()) if (!live.has(id)) this.#written.delete(id);
    if (written > 0) this.#log.info({ written }, 'Gateway API status updated');
    return { written, failed };
  }

  #hasOurParents(status: unknown): boolean {
    const parents = isRecord(status) && Array.isArray(status['parents']) ? (status['parents'] as unknown[]) : [];
    return parents.some((p) => isRecord(p) && p['controllerName'] === this.#controllerName);
  }

  /** Other controllers' entries as they are, then ours (each keeping the transition times of its stored twin). */
  #parents(ours: readonly RouteParentStatus[], stored: unknown, now: string): Record<string, unknown>[] {
    const old = Array.isArray(stored) ? (stored as unknown[]).filter(isRecord) : [];
    const others = old.filter((p) => p['controllerName'] !== this.#controllerName);
    const mine = old.filter((p) => p['controllerName'] === this.#controllerName);
    return [
      ...others,
      ...ours.map((p) => {
        const twin = mine.find((o) => canonical(o['parentRef']) === canonical(p.parentRef));
        return { parentRef: p.parentRef, controllerName: p.controllerName, conditions: withTransitionTimes(p.conditions, twin?.['conditions'], now) };
      }),
    ];
  }

  /** Writes one object's status when it differs; re-reads and recomputes after a conflict. Returns whether it wrote. */
  async #write(type: ResourceType, id: string, cached: KubeObject, desired: Desired): Promise<boolean> {
    let obj = cached;
    for (let attempt = 1; ; attempt++) {
      const stored = isRecord(obj.status) ? obj.status : {};
      const want = desired(stored, timestamp(this.#now()));
      const key = canonical(Object.fromEntries(Object.entries(want).map(([k, v]) => [k, k === 'conditions' ? conditionsKey(v) : normalise(v)])));
      const have = canonical(Object.fromEntries(Object.keys(want).map((k) => [k, k === 'conditions' ? conditionsKey(stored[k]) : normalise(stored[k])])));
      const rv = obj.metadata?.resourceVersion;
      if (key === have) {
        this.#written.delete(id);
        return false;
      }
      // Our last write has not reached the cache yet.
      const mine = this.#written.get(id);
      if (attempt === 1 && mine !== undefined && mine.key === key && mine.basedOn === rv) return false;
      const ns = obj.metadata?.namespace;
      const name = obj.metadata?.name ?? '';
      // null removes a field in a merge patch (an address list that is no longer configured).
      const body = { metadata: { resourceVersion: rv }, status: Object.fromEntries(Object.entries(want).map(([k, v]) => [k, v ?? null])) };
      try {
        await this.#client.request('PATCH', resourcePath(type, ns, name, 'status'), { body, contentType: 'application/merge-patch+json' });
        this.#written.set(id, { basedOn: rv, key });
        this.#log.debug({ kind: type.kind, object: objectKey(obj) }, 'status written');
        return true;
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 409 || attempt >= MAX_CONFLICTS) throw err;
        obj = await this.#client.request<KubeObject>('GET', resourcePath(type, ns, name));
      }
    }
  }
}

/** A status field as compared: parents' conditions without lastTransitionTime, listeners' too. */
function normalise(v: unknown): unknown {
  if (!Array.isArray(v)) return v ?? null;
  return (v as unknown[]).map((item) => (isRecord(item) && Array.isArray(item['conditions']) ? { ...item, conditions: conditionsKey(item['conditions']) } : item));
}
