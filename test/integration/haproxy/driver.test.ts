import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { generate } from 'selfsigned';
import type { Certificate, Endpoint } from '../../../src/model/types.ts';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import { haproxyCommand } from '../../../src/drivers/haproxy/socket.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { spawn } from 'node:child_process';
import { echoes, requireBinary, scenarios, sidecarMode, templatesWatched } from './common.ts';

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
  // The file on disk follows, so a later reload starts from the right addresses; an address only
  // ever comes back to its own slot (a client session may hold a connection to a slot).
  const config = readFileSync(d.configFile, 'utf8');
  assert.match(config, new RegExp(`server s\\d+ ${c!.host.replace(/\./g, '\\.')}:${c!.port} weight 1\n`));
  assert.match(config, new RegExp(`server s1 ${a!.host.replace(/\./g, '\\.')}:${a!.port} weight 1 disabled\n`));
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

test('haproxy: a change in the user template folder re-renders and re-applies; a broken template is refused', (t) =>
  templatesWatched(t, (templates) => createHaproxyDriver({ templates, gracePeriodMs: 2000 }), {
    file: 'haproxy/special.hbs',
    content: readFileSync(path.join(import.meta.dirname, '../../fixtures/render/templates/haproxy/special.hbs'), 'utf8'),
  }));

test('haproxy: sidecar mode writes files and reloads a proxy started apart through the shared master socket', (t) =>
  sidecarMode(
    t,
    (workDir) => createHaproxyDriver({ workDir, reload: 'sidecar', gracePeriodMs: 2000 }),
    (workDir) => spawn('haproxy', ['-W', '-S', `${workDir}/haproxy-master.sock,mode,600`, '-f', `${workDir}/haproxy.cfg`], { stdio: 'ignore' }),
  ));

async function cert(id: string, host: string): Promise<Certificate> {
  const pems = await generate([{ name: 'commonName', value: `${host} ${id}` }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: host }] }] });
  return { id, hosts: [host], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: id.split('/')[1] ?? id } };
}

function served(port: number, servername: string): Promise<{ cn: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate();
      const cn = peer.subject?.CN ?? '';
      socket.end();
      resolve({ cn: Array.isArray(cn) ? cn.join(',') : cn, fingerprint: peer.fingerprint256 });
    });
    socket.on('error', reject);
  });
}

async function servedCN(port: number, servername: string): Promise<string> {
  return (await served(port, servername)).cn;
}

test('haproxy: certificates are added, renewed and removed through the runtime API, without a reload', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  const build = (certs: Certificate[]) =>
    model({
      entryPoints: [entryPoint('https', port, { tls: true })],
      virtualHosts: [vhost('one.test', [route('/', 'Prefix', 'a')]), vhost('two.test', [route('/', 'Prefix', 'a')])],
      backends: [backend('a', [a!.endpoint()])],
      certificates: certs,
    });
  const one = await cert('default/one', 'one.test');
  await d.apply(build([one]));
  assert.equal(await servedCN(port, 'one.test'), 'one.test default/one');
  assert.equal(await servedCN(port, 'two.test'), 'PASSERELLE DEFAULT CERT');
  const two = await cert('default/two', 'two.test');
  await d.apply(build([one, two]));
  assert.equal(await servedCN(port, 'two.test'), 'two.test default/two', 'a new certificate is served');
  const first = await served(port, 'two.test');
  const renewed = await cert('default/two', 'two.test');
  await d.apply(build([one, renewed]));
  const again = await served(port, 'two.test');
  assert.equal(again.cn, 'two.test default/two');
  assert.notEqual(again.fingerprint, first.fingerprint, 'the renewed certificate is served');
  await d.apply(build([{ ...renewed }]));
  assert.equal(await servedCN(port, 'one.test'), 'PASSERELLE DEFAULT CERT', 'a removed certificate is no longer served');
  assert.equal(await servedCN(port, 'two.test'), 'two.test default/two');
  assert.equal(echoOf(await request({ port, tls: true, host: 'two.test' })).id, 'a');
  assert.equal(d.reloads, 0);
  assert.equal(d.runtimeUpdates, 3);
});
