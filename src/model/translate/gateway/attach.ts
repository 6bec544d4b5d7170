/*
 * Attaching an HTTPRoute to listeners: each parentRef naming one of our Gateways selects listeners
 * (sectionName, port), which must allow the route (allowedRoutes) and share a hostname with it. The
 * outcome is the parent's Accepted condition and the hosts the route serves through each listener.
 */

import type { LabelSelector } from '../../gateway-api.ts';
import { GATEWAY_GROUP, GatewayConditions as T, GatewayReasons as R } from '../../gateway-api.ts';
import type { HostKind } from '../../types.ts';
import { GatewayCodes } from './codes.ts';
import { isolatedHosts, routeHosts } from './hostnames.ts';
import type { ListenerState } from './listeners.ts';
import type { ParsedParentRef, ParsedRoute } from './read.ts';
import { condition } from './status.ts';
import type { GatewayCondition } from './status.ts';

/** A listener a route is attached to, and the hosts it serves through it. */
export interface Attachment {
  readonly listener: ListenerState;
  readonly hosts: readonly { readonly host: string; readonly kind: HostKind }[];
}

/** The outcome of one parentRef that names one of our Gateways. */
export interface ParentOutcome {
  readonly parentRef: ParsedParentRef;
  readonly accepted: GatewayCondition;
  readonly attachments: readonly Attachment[];
}

/** Whether a label selector selects these labels (matchLabels and matchExpressions, all of them). */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    const ok =
      e.operator === 'In' ? has && value !== undefined && values.includes(value)
      : e.operator === 'NotIn' ? !has || value === undefined || !values.includes(value)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}

/** Whether a listener lets routes of `namespace` attach (`labels`: that namespace's labels, when known). */
export function allowsNamespace(l: ListenerState, namespace: string, labels: Readonly<Record<string, string>> | undefined): boolean {
  const from = l.listener.from;
  if (from === 'All') return true;
  if (from === 'Same') return namespace === l.gateway.header.namespace;
  // Selector: a namespace whose labels are not known is not selected.
  return l.listener.selector !== undefined && labels !== undefined && selects(l.listener.selector, labels);
}

/** Whether a parentRef names a Gateway (the only parent kind translate reads). */
export function namesGateway(p: ParsedParentRef): boolean {
  return p.group === GATEWAY_GROUP && p.kind === 'Gateway';
}

/**
 * Attaches a route through one parentRef to the listeners of its Gateway (ours), counting it on each
 * listener that accepts it, and reports a parentRef that attaches nowhere.
 */
export function attachParent(route: ParsedRoute, p: ParsedParentRef, listeners: readonly ListenerState[], namespaceLabels: (ns: string) => Readonly<Record<string, string>> | undefined): ParentOutcome {
  const gen = route.generation;
  const report = route.header.reporter;
  const key = `${route.header.namespace}/${route.header.name}`;
  const refuse = (reason: string, message: string): ParentOutcome => {
    report.error(GatewayCodes.notAttached, p.field, `${message}; the route is not served through Gateway ${p.namespace}/${p.name}`);
    return { parentRef: p, accepted: condition(T.accepted, false, reason, message, gen), attachments: [] };
  };
  const selected = listeners.filter((l) => (p.sectionName === undefined || l.listener.name === p.sectionName) && (p.port === undefined || l.listener.port === p.port));
  if (selected.length === 0) {
    const which = [p.sectionName === undefined ? '' : `named ${p.sectionName}`, p.port === undefined ? '' : `on port ${p.port}`].filter((s) => s !== '').join(' ');
    return refuse(R.noMatchingParent, `Gateway ${p.namespace}/${p.name} has no listener${which === '' ? '' : ` ${which}`}`);
  }
  const labels = namespaceLabels(route.header.namespace);
  const allowed = selected.filter((l) => l.supportedKinds.length > 0 && allowsNamespace(l, route.header.namespace, labels));
  if (allowed.length === 0) return refuse(R.notAllowedByListeners, `no listener of Gateway ${p.namespace}/${p.name} allows HTTPRoutes of namespace ${route.header.namespace}`);
  const attachments = allowed.map((l) => ({ listener: l, hosts: routeHosts(l.listener.hostname, route.hostnames) })).filter((a) => a.hosts.length > 0);
  if (attachments.length === 0) return refuse(R.noMatchingListenerHostname, `no hostname of the route matches a listener hostname of Gateway ${p.namespace}/${p.name}`);
  // attachedRoutes counts the routes a listener accepts: selected, allowed, and sharing a hostname with it.
  for (const a of attachments) a.listener.attached.add(key);
  // Served only where no more specific listener of the same port takes the requests (listener isolation).
  const isolated = attachments.map((a) => {
    const samePort = listeners.filter((o) => o !== a.listener && o.listener.port === a.listener.listener.port).map((o) => o.listener.hostname);
    return { ...a, hosts: isolatedHosts(a.hosts, a.listener.listener.hostname, samePort) };
  });
  return { parentRef: p, accepted: condition(T.accepted, true, R.accepted, 'the route is attached', gen), attachments: isolated };
}
