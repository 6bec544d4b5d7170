/*
 * The model routes of one HTTPRoute: each match of each rule becomes a route (its path, and its
 * method, header and query parameter matches as the route's conditions), its backendRefs resolved
 * through the Ingress translation's resolver (weighted: two as main and canary, more as a split where
 * the mode renders one), its filters as the route's policy, fitted to the proxy mode.
 */

import { GATEWAY_GROUP, GatewayConditions as T, GatewayReasons as R } from '../../gateway-api.ts';
import { normalizeRulePath } from '../../match.ts';
import type { HeaderPolicy, RoutePolicy, SplitPolicy, TimeoutPolicy } from '../../policy.ts';
import { FEATURE_MODES, fitPolicy } from '../../policy-support.ts';
import type { ProxyMode } from '../../policy-support.ts';
import type { Backend, PathType, Route, RouteConditions, ValueCondition } from '../../types.ts';
import { reportBackendProblem } from '../backends.ts';
import type { BackendResolver } from '../backends.ts';
import { Codes } from '../diagnostics.ts';
import type { Reporter } from '../diagnostics.ts';
import { REGEX_ROUTE_MODES } from '../policies.ts';
import { pathProblem, regexPathProblem, valueRegexProblem } from '../validate.ts';
import { headerName, headerValue } from '../../annotations/grammar.ts';
import { isRecord, showValue } from '../object.ts';
import { GatewayCodes } from './codes.ts';
import { filtersPolicy } from './filters.ts';
import type { MirrorTarget } from './filters.ts';
import type { ReferenceGrants } from './grants.ts';
import { readBackendRef } from './read.ts';
import type { ParsedBackendRef, ParsedMatch, ParsedRoute, ParsedRule } from './read.ts';
import { condition } from './status.ts';
import type { GatewayCondition } from './status.ts';

/** The backend id of a route none of whose backendRefs can serve: no model backend has it, so it answers 503. */
export function noBackendId(route: ParsedRoute): string {
  return `${route.header.namespace}/${route.header.name}#no-backend`;
}

/** What the routes of an HTTPRoute need. */
export interface RouteContext {
  readonly resolver: BackendResolver;
  readonly grants: ReferenceGrants;
  readonly mode: ProxyMode;
  /** Backends used, by id (the caller's map, shared with the Ingress translation's). */
  readonly used: Map<string, Backend>;
}

/** The routes of one HTTPRoute (for every host it serves) and the conditions they decide. */
export interface RouteBuild {
  /** One per routable match, in rule and match order; `path` normalised. */
  readonly routes: readonly Route[];
  /** ResolvedRefs, then PartiallyInvalid when a match or filter could not be applied. */
  readonly conditions: readonly GatewayCondition[];
}

const PATH_TYPES: Readonly<Record<string, PathType>> = { Exact: 'Exact', PathPrefix: 'Prefix', RegularExpression: 'Regex' };

/** The modes that route header, query parameter and method matches (route conditions); elsewhere such a match is not routed. */
export const CONDITION_ROUTE_MODES: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

/** The methods an HTTPRoute match may name (the API's enum). */
export const MATCH_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** Query parameter names a match may use: URI unreserved characters (what every mode can look up as written). */
const QUERY_NAME = /^[A-Za-z0-9\-._~]{1,256}$/;

/** Exact query values: printable ASCII without space, & # and the characters configuration files quote (" \ $ { } ; '). */
const QUERY_VALUE = /^[\x21-\x7e]{1,1024}$/;
const QUERY_VALUE_REFUSED = /["\\${};'&#]/;

/**
 * The header or query conditions of a match (names unique: the first entry of a name counts, as the
 * spec says); undefined after a diagnostic naming the field when one cannot be applied.
 */
function valueConditions(list: readonly unknown[], kind: 'headers' | 'queryParams', field: string, report: Reporter): ValueCondition[] | undefined {
  const out: ValueCondition[] = [];
  for (const [k, raw] of list.entries()) {
    const at = `${field}.${kind}[${k}]`;
    if (!isRecord(raw) || typeof raw['name'] !== 'string' || typeof raw['value'] !== 'string') {
      report.error(GatewayCodes.badMatch, at, `a ${kind === 'headers' ? 'header' : 'query parameter'} match needs a name and a value, found ${showValue(raw)}; this match is not routed`);
      return undefined;
    }
    const type = raw['type'] ?? 'Exact';
    if (type !== 'Exact' && type !== 'RegularExpression') {
      report.error(GatewayCodes.badMatch, `${at}.type`, `match type ${showValue(type)} is not Exact or RegularExpression; this match is not routed`);
      return undefined;
    }
    let name: string = raw['name'];
    if (kind === 'headers') {
      const n = headerName(name);
      if (!n.ok) {
        report.error(GatewayCodes.badMatch, `${at}.name`, `${showValue(name)} ${n.problem}; this match is not routed`);
        return undefined;
      }
      name = name.toLowerCase();
    } else if (!QUERY_NAME.test(name)) {
      report.error(GatewayCodes.badMatch, `${at}.name`, `${showValue(name)} is not a query parameter name of 1 to 256 letters, digits, - . _ ~; this match is not routed`);
      return undefined;
    }
    const value: string = raw['value'];
    let problem: string | undefined;
    if (type === 'RegularExpression') problem = valueRegexProblem(value);
    else if (kind === 'headers') {
      const v = headerValue(value);
      problem = v.ok ? undefined : `${showValue(value)} ${v.problem}`;
    } else if (!QUERY_VALUE.test(value) || QUERY_VALUE_REFUSED.test(value)) {
      problem = `${showValue(value)} is not a query value of 1 to 1024 printable characters without space and " \\ $ { } ; ' & #`;
    }
    if (problem !== undefined) {
      report.error(GatewayCodes.badMatch, `${at}.value`, `${problem}; this match is not routed`);
      return undefined;
    }
    if (out.some((c) => c.name === name)) {
      report.warning(GatewayCodes.fieldIgnored, at, `${kind === 'headers' ? 'header' : 'query parameter'} ${name} is matched by an earlier entry of this match; this one is ignored, as the spec says`);
      continue;
    }
    out.push({ name, type, value });
  }
  return out;
}

/** The conditions of a match (method, headers, query parameters); undefined after a diagnostic. */
function matchConditions(m: ParsedMatch, report: Reporter): RouteConditions | undefined | null {
  let method: string | undefined;
  if (m.method !== undefined) {
    if (typeof m.method !== 'string' || !MATCH_METHODS.includes(m.method)) {
      report.error(GatewayCodes.badMatch, `${m.field}.method`, `method ${showValue(m.method)} is not one of ${MATCH_METHODS.join(', ')}; this match is not routed`);
      return null;
    }
    method = m.method;
  }
  const headers = valueConditions(m.headers, 'headers', m.field, report);
  if (headers === undefined) return null;
  const query = valueConditions(m.queryParams, 'queryParams', m.field, report);
  if (query === undefined) return null;
  if (method === undefined && headers.length === 0 && query.length === 0) return undefined;
  return { ...(method === undefined ? {} : { method }), ...(headers.length === 0 ? {} : { headers }), ...(query.length === 0 ? {} : { query }) };
}

/** A match as the model's path, pathType and conditions; undefined after a diagnostic. */
function modelMatch(m: ParsedMatch, mode: ProxyMode, report: Reporter): { path: string; pathType: PathType; conditions: RouteConditions | undefined } | undefined {
  const pathType = PATH_TYPES[m.pathType];
  if (pathType === undefined) {
    report.error(GatewayCodes.badMatch, `${m.field}.path.type`, `path type ${m.pathType} is not Exact, PathPrefix or RegularExpression; this match is not routed`);
    return undefined;
  }
  if (pathType === 'Regex' && !REGEX_ROUTE_MODES.includes(mode)) {
    report.error(GatewayCodes.badMatch, `${m.field}.path`, `regular expression paths are not routed in ${mode} mode; this match is not routed`);
    return undefined;
  }
  const problem = pathType === 'Regex' ? regexPathProblem(m.path) : pathProblem(m.path);
  if (problem !== undefined) {
    report.error(GatewayCodes.badMatch, `${m.field}.path.value`, `${problem}; this match is not routed`);
    return undefined;
  }
  const conditions = matchConditions(m, report);
  if (conditions === null) return undefined;
  if (conditions !== undefined && !CONDITION_ROUTE_MODES.includes(mode)) {
    report.error(GatewayCodes.matchNotSupported, m.field, `matching on the method, headers or query parameters is not routed in ${mode} mode; this match is not routed`);
    return undefined;
  }
  return { path: normalizeRulePath(m.path, pathType), pathType, conditions };
}

/** A list of filters as read (a rule's or a backendRef's). */
type FilterInput = ParsedBackendRef['filters'];

/** The filter types a backendRef may carry here: its own header changes, applied after the rule's. */
const BACKEND_FILTER_TYPES: readonly unknown[] = ['RequestHeaderModifier', 'ResponseHeaderModifier'];

interface Resolved {
  readonly backends: { readonly id: string; readonly weight: number; readonly filters: ParsedBackendRef['filters'] }[];
  /** Of `backends`, those whose Service and port exist (an ExternalName one counts: it answers 503, not 500). */
  readonly found: number;
  readonly problem: { readonly reason: string; readonly message: string } | undefined;
  /** Fields of backendRef filters that cannot be applied (the rule is denied). */
  readonly filtered: readonly string[];
}

/** One backendRef resolved: its backend (undefined when it cannot get requests), and its problem for ResolvedRefs. */
function resolveRef(route: ParsedRoute, ref: ParsedBackendRef, ctx: RouteContext): { readonly backend: Backend | undefined; readonly problem: Resolved['problem'] } {
  const h = route.header;
  const report = h.reporter;
  if (ref.group !== '' || ref.kind !== 'Service') {
    report.error(GatewayCodes.backendKind, ref.field, `backendRef ${ref.group === '' ? 'core' : ref.group}/${ref.kind} is not a Service; it gets no request`);
    return { backend: undefined, problem: { reason: R.invalidKind, message: `${ref.field} is not a Service` } };
  }
  if (!ctx.grants.allows({ group: GATEWAY_GROUP, kind: 'HTTPRoute', namespace: h.namespace }, { group: '', kind: 'Service', namespace: ref.namespace, name: ref.name })) {
    report.error(GatewayCodes.refNotPermitted, ref.field, `no ReferenceGrant in namespace ${ref.namespace} lets HTTPRoutes of ${h.namespace} use Service ${ref.name}; it gets no request`);
    return { backend: undefined, problem: { reason: R.refNotPermitted, message: `Service ${ref.namespace}/${ref.name} is in another namespace and no ReferenceGrant allows it` } };
  }
  if (ref.port === undefined) {
    report.error(Codes.objectInvalid, `${ref.field}.port`, 'a Service backendRef needs a port; it gets no request');
    return { backend: undefined, problem: { reason: R.backendNotFound, message: `${ref.field} names no port` } };
  }
  const res = ctx.resolver.resolve(ref.namespace, ref.name, ref.port);
  let problem: Resolved['problem'];
  if (res.problem !== undefined) {
    reportBackendProblem(report, res.problem, `${ref.field}.name`, `${ref.field}.port`);
    if (res.backend.unresolved !== 'externalName') problem = { reason: R.backendNotFound, message: res.problem.message };
  }
  ctx.used.set(res.backend.id, res.backend);
  return { backend: res.backend, problem };
}

/** Resolves a rule's backendRefs: the usable ones with their weights, and the first problem (ResolvedRefs). */
function resolveRefs(route: ParsedRoute, refs: readonly ParsedBackendRef[], ctx: RouteContext): Resolved {
  const backends: Resolved['backends'] = [];
  const filtered: string[] = [];
  let found = 0;
  let problem: Resolved['problem'];
  const report = route.header.reporter;
  for (const ref of refs) {
    const r = resolveRef(route, ref, ctx);
    problem ??= r.problem;
    if (r.backend === undefined) continue;
    for (const f of ref.filters) {
      if (BACKEND_FILTER_TYPES.includes(f.value['type'])) continue;
      report.error(GatewayCodes.filterNotSupported, `${f.field}.type`, `filter type ${showValue(f.value['type'])} on a backendRef is not supported (header modifiers are); the rule answers 503`);
      filtered.push(f.field);
    }
    if (ref.weight > 0) {
      backends.push({ id: r.backend.id, weight: ref.weight, filters: ref.filters });
      if (r.backend.unresolved !== 'service' && r.backend.unresolved !== 'port') found++;
    }
  }
  const several = backends.filter((b) => b.filters.length > 0);
  if (backends.length > 1 && several.length > 0 && !FEATURE_MODES.backendHeaders.includes(ctx.mode)) {
    for (const b of several) {
      const field = b.filters[0]?.field ?? '';
      report.error(Codes.policyNotInMode, field, `filters on a backendRef of a rule that splits requests between several backends are not rendered in ${ctx.mode} mode; the rule answers 503`);
      filtered.push(field);
    }
  }
  return { backends, found, problem, filtered };
}

/** The share of requests a RequestMirror copies, 0–100 (`percent`, else `fraction`, else all); undefined after a diagnostic. */
function mirrorPercent(m: Readonly<Record<string, unknown>>, field: string, report: Reporter): number | undefined {
  const percent = m['percent'];
  const fraction = m['fraction'];
  if (percent !== undefined && percent !== null) {
    if (typeof percent === 'number' && Number.isInteger(percent) && percent >= 0 && percent <= 100) return percent;
    report.error(GatewayCodes.mirrorInvalid, `${field}.percent`, `percent ${showValue(percent)} is not an integer from 0 to 100; no copy is sent`);
    return undefined;
  }
  if (fraction === undefined || fraction === null) return 100;
  const n = isRecord(fraction) ? fraction['numerator'] : undefined;
  const d = isRecord(fraction) ? (fraction['denominator'] ?? 100) : undefined;
  if (typeof n === 'number' && typeof d === 'number' && Number.isInteger(n) && Number.isInteger(d) && n >= 0 && d > 0 && n <= d) return (100 * n) / d;
  report.error(GatewayCodes.mirrorInvalid, `${field}.fraction`, `fraction ${showValue(fraction)} is not numerator/denominator with 0 <= numerator <= denominator and denominator > 0; no copy is sent`);
  return undefined;
}

/**
 * The copies a rule's RequestMirror filters ask for, by filter field, and the first problem of their
 * backendRefs (ResolvedRefs). A filter whose backendRef cannot be used is reported and left out.
 */
function mirrorTargets(route: ParsedRoute, rule: ParsedRule, ctx: RouteContext): { readonly targets: ReadonlyMap<string, MirrorTarget>; readonly problem: Resolved['problem'] } {
  const report = route.header.reporter;
  const targets = new Map<string, MirrorTarget>();
  let problem: Resolved['problem'];
  for (const f of rule.filters) {
    if (f.value['type'] !== 'RequestMirror') continue;
    const field = `${f.field}.requestMirror`;
    const m = f.value['requestMirror'];
    if (!isRecord(m)) {
      report.error(GatewayCodes.mirrorInvalid, field, 'the RequestMirror filter is missing; no copy is sent');
      continue;
    }
    const percent = mirrorPercent(m, field, report);
    const ref = readBackendRef(m['backendRef'], `${field}.backendRef`, route.header.namespace, report);
    if (percent === undefined || ref === undefined) continue;
    const r = resolveRef(route, ref, ctx);
    problem ??= r.problem;
    // A Service, port or ExternalName without endpoints has nowhere to send the copy (reported by resolveRef).
    if (r.backend === undefined || r.backend.unresolved !== undefined || percent === 0) continue;
    targets.set(f.field, { backend: r.backend.id, percent });
  }
  return { targets, problem };
}

/** The backend of a rule's routes and how requests are split: a second weighted backend as a canary, more as a split. */
function ruleBackends(route: ParsedRoute, resolved: Resolved): { backend: string; canary?: { backend: string; weight: number }; split?: SplitPolicy } {
  const [a, b, ...rest] = resolved.backends;
  if (a === undefined) return { backend: noBackendId(route) };
  if (b === undefined) return { backend: a.id };
  if (rest.length > 0) return { backend: a.id, split: { backends: resolved.backends.map((x) => ({ backend: x.id, weight: x.weight })) } };
  return { backend: a.id, canary: { backend: b.id, weight: Math.round((100 * b.weight) / (a.weight + b.weight)) } };
}

/**
 * The header changes of each backend of a rule with several (its backendRef's header modifiers), by
 * backend id; the fields of those that cannot be applied. Two backendRefs of one backend with
 * different changes cannot be told apart: both are refused.
 */
function backendHeaders(resolved: Resolved, own: (b: Resolved['backends'][number]) => FilterInput, pathType: PathType, report: Reporter): { readonly headers: Readonly<Record<string, HeaderPolicy>> | undefined; readonly unsupported: readonly string[] } {
  const headers: Record<string, HeaderPolicy> = {};
  const unsupported: string[] = [];
  for (const b of resolved.backends) {
    const filters = own(b);
    if (filters.length === 0) continue;
    const fp = filtersPolicy(filters, pathType, new Map(), report);
    unsupported.push(...fp.unsupported);
    const h = fp.policy?.headers;
    if (h === undefined) continue;
    if (headers[b.id] !== undefined && JSON.stringify(headers[b.id]) !== JSON.stringify(h)) {
      const field = filters[0]?.field ?? '';
      report.error(GatewayCodes.filterNotSupported, field, `two backendRefs of ${b.id} with different filters cannot be told apart; the rule answers 503`);
      unsupported.push(field);
      continue;
    }
    headers[b.id] = h;
  }
  return { headers: Object.keys(headers).length === 0 ? undefined : headers, unsupported };
}

/**
 * Why a rule answers 500, as the spec requires of a rule without a usable backendRef (none written,
 * every weight 0, or each of an unknown kind, not permitted, or not found); undefined when a backend
 * serves it or a RequestRedirect answers it instead.
 */
function internalErrorOf(rule: ParsedRule, resolved: Resolved): string | undefined {
  if (resolved.found > 0 || rule.filters.some((f) => f.value['type'] === 'RequestRedirect')) return undefined;
  if (rule.backendRefs.length === 0) return 'this HTTPRoute rule has no backendRef';
  if (resolved.problem === undefined) return 'every backendRef of this HTTPRoute rule has weight 0';
  return `no backendRef of this HTTPRoute rule can be used (${resolved.problem.reason})`;
}

/** A Gateway API duration (GEP-2257: one to four parts of 1–5 digits and h, m, s or ms) in milliseconds; undefined when not one. */
export function gatewayDuration(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(value)) return undefined;
  const unit: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let ms = 0;
  for (const [, n, u] of value.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(n) * (unit[u ?? ''] ?? 0);
  return ms;
}

/**
 * A rule's `timeouts` as the upstream read timeout (the time to the backend's answer and between two
 * reads of it): the smaller of `request` and `backendRequest`; 0 disables one, both 0 or absent
 * leave the entry point's. Undefined after a diagnostic for a value that is not a duration.
 */
function ruleTimeouts(t: Readonly<Record<string, unknown>>, field: string, report: Reporter): TimeoutPolicy | undefined {
  let read: number | undefined;
  for (const key of ['request', 'backendRequest'] as const) {
    const raw = t[key];
    if (raw === undefined || raw === null) continue;
    const ms = gatewayDuration(raw);
    if (ms === undefined) {
      report.error(GatewayCodes.fieldIgnored, `${field}.${key}`, `${showValue(raw)} is not a duration such as 10s or 1m30s; it is ignored`);
      continue;
    }
    if (ms > 0) read = Math.min(read ?? ms, ms);
  }
  return read === undefined ? undefined : { read };
}

/** Builds the routes of one HTTPRoute and its ResolvedRefs (and PartiallyInvalid) conditions. */
export function buildRoutes(route: ParsedRoute, ctx: RouteContext): RouteBuild {
  const h = route.header;
  const report = h.reporter;
  const gen = route.generation;
  const routes: Route[] = [];
  const invalid: string[] = [];
  let problem: Resolved['problem'];
  for (const rule of route.rules) {
    const timeouts = rule.timeouts === undefined ? undefined : ruleTimeouts(rule.timeouts, `${rule.field}.timeouts`, report);
    const resolved = resolveRefs(route, rule.backendRefs, ctx);
    const mirrors = mirrorTargets(route, rule, ctx);
    problem ??= resolved.problem ?? mirrors.problem;
    const { backend, canary, split } = ruleBackends(route, resolved);
    const internalError = internalErrorOf(rule, resolved);
    for (const m of rule.matches) {
      const where = modelMatch(m, ctx.mode, report);
      if (where === undefined) {
        invalid.push(m.field);
        continue;
      }
      // The one backend's own header changes come after the rule's; with several, each backend's when it is chosen.
      const ownFilters = (b: Resolved['backends'][number] | undefined): FilterInput => (b?.filters ?? []).filter((f) => BACKEND_FILTER_TYPES.includes(f.value['type']));
      const single = resolved.backends.length === 1;
      const fp = filtersPolicy([...rule.filters, ...(single ? ownFilters(resolved.backends[0]) : [])], where.pathType, mirrors.targets, report);
      const byBackend = single ? undefined : backendHeaders(resolved, ownFilters, where.pathType, report);
      let policy: RoutePolicy | undefined = fp.policy;
      if (byBackend?.headers !== undefined) policy = { ...policy, backendHeaders: byBackend.headers };
      if (timeouts !== undefined) policy = { ...policy, timeouts };
      if (canary !== undefined) policy = { ...policy, canary };
      if (split !== undefined) policy = { ...policy, split };
      if (internalError !== undefined) policy = { ...policy, internalError };
      const unsupported = [...fp.unsupported, ...(byBackend?.unsupported ?? []), ...resolved.filtered];
      if (unsupported.length > 0) {
        invalid.push(...unsupported);
        policy = { ...policy, denied: 'a filter of this HTTPRoute rule is not supported' };
      }
      if (policy !== undefined) {
        const fit = fitPolicy(policy, ctx.mode);
        // As the spec asks of a filter that cannot be applied: the rule answers 503 rather than serve without it.
        for (const f of fit.dropped) report.error(Codes.policyNotInMode, `${rule.field}.filters`, `policy ${f} is not rendered in ${ctx.mode} mode: the rule answers 503 rather than serve without it`);
        policy = fit.dropped.length > 0 && fit.policy.denied === undefined ? { ...fit.policy, denied: `${fit.dropped.join(', ')} is not supported in ${ctx.mode} mode` } : Object.keys(fit.policy).length === 0 ? undefined : fit.policy;
      }
      const base: Route = { path: where.path, pathType: where.pathType, backend, source: h.ref, field: m.field, ...(where.conditions === undefined ? {} : { conditions: where.conditions }) };
      routes.push(policy === undefined ? base : { ...base, policy });
    }
  }
  const conditions = [problem === undefined ? condition(T.resolvedRefs, true, R.resolvedRefs, 'every backendRef is resolved', gen) : condition(T.resolvedRefs, false, problem.reason, problem.message, gen)];
  if (invalid.length > 0) conditions.push(condition(T.partiallyInvalid, true, R.unsupportedValue, `not served as written: ${[...new Set(invalid)].join(', ')}`, gen));
  return { routes, conditions };
}
