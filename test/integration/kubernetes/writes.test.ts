/*
 * What the Kubernetes source writes, against a real kube-apiserver with the controller's RBAC-limited
 * token: class selection (incl. the apiserver's DefaultIngressClass admission), Ingress status
 * written from the publish Service and removed when an Ingress stops being ours, Events for
 * diagnostics, and Lease leader election (only the leader writes).
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { startCluster, type Cluster } from '../../kube/harness.ts';
import { controllerSource, ingress, ingressClass, ns, service, waitFor } from './helpers.ts';

const statusIps = (obj: KubeObject): string[] => {
  const lb = (obj.status as { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } | undefined)?.loadBalancer;
  return (lb?.ingress ?? []).map((e) => e.ip ?? e.hostname ?? '');
};

describe('kubernetes source: status, Events, leader election', () => {
  let cluster: Cluster;
  const cleanups: (() => Promise<void>)[] = [];
  const get = (namespace: string, name: string): Promise<KubeObject> =>
    cluster.client('admin').request<KubeObject>('GET', `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses/${name}`);

  before(async () => {
    cluster = await startCluster();
    await cluster.apply(ns('app'));
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller'));
    await cluster.apply(ingressClass('other', 'example.com/other-controller'));
    await cluster.apply(service('app', 'web', 8080));
    // The publish Service, as in deploy/base/service.yaml but with an external IP (no cloud here).
    await cluster.apply(service('passerelle', 'passerelle', 8000, { externalIPs: ['203.0.113.10'] }));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await cluster?.stop();
  });

  test('status: ours get the publish address, others are never touched, no write when unchanged, removed when no longer ours', async () => {
    await cluster.apply(ingress('app', 'mine', 'mine.example', 'web', { className: 'passerelle' }));
    await cluster.apply(ingress('app', 'legacy', 'legacy.example', 'web', { annotations: { 'kubernetes.io/ingress.class': 'traefik' } }));
    await cluster.apply(ingress('app', 'theirs', 'theirs.example', 'web', { className: 'other' }));
    await cluster.apply(ingress('app', 'unclassed', 'unclassed.example', 'web'));
    // Another controller already wrote the status of its Ingress.
    await cluster.client('admin').request('PATCH', '/apis/networking.k8s.io/v1/namespaces/app/ingresses/theirs/status', {
      body: { status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } } },
      contentType: 'application/merge-patch+json',
    });

    const source = controllerSource(cluster, { publishService: 'passerelle/passerelle' });
    cleanups.push(() => source.stop());
    await source.start();
    await waitFor('status of mine', async () => statusIps(await get('app', 'mine'))[0] === '203.0.113.10');
    await waitFor('status of legacy (class alias)', async () => statusIps(await get('app', 'legacy'))[0] === '203.0.113.10');
    assert.deepEqual(statusIps(await get('app', 'theirs')), ['198.51.100.1'], "another controller's status is left alone");
    assert.deepEqual(statusIps(await get('app', 'unclassed')), [], 'an Ingress without a class is not ours');

    // The publish Service gets a LoadBalancer address: it wins over the external IP.
    await cluster.apply(service('passerelle', 'passerelle', 8000, { type: 'LoadBalancer', externalIPs: ['203.0.113.10'] }));
    await cluster.client('admin').request('PATCH', '/api/v1/namespaces/passerelle/services/passerelle/status', {
      body: { status: { loadBalancer: { ingress: [{ hostname: 'lb.example.net' }] } } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor('status follows the LoadBalancer', async () => statusIps(await get('app', 'mine'))[0] === 'lb.example.net');

    // Nothing changed: further passes write nothing (the resourceVersion stays).
    const rv = (await get('app', 'mine')).metadata?.resourceVersion;
    const passes = source.stats.writePasses;
    await cluster.apply(ingress('app', 'noise', 'noise.example', 'web', { className: 'other' }));
    await waitFor('another write pass', () => source.stats.writePasses > passes);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await get('app', 'mine')).metadata?.resourceVersion, rv, 'no write when unchanged');

    // mine moves to the other class: its status is removed; theirs still untouched.
    await cluster.apply(ingress('app', 'mine', 'mine.example', 'web', { className: 'other' }));
    await waitFor('status of mine removed', async () => statusIps(await get('app', 'mine')).length === 0);
    assert.deepEqual(statusIps(await get('app', 'theirs')), ['198.51.100.1']);
    assert.deepEqual(statusIps(await get('app', 'noise')), []);
    await source.stop();
  });

  test("the apiserver's DefaultIngressClass admission gives a class-less Ingress our default class", async () => {
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller', true));
    // The admission plugin reads IngressClasses from its own informer cache, which lags the update:
    // create until it has seen the default (bounded), as a client racing a fresh default would.
    const created = await waitFor('the admission plugin to default the class', async () => {
      const obj = await cluster.apply(ingress('app', 'defaulted', 'defaulted.example', 'web'));
      if ((obj.spec as { ingressClassName?: string }).ingressClassName === 'passerelle') return obj;
      await cluster.remove(obj);
      return undefined;
    });
    assert.equal((created.spec as { ingressClassName?: string }).ingressClassName, 'passerelle', 'set by the admission plugin');
    const source = controllerSource(cluster, { publishAddress: '192.0.2.50, edge.example.net' });
    cleanups.push(() => source.stop());
    await source.start();
    await waitFor('status of the defaulted Ingress', async () => statusIps(await get('app', 'defaulted')).join(',') === '192.0.2.50,edge.example.net');
    // unclassed was created before the class became default: it keeps no class, and with a
    // default IngressClass of ours it is served too (the default-class annotation rule).
    await waitFor('status of unclassed', async () => statusIps(await get('app', 'unclassed')).length === 2);
    await source.stop();
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller', false));
  });

  test('Events: one Warning per diagnostic on the Ingress, reason = code, deduplicated', async () => {
    await cluster.apply(ingress('app', 'broken', 'broken.example', 'no-such-service', { className: 'passerelle' }));
    const source = controllerSource(cluster);
    cleanups.push(() => source.stop());
    await source.start();
    type Ev = { reason?: string; type?: string; note?: string; reportingController?: string; regarding?: { name?: string; kind?: string } };
    const events = async (): Promise<Ev[]> =>
      (await cluster.client('admin').request<{ items: Ev[] }>('GET', '/apis/events.k8s.io/v1/namespaces/app/events')).items.filter((e) => e.regarding?.name === 'broken');
    const [ev] = await waitFor('an Event on the broken Ingress', async () => {
      const list = await events();
      return list.length > 0 ? list : undefined;
    });
    assert.equal(ev?.reason, 'PASS_INGRESS_MISSING_SERVICE');
    assert.equal(ev?.type, 'Warning');
    assert.equal(ev?.regarding?.kind, 'Ingress');
    assert.equal(ev?.reportingController, 'passerelle.dev/ingress-controller');
    assert.match(ev?.note ?? '', /no-such-service/);

    // More write passes (and a second replica recording the same) add no duplicate.
    const passes = source.stats.writePasses;
    await cluster.apply(ingress('app', 'noise2', 'noise2.example', 'web', { className: 'passerelle' }));
    await waitFor('another write pass', () => source.stats.writePasses > passes);
    await source.stop();
    const again = controllerSource(cluster);
    cleanups.push(() => again.stop());
    await again.start();
    await waitFor('the new replica leads and writes', () => again.stats.writePasses > 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await events()).filter((e) => e.reason === 'PASS_INGRESS_MISSING_SERVICE').length, 1);
    await again.stop();
  });

  test('Events: an unsupported or refused annotation is a Warning on its Ingress, naming the annotation', async () => {
    await cluster.apply(
      ingress('app', 'annotated', 'annotated.example', 'web', {
        className: 'passerelle',
        annotations: { 'nginx.ingress.kubernetes.io/configuration-snippet': 'more_set_headers "X: y";', 'nginx.ingress.kubernetes.io/rewrite-traget': '/' },
      }),
    );
    const source = controllerSource(cluster);
    cleanups.push(() => source.stop());
    await source.start();
    type Ev = { reason?: string; type?: string; note?: string; regarding?: { name?: string } };
    const list = await waitFor('both Events on the annotated Ingress', async () => {
      const items = (await cluster.client('admin').request<{ items: Ev[] }>('GET', '/apis/events.k8s.io/v1/namespaces/app/events')).items.filter((e) => e.regarding?.name === 'annotated');
      return items.length >= 2 ? items : undefined;
    });
    const byReason = new Map(list.map((e) => [e.reason, e]));
    assert.equal(byReason.get('PASS_ANNOTATION_SNIPPET')?.type, 'Warning');
    assert.match(byReason.get('PASS_ANNOTATION_UNSUPPORTED')?.note ?? '', /rewrite-traget.*did you mean nginx\.ingress\.kubernetes\.io\/rewrite-target/);
    await source.stop();
  });

  test('leader election: one leader writes; losing the Lease stops its writes within the lease duration; the other takes over', async () => {
    const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300, publishAddress: '192.0.2.77' };
    const a = controllerSource(cluster, { ...timing, identity: 'replica-a' });
    const b = controllerSource(cluster, { ...timing, identity: 'replica-b' });
    cleanups.push(() => a.stop(), () => b.stop());
    await a.start();
    await waitFor('a leads', () => a.leadership.isLeader());
    await b.start();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(b.leadership.isLeader(), false, 'one leader at a time');
    await waitFor('status written by the leader', async () => statusIps(await get('app', 'noise2'))[0] === '192.0.2.77');
    assert.equal(b.stats.writePasses, 0, 'the follower never writes');

    // Someone else takes the Lease (as a partitioned leader would lose it): a stops writing in time.
    const admin = cluster.client('admin');
    const leasePath = '/apis/coordination.k8s.io/v1/namespaces/passerelle/leases/passerelle-leader';
    const lease = await admin.request<KubeObject & { spec: Record<string, unknown> }>('GET', leasePath);
    assert.equal(lease.spec['holderIdentity'], 'replica-a');
    const now = new Date().toISOString().replace('Z', '000Z');
    await admin.request('PUT', leasePath, { body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: now, acquireTime: now } } });
    const lostAt = Date.now();
    await waitFor('a stops leading', () => !a.leadership.isLeader(), 5000);
    assert.ok(Date.now() - lostAt <= timing.leaseDurationMs, `stopped within the lease duration (${Date.now() - lostAt} ms)`);
    // The intruder never renews: after a lease duration one of the replicas leads again.
    await waitFor('a replica leads again', () => a.leadership.isLeader() || b.leadership.isLeader(), 10_000);
    assert.ok(!(a.leadership.isLeader() && b.leadership.isLeader()));

    // The leader stops (releases the Lease): the other takes over at once.
    const [leader, follower] = a.leadership.isLeader() ? [a, b] : [b, a];
    const stoppedAt = Date.now();
    await leader.stop();
    await waitFor('the follower takes over', () => follower.leadership.isLeader(), 5000);
    assert.ok(Date.now() - stoppedAt < timing.leaseDurationMs, 'takeover after a release is faster than a lease duration');
    await follower.stop();
  });
});
