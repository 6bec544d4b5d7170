/*
 * Reading Gateway API objects from `unknown` into validated shapes: each malformed part is reported
 * on its object (PASS_OBJECT_INVALID, or the Gateway code for a bad hostname) and left out;
 * defaults are filled in as the API server's CRD defaults would.
 */

import type { LabelSelector } from '../../gateway-api.ts';
import { GATEWAY_GROUP } from '../../gateway-api.ts';
import { Codes } from '../diagnostics.ts';
import type { Reporter } from '../diagnostics.ts';
import { isRecord, showValue } from '../object.ts';
import type { ObjectHeader, Rec } from '../object.ts';
import { isPortNumber, parseHost } from '../validate.ts';
import { GatewayCodes } from './codes.ts';
import type { Hostname } from './hostnames.ts';

/** A group/kind/name(/namespace) reference as written, defaults applied, namespace resolved. */
export interface ObjectReference {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** Where it is written, e.g. `spec.listeners[0].tls.certificateRefs[0]`. */
  readonly field: string;
}

/** A listener, validated. */
export interface ParsedListener {
  readonly index: number;
  readonly name: string;
  readonly field: string;
  readonly hostname?: Hostname;
  readonly port: number;
  readonly protocol: string;
  /** `Terminate` by default for HTTPS. */
  readonly tlsMode: string | undefined;
  readonly certificateRefs: readonly ObjectReference[];
  readonly from: 'All' | 'Same' | 'Selector';
  readonly selector?: LabelSelector;
  /** As written (absent: the protocol's default kinds). */
  readonly kinds?: readonly { readonly group: string; readonly kind: string }[];
}

/** One of our Gateways, validated. */
export interface ParsedGateway {
  readonly header: ObjectHeader;
  readonly generation: number | undefined;
  readonly listeners: readonly ParsedListener[];
  /** `spec.addresses`: the addresses it asks for (type as written, `IPAddress` when absent). */
  readonly addresses: readonly { readonly type: string; readonly value: string; readonly field: string }[];
}

/** A parentRef of an HTTPRoute. */
export interface ParsedParentRef {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
  readonly field: string;
  /** The reference as written, echoed in the route's status. */
  readonly raw: Rec;
}

/** A backendRef of a rule. */
export interface ParsedBackendRef extends ObjectReference {
  readonly port: number | undefined;
  readonly weight: number;
  /** The backendRef's own filters as written (validated when the route is built). */
  readonly filters: readonly { readonly value: Rec; readonly field: string }[];
}

/** A match of a rule, the path defaulted to PathPrefix `/`. */
export interface ParsedMatch {
  readonly pathType: string;
  readonly path: string;
  /** `headers` as written ([] when absent; validated when the route is built). */
  readonly headers: readonly unknown[];
  /** `queryParams` as written ([] when absent). */
  readonly queryParams: readonly unknown[];
  /** `method` as written (undefined when absent). */
  readonly method?: unknown;
  readonly field: string;
}

/** A rule of an HTTPRoute. */
export interface ParsedRule {
  readonly field: string;
  readonly matches: readonly ParsedMatch[];
  /** Filters as written (validated when applied). */
  readonly filters: readonly { readonly value: Rec; readonly field: string }[];
  readonly backendRefs: readonly ParsedBackendRef[];
  /** `timeouts` as written (validated when the route is built). */
  readonly timeouts: Rec | undefined;
}

/** An HTTPRoute, validated. */
export interface ParsedRoute {
  readonly header: ObjectHeader;
  readonly generation: number | undefined;
  readonly parentRefs: readonly ParsedParentRef[];
  readonly hostnames: readonly Hostname[];
  readonly rules: readonly ParsedRule[];
}

/** The `metadata.generation` of an object (for observedGeneration), when a non-negative integer. */
export function readGeneration(body: Rec): number | undefined {
  const meta = body['metadata'];
  const g = isRecord(meta) ? meta['generation'] : undefined;
  return typeof g === 'number' && Number.isInteger(g) && g >= 0 ? g : undefined;
}

/** A list field: [] when absent, undefined (after a diagnostic) when not a list. */
export function readList(value: unknown, field: string, report: Reporter): readonly unknown[] | undefined {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value as readonly unknown[];
  report.error(Codes.objectInvalid, field, `${field} must be a list, found ${showValue(value)}`);
  return undefined;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A hostname field: valid, absent (undefined), or invalid (null, after a diagnostic). */
export function readHostname(value: unknown, field: string, report: Reporter): Hostname | undefined | null {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    report.error(GatewayCodes.badHostname, field, `hostname must be a string, found ${showValue(value)}`);
    return null;
  }
  const p = parseHost(value);
  if (!p.ok) {
    report.error(GatewayCodes.badHostname, field, `${p.reason}; it is left out`);
    return null;
  }
  return { host: p.host, kind: p.kind };
}

/** A reference with defaults (`group` core unless given, `kind` and `namespace` as the caller says). */
export function readReference(value: unknown, field: string, defaults: { readonly group: string; readonly kind: string; readonly namespace: string }, report: Reporter): ObjectReference | undefined {
  if (!isRecord(value) || typeof value['name'] !== 'string' || value['name'] === '') {
    report.error(Codes.objectInvalid, field, `${field} must be an object with a name`);
    return undefined;
  }
  const group = typeof value['group'] === 'string' ? value['group'] : defaults.group;
  return { group, kind: optionalString(value['kind']) ?? defaults.kind, name: value['name'], namespace: optionalString(value['namespace']) ?? defaults.namespace, field };
}

function readListener(value: unknown, index: number, report: Reporter, namespace: string): ParsedListener | undefined | null {
  const field = `spec.listeners[${index}]`;
  if (!isRecord(value) || typeof value['name'] !== 'string' || value['name'] === '') {
    report.error(Codes.objectInvalid, field, `${field} must be an object with a name`);
    return undefined;
  }
  if (!isPortNumber(value['port'])) {
    report.error(Codes.objectInvalid, `${field}.port`, 'port must be an integer from 1 to 65535');
    return undefined;
  }
  if (typeof value['protocol'] !== 'string') {
    report.error(Codes.objectInvalid, `${field}.protocol`, 'protocol must be a string');
    return undefined;
  }
  const hostname = readHostname(value['hostname'], `${field}.hostname`, report);
  // An invalid hostname must not widen the listener to every host.
  if (hostname === null) return null;
  const tls = isRecord(value['tls']) ? value['tls'] : undefined;
  const refs: ObjectReference[] = [];
  (readList(tls?.['certificateRefs'], `${field}.tls.certificateRefs`, report) ?? []).forEach((r, k) => {
    const ref = readReference(r, `${field}.tls.certificateRefs[${k}]`, { group: '', kind: 'Secret', namespace }, report);
    if (ref !== undefined) refs.push(ref);
  });
  const allowed = isRecord(value['allowedRoutes']) ? value['allowedRoutes'] : {};
  const ns = isRecord(allowed['namespaces']) ? allowed['namespaces'] : {};
  const from = ns['from'] === 'All' || ns['from'] === 'Selector' ? ns['from'] : 'Same';
  const selector = isRecord(ns['selector']) ? (ns['selector'] as LabelSelector) : undefined;
  const rawKinds = allowed['kinds'];
  const kinds = Array.isArray(rawKinds)
    ? (rawKinds as readonly unknown[]).filter(isRecord).map((k) => ({ group: typeof k['group'] === 'string' ? k['group'] : GATEWAY_GROUP, kind: typeof k['kind'] === 'string' ? k['kind'] : '' }))
    : undefined;
  return {
    index,
    name: value['name'],
    field,
    ...(hostname === undefined ? {} : { hostname }),
    port: value['port'],
    protocol: value['protocol'],
    tlsMode: tls === undefined ? undefined : (optionalString(tls['mode']) ?? 'Terminate'),
    certificateRefs: refs,
    from,
    ...(selector === undefined ? {} : { selector }),
    ...(kinds === undefined || kinds.length === 0 ? {} : { kinds }),
  };
}

/** Reads a Gateway's spec; undefined (after a diagnostic) when the spec is unusable. */
export function parseGateway(h: ObjectHeader): ParsedGateway | undefined {
  const spec = h.body['spec'];
  if (!isRecord(spec)) {
    h.reporter.error(Codes.objectInvalid, 'spec', 'spec must be an object');
    return undefined;
  }
  const listeners: ParsedListener[] = [];
  (readList(spec['listeners'], 'spec.listeners', h.reporter) ?? []).forEach((l, i) => {
    const read = readListener(l, i, h.reporter, h.namespace);
    if (read !== undefined && read !== null) listeners.push(read);
  });
  const addresses = (Array.isArray(spec['addresses']) ? (spec['addresses'] as unknown[]) : []).map((a, i) => {
    const r = isRecord(a) ? a : {};
    return { type: typeof r['type'] === 'string' ? r['type'] : 'IPAddress', value: typeof r['value'] === 'string' ? r['value'] : '', field: `spec.addresses[${i}]` };
  });
  return { header: h, generation: readGeneration(h.body), listeners, addresses };
}

/** The gatewayClassName of a Gateway, when a string. */
export function gatewayClassName(body: Rec): string | undefined {
  const spec = body['spec'];
  return isRecord(spec) ? optionalString(spec['gatewayClassName']) : undefined;
}

function readMatch(value: unknown, field: string, report: Reporter): ParsedMatch | undefined {
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be an object`);
    return undefined;
  }
  const path = isRecord(value['path']) ? value['path'] : {};
  const pathType = optionalString(path['type']) ?? 'PathPrefix';
  const raw = path['value'];
  const headers = readList(value['headers'], `${field}.headers`, report);
  const queryParams = readList(value['queryParams'], `${field}.queryParams`, report);
  // A condition list that cannot be read must not widen the match to every request.
  if (headers === undefined || queryParams === undefined) return undefined;
  const method = value['method'];
  return { pathType, path: typeof raw === 'string' && raw !== '' ? raw : '/', headers, queryParams, ...(method === undefined || method === null ? {} : { method }), field };
}

/** A backendRef (of a rule, or of a RequestMirror filter), defaulted to a Service of the route's namespace; undefined after a diagnostic. */
export function readBackendRef(value: unknown, field: string, namespace: string, report: Reporter): ParsedBackendRef | undefined {
  const ref = readReference(value, field, { group: '', kind: 'Service', namespace }, report);
  if (ref === undefined || !isRecord(value)) return undefined;
  const port = value['port'];
  const weight = value['weight'];
  if (weight !== undefined && weight !== null && !(typeof weight === 'number' && Number.isInteger(weight) && weight >= 0 && weight <= 1_000_000)) {
    report.error(Codes.objectInvalid, `${field}.weight`, 'weight must be an integer from 0 to 1000000; this backendRef is left out');
    return undefined;
  }
  const filters: { value: Rec; field: string }[] = [];
  (readList(value['filters'], `${field}.filters`, report) ?? []).forEach((f, k) => {
    if (isRecord(f)) filters.push({ value: f, field: `${field}.filters[${k}]` });
    else report.error(Codes.objectInvalid, `${field}.filters[${k}]`, 'a filter must be an object');
  });
  return { ...ref, port: isPortNumber(port) ? port : undefined, weight: typeof weight === 'number' ? weight : 1, filters };
}

function readRule(value: unknown, field: string, namespace: string, report: Reporter): ParsedRule | undefined {
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be an object`);
    return undefined;
  }
  const matches: ParsedMatch[] = [];
  const rawMatches = readList(value['matches'], `${field}.matches`, report);
  if (rawMatches === undefined) return undefined;
  rawMatches.forEach((m, j) => {
    const read = readMatch(m, `${field}.matches[${j}]`, report);
    if (read !== undefined) matches.push(read);
  });
  // No matches: the spec's default, every path.
  if (rawMatches.length === 0) matches.push({ pathType: 'PathPrefix', path: '/', headers: [], queryParams: [], field: `${field}.matches` });
  const filters: { value: Rec; field: string }[] = [];
  (readList(value['filters'], `${field}.filters`, report) ?? []).forEach((f, k) => {
    if (isRecord(f)) filters.push({ value: f, field: `${field}.filters[${k}]` });
    else report.error(Codes.objectInvalid, `${field}.filters[${k}]`, 'a filter must be an object');
  });
  const backendRefs: ParsedBackendRef[] = [];
  (readList(value['backendRefs'], `${field}.backendRefs`, report) ?? []).forEach((b, k) => {
    const read = readBackendRef(b, `${field}.backendRefs[${k}]`, namespace, report);
    if (read !== undefined) backendRefs.push(read);
  });
  const timeouts = value['timeouts'];
  return { field, matches, filters, backendRefs, timeouts: isRecord(timeouts) ? timeouts : undefined };
}

/** Reads an HTTPRoute's spec; undefined (after a diagnostic) when the spec is unusable. */
export function parseRoute(h: ObjectHeader): ParsedRoute | undefined {
  const spec = h.body['spec'];
  if (!isRecord(spec)) {
    h.reporter.error(Codes.objectInvalid, 'spec', 'spec must be an object');
    return undefined;
  }
  const report = h.reporter;
  const parentRefs: ParsedParentRef[] = [];
  (readList(spec['parentRefs'], 'spec.parentRefs', report) ?? []).forEach((p, i) => {
    const field = `spec.parentRefs[${i}]`;
    const ref = readReference(p, field, { group: GATEWAY_GROUP, kind: 'Gateway', namespace: h.namespace }, report);
    if (ref === undefined || !isRecord(p)) return;
    const sectionName = optionalString(p['sectionName']);
    const port = isPortNumber(p['port']) ? p['port'] : undefined;
    parentRefs.push({ group: ref.group, kind: ref.kind, namespace: ref.namespace, name: ref.name, field, raw: p, ...(sectionName === undefined ? {} : { sectionName }), ...(port === undefined ? {} : { port }) });
  });
  const hostnames: Hostname[] = [];
  const rawHosts = readList(spec['hostnames'], 'spec.hostnames', report) ?? [];
  rawHosts.forEach((v, i) => {
    const read = readHostname(v, `spec.hostnames[${i}]`, report);
    if (read !== undefined && read !== null && !hostnames.some((x) => x.host === read.host)) hostnames.push(read);
  });
  const rules: ParsedRule[] = [];
  const rawRules = readList(spec['rules'], 'spec.rules', report) ?? [];
  rawRules.forEach((r, i) => {
    const read = readRule(r, `spec.rules[${i}]`, h.namespace, report);
    if (read !== undefined) rules.push(read);
  });
  // No rules: the spec's default, one rule for every path without a backend.
  if (rawRules.length === 0) rules.push({ field: 'spec.rules', matches: [{ pathType: 'PathPrefix', path: '/', headers: [], queryParams: [], field: 'spec.rules' }], filters: [], backendRefs: [], timeouts: undefined });
  // Every hostname invalid: the route would otherwise widen to every host of its listeners.
  return rawHosts.length > 0 && hostnames.length === 0 ? { header: h, generation: readGeneration(h.body), parentRefs, hostnames, rules: [] } : { header: h, generation: readGeneration(h.body), parentRefs, hostnames, rules };
}
