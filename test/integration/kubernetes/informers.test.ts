/*
 * The Kubernetes source against a real kube-apiserver and etcd, with the controller's RBAC-limited
 * token: objects created through the API reach the model, updates and deletes follow, irrelevant
 * events are ignored, a 410 Gone relists, an apiserver restart is survived, namespaces and label
 * selector options narrow what is read; an account the RBAC grants nothing is refused until
 * startupRetry runs out (PASS_KUBE_FORBIDDEN), a bad label selector fails start() at once.
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassError } from '../../../src/shared/errors.ts';
import type { Logger } from '../../../src/shared/logger.ts';
import { translate } from '../../../src/model/translate/index.ts';
import type { RoutingModel } from '../../../src/model/types.ts';
import { startCluster, type Cluster } from '../../kube/harness.ts';
import { controllerSource, endpointSlice, ingress, ingressClass, nextChange, ns, service, translateOptions, waitFor } from './helpers.ts';

const model = (s: { snapshot: () => Parameters<typeof translate>[0] }): RoutingModel => translate(s.snapshot(), translateOptions);
const hosts = (m: RoutingModel): string[] => m.virtualHosts.map((v) => v.host);

describe('kubernetes source: informers', () => {
  let cluster: Cluster;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    cluster = await startCluster();
    await cluster.apply(ns('web'));
    await cluster.apply(ns('other'));
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller'));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await cluster?.stop();
  });

  test('objects created through the API reach the model; updates and deletes follow', async () => {
    const svc = await cluster.apply(service('web', 'echo', 8080));
    // The real apiserver allocated a ClusterIP from --service-cluster-ip-range.
    assert.match(String((svc.spec as { clusterIP?: string }).clusterIP), /^10\.0\.0\.\d+$/);
    // The real apiserver refuses loopback endpoints, so slices name TEST-NET-1 addresses, never contacted.
    await assert.rejects(cluster.apply(endpointSlice('web', 'loop', 'echo', ['127.0.0.2'], 8080)), /may not be in the loopback range/);
    await cluster.apply(endpointSlice('web', 'echo-1', 'echo', ['192.0.2.2'], 8080));
    await cluster.apply(ingress('web', 'site', 'echo.example', 'echo', { className: 'passerelle' }));

    const source = controllerSource(cluster, { readOnly: true });
    cleanups.push(() => source.stop());
    await source.start();
    let m = model(source);
    assert.deepEqual(hosts(m), ['echo.example']);
    const backend = m.backends['web/echo:http'];
    assert.deepEqual(backend?.endpoints.map((e) => `${e.address}:${e.port}`), ['192.0.2.2:8080']);
    const cached = source.snapshot().ingresses[0]?.metadata ?? {};
    assert.equal('managedFields' in cached, false, 'managedFields are stripped');

    // Update: a second path.
    await cluster.apply(ingress('web', 'site', 'echo.example', 'echo', { className: 'passerelle', paths: ['/', '/api'] }));
    await waitFor('the /api route', () => model(source).virtualHosts[0]?.routes.some((r) => r.path === '/api'));

    // An EndpointSlice change.
    await cluster.apply(endpointSlice('web', 'echo-1', 'echo', ['192.0.2.2', '192.0.2.3'], 8080));
    await waitFor('two endpoints', () => model(source).backends['web/echo:http']?.endpoints.length === 2);

    // Deletes.
    await cluster.remove(endpointSlice('web', 'echo-1', 'echo', [], 0));
    await waitFor('no endpoints', () => model(source).backends['web/echo:http']?.endpoints.length === 0);
    await cluster.remove(ingress('web', 'site', '', ''));
    await waitFor('no virtual host', () => model(source).virtualHosts.length === 0);
    m = model(source);
    assert.deepEqual(m.backends, {});
  });

  test('events that do not change what the model reads are ignored', async () => {
    await cluster.apply(service('web', 'used', 8080));
    await cluster.apply(ingress('web', 'uses', 'used.example', 'used', { className: 'passerelle' }));
    const source = controllerSource(cluster, { readOnly: true });
    cleanups.push(() => source.stop());
    await source.start();
    const signals = source.stats.signals;

    // A Service and EndpointSlice no Ingress uses, an Ingress of another class, a status-only update.
    await cluster.apply(service('other', 'unused', 9000));
    await cluster.apply(endpointSlice('other', 'unused-1', 'unused', ['192.0.2.9'], 9000));
    await cluster.apply(ingress('other', 'foreign', 'foreign.example', 'unused', { className: 'someone-else' }));
    await cluster.client('admin').request('PATCH', '/apis/networking.k8s.io/v1/namespaces/web/ingresses/uses/status', {
      body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor('the four events to arrive', () => source.stats.ignored >= 4);
    assert.equal(source.stats.signals, signals, 'no change signal for irrelevant events');

    // A slice of a used Service does signal.
    const changed = nextChange(source);
    await cluster.apply(endpointSlice('web', 'used-1', 'used', ['192.0.2.4'], 8080));
    await changed;
    assert.equal(model(source).backends['web/used:http']?.endpoints[0]?.address, '192.0.2.4');
  });

  test('410 Gone: a watch resumed from an expired resourceVersion relists and stays consistent', async () => {
    const source = controllerSource(cluster, { readOnly: true });
    cleanups.push(() => source.stop());
    await source.start();
    const informer = source.informers.find((i) => i.type.kind === 'Service');
    assert.ok(informer);
    const lists = informer.stats.lists;
    await cluster.remove(service('web', 'used', 0));
    await cluster.apply(service('web', 'fresh', 8081));
    // Compact etcd and restart the apiserver, so that its watch cache starts at the current revision
    // (a fresh cluster's cache still reaches back to revision 1), then resume from resourceVersion 1.
    await cluster.compactEtcd();
    await cluster.restartApiserver(0);
    informer.restartWatch('1');
    await waitFor('a relist after 410', () => informer.stats.expired >= 1 && informer.stats.lists > lists, 30_000);
    const names = (): string[] => source.snapshot().services.filter((s) => s.metadata?.namespace === 'web').map((s) => s.metadata?.name ?? '').sort();
    await waitFor('the relisted cache', () => names().includes('fresh') && !names().includes('used'));
    // And the watch goes on after the relist.
    await cluster.apply(service('web', 'after-relist', 8082));
    await waitFor('a change after the relist', () => names().includes('after-relist'));
  });

  test('the watchdog restarts a silent watch, which then goes on from where it was', async () => {
    const source = controllerSource(cluster, { readOnly: true, watchdogMs: 800 });
    cleanups.push(() => source.stop());
    await source.start();
    const informer = source.informers.find((i) => i.type.kind === 'IngressClass');
    assert.ok(informer);
    // Nobody touches IngressClasses: the watch stays silent and the watchdog ends it; twice in a row
    // is reported as a source diagnostic.
    await waitFor('two silent watches noticed', () => informer.stats.silent >= 2);
    assert.ok(source.diagnostics().some((d) => d.code === 'PASS_KUBE_WATCH' && d.message.startsWith('IngressClass')));
    const lists = informer.stats.lists;
    await cluster.apply(ingressClass('after-silence', 'example.com/x'));
    await waitFor('the change after the silence', () => informer.get('after-silence') !== undefined);
    assert.equal(informer.stats.lists, lists, 'resumed from the last resourceVersion, no relist');
    assert.equal(informer.stats.failures, 0);
    assert.equal(informer.lastError, undefined, 'an event clears the diagnostic');
  });

  test('namespaces and labelSelector options narrow what is read', async () => {
    await cluster.apply(service('other', 'o', 8080));
    await cluster.apply(ingress('other', 'o', 'o.example', 'o', { className: 'passerelle' }));
    await cluster.apply(ingress('web', 'labelled', 'labelled.example', 'fresh', { className: 'passerelle', labels: { expose: 'yes' } }));
    const onlyWeb = controllerSource(cluster, { readOnly: true, namespaces: ['web'] });
    const labelled = controllerSource(cluster, { readOnly: true, labelSelector: 'expose=yes' });
    cleanups.push(() => onlyWeb.stop(), () => labelled.stop());
    await onlyWeb.start();
    await labelled.start();
    assert.ok(onlyWeb.snapshot().ingresses.every((i) => i.metadata?.namespace === 'web'));
    assert.ok(onlyWeb.snapshot().services.every((i) => i.metadata?.namespace === 'web'));
    assert.ok(hosts(model(onlyWeb)).includes('labelled.example'));
    assert.ok(!hosts(model(onlyWeb)).includes('o.example'));
    assert.deepEqual(hosts(model(labelled)), ['labelled.example']);
  });

  test('kube-apiserver restarted: the last objects stay, the watch resumes, later changes arrive', async () => {
    const source = controllerSource(cluster, { readOnly: true, watchdogMs: 5000 });
    cleanups.push(() => source.stop());
    await source.start();
    const before = hosts(model(source));
    assert.ok(before.length > 0);
    await cluster.restartApiserver(3000);
    // While the apiserver was away the model kept everything.
    assert.deepEqual(hosts(model(source)), before);
    await cluster.apply(service('web', 'svc-after-restart', 8083));
    await cluster.apply(ingress('web', 'after-restart', 'after-restart.example', 'svc-after-restart', { className: 'passerelle' }));
    await waitFor('the Ingress created after the restart', () => hosts(model(source)).includes('after-restart.example'), 30_000);
    await waitFor('no watch error left', () => source.diagnostics().length === 0, 30_000);
  });
  test('an account the RBAC grants nothing: refused and retried for startupRetry, then PASS_KUBE_FORBIDDEN naming the resource and verb', async () => {
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (_o, msg) => warnings.push(msg ?? ''), error() {}, child: () => logger };
    const source = controllerSource(cluster, { client: cluster.client('nobody'), readOnly: true, startupRetryMs: 3000, logger });
    const started = Date.now();
    await assert.rejects(source.start(), (err: unknown) => {
      assert.ok(err instanceof PassError);
      assert.equal(err.code, 'PASS_KUBE_FORBIDDEN');
      assert.match(err.message, /kept refusing access for 3 s after start/);
      assert.match(err.message, /list ingresses\.networking\.k8s\.io in all namespaces \(refused for [0-9.]+ s\): .*User "nobody" cannot list resource "ingresses"/);
      return true;
    });
    assert.ok(Date.now() - started >= 3000, 'not before the bound');
    assert.ok(warnings.includes('the apiserver refused (HTTP 403); retrying'), 'reported as a refusal, before any RBAC verdict');
  });

  test('a label selector the apiserver rejects fails start() at once with PASS_KUBE_API', async () => {
    const source = controllerSource(cluster, { readOnly: true, labelSelector: 'expose in (yes' });
    const started = Date.now();
    await assert.rejects(source.start(), (err: unknown) => err instanceof PassError && err.code === 'PASS_KUBE_API' && /rejected the list of ingresses\.networking\.k8s\.io/.test(err.message));
    assert.ok(Date.now() - started < 10_000);
  });
});
