/*
 * HAProxy rendering of route conditions (method, headers, query parameters: Gateway API matches).
 * A virtual host with a conditional route leaves the map fast path: each of its routes, in the
 * model's order, is one ordered rule that sets `txn.be` from its routing map key `vN^K` when the
 * path and every condition hold. A request failing a route's conditions goes on to the next rule,
 * so it falls through to the next route as the model says. Hosts without conditions keep the map
 * lookups (one exact, one longest-prefix); the rules run only while no map entry was found.
 */
import type { Route, ValueCondition } from '../../model/types.ts';
import { hasConditions, isMethodToken, isValueRegex } from '../quote.ts';
import { canHeaderName, canLiteral, canRegexLiteral, canRegexPath, canRoutePath, canText } from './quote.ts';

/** A header or query parameter condition: `exact` (a `-m str` text) or `regex` (whole value, anchored). */
export interface ValueConditionView {
  /** The lower-case header name (`lua.pass_header`: its lines joined) or the variable holding the query parameter's first value (`txn.NAME`). */
  readonly name: string;
  readonly exact: string | null;
  /** `^(?:pattern)$`, case-sensitive. */
  readonly regex: string | null;
}

/** One route of a virtual host with conditions: a rule that sets `txn.be` from `key` when all hold. */
export interface ConditionRouteView {
  readonly vhost: string;
  /** Its key in the routing map (`vN^K`): the value, backend and policy, changes through the runtime API. */
  readonly key: string;
  /** Exact path (compared with the whole path), or null. */
  readonly exact: string | null;
  /** Prefix path with a final `/` (compared with the path and a `/`: element-wise), or null for `/` and for the other types. */
  readonly prefix: string | null;
  /** Regex path pattern (case-insensitive, from the start), or null. */
  readonly regex: string | null;
  readonly method: string | null;
  readonly headers: readonly ValueConditionView[];
  /** Query parameters: `name` is the variable (`pass_qN`) of `ConditionsView.queryParams`. */
  readonly query: readonly ValueConditionView[];
  /**
   * Its rank among all condition routes. A route with header or query conditions takes several rules
   * (a line holds at most 64 words): `txn.pass_c` is set to the rank when the path (and method) match,
   * unset by each condition that fails, and the route is taken when it still holds the rank.
   */
  readonly rank: number;
  /** It has header or query conditions: the rules of `rank`. */
  readonly checks: boolean;
}

/**
 * A query parameter some condition reads: its first value, as written (the model's `queryParam`), in
 * `txn.<variable>`: `url_param` when the query has it (`first` matches), the empty value when its first
 * occurrence has no `=` (`bare` matches; url_param would skip it).
 */
export interface QueryParamView {
  readonly name: string;
  readonly variable: string;
  /** Matches a query that has the parameter: other parameters, then its name and `=`, `&` or the end. */
  readonly first: string;
  /** Matches a query whose first parameter of that name has no `=`. */
  readonly bare: string;
}

/** The {@link QueryParamView} of a parameter name (of `[A-Za-z0-9_.-]`, so only `.` and `-` need escaping). */
export function queryParamView(name: string, variable: string): QueryParamView {
  const n = name.replace(/[.-]/g, '\\$&');
  const others = `^(?:(?!${n}(?:=|&|$))[^&]*&)*${n}`;
  return { name, variable, first: `${others}(?:=|&|$)`, bare: `${others}(?:&|$)` };
}

/** Why HAProxy cannot write a route's conditions, or undefined when it can. */
export function conditionProblem(route: Route): string | undefined {
  const c = route.conditions;
  if (c === undefined) return undefined;
  if (c.method !== undefined && !isMethodToken(c.method)) return `HAProxy cannot match the method ${JSON.stringify(c.method)}`;
  for (const h of c.headers ?? []) {
    if (!canHeaderName(h.name)) return `HAProxy cannot read the header ${JSON.stringify(h.name)}`;
    if (valueProblem(h) !== undefined) return `HAProxy cannot compare the header ${h.name} with ${JSON.stringify(h.value)}`;
  }
  for (const q of c.query ?? []) {
    if (!canHeaderName(q.name)) return `HAProxy cannot read the query parameter ${JSON.stringify(q.name)}`;
    if (valueProblem(q) !== undefined) return `HAProxy cannot compare the query parameter ${q.name} with ${JSON.stringify(q.value)}`;
  }
  return undefined;
}

function valueProblem(v: ValueCondition): string | undefined {
  // An empty word is dropped by HAProxy's parser (a `-m str` without a pattern never matches), and a
  // word `}` ends an anonymous ACL whatever its quotes (a value starting with `-` is safe after `--`).
  if (v.type === 'Exact') return canText(v.value) && v.value !== '' && v.value !== '}' ? undefined : 'value';
  return isValueRegex(v.value) && canRegexLiteral(anchored(v.value)) ? undefined : 'regex';
}

/** A value regex matched against the whole value. */
function anchored(pattern: string): string {
  return `^(?:${pattern})$`;
}

/**
 * The rule of one route of a host with conditions (`conditionProblem` said it can be written, and the
 * path passed the path grammars). `queryVariable` names the variable of a query parameter.
 */
export function conditionRoute(vhost: string, key: string, rank: number, route: Route, queryVariable: (name: string) => string): ConditionRouteView {
  const c = hasConditions(route) ? route.conditions : undefined;
  // Header names lower case: the Lua fetch looks them up in HAProxy's table of the request's headers.
  const value = (v: ValueCondition, name: string): ValueConditionView => ({ name, exact: v.type === 'Exact' ? v.value : null, regex: v.type === 'Exact' ? null : anchored(v.value) });
  return {
    vhost,
    key,
    exact: route.pathType === 'Exact' && canRoutePath(route.path) ? route.path : null,
    prefix: route.pathType === 'Prefix' && route.path !== '/' && canRoutePath(route.path) && canLiteral(`${route.path}/`) ? `${route.path}/` : null,
    regex: route.pathType === 'Regex' && canRegexPath(route.path) ? route.path : null,
    method: c?.method ?? null,
    headers: (c?.headers ?? []).map((h) => value(h, h.name.toLowerCase())),
    query: (c?.query ?? []).map((q) => value(q, queryVariable(q.name))),
    rank,
    checks: (c?.headers?.length ?? 0) + (c?.query?.length ?? 0) > 0,
  };
}
