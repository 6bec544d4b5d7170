import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassDiagnosticsError } from '../../src/shared/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createDriver } from '../../src/cli/wire.ts';
import { NativeDriver } from '../../src/drivers/native/index.ts';
import { NativeWorkerPool } from '../../src/drivers/native/workers.ts';
import { silentLogger } from '../../src/shared/logger.ts';

const FILE = '/etc/passerelle/passerelle.toml';
const TLS = '[entryPoints.https]\naddress=":443"\ntls={}\n';

/** The diagnostics of a configuration that must be refused. */
function refused(text: string): PassDiagnosticsError['diagnostics'] {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    assert.ok(err instanceof PassDiagnosticsError, String(err));
    return err.diagnostics;
  }
  assert.fail('expected the configuration to be refused');
}

test('proxy.workers: unset by default (the driver takes the CPU count)', () => {
  assert.equal(parseConfig('', FILE).proxy.workers, undefined);
});

for (const [name, challenge] of [
  ['tls-alpn-01', 'challenge = "tls-alpn-01"'],
  ['onDemand', 'onDemand = true'],
] as const) {
  test(`proxy.workers = 2 with ${name}: accepted`, () => {
    const c = parseConfig(`[proxy]\nworkers = 2\n${TLS}[acme]\n${challenge}`, FILE);
    assert.equal(c.proxy.workers, 2);
  });
}

for (const mode of ['haproxy', 'nginx'] as const) {
  test(`proxy.workers unset in ${mode} mode: accepted (the CPU-count default is native's)`, () => {
    assert.equal(parseConfig(`[proxy]\nmode = "${mode}"`, FILE).proxy.workers, undefined);
  });
  test(`proxy.workers = 1 in ${mode} mode: accepted`, () => {
    assert.equal(parseConfig(`[proxy]\nmode = "${mode}"\nworkers = 1`, FILE).proxy.workers, 1);
  });
}

test('proxy.workers = 4 in native mode, with http-01 ACME', () => {
  const c = parseConfig(`[proxy]\nworkers = 4\n${TLS}[acme]\nchallenge = "http-01"`, FILE);
  assert.equal(c.proxy.workers, 4);
});

for (const [name, text, code, message] of [
  ['0', '[proxy]\nworkers = 0', 'PASS_CONFIG_BAD_VALUE', /at least 1/],
  ['above 256', '[proxy]\nworkers = 257', 'PASS_CONFIG_BAD_VALUE', /at most 256/],
  ['a fraction', '[proxy]\nworkers = 1.5', 'PASS_CONFIG_BAD_TYPE', /expected int/],
  ['a string', '[proxy]\nworkers = "2"', 'PASS_CONFIG_BAD_TYPE', /./],
  ['outside native mode', '[proxy]\nworkers = 2\nmode = "haproxy"', 'PASS_CONFIG_BAD_VALUE', /needs proxy\.mode = "native"/],
  ['in nginx mode', '[proxy]\nworkers = 2\nmode = "nginx"', 'PASS_CONFIG_BAD_VALUE', /needs proxy\.mode = "native"/],
] as const) {
  test(`proxy.workers refused: ${name}`, () => {
    const d = refused(text);
    const hit = d.find((x) => x.field === 'proxy.workers');
    assert.ok(hit, JSON.stringify(d));
    assert.equal(hit.code, code);
    assert.match(hit.message, message);
    assert.equal(hit.location?.line, 2);
  });
}

test('createDriver: workers = 1 is the in-thread driver, workers = 2 the worker pool, unset the CPU count', async () => {
  const one = createDriver(parseConfig('[proxy]\nworkers = 1', FILE), silentLogger, {});
  assert.ok(one.driver instanceof NativeDriver);
  const unset = createDriver(parseConfig('', FILE), silentLogger, {});
  const cpus = availableParallelism();
  if (cpus > 1) {
    assert.ok(unset.driver instanceof NativeWorkerPool);
    assert.equal(unset.driver.workers, cpus);
  } else {
    assert.ok(unset.driver instanceof NativeDriver);
  }
  await unset.driver.stop(0);
  // haproxy ignores the default: its driver, no error.
  assert.equal(createDriver(parseConfig('[proxy]\nmode = "haproxy"', FILE), silentLogger, {}).mode, 'haproxy');
  const two = createDriver(parseConfig('[proxy]\nworkers = 2', FILE), silentLogger, {});
  assert.ok(two.driver instanceof NativeWorkerPool);
  assert.equal(two.driver.workers, 2);
  // Nothing starts before the first apply.
  assert.equal(await two.driver.running(), 0);
  await two.driver.stop(0);
  await one.driver.stop(0);
});
