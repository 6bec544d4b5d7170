/*
 * translate(): a snapshot of Kubernetes objects → the routing model and per-object diagnostics.
 * Pure: reads only its arguments, never mutates them, never throws on bad input.
 */

import type { ObjectRef } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';
import type { PolicyRefs } from '../annotations/index.ts';
import type { GatewayObjects, Snapshot } from '../k8s.ts';
import type { ProxyMode } from '../policy-support.ts';
import type { AddressScope, Backend, Certificate, EntryPoint, IssuedCertificate, RoutingModel, VirtualHost } from '../types.ts';
import { addCanaryRule, addWwwRule, applyPriorities, canaryInMode, certificateOf, chooseDefaultBackend, claimTlsHost, compareVhosts, finishVhost, oldestFirst, readIngressObject, readTlsEntry, refKey, reportPriority, routeRule, serveIssued, toCertificate, useBackend, wwwInMode } from './assemble.ts';
import type { BackendOf, HostCert, VhostBuild } from './assemble.ts';
import { createBackendResolver } from './backends.ts';
import { readIngressClasses } from './class.ts';
import type { ClassOptions } from './class.ts';
import { createConfigMapReader } from './config-maps.ts';
import { certificateIntents } from './intents.ts';
import type { AcmeIssuance } from './intents.ts';
import { DiagnosticList } from './diagnostics.ts';
import type { ParsedIngress } from './ingress.ts';
import { compareText } from './object.ts';
import { policyOf } from './policies.ts';
import { createSecretReader } from './tls.ts';
import { mergeGateway, translateGateway } from './gateway/index.ts';

export { isOurIngress } from './class.ts';
export type { ClassDecision, ClassOptions } from './class.ts';
export { Codes } from './diagnostics.ts';
export { REGEX_ROUTE_MODES } from './policies.ts';
export { weightShares, wwwCounterpart } from './assemble.ts';
export type { AcmeIssuance } from './intents.ts';

/** The default `spec.controllerName` of the GatewayClasses Passerelle serves (`[kubernetes] gatewayControllerName`). */
export const DEFAULT_GATEWAY_CONTROLLER_NAME = 'passerelle.dev/gateway-controller';

/**
 * Whether a snapshot holds Gateway API objects (GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants):
 * only then does translate run the Gateway API translation (Namespaces alone do not count).
 */
export function hasGatewayObjects(snapshot: GatewayObjects): boolean {
  return (snapshot.gatewayClasses?.length ?? 0) + (snapshot.gateways?.length ?? 0) + (snapshot.httpRoutes?.length ?? 0) + (snapshot.referenceGrants?.length ?? 0) > 0;
}

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
  /** `[acme]`, when configured: a missing TLS Secret whose hosts ACME certifies is a warning, not an error. */
  readonly acme?: AcmeIssuance;
  /** The `spec.controllerName` of the GatewayClasses served; default {@link DEFAULT_GATEWAY_CONTROLLER_NAME}. */
  readonly gatewayControllerName?: string;
  /** `[kubernetes] gatewayAddressPool`: each Gateway takes one of these addresses (absent or empty: they share the entry points). */
  readonly gatewayAddressPool?: readonly string[];
}

/**
 * What translate reads: the sources' objects, and the certificates ACME issued, valid now (no source
 * holds those: the controller's ACME stage adds the manager's; `check` and the dry run, the store's).
 */
export interface TranslateInput extends Snapshot, GatewayObjects {
  /** Absent: none. */
  readonly issuedCertificates?: readonly IssuedCertificate[];
}

interface CertBuild {
  readonly id: string;
  readonly hosts: Set<string>;
  readonly certPem: string;
  readonly keyPem: string;
  readonly source: ObjectRef;
}

/**
 * Translates a snapshot of Kubernetes objects (and the issued ACME certificates) into the routing
 * model. Only Ingresses of our class (see {@link isOurIngress}) are read; each problem becomes a
 * diagnostic on its object and only the offending part (rule, path, TLS entry) is dropped. The output is deterministic: the oldest Ingress
 * wins every conflict, and hosts, routes, backends, certificates and diagnostics are sorted.
 */
export function translate(snapshot: TranslateInput, options: TranslateOptions): RoutingModel {
  const diags = new DiagnosticList();
  const resolver = createBackendResolver(snapshot.services, snapshot.endpointSlices, diags);
  const secrets = createSecretReader(snapshot.secrets, diags);
  const configMaps = createConfigMapReader(snapshot.configMaps, diags);
  const mode = options.mode ?? 'native';

  const classes = readIngressClasses(snapshot.ingressClasses);
  const parsedIngresses: ParsedIngress[] = [];
  snapshot.ingresses.forEach((obj, i) => {
    const read = readIngressObject(obj, i, classes, options, diags);
    if (read.ours && read.parsed !== undefined) parsedIngresses.push(read.parsed);
  });
  const ingresses = oldestFirst(parsedIngresses);

  const used = new Map<string, Backend>();
  const backendOf: BackendOf = (ing, ref) => useBackend(ing, ref, resolver, used).id;
  const vhosts = new Map<string, VhostBuild>();
  const canaries: { readonly ing: ParsedIngress; readonly canary: NonNullable<PolicyRefs['canary']> }[] = [];
  const wwwRedirects: ParsedIngress[] = [];
  for (const ing of ingresses) {
    const info = policyOf(ing, secrets, configMaps, options.sslRedirect ?? true, mode);
    if (info.wwwRedirect) wwwRedirects.push(ing);
    // A canary Ingress routes nothing of its own: its backends join the main routes, once those are known.
    if (info.canary !== undefined) {
      canaries.push({ ing, canary: info.canary });
      continue;
    }
    for (const rule of ing.rules) if (rule.paths.length > 0) routeRule(ing, rule, info, vhosts, mode, backendOf);
  }

  for (const { ing, canary } of canaries) {
    if (canaryInMode(ing, mode)) for (const rule of ing.rules) addCanaryRule(ing, rule, canary, vhosts, backendOf);
  }
  // After every Ingress's own hosts: a name an Ingress routes is never taken over by a redirect.
  for (const ing of wwwRedirects) {
    if (wwwInMode(ing, mode)) for (const rule of ing.rules) addWwwRule(ing, rule, vhosts, backendOf);
  }
  // Traefik 1 priorities, once every route of a host is known (in each Ingress's rule and path order).
  const byRef = new Map(ingresses.map((ing) => [refKey(ing.header.ref), ing]));
  const findings = [...vhosts.values()].flatMap((vh) => applyPriorities(vh)).sort((a, b) => a.rule - b.rule || a.path - b.path);
  for (const f of findings) reportPriority(f, byRef.get(refKey(f.route.source)));

  const defaultBackend = chooseDefaultBackend(ingresses, backendOf);

  const certs = new Map<string, CertBuild>();
  /** host → certificate id; the oldest Ingress naming a host decides its certificate. */
  const hostCert = new Map<string, HostCert>();
  for (const ing of ingresses) {
    for (const entry of ing.tls) {
      const secret = readTlsEntry(ing, entry, secrets, options.acme);
      if (secret === undefined) continue;
      const id = `${ing.header.namespace}/${entry.secretName}`;
      let cert = certs.get(id);
      if (cert === undefined) {
        cert = { id, hosts: new Set(), certPem: secret.certPem, keyPem: secret.keyPem, source: secret.ref };
        certs.set(id, cert);
      }
      for (const h of entry.hosts) if (claimTlsHost(ing, h, id, hostCert)) cert.hosts.add(h.host);
    }
  }

  // The Gateway API after every Ingress: an Ingress keeps a host path or TLS host both ask for.
  const gateway = hasGatewayObjects(snapshot)
    ? translateGateway(
        { gatewayClasses: snapshot.gatewayClasses ?? [], gateways: snapshot.gateways ?? [], httpRoutes: snapshot.httpRoutes ?? [], referenceGrants: snapshot.referenceGrants ?? [], services: snapshot.services, endpointSlices: snapshot.endpointSlices, secrets: snapshot.secrets, namespaces: snapshot.namespaces ?? [] },
        { controllerName: options.gatewayControllerName ?? DEFAULT_GATEWAY_CONTROLLER_NAME, entryPoints: options.entryPoints, mode, ...defined({ acme: options.acme, addressPool: options.gatewayAddressPool }) },
        { resolver, secrets, diags },
      )
    : undefined;
  if (gateway !== undefined) mergeGateway(gateway, { vhosts, used, certs, hostCert }, diags);

  // Issued certificates serve the TLS names no Secret serves.
  const issued = serveIssued(snapshot.issuedCertificates ?? [], (name) => hostCert.has(name));
  const lookupCert = (host: string): string | undefined => hostCert.get(host)?.id ?? issued.byHost.get(host);
  const virtualHosts: VirtualHost[] = [...vhosts.values()].map((vh) => finishVhost(vh, certificateOf(vh, lookupCert))).sort(compareVhosts);
  const addressScopes: AddressScope[] = (gateway?.addressScopes ?? []).map((scope) => ({
    address: scope.address,
    entryPoint: scope.entryPoint,
    ...(scope.listenerHostnames === undefined ? {} : { listenerHostnames: scope.listenerHostnames }),
    virtualHosts: scope.virtualHosts.map(({ certificate, ...vh }) => {
      const cert = certificate ?? certificateOf(vh, lookupCert);
      return cert === undefined ? vh : { ...vh, certificate: cert };
    }),
  }));

  const backends: Record<string, Backend> = {};
  for (const id of [...used.keys()].sort(compareText)) {
    const b = used.get(id);
    if (b !== undefined) backends[id] = b;
  }

  // A certificate that no host selects (all its hosts taken by older Ingresses) would never be served.
  // Secret certificates first (by id), then the issued ones (by id).
  const certificates: Certificate[] = [...certs.values()]
    .filter((c) => c.hosts.size > 0)
    .sort((a, b) => compareText(a.id, b.id))
    .map((c) => toCertificate(c.id, c.hosts, c))
    .concat(issued.certificates);

  return {
    entryPoints: [...options.entryPoints],
    virtualHosts,
    backends,
    ...defined({ defaultBackend }),
    certificates,
    diagnostics: diags.sorted(),
    certificateIntents: gateway === undefined ? ingresses.flatMap(certificateIntents) : [...ingresses.flatMap(certificateIntents), ...gateway.certificateIntents],
    ...(gateway === undefined ? {} : { gatewayStatus: gateway.status }),
    ...(addressScopes.length === 0 ? {} : { addressScopes }),
  };
}
