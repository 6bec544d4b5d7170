/*
 * ACME state in Kubernetes Secrets, against a real kube-apiserver (test/kube/harness.ts) and a real
 * Pebble: two controllers (the controller ServiceAccount of deploy/base/rbac.yaml) share the store; only
 * the leader orders, the follower serves what the leader stored and picks up new certificates from
 * the watch; after a restart of both, no new order.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunningController } from '../../../src/cli/run.ts';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { startCluster } from '../../kube/harness.ts';
import { startPebble } from './pebble.ts';
import { chainsTo, kubernetesToml, proxyPorts, startFromToml, servedChain, startEcho, waitUntil } from './env.ts';

const NS = 'web';

function ingress(name: string, host: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { namespace: NS, name },
    spec: {
      ingressClassName: 'passerelle',
      tls: [{ hosts: [host], secretName: `${name}-tls` }],
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'echo', port: { number: 80 } } } }] } }],
    },
  };
}


test('kubernetes Secret storage: two controllers share it, only the leader orders, the follower serves and follows, a restart orders nothing', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-kube-'));
  const cluster = await startCluster();
  const portsA = await proxyPorts();
  const portsB = await proxyPorts();
  // Pebble validates HTTP-01 on the first controller's http entry point (it becomes the leader).
  const pebble = await startPebble({ dir, httpPort: portsA.http, tlsPort: portsA.https, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  const running: RunningController[] = [];
  t.after(async () => {
    for (const r of running) await r.stop().catch(() => undefined);
    await pebble.stop();
    await echo.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const kubeconfig = cluster.kubeconfig('controller');
  await cluster.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await cluster.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'passerelle' }, spec: { controller: 'passerelle.dev/ingress-controller' } });
  await cluster.apply({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: NS, name: 'echo' }, spec: { ports: [{ name: 'http', port: 80, targetPort: echo.port, protocol: 'TCP' }] } });
  await cluster.apply({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: NS, name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' } },
    addressType: 'IPv4',
    // The apiserver refuses loopback endpoints; no request reaches the backend here (HTTP-01 and TLS are the controller's).
    endpoints: [{ addresses: ['192.0.2.11'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: echo.port, protocol: 'TCP' }],
  });
  await cluster.apply(ingress('one', 'one.example.test'));

  const a = await startFromToml(dir, 'a', kubernetesToml({ ports: portsA, pebble, kubeconfig, prefix: 'acme-test' }));
  running.push(a);
  await waitUntil(() => a.acme!.manager.certificates().length === 1, 90_000, 'the leader issued one.example.test');
  const root = await pebble.root();
  await waitUntil(async () => chainsTo(await servedChain(portsA.https, 'one.example.test'), 'one.example.test', root), 5000, 'the leader serves it');

  // The store: a kubernetes.io/tls Secret for the certificate and the state Secret, labelled.
  const admin = cluster.client('admin');
  const list = await admin.request<{ items: KubeObject[] }>('GET', '/api/v1/namespaces/passerelle/secrets', { query: { labelSelector: 'passerelle.dev/acme-store=acme-test' } });
  const byName = new Map(list.items.map((s) => [s.metadata?.name ?? '', s as KubeObject & { type?: string; metadata?: { annotations?: Record<string, string> } }]));
  assert.equal(byName.get('acme-test-one.example.test')?.type, 'kubernetes.io/tls');
  assert.equal(byName.get('acme-test-one.example.test')?.metadata?.annotations?.['acme.passerelle.dev/names'], 'one.example.test');
  assert.equal(byName.get('acme-test')?.type, 'Opaque');

  // The missing TLS Secret of the Ingress is no longer an error: its Event says ACME issues the certificate.
  const events = await waitUntilValue(async () => {
    const e = await admin.request<{ items: { reason?: string; note?: string; regarding?: { name?: string } }[] }>('GET', `/apis/events.k8s.io/v1/namespaces/${NS}/events`);
    return e.items.find((x) => x.reason === 'PASS_INGRESS_MISSING_SECRET' && x.regarding?.name === 'one' && /issued by ACME/.test(x.note ?? ''));
  }, 10_000, 'an Event on the Ingress saying ACME issues its certificate');
  assert.ok(events);

  const b = await startFromToml(dir, 'b', kubernetesToml({ ports: portsB, pebble, kubeconfig, prefix: 'acme-test' }));
  running.push(b);
  // The follower serves the leader's certificate from the Secrets, without ordering.
  await waitUntil(async () => chainsTo(await servedChain(portsB.https, 'one.example.test'), 'one.example.test', root), 10_000, 'the follower serves the stored certificate');
  assert.equal(b.acme!.manager.counters.ordersPlaced, 0, 'the follower placed no order');

  // A new host: the leader orders it, the follower picks it up from the watch.
  await cluster.apply(ingress('two', 'two.example.test'));
  await waitUntil(() => a.acme!.manager.certificates().length === 2, 90_000, 'the leader issued two.example.test');
  await waitUntil(async () => chainsTo(await servedChain(portsB.https, 'two.example.test'), 'two.example.test', root), 10_000, 'the follower serves the new certificate');
  assert.equal(b.acme!.manager.counters.ordersPlaced, 0, 'still no order from the follower');
  const orders = pebble.ordersCreated();
  assert.equal(orders, 2, 'one order per certificate');

  // Restart both: served from the Secrets at once, and no new order.
  await b.stop();
  await a.stop();
  running.length = 0;
  const a2 = await startFromToml(dir, 'a', kubernetesToml({ ports: portsA, pebble, kubeconfig, prefix: 'acme-test' }));
  running.push(a2);
  const b2 = await startFromToml(dir, 'b', kubernetesToml({ ports: portsB, pebble, kubeconfig, prefix: 'acme-test' }));
  running.push(b2);
  for (const port of [portsA.https, portsB.https]) {
    for (const h of ['one.example.test', 'two.example.test']) {
      await waitUntil(async () => chainsTo(await servedChain(port, h), h, root), 10_000, `${h} served on ${port} after the restart`);
    }
  }
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(pebble.ordersCreated(), orders, 'no new order after the restart');
  assert.equal(a2.acme!.manager.counters.ordersPlaced + b2.acme!.manager.counters.ordersPlaced, 0);
});

async function waitUntilValue<T>(check: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  let value: T | undefined;
  await waitUntil(async () => (value = await check()) !== undefined, ms, what);
  return value as T;
}
