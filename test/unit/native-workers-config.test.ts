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

test('proxy.workers: 1 by default (tls-alpn-01 and onDemand do not work across workers yet)', () => {
  assert.equal(parseConfig('', FILE).proxy.workers, 1);
});

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
  ['with tls-alpn-01', `[proxy]\nworkers = 2\n${TLS}[acme]\nchallenge = "tls-alpn-01"`, 'PASS_CONFIG_BAD_ACME', /acme\.challenge = "tls-alpn-01" is not supported with proxy\.workers = 2/],
  ['with onDemand', `[proxy]\nworkers = 2\n${TLS}[acme]\nonDemand = true`, 'PASS_CONFIG_BAD_ACME', /acme\.onDemand is not supported with proxy\.workers = 2/],
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

test('createDriver: workers = 1 is the in-thread driver, workers = 2 the worker pool', async () => {
  const one = createDriver(parseConfig('', FILE), silentLogger, {});
  assert.ok(one.driver instanceof NativeDriver);
  const two = createDriver(parseConfig('[proxy]\nworkers = 2', FILE), silentLogger, {});
  assert.ok(two.driver instanceof NativeWorkerPool);
  assert.equal(two.driver.workers, 2);
  // Nothing starts before the first apply.
  assert.equal(await two.driver.running(), 0);
  await two.driver.stop(0);
  await one.driver.stop(0);
});
