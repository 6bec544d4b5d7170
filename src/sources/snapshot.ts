import type { Diagnostic } from '../shared/diagnostics.ts';
import type { KubeObject, Snapshot } from '../model/k8s.ts';

/** A source of Kubernetes objects: the file source or the Kubernetes API. */
export interface Source {
  /** The objects currently known, grouped by kind. */
  snapshot(): Snapshot;
  /** Problems of the source itself (unreadable files, failed watches). */
  diagnostics(): readonly Diagnostic[];
  /**
   * The diagnostics of the model the controller built from the last snapshot (translation plus what
   * later stages add, e.g. ACME): a source that records Events (Kubernetes) records these. Optional.
   */
  reportDiagnostics?(diagnostics: readonly Diagnostic[]): void;
  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const kinds: Record<string, keyof Snapshot> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  ConfigMap: 'configMaps',
};

/** Whether translate reads objects of this kind. */
export function isModelKind(kind: unknown): boolean {
  return typeof kind === 'string' && Object.hasOwn(kinds, kind);
}

/** Groups objects by kind into a snapshot; kinds translate does not read are dropped. */
export function groupByKind(objects: Iterable<KubeObject>): Snapshot {
  const groups: Record<keyof Snapshot, KubeObject[]> = {
    ingresses: [],
    ingressClasses: [],
    services: [],
    endpointSlices: [],
    secrets: [],
    configMaps: [],
  };
  for (const o of objects) {
    const key = typeof o.kind === 'string' ? kinds[o.kind] : undefined;
    if (key) groups[key].push(o);
  }
  return groups;
}
