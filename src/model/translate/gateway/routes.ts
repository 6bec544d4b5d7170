/*
 * The model routes of one HTTPRoute: each match of each rule becomes a route (path match only: the
 * model cannot express header, query or method matches yet, so such a match is not routed), its
 * backendRefs resolved through the Ingress translation's resolver (weighted: the first two as main
 * and canary), its filters as the route's policy, fitted to the proxy mode.
 */

import { GATEWAY_GROUP, GatewayConditions as T, GatewayReasons as R } from '../../gateway-api.ts';
import { normalizeRulePath } from '../../match.ts';
import type { RoutePolicy } from '../../policy.ts';
import { fitPolicy } from '../../policy-support.ts';
import type { ProxyMode } from '../../policy-support.ts';
import type { Backend, PathType, Route } from '../../types.ts';
import { reportBackendProblem } from '../backends.ts';
import type { BackendResolver } from '../backends.ts';
import { Codes } from '../diagnostics.ts';
import type { Reporter } from '../diagnostics.ts';
import { REGEX_ROUTE_MODES } from '../policies.ts';
import { pathProblem, regexPathProblem } from '../validate.ts';
import { GatewayCodes } from './codes.ts';
import { filtersPolicy } from './filters.ts';
import type { ReferenceGrants } from './grants.ts';
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

/** A path match as the model's path and pathType; undefined after a diagnostic. */
function modelPath(m: ParsedMatch, mode: ProxyMode, report: Reporter): { path: string; pathType: PathType } | undefined {
  if (m.others.length > 0) {
    report.error(GatewayCodes.matchNotSupported, m.field, `matching on ${m.others.join(', ')} is not supported yet; this match is not routed`);
    return undefined;
  }
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
  return { path: normalizeRulePath(m.path, pathType), pathType };
}

interface Resolved {
  readonly backends: { readonly id: string; readonly weight: number }[];
  readonly problem: { readonly reason: string; readonly message: string } | undefined;
  /** backendRefs with filters (not supported: the rule is denied). */
  readonly filtered: readonly string[];
}

/** Resolves a rule's backendRefs: the usable ones with their weights, and the first problem (ResolvedRefs). */
function resolveRefs(route: ParsedRoute, refs: readonly ParsedBackendRef[], ctx: RouteContext): Resolved {
  const h = route.header;
  const report = h.reporter;
  const backends: { id: string; weight: number }[] = [];
  const filtered: string[] = [];
  let problem: Resolved['problem'];
  for (const ref of refs) {
    if (ref.group !== '' || ref.kind !== 'Service') {
      report.error(GatewayCodes.backendKind, ref.field, `backendRef ${ref.group === '' ? 'core' : ref.group}/${ref.kind} is not a Service; it gets no request`);
      problem ??= { reason: R.invalidKind, message: `${ref.field} is not a Service` };
      continue;
    }
    if (!ctx.grants.allows({ group: GATEWAY_GROUP, kind: 'HTTPRoute', namespace: h.namespace }, { group: '', kind: 'Service', namespace: ref.namespace, name: ref.name })) {
      report.error(GatewayCodes.refNotPermitted, ref.field, `no ReferenceGrant in namespace ${ref.namespace} lets HTTPRoutes of ${h.namespace} use Service ${ref.name}; it gets no request`);
      problem ??= { reason: R.refNotPermitted, message: `Service ${ref.namespace}/${ref.name} is in another namespace and no ReferenceGrant allows it` };
      continue;
    }
    if (ref.port === undefined) {
      report.error(Codes.objectInvalid, `${ref.field}.port`, 'a Service backendRef needs a port; it gets no request');
      problem ??= { reason: R.backendNotFound, message: `${ref.field} names no port` };
      continue;
    }
    if (ref.filters) {
      report.error(GatewayCodes.filterNotSupported, `${ref.field}.filters`, 'filters on a backendRef are not supported yet; the rule answers 503');
      filtered.push(`${ref.field}.filters`);
    }
    const res = ctx.resolver.resolve(ref.namespace, ref.name, ref.port);
    if (res.problem !== undefined) {
      reportBackendProblem(report, res.problem, `${ref.field}.name`, `${ref.field}.port`);
      if (res.backend.unresolved !== 'externalName') problem ??= { reason: R.backendNotFound, message: res.problem.message };
    }
    ctx.used.set(res.backend.id, res.backend);
    if (ref.weight > 0) backends.push({ id: res.backend.id, weight: ref.weight });
  }
  return { backends, problem, filtered };
}

/** The backend of a rule's routes and its weighted second backend (as a canary), if any. */
function ruleBackends(route: ParsedRoute, rule: ParsedRule, resolved: Resolved): { backend: string; canary?: { backend: string; weight: number } } {
  const [a, b, ...rest] = resolved.backends;
  if (rest.length > 0) {
    route.header.reporter.error(GatewayCodes.weightsNotSupported, `${rule.field}.backendRefs`, `${resolved.backends.length} weighted backends: the model splits requests between two, so only the first two are served`);
  }
  if (a === undefined) return { backend: noBackendId(route) };
  if (b === undefined) return { backend: a.id };
  return { backend: a.id, canary: { backend: b.id, weight: Math.round((100 * b.weight) / (a.weight + b.weight)) } };
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
    if (rule.timeouts) report.warning(GatewayCodes.fieldIgnored, `${rule.field}.timeouts`, 'rule timeouts are not supported yet; they are ignored');
    const resolved = resolveRefs(route, rule.backendRefs, ctx);
    problem ??= resolved.problem;
    const { backend, canary } = ruleBackends(route, rule, resolved);
    for (const m of rule.matches) {
      const where = modelPath(m, ctx.mode, report);
      if (where === undefined) {
        invalid.push(m.field);
        continue;
      }
      const fp = filtersPolicy(rule.filters, where.pathType, report);
      let policy: RoutePolicy | undefined = fp.policy;
      if (canary !== undefined) policy = { ...policy, canary };
      const unsupported = [...fp.unsupported, ...resolved.filtered];
      if (unsupported.length > 0) {
        invalid.push(...unsupported);
        policy = { ...policy, denied: 'a filter of this HTTPRoute rule is not supported' };
      }
      if (policy !== undefined) {
        const fit = fitPolicy(policy, ctx.mode);
        for (const f of fit.dropped) {
          if (f === fit.deniedBy) report.error(Codes.policyNotInMode, `${rule.field}.filters`, `policy ${f} is not rendered in ${ctx.mode} mode: the rule answers 503 rather than serve without it`);
          else report.warning(Codes.policyNotInMode, `${rule.field}.filters`, `policy ${f} is not rendered in ${ctx.mode} mode; it is ignored`);
        }
        policy = Object.keys(fit.policy).length === 0 ? undefined : fit.policy;
      }
      const base = { path: where.path, pathType: where.pathType, backend, source: h.ref, field: m.field };
      routes.push(policy === undefined ? base : { ...base, policy });
    }
  }
  const conditions = [problem === undefined ? condition(T.resolvedRefs, true, R.resolvedRefs, 'every backendRef is resolved', gen) : condition(T.resolvedRefs, false, problem.reason, problem.message, gen)];
  if (invalid.length > 0) conditions.push(condition(T.partiallyInvalid, true, R.unsupportedValue, `not served as written: ${[...new Set(invalid)].join(', ')}`, gen));
  return { routes, conditions };
}
