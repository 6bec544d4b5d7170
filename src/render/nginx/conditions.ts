/*
 * nginx rendering of route conditions (method, headers, query parameters: Gateway API matches).
 * nginx picks one location per request and never falls through to another, so a location whose
 * routes (those the model may pick for the paths it serves) have conditions chooses among them
 * itself: a chain of `map`s, one per condition, in the model's order, gives `$pass_cN_0_0` the
 * upstream of the first route whose conditions all hold (or, for a route nginx answers itself, a
 * `pass_answer_K` value the location returns). The location then proxies to that variable, as a
 * canary's does. A query parameter's first value (as written) comes from one `map $args` per name.
 * A header's value is `$http_NAME` (nginx 1.22: its first line; 1.23 and later: its lines joined with
 * ", "), or with the Lua module loaded, every line joined with ", " by `set_by_lua_block` in the location.
 */
import type { Route, ValueCondition } from '../../model/types.ts';
import { isMethodToken, isValueRegex } from '../quote.ts';
import { regexLiteral, requestHeaderVariable } from './policy.ts';
import { canMapRegex } from './quote.ts';

/** A value a condition map gives: a variable (the next map of the chain) or a literal (an upstream name, `pass_answer_K`). */
export interface ConditionValueView {
  readonly variable: string | null;
  readonly literal: string | null;
}

/** One `map $source $variable { "pattern" then; default otherwise; }` of a condition chain. */
export interface ConditionMapView {
  readonly source: string;
  readonly variable: string;
  /** A map key regex (`~...`), written by the `mapRegex` helper. */
  readonly pattern: string;
  readonly then: ConditionValueView;
  readonly otherwise: ConditionValueView;
}

/** `map $args $variable`: "1" and the first value of the parameter (`pattern` captures it as `capture`), empty when absent. */
export interface QueryValueView {
  readonly name: string;
  readonly variable: string;
  readonly pattern: string;
  readonly capture: string;
}

/** What a candidate of a chain gives: an upstream to proxy to, or an answer (`value` is what the chain variable then holds). */
export type ChainOutcome = { readonly upstream: string } | { readonly answer: string };

/**
 * A header a chain reads through Lua (`set_by_lua_block $variable` in the location): all its lines
 * joined with ", " as native reads them; nginx 1.22's `$http_NAME` holds the first line only.
 */
export interface HeaderJoinView {
  readonly variable: string;
  /** Lower-case name of letters, digits and `-`. */
  readonly header: string;
}

/** A chain: its first variable, and the headers its location must join first (Lua), or none. */
export interface Chain {
  readonly variable: string;
  readonly joins: readonly HeaderJoinView[];
}

/** The condition maps and query values of a build, shared by the locations (a chain is written once). */
export class ConditionRegistry {
  readonly maps: ConditionMapView[] = [];
  readonly queryValues: QueryValueView[] = [];
  readonly #chains = new Map<string, Chain>();
  readonly #joins = new Map<string, HeaderJoinView>();
  readonly #lua: boolean;

  /** `lua`: the Lua module is loaded, header conditions read every line of the header (see {@link HeaderJoinView}). */
  constructor(lua: boolean) {
    this.#lua = lua;
  }

  /** The variable a header condition reads: `$http_NAME`, or with Lua the variable its location joins the lines into. */
  #headerVariable(name: string): string | undefined {
    const plain = requestHeaderVariable(name);
    if (plain === undefined || !this.#lua) return plain;
    const header = name.toLowerCase();
    let join = this.#joins.get(header);
    if (join === undefined) this.#joins.set(header, (join = { variable: `pass_h_${this.#joins.size}`, header }));
    return join.variable;
  }

  /** The variable holding the first value of query parameter `name` (a "1" before it; empty when absent). */
  #queryVariable(name: string): string | undefined {
    const known = this.queryValues.find((q) => q.name === name);
    if (known !== undefined) return known.variable;
    const literal = regexLiteral(name);
    if (literal === undefined || name === '') return undefined;
    const n = this.queryValues.length;
    const capture = `pass_qc_${n}`;
    // The leftmost match is the first parameter of that name; one without "=" has the empty value (native queryParam).
    const pattern = `~(?:^|&)${literal}(?:=(?<${capture}>[^&]*))?(?=&|\\z)`;
    if (!canMapRegex(pattern)) return undefined;
    this.queryValues.push({ name, variable: `pass_qv_${n}`, pattern, capture });
    return `pass_qv_${n}`;
  }

  /**
   * The variable of a chain over `routes` (in the model's order; each but the last has conditions, the
   * last may too) and `outcomes` (one per route, then one for a request no route takes), or a reason
   * nginx cannot hold one of the conditions.
   */
  chain(routes: readonly Route[], outcomes: readonly ChainOutcome[]): Chain | { readonly problem: string } {
    const steps: { source: string; pattern: string }[][] = [];
    for (const r of routes) {
      const s = conditionSteps(r, (name) => this.#queryVariable(name), (name) => this.#headerVariable(name));
      if (typeof s === 'string') return { problem: s };
      steps.push(s);
    }
    const key = JSON.stringify([steps, outcomes]);
    const known = this.#chains.get(key);
    if (known !== undefined) return known;
    const n = this.#chains.size;
    const sources = new Set(steps.flat().map((step) => step.source));
    const joins = [...this.#joins.values()].filter((j) => sources.has(j.variable));
    const valueOf = (o: ChainOutcome | undefined): ConditionValueView => ({ variable: null, literal: o === undefined ? '' : 'upstream' in o ? o.upstream : o.answer });
    // Candidate k's first map, or its outcome when it has no condition.
    const entry = (k: number): ConditionValueView => ((steps[k]?.length ?? 0) > 0 ? { variable: `pass_c${n}_${k}_0`, literal: null } : valueOf(outcomes[k]));
    steps.forEach((list, k) => {
      list.forEach((step, j) => {
        this.maps.push({
          source: step.source,
          variable: `pass_c${n}_${k}_${j}`,
          pattern: step.pattern,
          then: j + 1 < list.length ? { variable: `pass_c${n}_${k}_${j + 1}`, literal: null } : valueOf(outcomes[k]),
          otherwise: entry(k + 1),
        });
      });
    });
    const chain = { variable: `pass_c${n}_0_0`, joins };
    this.#chains.set(key, chain);
    return chain;
  }
}

/** Why nginx cannot hold a route's conditions, or undefined when it can. */
export function conditionProblem(route: Route): string | undefined {
  const s = conditionSteps(route, (name) => (regexLiteral(name) === undefined || name === '' ? undefined : 'pass_qv'), requestHeaderVariable);
  return typeof s === 'string' ? s : undefined;
}

/** The maps of one route's conditions (source variable, key regex), or why nginx cannot read one. */
function conditionSteps(route: Route, queryVariable: (name: string) => string | undefined, headerVariable: (name: string) => string | undefined): { source: string; pattern: string }[] | string {
  const c = route.conditions;
  const out: { source: string; pattern: string }[] = [];
  if (c === undefined) return out;
  if (c.method !== undefined) {
    if (!isMethodToken(c.method)) return `nginx cannot match the method ${JSON.stringify(c.method)}`;
    out.push({ source: 'request_method', pattern: `~^${c.method}\\z` });
  }
  for (const h of c.headers ?? []) {
    // nginx drops a header whose name has "_" (underscores_in_headers off) or other characters than letters, digits and "-".
    const source = headerVariable(h.name);
    // $http_NAME is empty both for an empty header and for none: a condition the empty value meets cannot be told apart.
    const pattern = valuePattern(h, '');
    if (source === undefined) return `nginx cannot read the header ${JSON.stringify(h.name)} (only letters, digits and "-")`;
    if (emptyMatches(h)) return `nginx cannot compare the header ${h.name} with ${JSON.stringify(h.value)}, which an empty value meets (nginx cannot tell an empty header from none)`;
    if (pattern === undefined) return `nginx cannot compare the header ${h.name} with ${JSON.stringify(h.value)}`;
    out.push({ source, pattern });
  }
  for (const q of c.query ?? []) {
    const source = queryVariable(q.name);
    const pattern = valuePattern(q, '1');
    if (source === undefined) return `nginx cannot read the query parameter ${JSON.stringify(q.name)}`;
    if (pattern === undefined) return `nginx cannot compare the query parameter ${q.name} with ${JSON.stringify(q.value)}`;
    out.push({ source, pattern });
  }
  return out;
}

/** Whether the empty value meets a condition. */
function emptyMatches(v: ValueCondition): boolean {
  if (v.type === 'Exact') return v.value === '';
  try {
    return new RegExp(`^(?:${v.value})$`).test('');
  } catch {
    return false;
  }
}

/** The map key regex of a value condition on the whole value (after `lead`), case-sensitive. */
function valuePattern(v: ValueCondition, lead: string): string | undefined {
  if (v.type === 'Exact') {
    const literal = regexLiteral(v.value);
    return literal === undefined ? undefined : `~^${lead}${literal}\\z`;
  }
  if (!isValueRegex(v.value)) return undefined;
  const pattern = `~^${lead}(?:${v.value})\\z`;
  return canMapRegex(pattern) ? pattern : undefined;
}
