/*
 * The units translate is made of, shared by the full build (`translate`, index.ts) and the incremental
 * one (`IncrementalTranslator`, incremental.ts): reading one Ingress object, routing one rule of an
 * Ingress into its host, one canary rule, one www redirect, one TLS host claim, the default backend,
 * and turning a host build into a model VirtualHost. Pure: they write only into what they are given.
 */

import type { ObjectRef } from '../../shared/diagnostics.ts';
import type { PolicyRefs } from '../annotations/index.ts';
import { compareRoutes, normalizeRulePath, pathMatches } from '../match.ts';
import { FEATURE_MODES } from '../policy-support.ts';
import type { ProxyMode } from '../policy-support.ts';
import { ISSUED_CERTIFICATE_KIND } from '../types.ts';
import type { Backend, Certificate, HostKind, IssuedCertificate, Route, VirtualHost } from '../types.ts';
import { reportBackendProblem } from './backends.ts';
import type { BackendResolver } from './backends.ts';
import { decideClass } from './class.ts';
import type { ClassOptions, IngressClasses } from './class.ts';
import { Codes } from './diagnostics.ts';
import type { DiagnosticList } from './diagnostics.ts';
import { parseIngress } from './ingress.ts';
import { acmeServes, certificateIntents } from './intents.ts';
import type { AcmeIssuance } from './intents.ts';
import type { BackendRef, IngressPath, IngressRule, IngressTls, ParsedIngress, TlsHost } from './ingress.ts';
import { compareText, isRecord, readHeader, showValue } from './object.ts';
import { asksRegexPaths, REGEX_ROUTE_MODES, routePolicy } from './policies.ts';
import type { policyOf } from './policies.ts';
import type { SecretReader, TlsSecret } from './tls.ts';

/** What {@link policyOf} says of an Ingress. */
export type IngressPolicy = ReturnType<typeof policyOf>;

/** The backend id for a reference of an Ingress (resolving it, reporting problems on the Ingress). */
export type BackendOf = (ing: ParsedIngress, ref: BackendRef) => string;

/** One host while it is assembled. */
export interface VhostBuild {
  readonly host: string;
  readonly kind: HostKind;
  /** In the order the paths were claimed; each route's source owns its path + pathType. */
  readonly routes: Route[];
  /** `path\0pathType` → route, once a host has more than {@link LINEAR_ROUTES} routes. */
  byPath: Map<string, Route> | undefined;
  /** The Ingresses that route this host, by refKey; one Ingress's rules come one after another. */
  readonly sources: { readonly key: string; readonly ref: ObjectRef }[];
  /** A host only Gateway listeners serve: their entry points, when not every one (see VirtualHost.entryPoints). */
  entryPoints?: readonly string[];
}

/** `namespace/name` of a reference. */
export function refKey(ref: ObjectRef): string {
  return `${ref.namespace ?? ''}/${ref.name}`;
}

/** What reading one Ingress object gave: not ours, or ours (parsed unless unusable; `failed` when it could not be named). */
export type IngressRead = { readonly ours: false } | { readonly ours: true; readonly parsed: ParsedIngress | undefined; readonly failed: boolean };

/** Reads one Ingress of the snapshot list (index `i`): class first, then header and spec; never throws. */
export function readIngressObject(obj: unknown, i: number, classes: IngressClasses, options: ClassOptions, diags: DiagnosticList): IngressRead {
  // Other controllers' Ingresses are none of our business: decide the class first. A non-object
  // has no class to read, so it is reported rather than silently dropped.
  let header: ReturnType<typeof readHeader>;
  try {
    if (isRecord(obj) && !decideClass(obj, classes, options).ours) return { ours: false };
    header = readHeader(obj, 'Ingress', true, `ingresses[${i}]`, diags);
    const parsed = header && parseIngress(header, asksRegexPaths(header));
    return { ours: true, parsed, failed: header === undefined };
  } catch (err) {
    // A bug on one odd object costs that object only: the rest of the snapshot is still served.
    const meta = isRecord(obj) ? obj['metadata'] : undefined;
    const named = isRecord(meta) && typeof meta['name'] === 'string' ? { kind: 'Ingress', name: meta['name'], ...(typeof meta['namespace'] === 'string' ? { namespace: meta['namespace'] } : {}) } : undefined;
    const ref = header?.ref ?? named ?? { kind: 'Ingress', name: `<ingresses[${i}]>` };
    diags.reporter(ref, header?.location).error(Codes.internal, '', `this Ingress could not be read (${err instanceof Error ? err.message : showValue(err)}); it is left out`);
    return { ours: true, parsed: undefined, failed: true };
  }
}

/** Ingresses by age: creationTimestamp, then `namespace/name`. */
export function compareIngressAge(a: ParsedIngress, b: ParsedIngress): number {
  const x = a.header;
  const y = b.header;
  if (x.created !== y.created) return x.created < y.created ? -1 : 1;
  return compareText(`${x.namespace}/${x.name}`, `${y.namespace}/${y.name}`);
}

/** Ingresses by age (compareIngressAge's order), the `namespace/name` tie-break built once per Ingress. */
export function oldestFirst(list: readonly ParsedIngress[]): ParsedIngress[] {
  const keyed = list.map((ing) => ({ ing, created: ing.header.created, key: `${ing.header.namespace}/${ing.header.name}` }));
  keyed.sort((a, b) => (a.created !== b.created ? (a.created < b.created ? -1 : 1) : compareText(a.key, b.key)));
  return keyed.map((k) => k.ing);
}

/** Resolves a backend reference of an Ingress, reporting problems on the Ingress; returns the backend. */
export function useBackend(ing: ParsedIngress, ref: BackendRef, resolver: BackendResolver, used: Map<string, Backend>): Backend {
  const res = resolver.resolve(ing.header.namespace, ref.service, ref.port);
  // A missing Service or port keeps the route with an empty backend: it answers 503 rather than
  // falling through to another route or host (ingress-nginx does the same), and heals by itself.
  if (res.problem !== undefined) reportBackendProblem(ing.header.reporter, res.problem, ref.serviceField, ref.portField);
  used.set(res.backend.id, res.backend);
  return res.backend;
}

/** Up to this many routes per host, a path conflict is looked up by a scan rather than in a Map. */
const LINEAR_ROUTES = 8;

function routeKey(path: string, pathType: string): string {
  return `${path}\u0000${pathType}`;
}

/** The route of a host that already claims this path and pathType. */
function claimed(vh: VhostBuild, path: string, pathType: string): Route | undefined {
  if (vh.byPath !== undefined) return vh.byPath.get(routeKey(path, pathType));
  for (const r of vh.routes) if (r.path === path && r.pathType === pathType) return r;
  return undefined;
}

function claim(vh: VhostBuild, route: Route): void {
  vh.routes.push(route);
  if (vh.byPath !== undefined) vh.byPath.set(routeKey(route.path, route.pathType), route);
  else if (vh.routes.length > LINEAR_ROUTES) vh.byPath = new Map(vh.routes.map((r) => [routeKey(r.path, r.pathType), r]));
}

function replaceRoute(vh: VhostBuild, old: Route, next: Route): void {
  const i = vh.routes.indexOf(old);
  if (i >= 0) vh.routes[i] = next;
  vh.byPath?.set(routeKey(next.path, next.pathType), next);
}

/** The share of each Service of one path under Traefik 1 service-weights: listed ones as written, the others split what is left. */
export function weightShares(services: readonly string[], weights: Readonly<Record<string, number>>): number[] {
  const listed = services.filter((s) => Object.hasOwn(weights, s));
  const rest = Math.max(0, 100 - listed.reduce((sum, s) => sum + (weights[s] ?? 0), 0));
  const unlisted = services.length - listed.length;
  return services.map((s) => (Object.hasOwn(weights, s) ? (weights[s] ?? 0) : rest / unlisted));
}

/**
 * Traefik 1 service-weights: a second Service on a path of the same Ingress joins the route as a
 * weight-only canary (its share of both). A third is reported and left out.
 */
function addWeighted(ing: ParsedIngress, rule: IngressRule, p: IngressPath, main: Route, vh: VhostBuild, weights: Readonly<Record<string, number>>, backendOf: BackendOf): void {
  const report = ing.header.reporter;
  const path = normalizeRulePath(p.path, p.pathType);
  if (main.policy?.canary !== undefined) {
    report.error(Codes.policyNotImplemented, `${p.field}.backend`, `host ${rule.host} ${p.pathType} ${path} has two weighted Services already; a third is not supported and is left out`);
    return;
  }
  const group = rule.paths.filter((q) => q.pathType === p.pathType && normalizeRulePath(q.path, q.pathType) === path).map((q) => q.backend.service);
  // The first path of the group is the route's own Service, p the second.
  const [a = 0, b = 0] = weightShares(group, weights);
  // Both at 0 (all the weight on others): no share to compare; the first Service keeps the path.
  const weight = a + b === 0 ? 0 : Math.round((100 * b) / (a + b));
  replaceRoute(vh, main, { ...main, policy: { ...main.policy, canary: { backend: backendOf(ing, p.backend), weight } } });
}

/**
 * Routes one rule (with paths) of a main Ingress into its host: each path is claimed unless an older
 * Ingress (or an earlier path) has it. Ingresses come oldest first; a rule touches its own host only.
 */
export function routeRule(ing: ParsedIngress, rule: IngressRule, info: IngressPolicy, vhosts: Map<string, VhostBuild>, mode: ProxyMode, backendOf: BackendOf): void {
  const report = ing.header.reporter;
  const ref = ing.header.ref;
  const key = refKey(ref);
  let vh = vhosts.get(rule.host);
  if (vh === undefined) {
    vh = { host: rule.host, kind: rule.kind, routes: [], byPath: undefined, sources: [] };
    vhosts.set(rule.host, vh);
  }
  if (vh.sources[vh.sources.length - 1]?.key !== key) vh.sources.push({ key, ref });
  for (const p of rule.paths) {
    if (p.pathType === 'Regex' && !REGEX_ROUTE_MODES.includes(mode)) {
      report.error(Codes.policyNotInMode, `${p.field}.path`, `regex paths (use-regex) are not routed in ${mode} mode yet; path skipped`);
      continue;
    }
    const path = normalizeRulePath(p.path, p.pathType);
    const existing = claimed(vh, path, p.pathType);
    const owner = existing?.source;
    if (existing !== undefined && info.serviceWeights !== undefined && refKey(existing.source) === key) {
      addWeighted(ing, rule, p, existing, vh, info.serviceWeights, backendOf);
      continue;
    }
    if (owner !== undefined) {
      const where = refKey(owner) === key ? 'an earlier path of this Ingress' : `older Ingress ${refKey(owner)}`;
      report.warning(Codes.conflict, `${p.field}.path`, `host ${rule.host} ${p.pathType} ${path} is already routed by ${where}; this path is ignored`);
      continue;
    }
    const backend = backendOf(ing, p.backend);
    const policy = routePolicy(info.policy, path, p.pathType);
    // Not defined({ policy }): this runs once per path of every Ingress, and that spread is most of its time.
    claim(vh, policy === undefined ? { path, pathType: p.pathType, backend, source: ref, field: p.field } : { path, pathType: p.pathType, backend, source: ref, field: p.field, policy });
  }
}

/** Whether the mode renders canaries; if not, says so on the canary Ingress. */
export function canaryInMode(ing: ParsedIngress, mode: ProxyMode): boolean {
  if (FEATURE_MODES.canary.includes(mode)) return true;
  ing.header.reporter.warning(Codes.policyNotInMode, "metadata.annotations['nginx.ingress.kubernetes.io/canary']", `canary Ingresses are not rendered in ${mode} mode; the main Ingress serves every request`);
  return false;
}

/**
 * Adds the backends of one rule of a canary Ingress to the routes of the same host, path and
 * pathType that a main Ingress declares (ingress-nginx's canary: header, then cookie, then weight
 * decide per request). A path no main Ingress routes, or a route that has a canary already, is
 * reported and left out.
 */
export function addCanaryRule(ing: ParsedIngress, rule: IngressRule, canary: NonNullable<PolicyRefs['canary']>, vhosts: ReadonlyMap<string, VhostBuild>, backendOf: BackendOf): void {
  const report = ing.header.reporter;
  const vh = vhosts.get(rule.host);
  for (const p of rule.paths) {
    const path = normalizeRulePath(p.path, p.pathType);
    const main = vh === undefined ? undefined : claimed(vh, path, p.pathType);
    if (vh === undefined || main === undefined) {
      report.warning(Codes.canaryWithoutMain, `${p.field}.path`, `no main Ingress routes host ${rule.host} ${p.pathType} ${path}: this canary path is ignored`);
      continue;
    }
    if (main.policy?.canary !== undefined) {
      report.warning(Codes.conflict, `${p.field}.path`, `host ${rule.host} ${p.pathType} ${path} has a canary already; this one is ignored`);
      continue;
    }
    const next: Route = { ...main, policy: { ...main.policy, canary: { ...canary, backend: backendOf(ing, p.backend) } } };
    replaceRoute(vh, main, next);
    if (!vh.sources.some((s) => s.key === refKey(ing.header.ref))) vh.sources.push({ key: refKey(ing.header.ref), ref: ing.header.ref });
  }
}

/** `www.host` for `host`, `host` for `www.host`; none for a wildcard or a name without a dot. */
export function wwwCounterpart(host: string): string | undefined {
  if (host.startsWith('*') || !host.includes('.')) return undefined;
  return host.startsWith('www.') ? host.slice(4) : `www.${host}`;
}

const WWW_FIELD = "metadata.annotations['nginx.ingress.kubernetes.io/from-to-www-redirect']";

/** Whether the mode renders from-to-www-redirect; if not, says so on the Ingress. */
export function wwwInMode(ing: ParsedIngress, mode: ProxyMode): boolean {
  if (FEATURE_MODES.wwwRedirect.includes(mode)) return true;
  ing.header.reporter.warning(Codes.policyNotInMode, WWW_FIELD, `from-to-www-redirect is not rendered in ${mode} mode; it is ignored`);
  return false;
}

/** The host one rule of a from-to-www-redirect Ingress redirects from, if any. */
export function wwwTarget(rule: IngressRule): string | undefined {
  return rule.kind === 'exact' && rule.paths.length > 0 ? wwwCounterpart(rule.host) : undefined;
}

/**
 * from-to-www-redirect, one rule: the other name of its host (`www.` added or removed) gets a route
 * that redirects every request to the host, path and query kept (ingress-nginx). A name some Ingress
 * routes already is left to it, with a warning. Runs after every Ingress's own hosts.
 */
export function addWwwRule(ing: ParsedIngress, rule: IngressRule, vhosts: Map<string, VhostBuild>, backendOf: BackendOf): void {
  const other = wwwTarget(rule);
  const first = rule.paths[0];
  if (other === undefined || first === undefined) return;
  const existing = vhosts.get(other);
  if (existing !== undefined) {
    const mine = existing.routes.every((r) => r.policy?.wwwRedirect?.host === rule.host);
    if (!mine) ing.header.reporter.warning(Codes.conflict, WWW_FIELD, `host ${other} is routed by ${existing.sources.map((s) => s.key).join(', ')}: it is not redirected to ${rule.host}`);
    return;
  }
  const vh: VhostBuild = { host: other, kind: 'exact', routes: [], byPath: undefined, sources: [{ key: refKey(ing.header.ref), ref: ing.header.ref }] };
  vhosts.set(other, vh);
  // The backend is never asked (every request is redirected); the host's first one keeps the model whole.
  claim(vh, { path: '/', pathType: 'Prefix', backend: backendOf(ing, first.backend), source: ing.header.ref, field: `${rule.field}.host`, policy: { wwwRedirect: { host: rule.host, status: 308 } } });
}

/**
 * The default backend: the oldest Ingress (of `ingresses`, oldest first) that names one; the others
 * are reported.
 */
export function chooseDefaultBackend(ingresses: readonly ParsedIngress[], backendOf: BackendOf): string | undefined {
  let defaultBackend: string | undefined;
  let defaultOwner: ObjectRef | undefined;
  for (const ing of ingresses) {
    const ref = ing.defaultBackend;
    if (ref === undefined) continue;
    if (defaultOwner !== undefined) {
      ing.header.reporter.warning(Codes.conflict, ref.field, `the default backend is already set by older Ingress ${refKey(defaultOwner)}; this one is ignored`);
      continue;
    }
    defaultOwner = ing.header.ref;
    defaultBackend = backendOf(ing, ref);
  }
  return defaultBackend;
}

/**
 * The Secret of a TLS entry, or undefined after a diagnostic on the entry: an error, except a missing
 * Secret whose hosts ACME certifies (`acme`: the `[acme]` settings), a warning saying so.
 */
export function readTlsEntry(ing: ParsedIngress, entry: IngressTls, secrets: SecretReader, acme?: AcmeIssuance): Extract<TlsSecret, { ok: true }> | undefined {
  const secret = secrets.read(ing.header.namespace, entry.secretName);
  if (secret.ok) return secret;
  const field = `${entry.field}.secretName`;
  const intent = acme === undefined || secret.code !== Codes.missingSecret ? undefined : certificateIntents(ing).find((i) => i.field === entry.field);
  if (intent !== undefined && acmeServes(intent, acme)) ing.header.reporter.warning(secret.code, field, `Secret ${ing.header.namespace}/${entry.secretName} does not exist: the certificate is issued by ACME`);
  else ing.header.reporter.error(secret.code, field, secret.message);
  return undefined;
}

/** The certificate of a TLS host name and the Ingress that decided it. */
export interface HostCert {
  readonly id: string;
  readonly owner: ObjectRef;
}

/**
 * One host of a TLS entry whose Secret `id` is usable: the oldest Ingress naming a host decides its
 * certificate; a later one with another Secret is reported. True when `id` serves the host.
 */
export function claimTlsHost(ing: ParsedIngress, h: TlsHost, id: string, hostCert: Map<string, HostCert>): boolean {
  const current = hostCert.get(h.host);
  if (current === undefined || current.id === id) {
    hostCert.set(h.host, current ?? { id, owner: ing.header.ref });
    return true;
  }
  ing.header.reporter.warning(Codes.conflict, h.field, `host ${h.host} already uses certificate ${current.id} from Ingress ${refKey(current.owner)}; Secret ${id} is not used for it`);
  return false;
}

/** The TLS names whose certificate a host uses: its own, and the wildcard one level up (exact hosts). */
export function certificateOf(vh: { readonly host: string; readonly kind: HostKind }, hostCert: (host: string) => string | undefined): string | undefined {
  if (vh.kind === 'any') return undefined;
  const exact = hostCert(vh.host);
  const wildcard = vh.kind === 'exact' && vh.host.includes('.') ? hostCert(wildcardOf(vh.host)) : undefined;
  return exact ?? wildcard;
}

/** `*.example.com` for `a.example.com` (a host with a dot). */
export function wildcardOf(host: string): string {
  return `*${host.slice(host.indexOf('.'))}`;
}

/** The sources of a host sorted by refKey, each key once (a snapshot may hold an object twice). */
function sortedSources(sources: readonly { readonly key: string; readonly ref: ObjectRef }[]): ObjectRef[] {
  const first = sources[0];
  if (sources.length === 1 && first !== undefined) return [first.ref];
  const sorted = [...sources].sort((a, b) => compareText(a.key, b.key));
  const out: ObjectRef[] = [];
  let last: string | undefined;
  for (const s of sorted) {
    if (s.key === last) continue;
    last = s.key;
    out.push(s.ref);
  }
  return out;
}

/** A route's Traefik 1 priority (0 when unset). */
function priorityOf(r: Route): number {
  return r.policy?.priority ?? 0;
}

/**
 * Whether every request `lo` would take is one `hi` also takes: a Prefix takes the Exact and Prefix
 * paths under it; a Regex takes an Exact path it matches. (A Regex's share of a Prefix is unknown.)
 */
function covers(hi: Route, lo: Route): boolean {
  if (hi.pathType === 'Prefix') return lo.pathType !== 'Regex' && pathMatches(hi, lo.path);
  return hi.pathType === 'Regex' && lo.pathType === 'Exact' && pathMatches(hi, lo.path);
}

/** What applying route priorities found on a host, to report on the Ingress of `route`. */
export interface PriorityFinding {
  readonly route: Route;
  readonly code: typeof Codes.conflict | typeof Codes.policyNotImplemented;
  readonly field: string;
  readonly message: string;
  /** Where `route` is in its Ingress (rule, path), for the order of its diagnostics. */
  readonly rule: number;
  readonly path: number;
}

/** The rule and path indexes of a route's field (`spec.rules[r].http.paths[p]`). */
function routePosition(field: string): { rule: number; path: number } {
  const m = /rules\[(\d+)\](?:\.http\.paths\[(\d+)\])?/.exec(field);
  return { rule: Number(m?.[1] ?? -1), path: Number(m?.[2] ?? -1) };
}

/**
 * Traefik 1 `priority` on a host's routes: a higher priority is matched first. Passerelle's order
 * (Exact, Regex, longest Prefix) already does that wherever the higher route is the more specific,
 * so a route whose every request a higher-priority route takes is left out (the proxies then choose
 * as the priorities say), and Regex routes are ordered by priority (finishVhost). What cannot be
 * expressed (a Prefix above a Regex route, which is matched first) is reported.
 */
export function applyPriorities(vh: VhostBuild): PriorityFinding[] {
  if (!vh.routes.some((r) => priorityOf(r) !== 0)) return [];
  const findings: PriorityFinding[] = [];
  const shadowed = new Set<Route>();
  for (const lo of vh.routes) {
    const hi = vh.routes.find((r) => priorityOf(r) > priorityOf(lo) && covers(r, lo));
    if (hi !== undefined) {
      shadowed.add(lo);
      const by = `${hi.pathType} ${hi.path} of Ingress ${refKey(hi.source)}`;
      findings.push({ route: lo, code: Codes.conflict, field: `${lo.field}.path`, message: `host ${vh.host} ${lo.pathType} ${lo.path} (priority ${priorityOf(lo)}) is left out: every request it would take goes to ${by}, whose priority ${priorityOf(hi)} is higher`, ...routePosition(lo.field) });
      continue;
    }
    if (lo.pathType !== 'Regex') continue;
    const over = vh.routes.find((r) => r.pathType === 'Prefix' && priorityOf(r) > priorityOf(lo));
    if (over !== undefined) {
      findings.push({ route: over, code: Codes.policyNotImplemented, field: `${over.field}.path`, message: `the priority ${priorityOf(over)} of host ${vh.host} Prefix ${over.path} is not applied over Regex ${lo.path} of Ingress ${refKey(lo.source)}: Regex routes are matched before Prefix ones`, ...routePosition(over.field) });
    }
  }
  if (shadowed.size > 0) {
    const kept = vh.routes.filter((r) => !shadowed.has(r));
    vh.routes.length = 0;
    vh.routes.push(...kept);
    vh.byPath = kept.length > LINEAR_ROUTES ? new Map(kept.map((r) => [routeKey(r.path, r.pathType), r])) : undefined;
  }
  return findings;
}

/** Reports a priority finding on the Ingress that declares its route. */
export function reportPriority(f: PriorityFinding, ing: ParsedIngress | undefined): void {
  ing?.header.reporter.warning(f.code, f.field, f.message);
}

/** Match order with priorities: Regex routes by priority first (they are tried in order), then as compareRoutes. */
function compareWithPriority(a: Route, b: Route): number {
  if (a.pathType === 'Regex' && b.pathType === 'Regex' && priorityOf(a) !== priorityOf(b)) return priorityOf(b) - priorityOf(a);
  return compareRoutes(a, b);
}

/** A route without its priority: it is applied (order, left-out routes); the proxies never see it. */
function withoutPriority(r: Route): Route {
  if (r.policy?.priority === undefined) return r;
  const { priority: _priority, ...policy } = r.policy;
  const { policy: _policy, ...rest } = r;
  return Object.keys(policy).length === 0 ? rest : { ...rest, policy };
}

/** The model VirtualHost of a host build and its certificate. */
export function finishVhost(vh: VhostBuild, certificate: string | undefined): VirtualHost {
  // A copy: the exact-size array, not the one push() grew (the model is kept until the next build).
  const routes = [...vh.routes].sort(compareWithPriority).map(withoutPriority);
  const sources = sortedSources(vh.sources);
  const out: VirtualHost = certificate === undefined ? { host: vh.host, kind: vh.kind, routes, sources } : { host: vh.host, kind: vh.kind, routes, certificate, sources };
  return vh.entryPoints === undefined ? out : { ...out, entryPoints: vh.entryPoints };
}

const KIND_ORDER: Readonly<Record<HostKind, number>> = { exact: 0, wildcard: 1, suffix: 2, any: 3 };

/** The model's order of virtual hosts: exact, wildcard, suffix, then `*`; by name within a kind. */
export function compareVhosts(a: { readonly host: string; readonly kind: HostKind }, b: { readonly host: string; readonly kind: HostKind }): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareText(a.host, b.host);
}

/** The issued certificates translate serves, and the certificate id of each TLS name they serve. */
export interface IssuedServing {
  /** Sorted by id; each lists the names it serves, sorted. */
  readonly certificates: readonly Certificate[];
  readonly byHost: ReadonlyMap<string, string>;
}

/**
 * Issued (ACME) certificates for the names no Secret serves (`bySecret`: whether a Secret certificate
 * serves a TLS name): an exact name is left to a Secret of its own or of its parent wildcard, a
 * wildcard to a Secret of the same wildcard. Lowest id first, a name goes to one certificate; one that
 * serves no name is left out.
 */
export function serveIssued(issued: readonly IssuedCertificate[], bySecret: (name: string) => boolean): IssuedServing {
  const covered = (h: string): boolean => bySecret(h) || (h.indexOf('.') > 0 && bySecret(`*${h.slice(h.indexOf('.'))}`));
  const byHost = new Map<string, string>();
  const certificates: Certificate[] = [];
  for (const c of [...issued].sort((a, b) => compareText(a.id, b.id))) {
    const hosts = c.names.filter((h) => !covered(h) && !byHost.has(h));
    if (hosts.length === 0) continue;
    for (const h of hosts) byHost.set(h, c.id);
    certificates.push(toCertificate(c.id, hosts, { certPem: c.certPem, keyPem: c.keyPem, source: { kind: ISSUED_CERTIFICATE_KIND, name: c.names[0] ?? c.id } }));
  }
  return { certificates, byHost };
}

/** A model certificate: its Secret and the hosts it serves (sorted). */
export function toCertificate(id: string, hosts: Iterable<string>, secret: { readonly certPem: string; readonly keyPem: string; readonly source: ObjectRef }): Certificate {
  return { id, hosts: [...hosts].sort(compareText), certPem: secret.certPem, keyPem: secret.keyPem, source: secret.source };
}
