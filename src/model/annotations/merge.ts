/*
 * The two dialects together: a value decided by both keeps the ingress-nginx one (the Traefik 1
 * annotations that decided it get `conflict`, or a note when they agree), then the slots become the
 * policy and the references of the result. Pure.
 */

import { defined } from '../../shared/optional.ts';
import type { LimitPolicy, RoutePolicy, TimeoutPolicy, UpstreamPolicy } from '../policy.ts';
import { sameValue } from './reader.ts';
import type { DialectRead, Slot, SlotKey, Slots, SlotTypes } from './reader.ts';
import type { AnnotationFinding, PolicyRefs } from './types.ts';

/** The slots of both dialects and every finding, the Traefik 1 ones updated where they meet. */
export interface Merged {
  readonly slots: Slots;
  readonly findings: readonly AnnotationFinding[];
}

function mergeSlot<K extends SlotKey>(key: K, slots: Slots, traefik: Slot<SlotTypes[K]> | undefined, findings: Map<string, AnnotationFinding>): void {
  const nginx = slots[key] as Slot<SlotTypes[K]> | undefined;
  if (traefik === undefined) return;
  if (nginx === undefined || nginx.fallback) {
    slots[key] = traefik as Slots[K];
    return;
  }
  const same = sameValue(nginx.value, traefik.value);
  const by = nginx.members.join(', ');
  for (const member of traefik.members) {
    const f = findings.get(member);
    if (f === undefined) continue;
    findings.set(
      member,
      same
        ? { ...f, note: `${f.note} (the same as ${by})` }
        : { ...f, status: 'conflict', code: 'PASS_ANNOTATION_CONFLICT', note: `${member}: ${by} decides the same with another value, and the ingress-nginx annotation is kept` },
    );
  }
}

/**
 * Merges what the two dialects decided.
 *
 * @param nginx what the ingress-nginx annotations decided
 * @param traefik what the Traefik 1 annotations decided
 * @returns the slots (ingress-nginx first) and every finding, sorted by annotation name
 */
export function mergeDialects(nginx: DialectRead, traefik: DialectRead): Merged {
  const slots: Slots = { ...nginx.slots };
  const findings = new Map([...nginx.findings, ...traefik.findings]);
  for (const key of Object.keys(traefik.slots) as SlotKey[]) mergeSlot(key, slots, traefik.slots[key] as Slot<SlotTypes[typeof key]> | undefined, findings);
  return { slots, findings: [...findings.values()].sort((a, b) => (a.annotation < b.annotation ? -1 : a.annotation > b.annotation ? 1 : 0)) };
}

/** A slot's value; undefined when undecided or explicitly off. */
function valueOf<K extends SlotKey>(slots: Slots, key: K): SlotTypes[K] | undefined {
  return (slots[key] as Slot<SlotTypes[K]> | undefined)?.value ?? undefined;
}

/** Undefined for an object with no field, so that an empty sub-policy is left out. */
function nonEmpty<T extends object>(value: T): T | undefined {
  return Object.keys(value).length === 0 ? undefined : value;
}

/**
 * The policy and references the decided slots give.
 *
 * @param slots the merged slots
 * @returns the route policy (without the parts translate resolves) and the references
 */
export function assemble(slots: Slots): { readonly policy: RoutePolicy; readonly refs: PolicyRefs } {
  const v = <K extends SlotKey>(key: K): SlotTypes[K] | undefined => valueOf(slots, key);
  const rewrite = v('rewrite');
  const limits: LimitPolicy = defined({ maxBodyBytes: v('maxBodyBytes'), rps: v('rps'), connections: v('connections') });
  const timeouts: TimeoutPolicy = defined({ connect: v('connectTimeout'), send: v('sendTimeout'), read: v('readTimeout') });
  const upstream: UpstreamPolicy = defined({ protocol: v('protocol'), vhost: v('vhost'), loadBalance: v('loadBalance'), tries: v('tries'), affinity: v('affinity') });
  const headers = defined({ request: v('requestHeaders'), response: v('responseHeaders') });
  const regexAnnotation = rewrite?.kind === 'regex' ? slots.rewrite?.members[0] : slots.regexPaths?.members[0];
  const policy: RoutePolicy = defined({
    sslRedirect: v('sslRedirect'),
    redirect: v('redirect'),
    appRoot: v('appRoot'),
    rewrite: rewrite?.kind === 'policy' ? rewrite.rewrite : undefined,
    allowSourceRange: v('allowSourceRange'),
    externalAuth: v('externalAuth'),
    limits: nonEmpty(limits),
    timeouts: nonEmpty(timeouts),
    upstream: nonEmpty(upstream),
    cors: v('cors'),
    hsts: v('hsts'),
    headers: nonEmpty(headers),
    priority: v('priority'),
  });
  const refs: PolicyRefs = defined({
    authSecret: v('authSecret'),
    canary: v('canary'),
    wwwRedirect: v('wwwRedirect'),
    serviceWeights: v('serviceWeights'),
    customHeaders: v('customHeaders'),
    regexPaths:
      regexAnnotation === undefined || (rewrite?.kind !== 'regex' && v('regexPaths') === undefined)
        ? undefined
        : { ...(rewrite?.kind === 'regex' ? { rewriteTarget: rewrite.target } : {}), annotation: regexAnnotation },
  });
  return { policy, refs };
}
