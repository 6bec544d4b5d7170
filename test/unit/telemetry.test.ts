/*
 * The telemetry calls of the lower stages, in memory: the sync loop reports applies (how they took
 * effect, unchanged, failed) and diagnostics; an informer reports relists and failures; the ACME
 * budget left is computed from the issuance log. No IO.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller } from '../../src/controller/sync.ts';
import type { ProxyDriver } from '../../src/drivers/types.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { ApplyOutcome, Telemetry } from '../../src/shared/telemetry.ts';
import { parseObjectsFile } from '../../src/sources/file/parse.ts';
import { groupByKind } from '../../src/sources/snapshot.ts';
import type { Source } from '../../src/sources/snapshot.ts';
import { Informer, INGRESS } from '../../src/sources/kubernetes/informer.ts';
import { KubeApiError } from '../../src/sources/kubernetes/client.ts';
import type { KubeClient } from '../../src/sources/kubernetes/client.ts';
import { budgetLeft } from '../../src/acme/planner.ts';
import { LETS_ENCRYPT_BUDGET } from '../../src/acme/types.ts';

const translateOptions: TranslateOptions = { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: false };

function objectsOf(yaml: string): KubeObject[] {
  const parsed = parseObjectsFile(yaml, 'objects.yaml');
  if (!parsed.ok) assert.fail(parsed.diagnostics.map((d) => d.message).join('; '));
  return [...parsed.objects];
}

/** An Ingress to Service `service`:80 for `host` (a missing Service gives a diagnostic). */
const ingress = (host: string, service: string): KubeObject[] =>
  objectsOf(`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${host.replace(/\./g, '-')} }
spec:
  ingressClassName: passerelle
  rules: [{ host: ${host}, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: ${service}, port: { number: 80 } } } }] } }]
`);

const web = objectsOf(`
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ port: 80, targetPort: 8080 }] }
`);

class MemorySource implements Source {
  objects: readonly KubeObject[];
  constructor(objects: readonly KubeObject[]) {
    this.objects = objects;
  }
  snapshot() {
    return groupByKind(this.objects);
  }
  diagnostics(): readonly Diagnostic[] {
    return [];
  }
  onChange(): () => void {
    return () => {};
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

class MemoryDriver implements ProxyDriver {
  readonly name = 'memory';
  lastApply: 'reload' | 'runtime' | undefined;
  failNext = false;
  #reloaded = false;
  async apply(_model: RoutingModel): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('refused');
    }
    // The first apply reloads, later ones use the runtime API (as HAProxy does for endpoint changes).
    this.lastApply = this.#reloaded ? 'runtime' : 'reload';
    this.#reloaded = true;
  }
  async stop(): Promise<void> {}
}

/** A Telemetry that records every call. */
function recorder() {
  const calls = { applies: [] as ApplyOutcome[], diagnostics: [] as { error: number; warning: number }[], watch: [] as string[], leader: [] as boolean[], orders: [] as string[] };
  const telemetry: Telemetry = {
    applyFinished: (o) => calls.applies.push(o),
    diagnostics: (c) => calls.diagnostics.push({ ...c }),
    watch: (e, r) => calls.watch.push(`${e} ${r}`),
    leader: (l) => calls.leader.push(l),
    acmeOrder: (r) => calls.orders.push(r),
  };
  return { calls, telemetry };
}

test('the sync loop reports each apply (how it took effect), unchanged syncs, failures and diagnostics', async () => {
  const { calls, telemetry } = recorder();
  const source = new MemorySource([...web, ...ingress('a.test', 'web')]);
  const driver = new MemoryDriver();
  const controller = new Controller({ source, driver, translate: translateOptions, logger: silentLogger, telemetry, retryMs: 60_000 });
  await controller.sync();
  await controller.sync();
  source.objects = [...web, ...ingress('a.test', 'web'), ...ingress('b.test', 'missing')];
  await controller.sync();
  source.objects = [...web, ...ingress('c.test', 'web')];
  driver.failNext = true;
  await controller.sync();
  await controller.stop();

  assert.deepEqual(
    calls.applies.map((a) => [a.ok, a.via]),
    [
      [true, 'reload'],
      [true, 'unchanged'],
      [true, 'runtime'],
      [false, undefined],
    ],
  );
  const [first, , third, failed] = calls.applies;
  assert.match(first?.hash ?? '', /^[0-9a-f]{16,}$/);
  assert.equal(third?.hash, controller.state.hash, 'the hash reported is the one served');
  assert.equal(failed?.hash, undefined);
  assert.ok(calls.applies.every((a) => a.durationMs >= 0));
  // b.test routes to a missing Service: one more diagnostic in the third sync only.
  assert.equal(calls.diagnostics.length, 4);
  assert.equal((calls.diagnostics[2]?.error ?? 0) + (calls.diagnostics[2]?.warning ?? 0), (calls.diagnostics[0]?.error ?? 0) + (calls.diagnostics[0]?.warning ?? 0) + 1);
});

test('an informer reports relists (not its first list) and failed watches', async () => {
  const { calls, telemetry } = recorder();
  let watches = 0;
  const list = { metadata: { resourceVersion: '10' }, items: [{ metadata: { name: 'a', namespace: 'x', resourceVersion: '5' } }] };
  // The fake client stops the informer it serves (made below).
  const held: { informer?: Informer } = {};
  const client = {
    request: async () => list,
    watch: async () => {
      watches++;
      // 410 Gone makes it relist; then a failure; then the test ends.
      if (watches === 1) throw new KubeApiError(410, 'too old', 'Expired');
      if (watches === 2) throw new KubeApiError(500, 'boom', 'InternalError');
      void held.informer?.stop();
      throw new KubeApiError(500, 'stopping', 'InternalError');
    },
  } as unknown as KubeClient;
  const informer = new Informer({ client, type: INGRESS, telemetry, initialBackoffMs: 1, maxBackoffMs: 2 });
  held.informer = informer;
  informer.start();
  await informer.synced;
  const deadline = Date.now() + 5000;
  while (watches < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await informer.stop();
  assert.equal(informer.stats.lists, 2);
  assert.deepEqual(calls.watch.slice(0, 2), ['relist Ingress', 'error Ingress']);
});

test('ACME budget left: new certificates per registered domain in the window; renewals are free', () => {
  const now = new Date('2030-01-08T00:00:00Z');
  const records = [
    { names: ['a.example.com', 'b.example.com'], at: '2030-01-07T00:00:00Z', renewal: false },
    { names: ['c.example.com'], at: '2030-01-06T00:00:00Z', renewal: true },
    { names: ['d.example.com'], at: '2029-12-01T00:00:00Z', renewal: false },
    { names: ['x.other.co.uk'], at: '2030-01-07T12:00:00Z', renewal: false },
  ];
  assert.deepEqual(budgetLeft(LETS_ENCRYPT_BUDGET, records, ['www.example.com', 'new.test'], now), [
    { registeredDomain: 'example.com', remaining: 49 },
    { registeredDomain: 'new.test', remaining: 50 },
    { registeredDomain: 'other.co.uk', remaining: 49 },
  ]);
});
