/*
 * The sync loop's timing under node:test mock timers: debounce coalescing a burst, maxDelay bounding
 * a continuous burst, retry backoff doubling up to 30 s and resetting after a success. Time only
 * moves when a test ticks it, so every build time is exact. In memory: our own Source and
 * ProxyDriver interfaces, no IO (test/unit/sync-faults.test.ts covers the same loop with real timers).
 */

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, SYNC_FAILED } from '../../src/controller/sync.ts';
import type { ControllerOptions } from '../../src/controller/sync.ts';
import type { ProxyDriver } from '../../src/drivers/types.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import type { Logger } from '../../src/shared/logger.ts';
import { groupByKind } from '../../src/sources/snapshot.ts';
import type { Source } from '../../src/sources/snapshot.ts';

const translateOptions: TranslateOptions = {
  entryPoints: [],
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: [],
  watchIngressWithoutClass: false,
};

const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80 }] } };

/** An Ingress of our class for `host`: each change adds one, so each change alters what is served. */
function ingress(host: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: host.replaceAll('.', '-'), namespace: 'default' },
    spec: { ingressClassName: 'passerelle', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  };
}

/** A Source in memory: `change` adds an Ingress and signals; `poke` signals without a change. */
class MemorySource implements Source {
  #objects: KubeObject[] = [service];
  readonly #listeners = new Set<() => void>();

  change(): void {
    this.#objects = [...this.#objects, ingress(`h${this.#objects.length}.test`)];
    this.poke();
  }

  poke(): void {
    for (const l of this.#listeners) l();
  }

  snapshot() {
    return groupByKind(this.#objects);
  }

  diagnostics(): readonly Diagnostic[] {
    return [];
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

/** What one build does: succeed, fail while building (prepare throws), or fail to apply. */
type Outcome = 'ok' | 'build fails' | 'apply fails';

/** A driver in memory whose applies fail when the script says so. */
class ScriptedDriver implements ProxyDriver {
  readonly name = 'memory';
  readonly applied: RoutingModel[] = [];
  failNext = false;

  async apply(model: RoutingModel): Promise<void> {
    if (this.failNext) throw new Error('the proxy refused the configuration');
    this.applied.push(model);
  }

  async stop(): Promise<void> {}
}

/** A logger keeping the `retryInMs` of every failed sync. */
function retryLogger(delays: unknown[]): Logger {
  const ignore = (): void => {};
  const logger: Logger = {
    debug: ignore,
    info: ignore,
    warn: ignore,
    error: (obj: object) => {
      const fields = obj as Record<string, unknown>;
      if (fields['code'] === SYNC_FAILED) delays.push(fields['retryInMs']);
    },
    child: () => logger,
  };
  return logger;
}

/** Lets the promises of a sync settle: nothing here waits on IO, so one turn of the loop is enough. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A controller on a memory source and a scripted driver. Each build records the mock time and does
 * what `outcomes` says in turn (builds past the end succeed).
 */
function setup(outcomes: readonly Outcome[], options: Partial<ControllerOptions> = {}) {
  const source = new MemorySource();
  const driver = new ScriptedDriver();
  const buildsAt: number[] = [];
  const retryDelays: unknown[] = [];
  // prepare runs once per build, after translate: the place to observe and script each build.
  const prepare = (model: RoutingModel): RoutingModel => {
    const outcome = outcomes[buildsAt.length] ?? 'ok';
    buildsAt.push(Date.now());
    driver.failNext = outcome === 'apply fails';
    if (outcome === 'build fails') throw new Error('injected build failure');
    return model;
  };
  const controller = new Controller({ source, driver, translate: translateOptions, logger: retryLogger(retryDelays), prepare, ...options });
  return { source, driver, controller, buildsAt, retryDelays };
}

/** Moves the mock clock from `from` to `to` by `step`, letting each sync finish, calling `at` on every step (the start included). */
async function runTimeline(t: TestContext, from: number, to: number, step: number, at: (ms: number) => void): Promise<void> {
  at(from);
  for (let ms = from + step; ms <= to; ms += step) {
    t.mock.timers.tick(step);
    await flush();
    at(ms);
  }
}

// ---- debounce and maxDelay ----------------------------------------------------------------------

interface BurstCase {
  readonly name: string;
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  /** Mock times (ms) at which a change is signalled. */
  readonly changes: readonly number[];
  readonly until: number;
  /** Mock times (ms) at which a build runs. */
  readonly buildsAt: readonly number[];
}

const every = (stepMs: number, from: number, to: number): number[] => Array.from({ length: Math.floor((to - from) / stepMs) + 1 }, (_, i) => from + i * stepMs);

const burstCases: readonly BurstCase[] = [
  {
    name: 'a burst of changes 10 ms apart is one build, a debounce after the last change',
    changes: [0, 10, 20, 30, 40],
    until: 1000,
    buildsAt: [90],
  },
  {
    name: 'changes further apart than the debounce are built separately',
    debounceMs: 20,
    changes: [0, 100, 200],
    until: 400,
    buildsAt: [20, 120, 220],
  },
  {
    name: 'a continuous burst is built maxDelay after its first change, and the next burst starts afresh',
    debounceMs: 50,
    maxDelayMs: 200,
    changes: every(30, 0, 570),
    until: 1000,
    // 0→200; the change at 210 opens a burst built at 410; the one at 420 a burst built at 620.
    buildsAt: [200, 410, 620],
  },
  {
    name: 'the defaults: 50 ms debounce, 500 ms at most for a burst',
    changes: every(30, 0, 990),
    until: 2000,
    // 0→500; the change at 510 opens a burst built at 1010.
    buildsAt: [500, 1010],
  },
  {
    name: 'a maxDelay shorter than the debounce wins',
    debounceMs: 100,
    maxDelayMs: 30,
    changes: [0],
    until: 500,
    buildsAt: [30],
  },
];

for (const c of burstCases) {
  test(`sync timers: ${c.name}`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const options = { ...(c.debounceMs === undefined ? {} : { debounceMs: c.debounceMs }), ...(c.maxDelayMs === undefined ? {} : { maxDelayMs: c.maxDelayMs }) };
    const { source, driver, controller, buildsAt } = setup([], options);
    await controller.start();
    assert.deepEqual(buildsAt, [0], 'start() builds once, at once');
    buildsAt.length = 0;
    const changes = new Set(c.changes);
    // 1 ms steps: a build runs in the step its timer fires, so its recorded time is exact.
    await runTimeline(t, 0, c.until, 1, (ms) => {
      if (changes.has(ms)) source.change();
    });
    assert.deepEqual(buildsAt, c.buildsAt);
    assert.equal(driver.applied.length, 1 + c.buildsAt.length, 'each build applied a new model');
    assert.equal(driver.applied.at(-1)?.virtualHosts.length, c.changes.length, 'the last build has every change');
    await controller.stop();
  });
}

test('sync timers: stop() cancels a build still waiting for its debounce', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const { source, controller, buildsAt } = setup([]);
  await controller.start();
  source.change();
  await controller.stop();
  t.mock.timers.tick(10_000);
  await flush();
  source.change();
  t.mock.timers.tick(10_000);
  await flush();
  assert.deepEqual(buildsAt, [0]);
});

test('sync timers: the injected clock, not Date, measures a burst and stamps appliedAt', async (t) => {
  // Only setTimeout is mocked: Date keeps the real time, so only the injected clock can explain what follows.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const { source, controller, driver } = setup([], { debounceMs: 50, maxDelayMs: 500, now: () => clock });
  await controller.start();
  assert.equal(controller.state.appliedAt?.toISOString(), '2030-01-01T00:00:00.000Z');
  source.change();
  t.mock.timers.tick(10);
  // The injected clock says the burst began 600 ms ago: past maxDelay, the next change builds at once.
  clock += 600;
  source.change();
  t.mock.timers.tick(0);
  await flush();
  assert.equal(driver.applied.length, 2, 'built without waiting for the debounce');
  assert.equal(controller.state.appliedAt?.toISOString(), '2030-01-01T00:00:00.600Z');
  await controller.stop();
});

// ---- retry backoff ------------------------------------------------------------------------------

interface RetryCase {
  readonly name: string;
  readonly retryMs?: number;
  /** What each build does, in order (the first is start()'s); builds past the end succeed. */
  readonly outcomes: readonly Outcome[];
  /** Mock times (ms) of a change (a new Ingress) or of a signal without change. */
  readonly changes?: readonly number[];
  readonly pokes?: readonly number[];
  readonly until: number;
  readonly buildsAt: readonly number[];
  /** The `retryInMs` of each failure, in order. */
  readonly retryDelays: readonly number[];
}

const fails = (n: number, outcome: Outcome = 'apply fails'): Outcome[] => Array.from({ length: n }, () => outcome);

const retryCases: readonly RetryCase[] = [
  {
    name: 'the retry delay doubles from 1 s and stops at 30 s',
    outcomes: fails(11),
    until: 190_000,
    // Each retry signals, then waits the 50 ms debounce: build k+1 = build k + delay k + 50.
    buildsAt: [0, 1050, 3100, 7150, 15200, 31250, 61300, 91350, 121400, 151450, 181500],
    retryDelays: [1000, 2000, 4000, 8000, 16000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000],
  },
  {
    name: 'the first delay is retryMs',
    retryMs: 300,
    outcomes: fails(9),
    until: 70_000,
    buildsAt: [0, 350, 1000, 2250, 4700, 9550, 19_200, 38_450, 68_500],
    retryDelays: [300, 600, 1200, 2400, 4800, 9600, 19_200, 30_000, 30_000],
  },
  {
    name: 'a retry that applies ends the retries and resets the delay for the next failure',
    outcomes: [...fails(3), 'ok', ...fails(2)],
    changes: [10_000],
    until: 12_000,
    // 7150: the retry applies; no retry after it; 10 050: the change fails, retried after 1 s again.
    buildsAt: [0, 1050, 3100, 7150, 10_050, 11_100],
    retryDelays: [1000, 2000, 4000, 1000, 2000],
  },
  {
    name: 'a retry that finds nothing to apply also resets the delay',
    outcomes: ['ok', ...fails(2, 'build fails'), 'ok', 'apply fails'],
    pokes: [1000],
    changes: [5000],
    until: 6000,
    // 4150: the build succeeds with the model already served (nothing applied): the delay resets.
    buildsAt: [0, 1050, 2100, 4150, 5050],
    retryDelays: [1000, 2000, 1000],
  },
];

for (const c of retryCases) {
  test(`sync timers: ${c.name}`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const { source, controller, buildsAt, retryDelays } = setup(c.outcomes, c.retryMs === undefined ? {} : { retryMs: c.retryMs });
    await controller.start();
    const changes = new Set(c.changes ?? []);
    const pokes = new Set(c.pokes ?? []);
    // Every delay here is a multiple of 50 ms: 50 ms steps keep build times exact.
    await runTimeline(t, 0, c.until, 50, (ms) => {
      if (changes.has(ms)) source.change();
      if (pokes.has(ms)) source.poke();
    });
    assert.deepEqual(buildsAt, c.buildsAt);
    assert.deepEqual(retryDelays, c.retryDelays);
    await controller.stop();
  });
}
