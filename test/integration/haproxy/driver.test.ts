import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import type { RequestRecord } from '../../../src/drivers/types.ts';
import type { Backend, Certificate, Endpoint } from '../../../src/model/types.ts';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import { haproxyCommand } from '../../../src/drivers/haproxy/socket.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import type { Echo } from '../../behaviour/harness.ts';
import { spawn } from 'node:child_process';
import { echoes, requireBinary, scenarios, sidecarMode, templatesWatched } from './common.ts';
import { cert, served, servedCN } from '../certs.ts';

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
  // The old worker may still answer a request on a connection it holds (soft stop): c, never another.
  const fresh = many.map((m) => m.id);
  assert.deepEqual([...ids].filter((id) => fresh.includes(id)).sort(), [...fresh].sort());
  assert.deepEqual([...ids].filter((id) => !fresh.includes(id) && id !== 'c'), []);
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

test('haproxy: a route to a missing Service says so; as the Service appears and goes, the answer follows through the runtime API', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  const build = (svc: Backend) => model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('svc.test', [route('/', 'Prefix', 'svc')])], backends: [svc] });
  const missing: Backend = { ...backend('svc', []), unresolved: 'service' };
  await d.apply(build(missing));
  const pid = async (): Promise<string | undefined> => /Pid: (\d+)/.exec(await haproxyCommand(path.join(d.workDir, 'haproxy.sock'), 'show info'))?.[1];
  const pidBefore = await pid();
  const text = async (): Promise<string> => {
    const r = await request({ port, host: 'svc.test' });
    assert.equal(r.status, 503);
    return r.text;
  };
  assert.equal(await text(), 'Service Unavailable: the Service of this route does not exist');
  assert.equal(readFileSync(path.join(d.workDir, 'maps/unavailable.map'), 'utf8'), 'be_default.svc:80 the Service of this route does not exist\n');
  // The Service appears with an endpoint: served, through the runtime API.
  await d.apply(build(backend('svc', [a!.endpoint()])));
  assert.equal(echoOf(await request({ port, host: 'svc.test' })).id, 'a');
  assert.equal(readFileSync(path.join(d.workDir, 'maps/unavailable.map'), 'utf8'), '');
  // It goes again, then comes back without endpoints, then with a port it does not have.
  await d.apply(build(missing));
  assert.equal(await text(), 'Service Unavailable: the Service of this route does not exist');
  await d.apply(build(backend('svc', [])));
  assert.equal(await text(), 'Service Unavailable: no endpoint is ready');
  await d.apply(build({ ...backend('svc', []), unresolved: 'port' }));
  assert.equal(await text(), 'Service Unavailable: the Service of this route has no such port');
  await d.apply(build(backend('svc', [a!.endpoint()])));
  assert.equal(echoOf(await request({ port, host: 'svc.test' })).id, 'a');
  assert.equal(d.reloads, 0, 'no reload');
  assert.equal(d.runtimeUpdates, 5);
  assert.equal(await pid(), pidBefore, 'the same worker serves');
});

/** An HTTPS request from a chosen loopback address (the client address the proxy must keep). */
function httpsFrom(port: number, localAddress: string, headers: Record<string, string> = {}): Promise<Echo> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, localAddress, servername: 'tls.test', rejectUnauthorized: false, agent: false, headers: { host: 'tls.test', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Echo) : reject(new Error(`status ${res.statusCode ?? 0}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a raw connection gets back for `bytes`, until the proxy closes it. */
function rawAnswer(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    let got = '';
    socket.setEncoding('latin1');
    socket.setTimeout(5000, () => socket.destroy(new Error('the proxy did not close the connection')));
    socket.on('data', (c: string) => (got += c));
    socket.on('close', () => resolve(got));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)));
  });
}

test('haproxy: by default a TLS entry point binds ssl itself: plain HTTP gets the connection closed', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  await d.apply(model({ entryPoints: [entryPoint('https', port, { tls: true })], virtualHosts: [vhost('tls.test', [route('/', 'Prefix', 'a')])], backends: [backend('a', [a!.endpoint()])] }));
  assert.doesNotMatch(readFileSync(d.configFile, 'utf8'), /mode tcp|accept-proxy/);
  assert.equal(await rawAnswer(port, 'GET / HTTP/1.1\r\nHost: tls.test\r\n\r\n'), '');
  assert.equal((await httpsFrom(port, '127.0.0.6')).headers['x-forwarded-for'], '127.0.0.6');
});

test('haproxy: answerPlainHttpOnTls: a TCP front answers plain HTTP and keeps the client address for TLS; nothing lost over reloads', async (t) => {
  const records: RequestRecord[] = [];
  const d = createHaproxyDriver({ gracePeriodMs: 2000, observe: (r) => records.push(r), answerPlainHttpOnTls: true });
  t.after(() => d.stop(500));
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  const build = (i: number) =>
    model({
      entryPoints: [entryPoint('https', port, { tls: true, trustedIPs: ['127.0.0.5'] })],
      // A new Service on every apply: a structural change, so a real reload each time.
      virtualHosts: [vhost('tls.test', [route('/', 'Prefix', 'a'), route(`/only-${i}`, 'Exact', `b${i}`)])],
      backends: [backend('a', [a!.endpoint()]), backend(`b${i}`, [b!.endpoint()])],
    });
  await d.apply(build(0));
  // The address of the client, not of the internal hop: in X-Forwarded-For, for the trusted ranges and in the request log.
  const untrusted = await httpsFrom(port, '127.0.0.6', { 'x-forwarded-for': '203.0.113.9' });
  assert.equal(untrusted.headers['x-forwarded-for'], '127.0.0.6');
  assert.equal(untrusted.headers['x-forwarded-proto'], 'https');
  assert.equal(untrusted.headers['x-forwarded-port'], String(port));
  const trusted = await httpsFrom(port, '127.0.0.5', { 'x-forwarded-for': '203.0.113.9' });
  assert.equal(trusted.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.5');
  const deadline = Date.now() + 5000;
  while (records.filter((r) => r.entryPoint === 'https').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    records.filter((r) => r.entryPoint === 'https').map((r) => r.client).sort(),
    ['127.0.0.5', '127.0.0.6'],
    'one record per request, from the frontend that speaks HTTP, with the client address',
  );
  // Plain HTTP: a 400 that says to use https, then the connection closes; nothing logged as a request.
  const plain = await rawAnswer(port, 'GET / HTTP/1.1\r\nHost: tls.test\r\n\r\n');
  assert.match(plain, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(plain, /\r\n\r\nBad Request: this port speaks HTTPS; use https:\/\/ instead of http:\/\/\n$/);
  // Reloads while TLS requests stream (a new connection each): none lost.
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        await httpsFrom(port, '127.0.0.1');
        ok++;
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: 4 }, () => worker());
  const reloadsBefore = d.reloads;
  for (let i = 1; i <= 10; i++) await d.apply(build(i));
  running = false;
  await Promise.all(workers);
  assert.equal(d.reloads - reloadsBefore, 10, 'every apply was a reload');
  assert.deepEqual(failures, [], `${failures.length} failed requests of ${ok + failures.length}: ${[...new Set(failures)].slice(0, 5).join('; ')}`);
  assert.ok(ok > 20, `only ${ok} requests completed`);
  // A certificate still reaches the frontend behind the TCP front through the runtime API.
  const updates = d.runtimeUpdates;
  await d.apply({ ...build(10), certificates: [await cert('default/tls', 'tls.test')] });
  assert.equal(d.runtimeUpdates, updates + 1);
  assert.equal(await servedCN(port, 'tls.test'), 'tls.test default/tls');
});
