/*
 * The synthetic cluster the in-process benchmarks share (bench/model-build.ts, bench/render.ts):
 * Ingresses (one host, one Prefix path each) over `services` headless Services with one
 * EndpointSlice each, objects as the apiserver returns them (uid, resourceVersion, managedFields,
 * status) passed through the source's stripObject.
 */

import { defaultConfig } from '../src/config/load.ts';
import { entryPointsFromConfig } from '../src/model/entrypoints.ts';
import type { KubeObject, Snapshot } from '../src/model/k8s.ts';
import type { TranslateOptions } from '../src/model/translate/index.ts';
import { stripObject } from '../src/sources/kubernetes/objects.ts';

const NS = 'bench';

/** The translate options of the default configuration, with the bench's IngressClass. */
export const benchOptions: TranslateOptions = {
  entryPoints: entryPointsFromConfig(defaultConfig()),
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: [],
  watchIngressWithoutClass: false,
};

/** Generators of apiserver-shaped objects over `services` Services. */
export interface Synthetic {
  rawIngress(i: number, path?: string): KubeObject;
  rawSlice(i: number, shift?: number): KubeObject;
  /** `ingresses` Ingresses over the Services, stripped as the source keeps them. */
  snapshot(ingresses: number): Snapshot;
}

/** The generators for a cluster of `services` Services. */
export function synthetic(services: number): Synthetic {
  let rv = 1000;
  const meta = (name: string, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    name,
    namespace: NS,
    uid: `0b7c5a7e-${String(i).padStart(4, '0')}-4e0b-9d7a-${String(rv).padStart(12, '0')}`,
    resourceVersion: String(rv++),
    generation: 1,
    creationTimestamp: new Date(Date.UTC(2026, 10, 26, 9, 0, 0) + i * 1000).toISOString().replace('.000Z', 'Z'),
    managedFields: [{ manager: 'bench', operation: 'Update', apiVersion: 'v1', time: '2026-11-26T09:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:rules': {} } } }],
    ...extra,
  });
  const rawIngress = (i: number, path = '/'): KubeObject =>
    ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(`base-${i}`, i),
      spec: { rules: [{ host: `base-${i}.bench.example`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: `svc-${i % services}`, port: { number: 8080 } } } }] } }] },
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
    }) as KubeObject;
  const rawService = (i: number): KubeObject =>
    ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`svc-${i}`, i),
      spec: { ports: [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }], clusterIP: 'None', clusterIPs: ['None'], type: 'ClusterIP', sessionAffinity: 'None', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster' },
      status: { loadBalancer: {} },
    }) as KubeObject;
  const rawSlice = (i: number, shift = 0): KubeObject =>
    ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: meta(`svc-${i}-slice`, i, { labels: { 'kubernetes.io/service-name': `svc-${i}` } }),
      addressType: 'IPv4',
      endpoints: [{ addresses: [`192.0.2.${10 + ((i + shift) % 20)}`], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', namespace: NS, name: `pool-${i % 20}` } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    }) as KubeObject;
  const ingressClass: KubeObject = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'passerelle', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' }, uid: 'c', resourceVersion: '1', creationTimestamp: '2026-11-26T08:00:00Z' },
    spec: { controller: 'passerelle.dev/ingress-controller' },
  };
  const snapshot = (ingresses: number): Snapshot => ({
    ingresses: Array.from({ length: ingresses }, (_, i) => stripObject(rawIngress(i))),
    ingressClasses: [stripObject(ingressClass)],
    services: Array.from({ length: services }, (_, i) => stripObject(rawService(i))),
    endpointSlices: Array.from({ length: services }, (_, i) => stripObject(rawSlice(i))),
    secrets: [],
    configMaps: [],
  });
  return { rawIngress, rawSlice, snapshot };
}
