import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Endpoint } from '../../../src/model/types.ts';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import { haproxyCommand } from '../../../src/drivers/haproxy/socket.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { echoes, requireBinary, scenarios } from './common.ts';

requireBinary('haproxy');
const s = scenarios(() => createHaproxyDriver({ gracePeriodMs: 3000 }));

test('haproxy: host maps, element-wise prefixes, Exact, wildcard of one label, default backend', (t) => s['routing']!(t));
test('haproxy: 20 reloads through the master socket under a request stream lose no request', (t) => s['reloadWithoutLoss']!(t));
test('haproxy: a configuration haproxy -c refuses is never applied; the old one keeps serving', (t) => s['validationFailureKeepsServing']!(t));

test('haproxy: endpoint changes go through the runtime API into server slots, without a reload', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a, b, c] = await echoes(t, 'a', 'b', 'c');
  const port = await freePort();
  const build = (eps: readonly { endpoint(): Endpoint }[]) =>
    model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('rt.test', [route('/', 'Prefix', 'pool')])], backends: [backend('pool', eps.map((e) => e.endpoint()))] });
  await d.apply(build([a!]));
  const pidBefore = /Pid: (\d+)/.exec(await haproxyCommand(path.join(d.workDir, 'haproxy.sock'), 'show info'))?.[1];
  assert.equal(echoOf(await request({ port, host: 'rt.test' })).id, 'a');
  await d.apply(build([b!, c!]));
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(echoOf(await request({ port, host: 'rt.test' })).id);
  assert.deepEqual([...seen].sort(), ['b', 'c']);
  await d.apply(build([]));
  assert.equal((await request({ port, host: 'rt.test' })).status, 503);
  await d.apply(build([c!]));
  assert.equal(echoOf(await request({ port, host: 'rt.test' })).id, 'c');
  assert.equal(d.reloads, 0, 'no reload for endpoint changes');
  assert.equal(d.runtimeUpdates, 3);
  const pidAfter = /Pid: (\d+)/.exec(await haproxyCommand(path.join(d.workDir, 'haproxy.sock'), 'show info'))?.[1];
  assert.equal(pidAfter, pidBefore, 'the same worker serves');
  // The file on disk follows, so a later reload starts from the right addresses.
  assert.match(readFileSync(d.configFile, 'utf8'), new RegExp(`server s1 ${c!.host.replace(/\./g, '\\.')}:${c!.port} `));
  // More endpoints than slots: a reload.
  const many = await echoes(t, ...Array.from({ length: 5 }, (_, i) => `m${i}`));
  await d.apply(build(many));
  assert.equal(d.reloads, 1);
  const ids = new Set<string>();
  for (let i = 0; i < 15; i++) ids.add(echoOf(await request({ port, host: 'rt.test' })).id);
  assert.equal(ids.size, 5);
});

test('haproxy: an unchanged model is skipped by checksum; certificates are written 0600', async (t) => {
  const d = createHaproxyDriver({});
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  const m = model({ entryPoints: [entryPoint('https', port, { tls: true })], virtualHosts: [vhost('c.test', [route('/', 'Prefix', 'a')])], backends: [backend('a', [a!.endpoint()])] });
  await d.apply(m);
  await d.apply(m);
  assert.equal(d.skipped, 1);
  assert.equal(statSync(path.join(d.workDir, 'certs/default.pem')).mode & 0o777, 0o600);
  const r = await request({ port, tls: true, host: 'c.test' });
  assert.equal(echoOf(r).id, 'a');
});
