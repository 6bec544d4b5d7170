/*
 * Fault injection into the sync loop: a build that throws (a real odd object that makes translate
 * throw), a prepare hook that throws, a diagnostics sink that throws, an apply that fails. The
 * loop must log and count each failure, retry with backoff, keep applying later changes, and never
 * leave a rejection unhandled. In memory: our own Source and ProxyDriver interfaces, no IO.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, SYNC_FAILED } from '../../src/controller/sync.ts';
import type { ControllerOptions } from '../../src/controller/sync.ts';
import type { ProxyDriver } from '../../src/drivers/types.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import { translate } from '../../src/model/translate/index.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import type { Logger } from '../../src/shared/logger.ts';
import { parseObjectsFile } from '../../src/sources/file/parse.ts';
import { groupByKind } from '../../src/sources/snapshot.ts';
import type { Source } from '../../src/sources/snapshot.ts';

const translateOptions: TranslateOptions = {
  entryPoints: [],
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: [],
  watchIngressWithoutClass: false,
};

/** Objects as the file source reads them from YAML. */
function objectsOf(yaml: string): KubeObject[] {
  const parsed = parseObjectsFile(yaml, 'objects.yaml');
  if (!parsed.ok) assert.fail(parsed.diagnostics.map((d) => d.message).join('; '));
  return [...parsed.objects];
}

/** One Ingress of our class routing `host` to Service web:80. */
function ingress(name: string, host: string): KubeObject {
  const [obj] = objectsOf(`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: ${name} }
spec:
  ingressClassName: passerelle
  rules:
    - host: ${host}
      http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }] }
`);
  assert.ok(obj);
  return obj;
}

/** An object one of whose fields cannot be read: a stand-in for any translate bug on an odd object. */
function withBroken(obj: KubeObject, field: 'spec' | 'metadata'): KubeObject {
  return Object.defineProperty({ ...obj }, field, {
    enumerable: true,
    get(): never {
      throw new TypeError(`injected fault: ${field} cannot be read`);
    },
  });
}

/** A Service that makes translate throw (Services are indexed in one pass for the whole snapshot). */
function oddService(): KubeObject {
  const [obj] = objectsOf(`
apiVersion: v1
kind: Service
metadata: { name: odd }
spec: { ports: [{ port: 80 }] }
`);
  assert.ok(obj);
  return withBroken(obj, 'metadata');
}

const service = objectsOf(`
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ name: http, port: 80, targetPort: 8080 }] }
`);

/** A Source in memory: `set` replaces the objects and signals a change (or not, with `quietly`). */
class MemorySource implements Source {
  #objects: readonly KubeObject[];
  readonly #listeners = new Set<() => void>();
  /** Called by reportDiagnostics, like the Kubernetes source's Event recorder. */
  onReport: (diagnostics: readonly Diagnostic[]) => void = () => {};

  constructor(objects: readonly KubeObject[]) {
    this.#objects = objects;
  }

  set(objects: readonly KubeObject[], quietly = false): void {
    this.#objects = objects;
    if (!quietly) for (const l of this.#listeners) l();
  }

  snapshot() {
    return groupByKind(this.#objects);
  }

  diagnostics(): readonly Diagnostic[] {
    return [];
  }

  reportDiagnostics(diagnostics: readonly Diagnostic[]): void {
    this.onReport(diagnostics);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

/** A driver in memory: records every model it serves; `failNext` makes the next applies reject. */
class MemoryDriver implements ProxyDriver {
  readonly name = 'memory';
  readonly applied: RoutingModel[] = [];
  failNext = 0;

  async apply(model: RoutingModel): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('the proxy refused the configuration');
    }
    this.applied.push(model);
  }

  async stop(): Promise<void> {}

  /** The hosts of the last model served. */
  hosts(): string[] {
    return this.applied.at(-1)?.virtualHosts.map((v) => v.host) ?? [];
  }
}

interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string | undefined;
}

function recordingLogger(entries: LogEntry[]): Logger {
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, fields: { ...obj }, msg });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A controller on a memory source and driver, with short delays; `rejections` collects unhandled rejections. */
function setup(objects: readonly KubeObject[], options: Partial<ControllerOptions> = {}) {
  const source = new MemorySource(objects);
  const driver = new MemoryDriver();
  const logs: LogEntry[] = [];
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  process.on('unhandledRejection', onRejection);
  const controller = new Controller({ source, driver, translate: translateOptions, logger: recordingLogger(logs), debounceMs: 5, maxDelayMs: 20, retryMs: 10, ...options });
  const close = async (): Promise<void> => {
    await controller.stop();
    // A rejection nobody handles is reported on a later turn of the event loop: give it one.
    await new Promise((r) => setImmediate(r));
    process.off('unhandledRejection', onRejection);
    assert.deepEqual(rejections, [], 'no unhandled rejection');
  };
  return { source, driver, logs, controller, close };
}

test('an odd Ingress costs only itself: a diagnostic, the other Ingresses still served', () => {
  const model = translate(groupByKind([...service, ingress('a', 'a.test'), withBroken(ingress('odd', 'odd.test'), 'spec')]), translateOptions);
  assert.deepEqual(model.virtualHosts.map((v) => v.host), ['a.test']);
  const d = model.diagnostics.find((x) => x.code === 'PASS_INGRESS_UNREADABLE');
  assert.ok(d, 'expected PASS_INGRESS_UNREADABLE');
  assert.equal(d.object?.name, 'odd');
  assert.match(d.message, /injected fault/);
});

test('the odd Service does make translate throw (else this file tests nothing)', () => {
  assert.throws(() => translate(groupByKind([...service, oddService()]), translateOptions), /injected fault/);
});

test('a translate exception fails one sync; later changes are applied once the bad object is gone', async () => {
  const { source, driver, logs, controller, close } = setup([...service, ingress('a', 'a.test')]);
  try {
    await controller.start();
    assert.deepEqual(driver.hosts(), ['a.test']);
    assert.equal(controller.state.failures, 0);

    // (a, d) The bad object arrives: the build throws, the failure is logged and counted, a.test keeps serving.
    source.set([...service, ingress('a', 'a.test'), oddService()]);
    await waitFor('the failure is counted', () => controller.state.failures >= 1);
    assert.match(controller.state.lastError ?? '', /^building the model failed: .*injected fault/);
    assert.equal(driver.applied.length, 1, 'nothing was applied');
    const failed = logs.find((l) => l.level === 'error' && l.fields['code'] === SYNC_FAILED);
    assert.ok(failed, 'the failure is logged');
    assert.equal(failed.fields['stage'], 'build');
    assert.ok(failed.fields['err'] instanceof TypeError, 'the log carries the cause');
    assert.match(failed.msg ?? '', /previous configuration keeps serving/);

    // (b) Changes made after the failure are applied: the bad object goes, b.test comes.
    source.set([...service, ingress('a', 'a.test'), ingress('b', 'b.test')]);
    await waitFor('b.test is served', () => driver.hosts().includes('b.test'));
    assert.deepEqual(driver.hosts(), ['a.test', 'b.test']);
    assert.equal(controller.state.lastError, undefined, 'a success clears the error');

    // (c) The loop is healthy: the next change is applied too, and no failure is added.
    const failures = controller.state.failures;
    source.set([...service, ingress('c', 'c.test')]);
    await waitFor('c.test is served', () => driver.hosts().includes('c.test'));
    assert.deepEqual(driver.hosts(), ['c.test']);
    assert.equal(controller.state.failures, failures);
    assert.equal(controller.state.lastError, undefined);
  } finally {
    await close();
  }
});

test('a failing build is retried with backoff, without a change signal', async () => {
  const { source, driver, logs, controller, close } = setup([...service, ingress('a', 'a.test'), oddService()]);
  try {
    // start() does not reject on a build failure: it logs it and schedules a retry.
    await controller.start();
    assert.equal(controller.state.failures, 1);
    assert.equal(controller.state.model, undefined);
    assert.equal(driver.applied.length, 0);
    await waitFor('retries happen', () => controller.state.failures >= 3);
    const delays = logs.filter((l) => l.fields['code'] === SYNC_FAILED).map((l) => l.fields['retryInMs']);
    assert.deepEqual(delays.slice(0, 3), [10, 20, 40], 'the retry delay doubles');

    // The bad object disappears without a signal (e.g. a fixed bug): the next retry applies.
    source.set([...service, ingress('a', 'a.test')], true);
    await waitFor('a.test is served', () => driver.hosts().includes('a.test'));
    assert.equal(controller.state.lastError, undefined);
    assert.equal(controller.state.syncs, 1);
  } finally {
    await close();
  }
});

test('a prepare hook that throws a non-Error fails the sync, not the loop', async () => {
  let poison = false;
  const prepare = (model: RoutingModel): RoutingModel => {
    if (poison) throw 'prepare broke'; // a non-Error, on purpose
    return model;
  };
  const { source, driver, controller, close } = setup([...service, ingress('a', 'a.test')], { prepare });
  try {
    await controller.start();
    poison = true;
    source.set([...service, ingress('b', 'b.test')]);
    await waitFor('the failure is counted', () => controller.state.failures === 1);
    assert.equal(controller.state.lastError, 'building the model failed: prepare broke');
    poison = false;
    source.set([...service, ingress('b', 'b.test')]);
    await waitFor('b.test is served', () => driver.hosts().includes('b.test'));
  } finally {
    await close();
  }
});

test('a diagnostics sink that throws fails the sync with stage diagnostics; the sync after it applies', async () => {
  const { source, driver, logs, controller, close } = setup([...service, ingress('a', 'a.test')]);
  let broken = true;
  source.onReport = () => {
    if (broken) throw new Error('event recorder broke');
  };
  try {
    await controller.start();
    assert.equal(controller.state.lastError, 'reporting diagnostics failed: event recorder broke');
    assert.equal(logs.find((l) => l.fields['code'] === SYNC_FAILED)?.fields['stage'], 'diagnostics');
    broken = false;
    await waitFor('the retry applies', () => driver.hosts().includes('a.test'));
    assert.equal(controller.state.lastError, undefined);
  } finally {
    await close();
  }
});

test('a failed apply keeps its plain message, is counted and retried', async () => {
  const { driver, controller, close } = setup([...service, ingress('a', 'a.test')]);
  driver.failNext = 2;
  try {
    await controller.start();
    assert.equal(controller.state.lastError, 'the proxy refused the configuration');
    assert.equal(controller.state.failures, 1);
    await waitFor('the retry applies', () => driver.hosts().includes('a.test'));
    assert.equal(controller.state.failures, 2);
    assert.equal(controller.state.lastError, undefined);
    assert.equal(controller.state.syncs, 1);
  } finally {
    await close();
  }
});

test('sync() called directly never rejects', async () => {
  const { source, driver, controller, close } = setup([...service, ingress('a', 'a.test'), oddService()]);
  try {
    await controller.start();
    const results = await Promise.allSettled([controller.sync(), controller.sync()]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled'],
    );
    source.set([...service, ingress('a', 'a.test')], true);
    await controller.sync();
    assert.deepEqual(driver.hosts(), ['a.test']);
  } finally {
    await close();
  }
});

test('a self-referencing YAML value is a diagnostic, not an exception', () => {
  const [obj] = objectsOf(`
apiVersion: &v [*v]
kind: Ingress
metadata: { name: cyclic }
spec:
  ingressClassName: passerelle
  defaultBackend: { service: { name: web, port: { number: 80 } } }
`);
  assert.ok(obj);
  const model = translate(groupByKind([obj, ...service]), translateOptions);
  const d = model.diagnostics.find((x) => x.field === 'apiVersion');
  assert.ok(d, 'expected a diagnostic on apiVersion');
  assert.match(d.message, /self-referencing list/);
});
