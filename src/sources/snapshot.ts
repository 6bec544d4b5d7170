import type { Diagnostic } from '../shared/diagnostics.ts';
import type { GatewayObjects, KubeObject, Snapshot, SourceSnapshot } from '../model/k8s.ts';
import type { GatewayStatuses } from '../model/translate/gateway/status.ts';

/** A source of Kubernetes objects: the file source or the Kubernetes API. */
export interface Source {
  /** The objects currently known, grouped by kind (the Gateway API kinds only from a source that reads them). */
  snapshot(): SourceSnapshot;
  /** Problems of the source itself (unreadable files, failed watches). */
  diagnostics(): readonly Diagnostic[];
  /**
   * The diagnostics of the model the controller built from the last snapshot (translation plus what
   * later stages add, e.g. ACME): a source that records Events (Kubernetes) records these. Optional.
   */
  reportDiagnostics?(diagnostics: readonly Diagnostic[]): void;
  /** The Gateway API status of the controller's last model: a source that writes status (Kubernetes) writes this. Optional. */
  reportGatewayStatus?(status: GatewayStatuses | undefined): void;
  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type Group = keyof Snapshot | keyof GatewayObjects;

const kinds: Record<string, Group> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  ConfigMap: 'configMaps',
  GatewayClass: 'gatewayClasses',
  Gateway: 'gateways',
  HTTPRoute: 'httpRoutes',
  ReferenceGrant: 'referenceGrants',
  Namespace: 'namespaces',
};

/** The Gateway API group's versions read, by kind (other versions are not read: their fields differ). */
export const GATEWAY_API_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  GatewayClass: ['gateway.networking.k8s.io/v1'],
  Gateway: ['gateway.networking.k8s.io/v1'],
  HTTPRoute: ['gateway.networking.k8s.io/v1'],
  ReferenceGrant: ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'],
};

/** Kinds read only in these apiVersions (a `Gateway` of another group, e.g. Istio's, is another kind). */
const VERSIONS: Readonly<Record<string, readonly string[]>> = { ...GATEWAY_API_VERSIONS, Namespace: ['v1'] };

/** Kinds without a namespace. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['IngressClass', 'GatewayClass', 'Namespace']);

/** Whether translate reads objects of this kind (and, for the Gateway API kinds and Namespace, of this apiVersion). */
export function isModelKind(kind: unknown, apiVersion?: unknown): boolean {
  if (typeof kind !== 'string' || !Object.hasOwn(kinds, kind)) return false;
  const versions = VERSIONS[kind];
  return versions === undefined || (typeof apiVersion === 'string' && versions.includes(apiVersion));
}

/** Groups objects by kind into a snapshot; kinds translate does not read are dropped. */
export function groupByKind(objects: Iterable<KubeObject>): Required<SourceSnapshot> {
  const groups: Record<Group, KubeObject[]> = {
    ingresses: [],
    ingressClasses: [],
    services: [],
    endpointSlices: [],
    secrets: [],
    configMaps: [],
    gatewayClasses: [],
    gateways: [],
    httpRoutes: [],
    referenceGrants: [],
    namespaces: [],
  };
  for (const o of objects) {
    const key = isModelKind(o.kind, o.apiVersion) && typeof o.kind === 'string' ? kinds[o.kind] : undefined;
    if (key) groups[key].push(o);
  }
  return groups;
}
