/*
 * /healthz and /readyz of the web server over a real Controller, in process: a driver whose apply
 * never resolves wedges the sync loop (liveness fails after the bound), a stopped loop fails both,
 * and a driver whose probe says the proxy does not answer keeps readiness at 503.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller } from '../../../src/controller/sync.ts';
import type { ProxyDriver } from '../../../src/drivers/types.ts';
import type { RoutingModel } from '../../../src/model/types.ts';
import type { Diagnostic } from '../../../src/shared/diagnostics.ts';
import { silentLogger } from '../../../src/shared/logger.ts';
import { groupByKind } from '../../../src/sources/snapshot.ts';
import type { Source } from '../../../src/sources/snapshot.ts';
import { WebServer } from '../../../src/dashboard/server.ts';

const translate = { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: false };

/** No objects, never changes. */
const emptySource: Source = {
  snapshot: () => groupByKind([]),
  diagnostics: (): readonly Diagnostic[] => [],
  onChange: () => () => {},
  start: async () => {},
  stop: async () => {},
};

/** A driver whose apply waits for `release` (forever unless called), with a settable probe. */
class Driver implements ProxyDriver {
  readonly name = 'test';
  answers = true;
  readonly hang: boolean;
  #release: (() => void) | undefined;
  constructor(hang: boolean) {
    this.hang = hang;
  }
  apply(_model: RoutingModel): Promise<void> {
    if (!this.hang) return Promise.resolve();
    return new Promise((resolve) => (this.#release = resolve));
  }
  release(): void {
    this.#release?.();
  }
  async stop(): Promise<void> {}
  async probe(): Promise<boolean> {
    return this.answers;
  }
}

async function serve(controller: Controller, driver: Driver, wedgedAfterMs: number): Promise<{ web: WebServer; get: (p: string) => Promise<{ status: number; body: string }> }> {
  const web = new WebServer({ address: { host: '127.0.0.1', port: 0 }, mode: 'native', version: '0', controller, entryPoints: [], logger: silentLogger, probe: () => driver.probe(), wedgedAfterMs });
  await web.start();
  const get = async (p: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(`http://127.0.0.1:${web.address.port}${p}`);
    return { status: r.status, body: await r.text() };
  };
  return { web, get };
}

test('/healthz fails when a sync never ends (wedged loop); /readyz stays 503 without a first apply', async (t) => {
  const driver = new Driver(true);
  const controller = new Controller({ source: emptySource, translate, driver, logger: silentLogger });
  const { web, get } = await serve(controller, driver, 300);
  t.after(() => web.stop());
  void controller.start();
  // The sync has started and waits in apply.
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(controller.state.syncStartedAt !== undefined);
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 503);
  await new Promise((r) => setTimeout(r, 400));
  const wedged = await get('/healthz');
  assert.equal(wedged.status, 503);
  assert.match(wedged.body, /sync-progress: a sync has been running for \d+\.\d s \(limit 0\.3 s\)/);
  assert.equal((await get('/readyz')).status, 503);
  // Unwedged: the apply ends, both pass.
  driver.release();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
  await controller.stop();
});

test('/readyz follows the proxy probe; a stopped loop fails /healthz and /readyz', async (t) => {
  const driver = new Driver(false);
  const controller = new Controller({ source: emptySource, translate, driver, logger: silentLogger });
  const { web, get } = await serve(controller, driver, 60_000);
  t.after(() => web.stop());
  assert.equal((await get('/readyz')).status, 503);
  await controller.start();
  assert.equal((await get('/readyz')).status, 200);
  driver.answers = false;
  const down = await get('/readyz?verbose');
  assert.equal(down.status, 503);
  assert.match(down.body, /\[-\] proxy: the proxy does not answer/);
  assert.match(down.body, /\[\+\] configuration: applied/);
  driver.answers = true;
  assert.equal((await get('/healthz')).status, 200);
  await controller.stop();
  const dead = await get('/healthz');
  assert.equal(dead.status, 503);
  assert.match(dead.body, /sync loop is stopped/);
  assert.equal((await get('/readyz')).status, 503);
  assert.equal((await get('/ping')).body, 'OK');
});
