import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import type { Certificate } from '../../../src/model/types.ts';
import type { Logger } from '../../../src/shared/logger.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { cert, served } from '../certs.ts';
import { echoes, requireBinary } from '../haproxy/common.ts';

requireBinary('nginx');

/** A driver whose "configuration applied" log lines (with their phases) are kept in `applied`. */
function driver(): { d: ReturnType<typeof createNginxDriver>; applied: Record<string, unknown>[] } {
  const applied: Record<string, unknown>[] = [];
  const logger: Logger = {
    debug() {},
    info(obj) {
      if (typeof (obj as Record<string, unknown>)['renderMs'] === 'number') applied.push(obj as Record<string, unknown>);
    },
    warn() {},
    error() {},
    child: () => logger,
  };
  return { d: createNginxDriver({ gracePeriodMs: 2000, workerProcesses: 1, logger }), applied };
}

const good = await cert('default/good', 'good.test');
const other = await cert('default/other', 'other.test');
/** `n` distinct pairs of one certificate and key (a comment line after the PEM block makes each its own), for the hosts c<i>.test. */
const many = (n: number, change: ReadonlyMap<number, Partial<Certificate>> = new Map()): Certificate[] =>
  Array.from({ length: n }, (_, i) => ({
    ...good,
    id: `default/c${i}`,
    hosts: [`c${i}.test`],
    certPem: `${good.certPem.trimEnd()}\n# ${i}\n`,
    source: { kind: 'Secret', namespace: 'default', name: `c${i}` },
    ...change.get(i),
  }));

test('nginx: a first start with 600 certificates checks them on worker threads while it renders and writes, and validates during the writes', async (t) => {
  const { d, applied } = driver();
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const [http, https] = [await freePort(), await freePort()];
  const hosts = [0, 300, 599].map((i) => vhost(`c${i}.test`, [route('/', 'Prefix', 'a')], `default/c${i}`));
  await d.apply(model({ entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })], virtualHosts: hosts, backends: [backend('a', [a!.endpoint()])], certificates: many(600) }));
  assert.equal(applied[0]?.['validateOverlapped'], true);
  assert.equal(d.validations, 1);
  assert.equal((d.current?.diagnostics ?? []).some((x) => x.code === 'PASS_NGINX_CERTIFICATE'), false);
  for (const i of [0, 300, 599]) assert.equal((await served(https, `c${i}.test`)).cn, 'good.test default/good');
  assert.equal(existsSync(path.join(d.workDir, 'certs/default_c451.pem')), true);
});

test('nginx: a first start with 600 certificates, 3 of which do not load: they are left out with an error each, their files gone before nginx starts', async (t) => {
  const { d, applied } = driver();
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const [http, https] = [await freePort(), await freePort()];
  const brokenPem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const bad = new Map<number, Partial<Certificate>>([
    [7, { keyPem: other.keyPem }],
    [300, { certPem: brokenPem }],
    [599, { keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }],
  ]);
  const certificates = many(600, bad);
  const hosts = [0, 7, 8, 300, 599].map((i) => vhost(`c${i}.test`, [route('/', 'Prefix', 'a')], `default/c${i}`));
  await d.apply(model({ entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })], virtualHosts: hosts, backends: [backend('a', [a!.endpoint()])], certificates }));

  // A guess was wrong: the validator that ran during the writes was stopped, and ran once on the rendering with the answers.
  assert.equal(applied.length, 1);
  assert.equal(applied[0]?.['validateOverlapped'], undefined);
  assert.equal(d.validations, 1);
  const named = (d.current?.diagnostics ?? []).filter((x) => x.code === 'PASS_NGINX_CERTIFICATE');
  assert.deepEqual(named.map((x) => [x.severity, x.object]), [
    ['error', { kind: 'Secret', namespace: 'default', name: 'c7' }],
    ['error', { kind: 'Secret', namespace: 'default', name: 'c300' }],
    ['error', { kind: 'Secret', namespace: 'default', name: 'c599' }],
  ]);
  assert.match(named[0]?.message ?? '', /"default\/c7".*private key does not match/);
  assert.match(named[1]?.message ?? '', /"default\/c300".*does not load/);
  for (const i of bad.keys()) {
    assert.equal(existsSync(path.join(d.workDir, `certs/default_c${i}.pem`)), false, `the file of c${i} is gone`);
    assert.equal(readFileSync(d.configFile, 'utf8').includes(`default_c${i}.pem`), false, `nginx.conf does not name c${i}'s file`);
  }
  assert.equal(existsSync(path.join(d.workDir, 'certs/default_c598.pem')), true);
  // Served: each good pair by SNI, the default certificate for the hosts of the left-out ones.
  const dflt = await served(https, 'nowhere.test');
  for (const i of [0, 8]) assert.equal((await served(https, `c${i}.test`)).cn, 'good.test default/good');
  for (const i of bad.keys()) assert.equal((await served(https, `c${i}.test`)).fingerprint, dflt.fingerprint, `c${i} gets the default certificate`);
  assert.equal(echoOf(await request({ port: https, tls: true, host: 'c7.test' })).id, 'a');
});
