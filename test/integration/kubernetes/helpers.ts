/* Shared pieces of the Kubernetes integration tests (real kube-apiserver, see test/kube/harness.ts). */

import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../../src/model/k8s.ts';
import type { TranslateOptions } from '../../../src/model/translate/index.ts';
import { KubeClient, loadKubeConfig } from '../../../src/sources/kubernetes/client.ts';
import { KubernetesSource, type KubernetesSourceOptions } from '../../../src/sources/kubernetes/source.ts';
import type { Cluster } from '../../kube/harness.ts';

export const translateOptions: TranslateOptions = {
  entryPoints: [{ name: 'http', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] }],
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: ['traefik'],
  watchIngressWithoutClass: false,
};

/** A Kubernetes source authenticated as the controller's ServiceAccount (deploy/base/rbac.yaml). */
export function controllerSource(cluster: Cluster, options: Partial<KubernetesSourceOptions> = {}): KubernetesSource {
  return new KubernetesSource({
    client: new KubeClient(loadKubeConfig({ kubeconfig: cluster.kubeconfig('controller') })),
    translate: translateOptions,
    leaseNamespace: 'passerelle',
    writeDelayMs: 50,
    ...options,
  });
}

/** Polls `check` until it returns a truthy value (returned) or fails after `ms` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(50);
  }
}

export const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

export function service(namespace: string, name: string, targetPort: number, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name },
    spec: { ports: [{ name: 'http', port: 80, targetPort, protocol: 'TCP' }], ...extra },
  };
}

export function endpointSlice(namespace: string, name: string, svc: string, addresses: readonly string[], port: number): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

export function ingress(namespace: string, name: string, host: string, svc: string, extra: { className?: string; annotations?: Record<string, string>; labels?: Record<string, string>; paths?: readonly string[] } = {}): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      namespace,
      name,
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
      ...(extra.labels ? { labels: extra.labels } : {}),
    },
    spec: {
      ...(extra.className === undefined ? {} : { ingressClassName: extra.className }),
      rules: [
        {
          host,
          http: {
            paths: (extra.paths ?? ['/']).map((path) => ({ path, pathType: 'Prefix', backend: { service: { name: svc, port: { name: 'http' } } } })),
          },
        },
      ],
    },
  };
}

export function ingressClass(name: string, controller: string, isDefault = false): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name, annotations: { 'ingressclass.kubernetes.io/is-default-class': String(isDefault) } },
    spec: { controller },
  };
}

/** Resolves at the next change signal of the source. */
export function nextChange(source: KubernetesSource, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no change signal within ${ms} ms`));
    }, ms);
    const off = source.onChange(() => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
