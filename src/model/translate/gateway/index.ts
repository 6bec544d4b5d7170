/*
 * translateGateway(): the Gateway API objects (GatewayClass, Gateway, HTTPRoute, ReferenceGrant) →
 * what translate merges into the routing model (hosts and routes, backends, certificates, certificate
 * intents) and the status to write. Pure: reads its arguments, never throws on bad input; the oldest
 * object wins every conflict (HTTPRoutes and Gateways by creationTimestamp, then namespace/name).
 */

import type { ObjectRef, SourceLocation, Diagnostic } from '../../../shared/diagnostics.ts';
import type { KubeObject } from '../../k8s.ts';
import type { ProxyMode } from '../../policy-support.ts';
import type { AddressScope, Backend, Certificate, CertificateIntent, EntryPoint, HostKind, Route, VirtualHost } from '../../types.ts';
import { certificateOf, compareVhosts, refKey, toCertificate } from '../assemble.ts';
import type { HostCert, VhostBuild } from '../assemble.ts';
import { createBackendResolver } from '../backends.ts';
import type { BackendResolver } from '../backends.ts';
import { DiagnosticList } from '../diagnostics.ts';
import type { AcmeIssuance } from '../intents.ts';
import { compareRoutes, sameMatch } from '../../match.ts';
import { compareAge, compareText, isRecord, readHeader, showValue } from '../object.ts';
import type { ObjectHeader } from '../object.ts';
import { createSecretReader } from '../tls.ts';
import type { SecretReader } from '../tls.ts';
import { GATEWAY_SUPPORTED_FEATURES, GatewayConditions as T, GatewayReasons as R } from '../../gateway-api.ts';
import { assignAddresses } from './addresses.ts';
import { attachParent, namesGateway } from './attach.ts';
import type { ParentOutcome } from './attach.ts';
import { GatewayCodes } from './codes.ts';
import { readReferenceGrants } from './grants.ts';
import { decideListeners, gatewayConditions } from './listeners.ts';
import type { ListenerState } from './listeners.ts';
import { gatewayClassName, parseGateway, parseRoute } from './read.ts';
import type { ParsedGateway, ParsedRoute } from './read.ts';
import { buildRoutes } from './routes.ts';
import { certificateNames } from './certificate-names.ts';
import { condition } from './status.ts';
import type { GatewayStatuses, HTTPRouteStatus } from './status.ts';

export { GATEWAY_ACME_ANNOTATION } from './listeners.ts';
export { GatewayCodes } from './codes.ts';
export { noBackendId } from './routes.ts';
export type * from './status.ts';

/** The objects the Gateway API translation reads (as the snapshot holds them: unvalidated). */
export interface GatewayInput {
  readonly gatewayClasses: readonly KubeObject[];
  readonly gateways: readonly KubeObject[];
  readonly httpRoutes: readonly KubeObject[];
  readonly referenceGrants: readonly KubeObject[];
  readonly services: readonly KubeObject[];
  readonly endpointSlices: readonly KubeObject[];
  readonly secrets: readonly KubeObject[];
  /** Namespaces, for listeners whose allowedRoutes select namespaces by label (absent: none selected). */
  readonly namespaces?: readonly KubeObject[];
}

/** What the Gateway API translation needs besides the objects. */
export interface GatewayOptions {
  /** Our GatewayClasses are those with this `spec.controllerName`. */
  readonly controllerName: string;
  readonly entryPoints: readonly EntryPoint[];
  /** Default native. */
  readonly mode?: ProxyMode;
  /** `[acme]`, when configured: an opted-in HTTPS listener without a Secret gets its certificate from ACME. */
  readonly acme?: AcmeIssuance;
  /** `[kubernetes] gatewayAddressPool`: IP addresses each Gateway takes one of (empty: every Gateway shares the entry points). */
  readonly addressPool?: readonly string[];
}

/**
 * Translate's own readers, when the Gateway API translation runs inside translate: Services,
 * EndpointSlices and Secrets are then read (and reported) once, and the backends land in its map.
 */
export interface GatewayShared {
  readonly resolver: BackendResolver;
  readonly secrets: SecretReader;
  readonly diags: DiagnosticList;
}

/** A listener certificate: a model certificate and the Gateway that decided its hosts (for conflict diagnostics). */
export interface GatewayCertificate extends Certificate {
  readonly owner: ObjectRef;
  /**
   * Of `hosts`, the certificate's own names a listener without hostname serves it for (no host
   * asked for them): left to whoever else claims one, without a diagnostic.
   */
  readonly ownNames: readonly string[];
}

/** What translate merges into the model, and the status to write. */
export interface GatewayTranslation {
  /**
   * Sorted as the model's; routes in match order; `certificate` from the listeners' certificates;
   * `entryPoints` those of the listeners serving the host, when not every entry point.
   */
  readonly virtualHosts: readonly VirtualHost[];
  /** The hosts of Gateways with an address of their own (by address, sorted); not merged with the Ingresses'. */
  readonly addressScopes: readonly AddressScope[];
  /** Backends by id (sorted): the Services the routes use. */
  readonly backends: Readonly<Record<string, Backend>>;
  /** Listener certificates (sorted by id), each with the hosts it serves and the oldest Gateway using it. */
  readonly certificates: readonly GatewayCertificate[];
  /** ACME intents of opted-in HTTPS listeners without a usable Secret, oldest Gateway first. */
  readonly certificateIntents: readonly CertificateIntent[];
  readonly status: GatewayStatuses;
  /** Where each HTTPRoute and Gateway was read (file source), by `kind namespace/name`, for merge diagnostics. */
  readonly locations: ReadonlyMap<string, SourceLocation>;
  /** Sorted; empty when {@link GatewayShared} was given (they went to its list). */
  readonly diagnostics: readonly Diagnostic[];
}

interface HostBuild {
  readonly host: string;
  readonly kind: HostKind;
  readonly routes: Route[];
  readonly sources: Map<string, ObjectRef>;
  readonly entryPoints: Set<string>;
  /** The Gateway address and entry point the host is served on; undefined: the shared address, every entry point. */
  readonly scope: { readonly address: string; readonly entryPoint: string } | undefined;
}

function hostKey(scope: HostBuild['scope'], host: string): string {
  return scope === undefined ? host : `${scope.address}\u0000${scope.entryPoint}\u0000${host}`;
}

function locationKey(ref: ObjectRef): string {
  return `${ref.kind} ${refKey(ref)}`;
}

/** Reads one object, reporting (not throwing) an unexpected failure on it. */
function safely<V>(obj: unknown, kind: string, i: number, diags: DiagnosticList, read: () => V | undefined): V | undefined {
  try {
    return read();
  } catch (err) {
    const meta = isRecord(obj) ? obj['metadata'] : undefined;
    const name = isRecord(meta) && typeof meta['name'] === 'string' ? meta['name'] : `<${kind}[${i}]>`;
    diags.reporter({ kind, name }, undefined).error(GatewayCodes.unreadable, '', `this ${kind} could not be read (${err instanceof Error ? err.message : showValue(err)}); it is left out`);
    return undefined;
  }
}

/** Our GatewayClasses (by name) and their status. */
function readClasses(input: GatewayInput, options: GatewayOptions, diags: DiagnosticList): { names: Set<string>; status: GatewayStatuses['gatewayClasses'] } {
  const names = new Set<string>();
  const status: { name: string; conditions: ReturnType<typeof condition>[]; supportedFeatures: readonly string[] }[] = [];
  input.gatewayClasses.forEach((obj, i) => {
    // Other controllers' classes are not ours to report on: the controllerName is read before the header.
    const spec = isRecord(obj) ? obj['spec'] : undefined;
    if (!isRecord(spec) || spec['controllerName'] !== options.controllerName) return;
    const h = readHeader(obj, 'GatewayClass', false, `gatewayClasses[${i}]`, diags);
    if (h === undefined || names.has(h.name)) return;
    names.add(h.name);
    const meta = h.body['metadata'];
    const g = isRecord(meta) && typeof meta['generation'] === 'number' ? meta['generation'] : undefined;
    status.push({ name: h.name, conditions: [condition(T.accepted, true, R.accepted, 'Passerelle serves this class', g)], supportedFeatures: GATEWAY_SUPPORTED_FEATURES });
  });
  status.sort((a, b) => compareText(a.name, b.name));
  return { names, status };
}

/**
 * Translates the Gateway API objects: our GatewayClasses (by `controllerName`), their Gateways'
 * listeners onto entry points (by port and TLS), the HTTPRoutes attached to them into hosts and
 * routes, listener certificates and ACME intents, and the status of each. Problems are diagnostics on
 * their object; only the offending part is left out.
 */
export function translateGateway(input: GatewayInput, options: GatewayOptions, shared?: GatewayShared): GatewayTranslation {
  const diags = shared?.diags ?? new DiagnosticList();
  const resolver = shared?.resolver ?? createBackendResolver(input.services, input.endpointSlices, diags);
  const secrets = shared?.secrets ?? createSecretReader(input.secrets, diags);
  const grants = readReferenceGrants(input.referenceGrants, diags);
  const mode = options.mode ?? 'native';
  const locations = new Map<string, SourceLocation>();
  const remember = (h: ObjectHeader): void => {
    if (h.location !== undefined) locations.set(locationKey(h.ref), h.location);
  };

  const classes = readClasses(input, options, diags);
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  (input.namespaces ?? []).forEach((obj, i) => {
    const h = readHeader(obj, 'Namespace', false, `namespaces[${i}]`, diags);
    if (h !== undefined) nsLabels.set(h.name, { ...h.labels, 'kubernetes.io/metadata.name': h.name });
  });

  // Every Gateway by namespace/name (a parentRef to another controller's Gateway is not reported); ours parsed.
  const allGateways = new Set<string>();
  const gateways: ParsedGateway[] = [];
  input.gateways.forEach((obj, i) => {
    const className = isRecord(obj) ? gatewayClassName(obj) : undefined;
    const meta = isRecord(obj) ? obj['metadata'] : undefined;
    if (isRecord(meta) && typeof meta['name'] === 'string') allGateways.add(`${typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : 'default'}/${meta['name']}`);
    if (className === undefined || !classes.names.has(className)) return;
    const parsed = safely(obj, 'Gateway', i, diags, () => {
      const h = readHeader(obj, 'Gateway', true, `gateways[${i}]`, diags);
      return h && parseGateway(h);
    });
    if (parsed !== undefined) gateways.push(parsed);
  });
  gateways.sort((a, b) => compareAge(a.header, b.header));
  const listenersOf = new Map<string, ListenerState[]>();
  const ctx = { entryPoints: options.entryPoints, secrets, grants, acme: options.acme };
  for (const gw of gateways) {
    const key = `${gw.header.namespace}/${gw.header.name}`;
    if (listenersOf.has(key)) continue;
    remember(gw.header);
    listenersOf.set(key, decideListeners(gw, ctx));
  }
  const { addressOf, problems: addressProblems } = assignAddresses(gateways, options.addressPool ?? []);

  // HTTPRoutes naming at least one Gateway, oldest first.
  const routes: ParsedRoute[] = [];
  input.httpRoutes.forEach((obj, i) => {
    const parsed = safely(obj, 'HTTPRoute', i, diags, () => {
      const h = readHeader(obj, 'HTTPRoute', true, `httpRoutes[${i}]`, diags);
      return h && parseRoute(h);
    });
    if (parsed !== undefined) routes.push(parsed);
  });
  routes.sort((a, b) => compareAge(a.header, b.header));

  const used = new Map<string, Backend>();
  const hosts = new Map<string, HostBuild>();
  const routeStatus: HTTPRouteStatus[] = [];
  const seenRoutes = new Set<string>();
  for (const route of routes) {
    const key = `${route.header.namespace}/${route.header.name}`;
    if (seenRoutes.has(key)) continue;
    seenRoutes.add(key);
    const outcomes: ParentOutcome[] = [];
    for (const p of route.parentRefs) {
      if (!namesGateway(p)) continue;
      const listeners = listenersOf.get(`${p.namespace}/${p.name}`);
      if (listeners === undefined) {
        if (!allGateways.has(`${p.namespace}/${p.name}`)) route.header.reporter.warning(GatewayCodes.parentNotFound, p.field, `Gateway ${p.namespace}/${p.name} does not exist; no status is written for it`);
        continue;
      }
      outcomes.push(attachParent(route, p, listeners, (ns) => nsLabels.get(ns)));
    }
    if (outcomes.length === 0) continue;
    remember(route.header);
    const build = buildRoutes(route, { resolver, grants, mode, used });
    routeStatus.push({
      namespace: route.header.namespace,
      name: route.header.name,
      parents: outcomes.map((o) => ({ parentRef: o.parentRef.raw, controllerName: options.controllerName, conditions: [o.accepted, ...build.conditions] })),
    });
    for (const o of outcomes) {
      // A Gateway whose requested address cannot be had is served nowhere (not on the shared address either).
      if (addressProblems.has(`${o.parentRef.namespace}/${o.parentRef.name}`)) continue;
      for (const a of o.attachments) {
        if (!a.listener.programmed || a.listener.entryPoint === undefined) continue;
        const address = addressOf.get(`${o.parentRef.namespace}/${o.parentRef.name}`);
        const ep = a.listener.entryPoint.name;
        for (const h of a.hosts) claimRoutes(route, h, ep, build.routes, hosts, address === undefined ? undefined : { address, entryPoint: ep });
      }
    }
  }

  const served = gateways.filter((gw) => !addressProblems.has(`${gw.header.namespace}/${gw.header.name}`));
  const { certificates, hostCert, intents } = listenerCertificates(served, listenersOf, hosts, addressOf);
  const lookup = (h: string): string | undefined => hostCert.get(h)?.id;
  const finish = (b: HostBuild): VirtualHost => {
    const cert = certificateOf(b, lookup);
    const vh: VirtualHost = { host: b.host, kind: b.kind, routes: [...b.routes].sort(compareRoutes), sources: [...b.sources.entries()].sort(([x], [y]) => compareText(x, y)).map(([, r]) => r) };
    return cert === undefined ? vh : { ...vh, certificate: cert };
  };
  // On the shared address, a host is served only on the ports of the listeners it came through.
  const virtualHosts: VirtualHost[] = [...hosts.values()]
    .filter((b) => b.scope === undefined)
    .map((b) => (b.entryPoints.size < options.entryPoints.length ? { ...finish(b), entryPoints: [...b.entryPoints].sort(compareText) } : finish(b)))
    .sort(compareVhosts);
  // Every entry point of a Gateway's address is a scope, none of a listener's hosts or not: a port
  // no listener of the Gateway has serves nothing there (404), and a listener's hosts only its port.
  const scoped = new Map<string, { address: string; entryPoint: string; list: VirtualHost[] }>();
  for (const address of new Set(addressOf.values())) {
    for (const ep of options.entryPoints) scoped.set(`${address}\u0000${ep.name}`, { address, entryPoint: ep.name, list: [] });
  }
  for (const b of hosts.values()) {
    if (b.scope === undefined) continue;
    const key = `${b.scope.address}\u0000${b.scope.entryPoint}`;
    const entry = scoped.get(key) ?? { ...b.scope, list: [] };
    const vh = finish(b);
    entry.list.push(vh);
    scoped.set(key, entry);
  }
  // The HTTPS listeners' hostnames per Gateway address and TLS entry point: a request whose Host another listener takes is misdirected (421).
  const tlsNames = new Map<string, Set<string>>();
  for (const gw of served) {
    const key = `${gw.header.namespace}/${gw.header.name}`;
    const address = addressOf.get(key);
    if (address === undefined) continue;
    for (const l of listenersOf.get(key) ?? []) {
      if (!l.programmed || l.entryPoint?.tls !== true) continue;
      const k = `${address}\u0000${l.entryPoint.name}`;
      tlsNames.set(k, (tlsNames.get(k) ?? new Set()).add(l.listener.hostname?.host ?? ''));
    }
  }
  const addressScopes: AddressScope[] = [...scoped.values()]
    .sort((a, b) => compareText(a.address, b.address) || compareText(a.entryPoint, b.entryPoint))
    .map(({ address, entryPoint, list }) => {
      const names = [...(tlsNames.get(`${address}\u0000${entryPoint}`) ?? [])].sort(compareText);
      return { address, entryPoint, virtualHosts: list.sort(compareVhosts), ...(names.length > 1 ? { listenerHostnames: names } : {}) };
    });

  const backends: Record<string, Backend> = {};
  for (const id of [...used.keys()].sort(compareText)) {
    const b = used.get(id);
    if (b !== undefined) backends[id] = b;
  }
  const gatewayStatus = gateways
    .filter((gw, i) => gateways.findIndex((o) => o.header.namespace === gw.header.namespace && o.header.name === gw.header.name) === i)
    .map((gw) => {
      const key = `${gw.header.namespace}/${gw.header.name}`;
      const listeners = listenersOf.get(key) ?? [];
      const address = addressOf.get(key);
      return {
        namespace: gw.header.namespace,
        name: gw.header.name,
        ...(address === undefined ? {} : { address }),
        ...(addressProblems.has(key) ? { unserved: true as const } : {}),
        conditions: gatewayConditions(gw, listeners, addressProblems.get(key)),
        listeners: listeners.map((l) => ({
          name: l.listener.name,
          supportedKinds: l.supportedKinds,
          attachedRoutes: l.attached.size,
          conditions: l.conditions,
          ...(l.entryPoint === undefined ? {} : { entryPoint: l.entryPoint.name }),
        })),
      };
    })
    .sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  routeStatus.sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));

  return {
    virtualHosts,
    addressScopes,
    backends,
    certificates,
    certificateIntents: intents,
    status: { gatewayClasses: classes.status, gateways: gatewayStatus, httpRoutes: routeStatus },
    locations,
    diagnostics: shared === undefined ? diags.sorted() : [],
  };
}

/** Claims the routes of an HTTPRoute on one host; a path an older HTTPRoute (or an earlier rule) has is reported. */
function claimRoutes(route: ParsedRoute, host: { readonly host: string; readonly kind: HostKind }, entryPoint: string, built: readonly Route[], hosts: Map<string, HostBuild>, scope: HostBuild['scope']): void {
  const hkey = hostKey(scope, host.host);
  let hb = hosts.get(hkey);
  if (hb === undefined) {
    hb = { host: host.host, kind: host.kind, routes: [], sources: new Map(), entryPoints: new Set(), scope };
    hosts.set(hkey, hb);
  }
  hb.entryPoints.add(entryPoint);
  const key = refKey(route.header.ref);
  for (const r of built) {
    const owner = hb.routes.find((o) => sameMatch(o, r));
    if (owner === undefined) {
      hb.routes.push(r);
      hb.sources.set(key, route.header.ref);
    } else if (owner !== r && !(refKey(owner.source) === key && owner.field === r.field)) {
      const by = refKey(owner.source) === key ? `${owner.field} of this HTTPRoute` : `older HTTPRoute ${refKey(owner.source)}`;
      route.header.reporter.warning(GatewayCodes.conflict, `${r.field}.path`, `host ${host.host} ${r.pathType} ${r.path} is already routed by ${by}; this match is ignored there`);
    }
  }
}

/** Listener certificates (oldest Gateway first decides a host), their hosts, and the ACME intents. */
function listenerCertificates(gateways: readonly ParsedGateway[], listenersOf: ReadonlyMap<string, readonly ListenerState[]>, hosts: ReadonlyMap<string, HostBuild>, addressOf: ReadonlyMap<string, string>): { certificates: GatewayCertificate[]; hostCert: Map<string, HostCert>; intents: CertificateIntent[] } {
  const hostCert = new Map<string, HostCert>();
  const certs = new Map<string, { hosts: Set<string>; ownNames: Set<string>; certPem: string; keyPem: string; source: ObjectRef; owner: ObjectRef }>();
  const intents: CertificateIntent[] = [];
  // A listener without hostname serves its certificate for any name: for the names it covers once every asked-for host is decided.
  const ownNames: { readonly id: string; readonly names: readonly string[]; readonly owner: ObjectRef }[] = [];
  const done = new Set<string>();
  for (const gw of gateways) {
    const key = `${gw.header.namespace}/${gw.header.name}`;
    if (done.has(key)) continue;
    done.add(key);
    for (const l of listenersOf.get(key) ?? []) {
      if (!l.programmed) continue;
      if (l.intent !== undefined) intents.push(l.intent);
      const c = l.certificate;
      if (c === undefined || l.entryPoint === undefined) continue;
      // A listener without hostname serves its certificate for the hosts routed through it.
      const scope = addressOf.get(key);
      const names = l.listener.hostname !== undefined ? [l.listener.hostname.host] : [...hosts.values()].filter((h) => h.kind !== 'any' && h.scope?.address === scope && h.entryPoints.has(l.entryPoint?.name ?? '')).map((h) => h.host);
      let cert = certs.get(c.id);
      if (cert === undefined) {
        cert = { hosts: new Set(), ownNames: new Set(), certPem: c.certPem, keyPem: c.keyPem, source: c.ref, owner: gw.header.ref };
        certs.set(c.id, cert);
      }
      if (l.listener.hostname === undefined) ownNames.push({ id: c.id, names: certificateNames(c.certPem), owner: gw.header.ref });
      for (const name of names) {
        const current = hostCert.get(name);
        if (current === undefined || current.id === c.id) {
          hostCert.set(name, current ?? { id: c.id, owner: gw.header.ref });
          cert.hosts.add(name);
        } else {
          gw.header.reporter.warning(GatewayCodes.conflict, `${l.listener.field}.tls.certificateRefs`, `host ${name} already uses certificate ${current.id} from Gateway ${refKey(current.owner)}; Secret ${c.id} is not used for it`);
        }
      }
    }
  }
  for (const own of ownNames) {
    const cert = certs.get(own.id);
    for (const name of own.names) {
      if (cert === undefined || hostCert.has(name)) continue;
      hostCert.set(name, { id: own.id, owner: own.owner });
      cert.hosts.add(name);
      cert.ownNames.add(name);
    }
  }
  const certificates = [...certs.entries()]
    .filter(([, c]) => c.hosts.size > 0)
    .sort(([a], [b]) => compareText(a, b))
    .map(([id, c]) => ({ ...toCertificate(id, c.hosts, c), owner: c.owner, ownNames: [...c.ownNames].sort(compareText) }));
  return { certificates, hostCert, intents };
}

/** What translate has built from the Ingresses when the Gateway API translation is merged in. */
export interface IngressBuild {
  readonly vhosts: Map<string, VhostBuild>;
  readonly used: Map<string, Backend>;
  /** Secret certificates by id (translate's CertBuild). */
  readonly certs: Map<string, { readonly id: string; readonly hosts: Set<string>; readonly certPem: string; readonly keyPem: string; readonly source: ObjectRef }>;
  readonly hostCert: Map<string, HostCert>;
}

/**
 * Merges a Gateway API translation into translate's Ingress build, after the Ingresses' routes and TLS
 * hosts (so an Ingress keeps a host and path, or a certificate, both ask for; the HTTPRoute or Gateway
 * is told with PASS_GATEWAY_CONFLICT). Call it before the issued certificates are served and the hosts
 * finished; the intents go after the Ingresses' (`gw.certificateIntents`).
 */
export function mergeGateway(gw: GatewayTranslation, into: IngressBuild, diags: DiagnosticList): void {
  const reporter = (ref: ObjectRef) => diags.reporter(ref, gw.locations.get(locationKey(ref)));
  for (const [id, b] of Object.entries(gw.backends)) into.used.set(id, b);
  for (const vh of gw.virtualHosts) {
    let target = into.vhosts.get(vh.host);
    if (target === undefined) {
      // A host of Gateways alone is served only on their listeners' ports; one an Ingress routes too, on every entry point.
      target = { host: vh.host, kind: vh.kind, routes: [], byPath: undefined, sources: [], ...(vh.entryPoints === undefined ? {} : { entryPoints: vh.entryPoints }) };
      into.vhosts.set(vh.host, target);
    }
    for (const r of vh.routes) {
      // An Ingress keeps its path whatever the HTTPRoute's conditions; HTTPRoutes were already told apart by their whole match.
      const owner = target.routes.find((o) => o.path === r.path && o.pathType === r.pathType && (o.source.kind !== 'HTTPRoute' || sameMatch(o, r)));
      if (owner !== undefined) {
        reporter(r.source).warning(GatewayCodes.conflict, `${r.field}.path`, `host ${vh.host} ${r.pathType} ${r.path} is already routed by ${owner.source.kind} ${refKey(owner.source)}; this match is ignored there`);
        continue;
      }
      target.routes.push(r);
      target.byPath?.set(`${r.path}\u0000${r.pathType}`, r);
      const key = refKey(r.source);
      if (!target.sources.some((s) => s.key === key && s.ref.kind === r.source.kind)) target.sources.push({ key, ref: r.source });
    }
  }
  for (const c of gw.certificates) {
    let cert = into.certs.get(c.id);
    if (cert === undefined) {
      cert = { id: c.id, hosts: new Set(), certPem: c.certPem, keyPem: c.keyPem, source: c.source };
      into.certs.set(c.id, cert);
    }
    for (const host of c.hosts) {
      const current = into.hostCert.get(host);
      if (current === undefined || current.id === c.id) {
        into.hostCert.set(host, current ?? { id: c.id, owner: c.owner });
        cert.hosts.add(host);
      } else if (!c.ownNames.includes(host)) {
        reporter(c.owner).warning(GatewayCodes.conflict, 'spec.listeners', `host ${host} already uses certificate ${current.id} from ${current.owner.kind} ${refKey(current.owner)}; Secret ${c.id} is not used for it`);
      }
    }
  }
}
