// The resource types the Kubernetes source reads or writes (their own module: informer and retry both name them).

/** A resource type the source reads or writes. */
export interface ResourceType {
  readonly kind: string;
  /** `v1`, `networking.k8s.io/v1`, ... */
  readonly apiVersion: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export const INGRESS: ResourceType = { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', plural: 'ingresses', namespaced: true };
export const INGRESS_CLASS: ResourceType = { kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', plural: 'ingressclasses', namespaced: false };
export const SERVICE: ResourceType = { kind: 'Service', apiVersion: 'v1', plural: 'services', namespaced: true };
export const ENDPOINT_SLICE: ResourceType = { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true };
export const SECRET: ResourceType = { kind: 'Secret', apiVersion: 'v1', plural: 'secrets', namespaced: true };
export const CONFIG_MAP: ResourceType = { kind: 'ConfigMap', apiVersion: 'v1', plural: 'configmaps', namespaced: true };
export const LEASE: ResourceType = { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', plural: 'leases', namespaced: true };
export const EVENT: ResourceType = { kind: 'Event', apiVersion: 'events.k8s.io/v1', plural: 'events', namespaced: true };
export const NAMESPACE: ResourceType = { kind: 'Namespace', apiVersion: 'v1', plural: 'namespaces', namespaced: false };
export const GATEWAY_CLASS: ResourceType = { kind: 'GatewayClass', apiVersion: 'gateway.networking.k8s.io/v1', plural: 'gatewayclasses', namespaced: false };
export const GATEWAY: ResourceType = { kind: 'Gateway', apiVersion: 'gateway.networking.k8s.io/v1', plural: 'gateways', namespaced: true };
export const HTTP_ROUTE: ResourceType = { kind: 'HTTPRoute', apiVersion: 'gateway.networking.k8s.io/v1', plural: 'httproutes', namespaced: true };
/** ReferenceGrant: v1 where the CRDs serve it (v1.5 and later), else v1beta1 (discovery decides). */
export const REFERENCE_GRANT: ResourceType = { kind: 'ReferenceGrant', apiVersion: 'gateway.networking.k8s.io/v1', plural: 'referencegrants', namespaced: true };
