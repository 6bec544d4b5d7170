/*
 * translate(): a snapshot of Kubernetes objects → the routing model and per-object diagnostics.
 * Pure: reads only its arguments, never mutates them, never throws on bad input.
 */

import type { ObjectRef } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';
import type { Snapshot } from '../k8s.ts';
import { compareRoutes, normalizeRulePath } from '../match.ts';
import type { Backend, Certificate, EntryPoint, HostKind, Route, RoutingModel, VirtualHost } from '../types.ts';
import { createBackendResolver, reportBackendProblem } from './backends.ts';
import type { BackendResolver } from './backends.ts';
import { decideClass, readIngressClasses } from './class.ts';
import type { ClassOptions } from './class.ts';
import { Codes, DiagnosticList } from './diagnostics.ts';
import { parseIngress } from './ingress.ts';
import type { BackendRef, IngressPath, IngressRule, ParsedIngress } from './ingress.ts';
import { compareText, isRecord, readHeader, showValue } from './object.ts';
import { createSecretReader } from './tls.ts';
import { createConfigMapReader } from './config-maps.ts';
import { asksRegexPaths, policyOf, REGEX_ROUTE_MODES, routePolicy } from './policies.ts';
import type { PolicyRefs } from '../annotations/index.ts';
import { FEATURE_MODES } from '../policy-support.ts';
import type { ProxyMode } from '../policy-support.ts';

export { isOurIngress } from './class.ts';
export type { ClassDecision, ClassOptions } from './class.ts';
export { Codes } from './diagnostics.ts';
export { REGEX_ROUTE_MODES } from './policies.ts';

/** What translate needs besides the snapshot. */
export interface TranslateOptions extends ClassOptions {
  /** From the static config, copied into the model. */
  readonly entryPoints: readonly EntryPoint[];
  /** e.g. `passerelle`. */
  readonly ingressClass: string;
  /** e.g. `passerelle.dev/ingress-controller`. */
  readonly controllerName: string;
  /** Extra `kubernetes.io/ingress.class` values accepted, e.g. `["traefik"]`. */
  readonly classAliases: readonly string[];
  readonly watchIngressWithoutClass: boolean;
  /** Plain HTTP to the routes of an Ingress with TLS redirects to https unless it says otherwise (ingress-nginx's `ssl-redirect`); default true. */
  readonly sslRedirect?: boolean;
  /** The proxy mode: policies it cannot render are dropped with a diagnostic (access ones deny); default native. */
  readonly mode?: ProxyMode;
}

/**
 * Adds a canary Ingress's backends to the routes of the same host, path and pathType that a main
 * Ingress declares (ingress-nginx's canary: header, then cookie, then weight decide per request).
 * A path no main Ingress routes, or a route that has a canary already, is reported and left out.
 */
function addCanary(ing: ParsedIngress, canary: NonNullable<PolicyRefs['canary']>, vhosts: ReadonlyMap<string, VhostBuild>, mode: ProxyMode, backendOf: (ref: BackendRef) => string): void {
  const report = ing.header.reporter;
  if (!FEATURE_MODES.canary.includes(mode)) {
    report.warning(Codes.policyNotInMode, "metadata.annotations['nginx.ingress.kubernetes.io/canary']", `canary Ingresses are not rendered in ${mode} mode; the main Ingress serves every request`);
    return;
  }
  for (const rule of ing.rules) {
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
      const next: Route = { ...main, policy: { ...main.policy, canary: { ...canary, backend: backendOf(p.backend) } } };
      replaceRoute(vh, main, next);
      if (!vh.sources.some((s) => s.key === refKey(ing.header.ref))) vh.sources.push({ key: refKey(ing.header.ref), ref: ing.header.ref });
    }
  }
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
function addWeighted(ing: ParsedIngress, rule: IngressRule, p: IngressPath, main: Route, vh: VhostBuild, weights: Readonly<Record<string, number>>, backendOf: (ref: BackendRef) => string): void {
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
  replaceRoute(vh, main, { ...main, policy: { ...main.policy, canary: { backend: backendOf(p.backend), weight } } });
}

function replaceRoute(vh: VhostBuild, old: Route, next: Route): void {
  const i = vh.routes.indexOf(old);
  if (i >= 0) vh.routes[i] = next;
  vh.byPath?.set(routeKey(next.path, next.pathType), next);
}

interface VhostBuild {
  readonly host: string;
  readonly kind: HostKind;
  /** In the order the paths were claimed; each route's source owns its path + pathType. */
  readonly routes: Route[];
  /** `path\0pathType` → route, once a host has more than {@link LINEAR_ROUTES} routes. */
  byPath: Map<string, Route> | undefined;
  /** The Ingresses that route this host, by refKey; one Ingress's rules come one after another. */
  readonly sources: { readonly key: string; readonly ref: ObjectRef }[];
}

/** `www.host` for `host`, `host` for `www.host`; none for a wildcard or a name without a dot. */
export function wwwCounterpart(host: string): string | undefined {
  if (host.startsWith('*') || !host.includes('.')) return undefined;
  return host.startsWith('www.') ? host.slice(4) : `www.${host}`;
}

/**
 * from-to-www-redirect: the other name of each host of the Ingress (`www.` added or removed) gets a
 * route that redirects every request to the host, path and query kept (ingress-nginx). A name some
 * Ingress routes already is left to it, with a warning.
 */
function addWwwRedirects(ing: ParsedIngress, vhosts: Map<string, VhostBuild>, mode: ProxyMode, backendOf: (ref: BackendRef) => string): void {
  const report = ing.header.reporter;
  const field = "metadata.annotations['nginx.ingress.kubernetes.io/from-to-www-redirect']";
  if (!FEATURE_MODES.wwwRedirect.includes(mode)) {
    report.warning(Codes.policyNotInMode, field, `from-to-www-redirect is not rendered in ${mode} mode; it is ignored`);
    return;
  }
  const key = refKey(ing.header.ref);
  for (const rule of ing.rules) {
    const other = rule.kind === 'exact' ? wwwCounterpart(rule.host) : undefined;
    const first = rule.paths[0];
    if (other === undefined || first === undefined) continue;
    const existing = vhosts.get(other);
    if (existing !== undefined) {
      const mine = existing.routes.every((r) => r.policy?.wwwRedirect?.host === rule.host);
      if (!mine) report.warning(Codes.conflict, field, `host ${other} is routed by ${existing.sources.map((s) => s.key).join(', ')}: it is not redirected to ${rule.host}`);
      continue;
    }
    const vh: VhostBuild = { host: other, kind: 'exact', routes: [], byPath: undefined, sources: [{ key, ref: ing.header.ref }] };
    vhosts.set(other, vh);
    // The backend is never asked (every request is redirected); the host's first one keeps the model whole.
    claim(vh, { path: '/', pathType: 'Prefix', backend: backendOf(first.backend), source: ing.header.ref, field: `${rule.field}.host`, policy: { wwwRedirect: { host: rule.host, status: 308 } } });
  }
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

interface CertBuild {
  readonly id: string;
  readonly hosts: Set<string>;
  readonly certPem: string;
  readonly keyPem: string;
  readonly source: ObjectRef;
}

const KIND_ORDER: Readonly<Record<HostKind, number>> = { exact: 0, wildcard: 1, any: 2 };

function refKey(ref: ObjectRef): string {
  return `${ref.namespace ?? ''}/${ref.name}`;
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

/** Ingresses by age (compareAge's order), the `namespace/name` tie-break built once per Ingress. */
function oldestFirst(list: readonly ParsedIngress[]): ParsedIngress[] {
  const keyed = list.map((ing) => ({ ing, created: ing.header.created, key: `${ing.header.namespace}/${ing.header.name}` }));
  keyed.sort((a, b) => (a.created !== b.created ? (a.created < b.created ? -1 : 1) : compareText(a.key, b.key)));
  return keyed.map((k) => k.ing);
}

function compareVhosts(a: VirtualHost, b: VirtualHost): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareText(a.host, b.host);
}

/** Resolves a backend reference of an Ingress, reporting problems on the Ingress; returns the backend. */
function useBackend(ing: ParsedIngress, ref: BackendRef, resolver: BackendResolver, used: Map<string, Backend>): Backend {
  const res = resolver.resolve(ing.header.namespace, ref.service, ref.port);
  // A missing Service or port keeps the route with an empty backend: it answers 503 rather than
  // falling through to another route or host (ingress-nginx does the same), and heals by itself.
  if (res.problem !== undefined) reportBackendProblem(ing.header.reporter, res.problem, ref.serviceField, ref.portField);
  used.set(res.backend.id, res.backend);
  return res.backend;
}

/**
 * Translates a snapshot of Kubernetes objects into the routing model. Only Ingresses of our class
 * (see {@link isOurIngress}) are read; each problem becomes a diagnostic on its object and only the
 * offending part (rule, path, TLS entry) is dropped. The output is deterministic: the oldest Ingress
 * wins every conflict, and hosts, routes, backends, certificates and diagnostics are sorted.
 */
export function translate(snapshot: Snapshot, options: TranslateOptions): RoutingModel {
  const diags = new DiagnosticList();
  const resolver = createBackendResolver(snapshot.services, snapshot.endpointSlices, diags);
  const secrets = createSecretReader(snapshot.secrets, diags);
  const configMaps = createConfigMapReader(snapshot.configMaps, diags);

  const classes = readIngressClasses(snapshot.ingressClasses);
  const parsedIngresses: ParsedIngress[] = [];
  snapshot.ingresses.forEach((obj, i) => {
    // Other controllers' Ingresses are none of our business: decide the class first. A non-object
    // has no class to read, so it is reported rather than silently dropped.
    let header: ReturnType<typeof readHeader>;
    try {
      if (isRecord(obj) && !decideClass(obj, classes, options).ours) return;
      header = readHeader(obj, 'Ingress', true, `ingresses[${i}]`, diags);
      const parsed = header && parseIngress(header, asksRegexPaths(header));
      if (parsed !== undefined) parsedIngresses.push(parsed);
    } catch (err) {
      // A bug on one odd object costs that object only: the rest of the snapshot is still served.
      const meta = isRecord(obj) ? obj['metadata'] : undefined;
      const named = isRecord(meta) && typeof meta['name'] === 'string' ? { kind: 'Ingress', name: meta['name'], ...(typeof meta['namespace'] === 'string' ? { namespace: meta['namespace'] } : {}) } : undefined;
      const ref = header?.ref ?? named ?? { kind: 'Ingress', name: `<ingresses[${i}]>` };
      diags.reporter(ref, header?.location).error(Codes.internal, '', `this Ingress could not be read (${err instanceof Error ? err.message : showValue(err)}); it is left out`);
    }
  });
  const ingresses = oldestFirst(parsedIngresses);

  const used = new Map<string, Backend>();
  const vhosts = new Map<string, VhostBuild>();
  const canaries: { readonly ing: ParsedIngress; readonly canary: NonNullable<PolicyRefs['canary']> }[] = [];
  const wwwRedirects: ParsedIngress[] = [];
  for (const ing of ingresses) {
    const report = ing.header.reporter;
    const ref = ing.header.ref;
    const key = refKey(ref);
    const mode = options.mode ?? 'native';
    const { policy, canary, wwwRedirect, serviceWeights } = policyOf(ing, secrets, configMaps, options.sslRedirect ?? true, mode);
    if (wwwRedirect) wwwRedirects.push(ing);
    // A canary Ingress routes nothing of its own: its backends join the main routes, once those are known.
    if (canary !== undefined) {
      canaries.push({ ing, canary });
      continue;
    }
    for (const rule of ing.rules) {
      if (rule.paths.length === 0) continue;
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
        if (existing !== undefined && serviceWeights !== undefined && refKey(existing.source) === key) {
          addWeighted(ing, rule, p, existing, vh, serviceWeights, (ref) => useBackend(ing, ref, resolver, used).id);
          continue;
        }
        if (owner !== undefined) {
          const where = refKey(owner) === key ? 'an earlier path of this Ingress' : `older Ingress ${refKey(owner)}`;
          report.warning(Codes.conflict, `${p.field}.path`, `host ${rule.host} ${p.pathType} ${path} is already routed by ${where}; this path is ignored`);
          continue;
        }
        const backend = useBackend(ing, p.backend, resolver, used);
        claim(vh, { path, pathType: p.pathType, backend: backend.id, source: ref, field: p.field, ...defined({ policy: routePolicy(policy, path, p.pathType) }) });
      }
    }
  }

  for (const { ing, canary } of canaries) addCanary(ing, canary, vhosts, options.mode ?? 'native', (ref) => useBackend(ing, ref, resolver, used).id);
  // After every Ingress's own hosts: a name an Ingress routes is never taken over by a redirect.
  for (const ing of wwwRedirects) addWwwRedirects(ing, vhosts, options.mode ?? 'native', (ref) => useBackend(ing, ref, resolver, used).id);

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
    defaultBackend = useBackend(ing, ref, resolver, used).id;
  }

  const certs = new Map<string, CertBuild>();
  /** host → certificate id; the oldest Ingress naming a host decides its certificate. */
  const hostCert = new Map<string, { readonly id: string; readonly owner: ObjectRef }>();
  for (const ing of ingresses) {
    const report = ing.header.reporter;
    for (const entry of ing.tls) {
      const secret = secrets.read(ing.header.namespace, entry.secretName);
      if (!secret.ok) {
        report.error(secret.code, `${entry.field}.secretName`, secret.message);
        continue;
      }
      const id = `${ing.header.namespace}/${entry.secretName}`;
      let cert = certs.get(id);
      if (cert === undefined) {
        cert = { id, hosts: new Set(), certPem: secret.certPem, keyPem: secret.keyPem, source: secret.ref };
        certs.set(id, cert);
      }
      for (const h of entry.hosts) {
        const current = hostCert.get(h.host);
        if (current === undefined || current.id === id) {
          hostCert.set(h.host, current ?? { id, owner: ing.header.ref });
          cert.hosts.add(h.host);
        } else {
          report.warning(Codes.conflict, h.field, `host ${h.host} already uses certificate ${current.id} from Ingress ${refKey(current.owner)}; Secret ${id} is not used for it`);
        }
      }
    }
  }

  const virtualHosts: VirtualHost[] = [...vhosts.values()]
    .map((vh): VirtualHost => {
      const exact = hostCert.get(vh.host)?.id;
      const wildcard = vh.kind === 'exact' && vh.host.includes('.') ? hostCert.get(`*${vh.host.slice(vh.host.indexOf('.'))}`)?.id : undefined;
      const certificate = vh.kind === 'any' ? undefined : (exact ?? wildcard);
      return {
        host: vh.host,
        kind: vh.kind,
        // A copy: the exact-size array, not the one push() grew (the model is kept until the next build).
        routes: [...vh.routes].sort(compareRoutes),
        ...defined({ certificate }),
        sources: sortedSources(vh.sources),
      };
    })
    .sort(compareVhosts);

  const backends: Record<string, Backend> = {};
  for (const id of [...used.keys()].sort(compareText)) {
    const b = used.get(id);
    if (b !== undefined) backends[id] = b;
  }

  // A certificate that no host selects (all its hosts taken by older Ingresses) would never be served.
  const certificates: Certificate[] = [...certs.values()]
    .filter((c) => c.hosts.size > 0)
    .sort((a, b) => compareText(a.id, b.id))
    .map((c) => ({ id: c.id, hosts: [...c.hosts].sort(compareText), certPem: c.certPem, keyPem: c.keyPem, source: c.source }));

  return {
    entryPoints: [...options.entryPoints],
    virtualHosts,
    backends,
    ...defined({ defaultBackend }),
    certificates,
    diagnostics: diags.sorted(),
  };
}
