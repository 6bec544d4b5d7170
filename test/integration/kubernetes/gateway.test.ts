/*
 * The Gateway API through a real kube-apiserver with the v1.6.3 standard CRDs: the Kubernetes source
 * finds the CRDs (also when they are installed after it started, and drops them when they are removed), `passerelle run` (native proxy,
 * the controller's RBAC-limited kubeconfig) routes an HTTPRoute, and writes GatewayClass, Gateway
 * and HTTPRoute status: conditions, addresses, attachedRoutes, BackendNotFound, other controllers'
 * parents kept, nothing rewritten after a restart; an HTTPRoute and an Ingress for one host give a
 * diagnostic (an Event on the HTTPRoute) and the Ingress serves; a write computed from a stale object
 * conflicts, re-reads and keeps what was written meanwhile.
 */

import { GATEWAY_SUPPORTED_FEATURES } from '../../../src/model/gateway-api.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeObject } from '../../../src/model/k8s.ts';
import { parseFlags } from '../../../src/cli/flags.ts';
import { startController, type RunningController } from '../../../src/cli/run.ts';
import { silentLogger } from '../../../src/shared/logger.ts';
import { startCluster, type Cluster } from '../../kube/harness.ts';
import { gatewayCrd, installGatewayCrds } from '../../kube/gateway-crds.ts';
import type { GatewayStatuses } from '../../../src/model/translate/gateway/index.ts';
import { GatewayStatusWriter } from '../../../src/sources/kubernetes/gateway-status.ts';
import { GATEWAY, GATEWAY_CLASS, HTTP_ROUTE } from '../../../src/sources/kubernetes/resources.ts';
import type { KubernetesSource } from '../../../src/sources/kubernetes/source.ts';
import { controllerSource, endpointSlice, ingress, ingressClass, ns, service, waitFor } from './helpers.ts';
import { freePort } from '../../ports.ts';

const GROUP = 'gateway.networking.k8s.io';
const CONTROLLER = 'passerelle.dev/gateway-controller';
const ADDRESS = '192.0.2.80';

const gatewayClass = (name: string, controllerName = CONTROLLER): KubeObject => ({ apiVersion: `${GROUP}/v1`, kind: 'GatewayClass', metadata: { name }, spec: { controllerName } });

const gateway = (namespace: string, name: string, className: string): KubeObject => ({
  apiVersion: `${GROUP}/v1`,
  kind: 'Gateway',
  metadata: { namespace, name },
  spec: { gatewayClassName: className, listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'Same' } } }] },
});

const httpRoute = (namespace: string, name: string, host: string, svc: string, gw = 'edge'): KubeObject => ({
  apiVersion: `${GROUP}/v1`,
  kind: 'HTTPRoute',
  metadata: { namespace, name },
  spec: {
    parentRefs: [{ name: gw }],
    hostnames: [host],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: svc, port: 80 }] }],
  },
});

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

function cond(list: unknown, type: string): Condition | undefined {
  return (Array.isArray(list) ? (list as Condition[]) : []).find((c) => c.type === type);
}

/** An echo server on an address of the test network namespace, answering `body`. */
async function echo(address: string, body: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('kubernetes source: Gateway API', () => {
  let cluster: Cluster;
  let dir: string;
  let config: string;
  let port: number;
  let altPort: number;
  let running: RunningController | undefined;
  const closers: (() => Promise<void>)[] = [];

  const get = (host: string, on = port): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: on, path: '/', headers: { host } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        })
        .on('error', reject);
    });
  const read = (plural: string, namespace: string | undefined, name: string): Promise<KubeObject> =>
    cluster.client('admin').request<KubeObject>('GET', `/apis/${GROUP}/v1${namespace === undefined ? '' : `/namespaces/${namespace}`}/${plural}/${name}`);

  before(async () => {
    cluster = await startCluster();
    dir = await mkdtemp(path.join(tmpdir(), 'passerelle-kube-gateway-'));
    port = await freePort();
    altPort = await freePort();
    config = path.join(dir, 'passerelle.toml');
    await writeFile(
      config,
      [
        '[entryPoints.http]',
        `address = "127.0.0.1:${port}"`,
        // Gateway listeners say port 80: the entry point clients reach through port 80 serves them.
        'publicPort = 80',
        // No listener has port 8081: the Gateway's hosts are not served there.
        '[entryPoints.alt]',
        `address = "127.0.0.1:${altPort}"`,
        'publicPort = 8081',
        '[proxy]',
        'mode = "native"',
        '[kubernetes]',
        'enabled = true',
        `kubeconfig = ${JSON.stringify(cluster.kubeconfig('controller'))}`,
        `publishAddress = "${ADDRESS}"`,
        'leaderElection = false',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await running?.stop();
    for (const close of closers) await close();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('without the CRDs the source reads Ingresses only, finds the Gateway API once the CRDs are installed, drops it when they are removed', async (t) => {
    await cluster.apply(ns('early'));
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller'));
    await cluster.apply(service('early', 'web', 8080));
    await cluster.apply(ingress('early', 'web', 'early.example', 'web', { className: 'passerelle' }));
    const source = controllerSource(cluster, { leaderElection: false, gatewayDiscoveryMs: 200, gatewayAddresses: ['lb.example.net', '192.0.2.9'] });
    t.after(() => source.stop());
    await source.start();
    assert.equal(source.gatewayApi, undefined, 'no Gateway API before the CRDs');
    assert.equal(source.snapshot().ingresses.length, 1);
    assert.equal(source.snapshot().gatewayClasses, undefined);
    assert.deepEqual(source.diagnostics(), [], 'no watch errors for kinds the cluster does not serve');

    await installGatewayCrds(cluster);
    await cluster.apply(gatewayClass('early'));
    await waitFor('the source finds the Gateway API and lists GatewayClasses', () => source.snapshot().gatewayClasses?.some((c) => c.metadata?.name === 'early'), 15_000);
    // The CRDs are applied one by one: ReferenceGrant may be served a moment after the others.
    const api = (): KubernetesSource['gatewayApi'] => source.gatewayApi;
    await waitFor('ReferenceGrant read in v1, which v1.6.3 serves', () => api()?.referenceGrant?.apiVersion === `${GROUP}/v1`);
    await waitFor('the ReferenceGrant informer has listed', () => source.snapshot().referenceGrants !== undefined && source.informers.every((i) => i.hasSynced));
    // The source writes status too: the class is ours.
    await waitFor('GatewayClass early accepted', async () => cond(((await read('gatewayclasses', undefined, 'early')).status as { conditions?: unknown } | undefined)?.conditions, 'Accepted')?.status === 'True');
    // [kubernetes] gatewayAddresses: each with its type, in the order given.
    await cluster.apply(ns('early-gw'));
    await cluster.apply(gateway('early-gw', 'edge', 'early'));
    const addresses = await waitFor('Gateway early-gw/edge has its addresses', async () => ((await read('gateways', 'early-gw', 'edge')).status as { addresses?: unknown } | undefined)?.addresses);
    assert.deepEqual(addresses, [
      { type: 'Hostname', value: 'lb.example.net' },
      { type: 'IPAddress', value: '192.0.2.9' },
    ]);
    await cluster.remove(gateway('early-gw', 'edge', 'early'));
    await cluster.remove(gatewayClass('early'));

    // CRDs removed while it runs: back to Ingresses only (no retry storm), and found again once reinstalled.
    await cluster.remove({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `httproutes.${GROUP}` } });
    await waitFor('the source drops the Gateway API', () => source.gatewayApi === undefined && source.snapshot().gatewayClasses === undefined, 30_000);
    assert.equal(source.snapshot().ingresses.length, 1, 'Ingresses are still read');
    assert.deepEqual(source.diagnostics(), [], 'no watch left failing on the removed kinds');
    await installGatewayCrds(cluster);
    await waitFor('the Gateway API found again', () => api()?.referenceGrant !== undefined && source.snapshot().httpRoutes !== undefined, 30_000);

    // The ReferenceGrant CRD alone: removed, then served in v1beta1 only (an older release), then upgraded to v1.
    const grants = await gatewayCrd('referencegrants');
    await cluster.remove(grants);
    await waitFor('the source stops reading ReferenceGrants', () => api() !== undefined && api()?.referenceGrant === undefined && !source.informers.some((i) => i.failure !== undefined), 30_000);
    const versions = (grants.spec as { versions: { name: string; storage: boolean }[] }).versions;
    await cluster.apply({ ...grants, spec: { ...(grants.spec as object), versions: versions.filter((v) => v.name === 'v1beta1').map((v) => ({ ...v, storage: true })) } });
    await waitFor('ReferenceGrant read in v1beta1', () => api()?.referenceGrant?.apiVersion === `${GROUP}/v1beta1` && source.informers.every((i) => i.hasSynced), 30_000);
    await cluster.apply(grants);
    await waitFor('ReferenceGrant read in v1 once served, the v1beta1 informer gone', () => api()?.referenceGrant?.apiVersion === `${GROUP}/v1` && source.informers.every((i) => i.hasSynced && i.failure === undefined), 30_000);
    assert.deepEqual(source.diagnostics(), [], 'no watch left failing');
    await source.stop();
  });

  test('passerelle run routes an HTTPRoute and writes GatewayClass, Gateway and HTTPRoute status', async () => {
    const front = await echo('192.0.2.31', 'gateway');
    closers.push(front.close);
    await cluster.apply(ns('gw'));
    await cluster.apply(service('gw', 'front', front.port));
    await cluster.apply(endpointSlice('gw', 'front-1', 'front', ['192.0.2.31'], front.port));
    await cluster.apply(gatewayClass('passerelle'));
    await cluster.apply(gatewayClass('someone-else', 'example.com/other-controller'));
    await cluster.apply(gateway('gw', 'edge', 'passerelle'));
    await cluster.apply(httpRoute('gw', 'front', 'gw.example', 'front'));
    await cluster.apply(httpRoute('gw', 'typo', 'typo.example', 'nope'));

    running = await startController(parseFlags(['run', `--configfile=${config}`]), silentLogger);
    await waitFor('gw.example routed by the HTTPRoute', async () => (await get('gw.example')).body === 'gateway', 15_000);
    assert.equal((await get('nowhere.example')).status, 404);
    assert.equal((await get('gw.example', altPort)).status, 404, "served only on its listener's port (entry point http), not on alt");
    // A route whose only backendRef is not found answers 500 (the spec), never another route's backend.
    assert.equal((await get('typo.example')).status, 500);

    const gc = await waitFor('GatewayClass passerelle accepted', async () => {
      const obj = await read('gatewayclasses', undefined, 'passerelle');
      return cond((obj.status as { conditions?: unknown } | undefined)?.conditions, 'Accepted')?.status === 'True' ? obj : undefined;
    });
    assert.equal(cond((gc.status as { conditions?: unknown }).conditions, 'Accepted')?.observedGeneration, (gc.metadata as { generation?: number } | undefined)?.generation);
    assert.deepEqual((gc.status as { supportedFeatures?: unknown }).supportedFeatures, GATEWAY_SUPPORTED_FEATURES.map((name) => ({ name })), 'status.supportedFeatures: what the conformance suite reads');
    const other = await read('gatewayclasses', undefined, 'someone-else');
    assert.notEqual(cond((other.status as { conditions?: unknown } | undefined)?.conditions, 'Accepted')?.status, 'True', "another controller's class is left alone");

    const gw = await waitFor('Gateway gw/edge programmed with its address', async () => {
      const obj = await read('gateways', 'gw', 'edge');
      const s = obj.status as { conditions?: unknown; addresses?: unknown; listeners?: { attachedRoutes?: number }[] } | undefined;
      return cond(s?.conditions, 'Programmed')?.status === 'True' && s?.listeners?.[0]?.attachedRoutes === 2 ? obj : undefined;
    });
    const gs = gw.status as { conditions: unknown; addresses: unknown; listeners: { name: string; attachedRoutes: number; supportedKinds: unknown; conditions: unknown }[] };
    assert.equal(cond(gs.conditions, 'Accepted')?.status, 'True');
    assert.equal(cond(gs.conditions, 'Programmed')?.observedGeneration, (gw.metadata as { generation?: number } | undefined)?.generation);
    assert.deepEqual(gs.addresses, [{ type: 'IPAddress', value: ADDRESS }]);
    assert.equal(gs.listeners.length, 1);
    assert.equal(gs.listeners[0]?.name, 'http');
    assert.deepEqual(gs.listeners[0]?.supportedKinds, [{ group: GROUP, kind: 'HTTPRoute' }]);
    for (const type of ['Accepted', 'ResolvedRefs', 'Programmed']) assert.equal(cond(gs.listeners[0]?.conditions, type)?.status, 'True', `listener ${type}`);
    assert.equal(cond(gs.listeners[0]?.conditions, 'Conflicted')?.status, 'False');

    const route = await read('httproutes', 'gw', 'front');
    const parents = (route.status as { parents?: { parentRef: { name: string }; controllerName: string; conditions: unknown }[] } | undefined)?.parents ?? [];
    assert.equal(parents.length, 1);
    assert.equal(parents[0]?.controllerName, CONTROLLER);
    assert.equal(parents[0]?.parentRef.name, 'edge');
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const c = cond(parents[0]?.conditions, type);
      assert.equal(c?.status, 'True', `HTTPRoute ${type}`);
      assert.equal(c?.observedGeneration, (route.metadata as { generation?: number } | undefined)?.generation);
      assert.match(c?.lastTransitionTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });

  test('a route to a missing Service: ResolvedRefs False, BackendNotFound; it turns True when the Service appears', async () => {
    assert.ok(running, 'the controller of the previous test runs');
    const typo = await waitFor('HTTPRoute gw/typo has its status', async () => (await read('httproutes', 'gw', 'typo')).status as { parents?: { conditions: unknown }[] } | undefined);
    const refs = cond(typo.parents?.[0]?.conditions, 'ResolvedRefs');
    assert.equal(refs?.status, 'False');
    assert.equal(refs?.reason, 'BackendNotFound');
    assert.equal(cond(typo.parents?.[0]?.conditions, 'Accepted')?.status, 'True', 'the route is accepted by its parent all the same');

    await cluster.apply(service('gw', 'nope', 8080));
    await waitFor('ResolvedRefs turns True', async () => {
      const s = (await read('httproutes', 'gw', 'typo')).status as { parents?: { conditions: unknown }[] } | undefined;
      return cond(s?.parents?.[0]?.conditions, 'ResolvedRefs')?.status === 'True';
    });
  });

  test("our status.parents entries are ours only: another controller's entry of the same HTTPRoute is kept", async () => {
    assert.ok(running, 'the controller of the previous test runs');
    const admin = cluster.client('admin');
    const current = await read('httproutes', 'gw', 'front');
    const ours = (current.status as { parents: unknown[] }).parents;
    const foreign = {
      parentRef: { group: GROUP, kind: 'Gateway', name: 'elsewhere' },
      controllerName: 'example.com/other-controller',
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'theirs', lastTransitionTime: '2020-01-01T00:00:00Z', observedGeneration: (current.metadata as { generation?: number } | undefined)?.generation }],
    };
    await admin.request('PUT', `/apis/${GROUP}/v1/namespaces/gw/httproutes/front/status`, { body: { ...current, status: { parents: [foreign, ...ours] } } });
    // A spec change makes the controller write again (observedGeneration moves): the foreign entry stays.
    const updated = httpRoute('gw', 'front', 'gw.example', 'front');
    const spec = updated.spec as { hostnames: string[] };
    spec.hostnames.push('www.gw.example');
    await cluster.apply(updated);
    const parentsNow = await waitFor('our entry follows the new generation', async () => {
      const obj = await read('httproutes', 'gw', 'front');
      const parents = (obj.status as { parents: { controllerName: string; conditions: unknown }[] }).parents;
      const mine = parents.find((p) => p.controllerName === CONTROLLER);
      return cond(mine?.conditions, 'Accepted')?.observedGeneration === (obj.metadata as { generation?: number } | undefined)?.generation ? parents : undefined;
    });
    assert.equal(parentsNow.length, 2);
    assert.deepEqual(parentsNow.find((p) => p.controllerName === 'example.com/other-controller'), foreign);
    await waitFor('www.gw.example routed', async () => (await get('www.gw.example')).body === 'gateway');
  });

  test('an HTTPRoute and an Ingress for one host: the Ingress serves, the HTTPRoute gets a PASS_GATEWAY_CONFLICT Event', async () => {
    assert.ok(running, 'the controller of the previous test runs');
    const viaIngress = await echo('192.0.2.32', 'ingress');
    closers.push(viaIngress.close);
    const viaRoute = await echo('192.0.2.33', 'route');
    closers.push(viaRoute.close);
    await cluster.apply(ingressClass('passerelle', 'passerelle.dev/ingress-controller'));
    await cluster.apply(service('gw', 'by-ingress', viaIngress.port));
    await cluster.apply(endpointSlice('gw', 'by-ingress-1', 'by-ingress', ['192.0.2.32'], viaIngress.port));
    await cluster.apply(service('gw', 'by-route', viaRoute.port));
    await cluster.apply(endpointSlice('gw', 'by-route-1', 'by-route', ['192.0.2.33'], viaRoute.port));
    // The HTTPRoute first: the Ingress wins whatever the order of creation.
    await cluster.apply(httpRoute('gw', 'both', 'both.example', 'by-route'));
    await waitFor('both.example routed by the HTTPRoute alone', async () => (await get('both.example')).body === 'route');
    await cluster.apply(ingress('gw', 'both', 'both.example', 'by-ingress', { className: 'passerelle' }));
    await waitFor('both.example served by the Ingress', async () => (await get('both.example')).body === 'ingress');
    for (let i = 0; i < 5; i++) assert.equal((await get('both.example')).body, 'ingress', 'deterministic');
    const event = await waitFor('an Event on the HTTPRoute', async () => {
      const list = await cluster.client('admin').request<{ items: { reason?: string; note?: string; regarding?: { kind?: string; name?: string } }[] }>('GET', '/apis/events.k8s.io/v1/namespaces/gw/events');
      return list.items.find((e) => e.reason === 'PASS_GATEWAY_CONFLICT' && e.regarding?.kind === 'HTTPRoute' && e.regarding.name === 'both');
    });
    assert.match(event.note ?? '', /both\.example.*Ingress gw\/both/);
  });

  test('a restarted controller writes no status: every resourceVersion stays', async () => {
    assert.ok(running, 'the controller of the previous test runs');
    const objects: [string, string | undefined, string][] = [
      ['gatewayclasses', undefined, 'passerelle'],
      ['gateways', 'gw', 'edge'],
      ['httproutes', 'gw', 'front'],
      ['httproutes', 'gw', 'typo'],
      ['httproutes', 'gw', 'both'],
    ];
    const versions = async (): Promise<Record<string, string | undefined>> =>
      Object.fromEntries(await Promise.all(objects.map(async ([plural, namespace, name]) => [`${plural}/${name}`, (await read(plural, namespace, name)).metadata?.resourceVersion] as const)));
    // Settled: two reads a second apart agree.
    let settled = await versions();
    for (;;) {
      await sleep(1000);
      const again = await versions();
      if (JSON.stringify(again) === JSON.stringify(settled)) break;
      settled = again;
    }
    await running?.stop();
    running = undefined;
    running = await startController(parseFlags(['run', `--configfile=${config}`]), silentLogger);
    await waitFor('the restarted controller serves', async () => (await get('gw.example')).body === 'gateway', 15_000);
    // Its first status pass is 250 ms after the lists; give it time to (wrongly) write.
    await sleep(2000);
    assert.deepEqual(await versions(), settled);
    // It does write when something changes: a listener's routes (a route removed).
    await cluster.remove(httpRoute('gw', 'typo', '', ''));
    await waitFor('attachedRoutes follows', async () => {
      const s = (await read('gateways', 'gw', 'edge')).status as { listeners?: { attachedRoutes?: number }[] };
      return s.listeners?.[0]?.attachedRoutes === 2;
    });
  });
  test('a status computed from a stale object conflicts (409): the writer re-reads, keeps what was written meanwhile, and writes', async () => {
    // The controller is stopped: only this writer writes.
    await running?.stop();
    running = undefined;
    const stale = await read('httproutes', 'gw', 'front');
    const stored = (stale.status as { parents: { parentRef: Record<string, unknown>; controllerName: string }[] }).parents;
    const ourRef = stored.find((p) => p.controllerName === CONTROLLER)?.parentRef;
    assert.ok(ourRef);
    const generation = (stale.metadata as { generation?: number } | undefined)?.generation;
    const meanwhile = {
      parentRef: { group: GROUP, kind: 'Gateway', name: 'meanwhile' },
      controllerName: 'example.com/third-controller',
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'written after our read', lastTransitionTime: '2021-01-01T00:00:00Z', observedGeneration: generation }],
    };
    await cluster.client('admin').request('PUT', `/apis/${GROUP}/v1/namespaces/gw/httproutes/front/status`, { body: { ...stale, status: { parents: [meanwhile, ...stored] } } });
    const writer = new GatewayStatusWriter(cluster.client('controller'), { gatewayClass: GATEWAY_CLASS, gateway: GATEWAY, httpRoute: HTTP_ROUTE }, CONTROLLER);
    const status: GatewayStatuses = {
      gatewayClasses: [],
      gateways: [],
      httpRoutes: [{ namespace: 'gw', name: 'front', parents: [{ parentRef: ourRef, controllerName: CONTROLLER, conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'decided from the stale object', ...(generation === undefined ? {} : { observedGeneration: generation }) }] }] }],
    };
    assert.deepEqual(await writer.reconcile(status, { gatewayClasses: [], gateways: [], httpRoutes: [stale] }, []), { written: 1, failed: 0 });
    const parents = ((await read('httproutes', 'gw', 'front')).status as { parents: { controllerName: string; conditions: unknown }[] }).parents;
    assert.equal(parents.length, 3, 'ours, the other controller of the earlier test, and the one written meanwhile');
    assert.deepEqual(parents.find((p) => p.controllerName === 'example.com/third-controller'), meanwhile);
    assert.equal(cond(parents.find((p) => p.controllerName === CONTROLLER)?.conditions, 'Accepted')?.reason, 'NotAllowedByListeners');
  });
});
