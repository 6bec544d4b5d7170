import type { SourceLocation } from '../shared/diagnostics.ts';

/** The part of Kubernetes object metadata the model reads. */
export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** Any Kubernetes object as read from YAML or the API; validated by translate. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly spec?: unknown;
  readonly data?: unknown;
  readonly type?: unknown;
  readonly endpoints?: unknown;
  readonly ports?: unknown;
  readonly addressType?: unknown;
  readonly status?: unknown;
  /** Set by the file source: where the object was read. */
  readonly source?: SourceLocation;
  /**
   * Set by the file source: Ingress parts it refused, e.g. `spec.rules[0]` or
   * `spec.rules[1].http.paths[0]` (they hold a field the API does not define, reported there with its
   * line). Translate leaves these rules, paths and TLS entries out without a further diagnostic.
   */
  readonly skippedFields?: readonly string[];
}

/** Every object translate reads, grouped by kind. Objects are unvalidated. */
export interface Snapshot {
  readonly ingresses: readonly KubeObject[];
  readonly ingressClasses: readonly KubeObject[];
  readonly services: readonly KubeObject[];
  readonly endpointSlices: readonly KubeObject[];
  readonly secrets: readonly KubeObject[];
  /** ConfigMaps an Ingress annotation names (ingress-nginx `custom-headers`). */
  readonly configMaps: readonly KubeObject[];
}

/**
 * The Gateway API objects of a snapshot, beside {@link Snapshot}'s (kept apart so that a source
 * reading none, as the Kubernetes source does yet, need not list them). Absent: none.
 */
export interface GatewayObjects {
  /** Gateway API (`gateway.networking.k8s.io`) GatewayClasses; absent: none (a source that does not read them). */
  readonly gatewayClasses?: readonly KubeObject[];
  /** Gateway API Gateways; absent: none. */
  readonly gateways?: readonly KubeObject[];
  /** Gateway API HTTPRoutes; absent: none. */
  readonly httpRoutes?: readonly KubeObject[];
  /** Gateway API ReferenceGrants (v1 or v1beta1); absent: none. */
  readonly referenceGrants?: readonly KubeObject[];
  /** Namespaces, for Gateway listeners that select route namespaces by label; absent: none. */
  readonly namespaces?: readonly KubeObject[];
}

/** What a source hands translate: the Ingress-side kinds and, when it reads them, the Gateway API ones. */
export type SourceSnapshot = Snapshot & GatewayObjects;

/** An empty snapshot. */
export const emptySnapshot: SourceSnapshot = {
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

/** A Secret as the API returns it: the fields the Secret client and the ACME Secret store read and write. */
export interface SecretObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
    readonly uid?: string;
  };
  readonly type?: string;
  /** Base64 values. */
  readonly data?: Readonly<Record<string, string>>;
}
