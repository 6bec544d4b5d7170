import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { generate } from 'selfsigned';
import type { Certificate, Endpoint, RoutingModel } from '../../../src/model/types.ts';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import type { HaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import { canMapPayload, canPemPayload } from '../../../src/drivers/haproxy/runtime.ts';
import { haproxyCommand } from '../../../src/drivers/haproxy/socket.ts';
import { ROUTES_MAP } from '../../../src/render/haproxy/index.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { echoes, requireBinary } from './common.ts';

requireBinary('haproxy');

const sock = (d: HaproxyDriver): string => path.join(d.workDir, 'haproxy.sock');

/** `show servers state` of one backend, by server name: address, port, user weight, admin state. */
async function serversState(d: HaproxyDriver, be: string): Promise<Map<string, { addr: string; port: number; weight: number; admin: number }>> {
  const out = await haproxyCommand(sock(d), `show servers state ${be}`);
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('# be_id'))?.slice(2).split(' ') ?? [];
  const col = (name: string): number => {
    const i = header.indexOf(name);
    assert.ok(i >= 0, `show servers state has a ${name} column: ${header.join(' ')}`);
    return i;
  };
  const states = new Map<string, { addr: string; port: number; weight: number; admin: number }>();
  for (const l of lines) {
    if (l.startsWith('#') || /^\d+$/.test(l.trim())) continue;
    const f = l.split(' ');
    states.set(f[col('srv_name')] ?? '', { addr: f[col('srv_addr')] ?? '', port: Number(f[col('srv_port')]), weight: Number(f[col('srv_uweight')]), admin: Number(f[col('srv_admin_state')]) });
  }
  return states;
}

/** The server lines of a backend in the rendered file on disk: name, address, weight, disabled. */
function serversOfConfig(d: HaproxyDriver, be: string): Map<string, { addr: string; port: number; weight: number; disabled: boolean }> {
  const config = d.current?.main.content ?? '';
  const section = config.split(/\n(?=backend |frontend )/).find((s) => s.startsWith(`backend ${be}\n`)) ?? '';
  const servers = new Map<string, { addr: string; port: number; weight: number; disabled: boolean }>();
  for (const m of section.matchAll(/^\s*server (\S+) (\S+):(\d+) weight (\d+)(.*)$/gm)) {
    servers.set(m[1] ?? '', { addr: m[2] ?? '', port: Number(m[3]), weight: Number(m[4]), disabled: / disabled\b/.test(m[5] ?? '') });
  }
  return servers;
}

/** HAProxy's server admin flags (src/server.h): forced maintenance, and every maintenance that stops a server. */
const SRV_ADMF_FMAINT = 0x01;
const SRV_ADMF_MAINT = 0x23;

/** The runtime state of a backend's servers matches the file rendered from the model. */
async function assertServersMatch(d: HaproxyDriver, be: string): Promise<void> {
  const want = serversOfConfig(d, be);
  assert.ok(want.size > 0, `the configuration has servers in ${be}`);
  const live = await serversState(d, be);
  for (const [name, w] of want) {
    const l = live.get(name);
    assert.ok(l !== undefined, `server ${be}/${name} runs`);
    if (w.disabled) {
      assert.notEqual(l.admin & SRV_ADMF_FMAINT, 0, `${be}/${name} is in maintenance`);
      continue;
    }
    // CMAINT (0x04) only recalls that the file started the slot disabled; FMAINT, IMAINT, RMAINT stop it.
    assert.deepEqual({ addr: l.addr, port: l.port, weight: l.weight, maint: l.admin & SRV_ADMF_MAINT }, { addr: w.addr, port: w.port, weight: w.weight, maint: 0 }, `${be}/${name}`);
  }
}

/** `show map` of a runtime map, as the `key value` lines of a map file, sorted. */
async function liveMap(d: HaproxyDriver, file: string): Promise<string[]> {
  const out = await haproxyCommand(sock(d), `show map ${path.join(d.workDir, file)}`);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^0x[0-9a-f]+ /, ''))
    .sort();
}

function renderedMap(d: HaproxyDriver, file: string): string[] {
  const content = d.current?.files.find((f) => f.path === file)?.content ?? '';
  return content
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

async function cert(id: string, host: string): Promise<Certificate> {
  const pems = await generate([{ name: 'commonName', value: `${host} ${id}` }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: host }] }] });
  return { id, hosts: [host], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: id.split('/')[1] ?? id } };
}

function servedFingerprint(port: number, servername: string): Promise<{ cn: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate();
      const cn = peer.subject?.CN ?? '';
      socket.end();
      resolve({ cn: Array.isArray(cn) ? cn.join(',') : cn, serial: peer.serialNumber.toUpperCase() });
    });
    socket.on('error', reject);
  });
}

/** Serial of a PEM certificate, hexadecimal upper case without leading zeros (as HAProxy shows it). */
function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toUpperCase().replace(/^0+/, '');
}

test('haproxy runtime: an endpoint change is applied without haproxy -c nor a reload; show servers state matches the model', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a, b, c] = await echoes(t, 'a', 'b', 'c');
  const port = await freePort();
  const build = (eps: readonly Endpoint[]): RoutingModel =>
    model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('rv.test', [route('/', 'Prefix', 'pool')])], backends: [backend('pool', eps)] });
  await d.apply(build([a!.endpoint()]));
  assert.equal(d.validations, 1, 'the first configuration is validated');
  await assertServersMatch(d, 'be_default.pool:80');
  const times: number[] = [];
  const steps: Endpoint[][] = [[b!.endpoint(), c!.endpoint()], [{ ...c!.endpoint(), weight: 7 }], [], [a!.endpoint(), c!.endpoint()]];
  for (const eps of steps) {
    const started = performance.now();
    await d.apply(build(eps));
    times.push(performance.now() - started);
    await assertServersMatch(d, 'be_default.pool:80');
  }
  t.diagnostic(`endpoint change applies (ms): ${times.map((x) => x.toFixed(1)).join(', ')}`);
  assert.equal(d.validations, 1, 'no validation for runtime-only changes');
  assert.equal(d.reloads, 0);
  assert.equal(d.runtimeUpdates, 4);
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(echoOf(await request({ port, host: 'rv.test' })).id);
  assert.deepEqual([...seen].sort(), ['a', 'c']);
  // A structural change (a new Service) is validated, then reloaded; the slots keep matching.
  const [n] = await echoes(t, 'n');
  await d.apply(model({
    entryPoints: [entryPoint('http', port)],
    virtualHosts: [vhost('rv.test', [route('/', 'Prefix', 'pool'), route('/n', 'Prefix', 'new')])],
    backends: [backend('pool', [a!.endpoint(), c!.endpoint()]), backend('new', [n!.endpoint()])],
  }));
  assert.equal(d.validations, 2, 'a structural change is validated');
  assert.equal(d.reloads, 1);
  assert.equal(echoOf(await request({ port, host: 'rv.test', path: '/n/x' })).id, 'n');
  await assertServersMatch(d, 'be_default.pool:80');
});

test('haproxy runtime: a routing map change is applied without haproxy -c nor a reload; show map matches the rendered map', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  const backends = [backend('a', [a!.endpoint()]), backend('b', [b!.endpoint()])];
  // An Exact route and a wildcard host from the start: the configuration then has their lookups
  // (the first of either kind is a reload: a lookup nothing could answer is not written).
  await d.apply(model({ entryPoints: [entryPoint('http', port)], virtualHosts: [vhost('m.test', [route('/', 'Prefix', 'a'), route('/old', 'Prefix', 'b'), route('/e0', 'Exact', 'a')]), vhost('*.v.test', [route('/', 'Prefix', 'a')])], backends }));
  assert.deepEqual(await liveMap(d, ROUTES_MAP), renderedMap(d, ROUTES_MAP));
  assert.equal(echoOf(await request({ port, host: 'm.test', path: '/old/x' })).id, 'b');
  const validations = d.validations;
  // New paths, an Exact route and a new wildcard host: map entries only.
  await d.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      // `/p` is listed before `/p/q` in the map file: map_beg must still find the longest key.
      virtualHosts: [
        vhost('m.test', [route('/', 'Prefix', 'a'), route('/new/deep/er', 'Prefix', 'b'), route('/exact', 'Exact', 'b'), route('/e0', 'Exact', 'a'), route('/p', 'Prefix', 'b'), route('/p/q', 'Prefix', 'a')]),
        vhost('*.v.test', [route('/', 'Prefix', 'a')]),
        vhost('*.w.test', [route('/', 'Prefix', 'b')]),
      ],
      backends,
    }),
  );
  assert.equal(d.validations, validations, 'no validation for a routing map change');
  assert.equal(d.reloads, 0);
  assert.equal(d.runtimeUpdates, 1);
  assert.deepEqual(await liveMap(d, ROUTES_MAP), renderedMap(d, ROUTES_MAP));
  const who = async (host: string, p: string): Promise<string> => {
    const r = await request({ port, host, path: p });
    return r.status === 200 ? echoOf(r).id : String(r.status);
  };
  assert.equal(await who('m.test', '/old/x'), 'a', 'the old prefix is gone');
  assert.equal(await who('m.test', '/new/deep/er/x'), 'b');
  assert.equal(await who('m.test', '/new/deep'), 'a');
  assert.equal(await who('m.test', '/exact'), 'b');
  assert.equal(await who('m.test', '/exact/x'), 'a');
  assert.equal(await who('m.test', '/p/q/r'), 'a', 'the longest prefix wins');
  assert.equal(await who('m.test', '/p/q'), 'a');
  assert.equal(await who('m.test', '/p/qr'), 'b', 'element-wise: /p/q does not prefix /p/qr');
  assert.equal(await who('m.test', '/p'), 'b');
  assert.equal(await who('m.test', '/pq'), 'a');
  assert.equal(await who('x.w.test', '/'), 'b');
  assert.equal(await who('y.x.w.test', '/'), '404');
  assert.equal(await who('other.test', '/'), '404');
});

test('haproxy runtime: certificate changes are applied without haproxy -c nor a reload; show ssl cert matches the model', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 2000 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  const build = (certs: Certificate[]): RoutingModel =>
    model({
      entryPoints: [entryPoint('https', port, { tls: true })],
      virtualHosts: [vhost('one.test', [route('/', 'Prefix', 'a')]), vhost('two.test', [route('/', 'Prefix', 'a')])],
      backends: [backend('a', [a!.endpoint()])],
      certificates: certs,
    });
  const one = await cert('default/one', 'one.test');
  await d.apply(build([one]));
  const validations = d.validations;
  const two = await cert('default/two', 'two.test');
  const renewed = await cert('default/one', 'one.test');
  await d.apply(build([one, two]));
  await d.apply(build([renewed, two]));
  assert.equal(d.validations, validations, 'no validation for certificate changes');
  assert.equal(d.reloads, 0);
  assert.equal(d.runtimeUpdates, 2);
  for (const [c, host] of [[renewed, 'one.test'], [two, 'two.test']] as const) {
    const file = path.join(d.workDir, `certs/${c.id.replace('/', '_')}.pem`);
    const shown = await haproxyCommand(sock(d), `show ssl cert ${file}`);
    assert.match(shown, new RegExp(`Serial: 0*${serialOf(c.certPem)}\\n`), `show ssl cert ${file}: ${shown}`);
    assert.match(shown, new RegExp(`Subject: /CN=${host} ${c.id}\\n`));
    const served = await servedFingerprint(port, host);
    assert.equal(served.cn, `${host} ${c.id}`);
    assert.equal(served.serial.replace(/^0+/, ''), serialOf(c.certPem));
  }
  // HAProxy 2.6 writes a NUL after the ALPN list.
  const list = (await haproxyCommand(sock(d), `show ssl crt-list ${path.join(d.workDir, 'certs/crt-list.txt')}`)).replace(/\0/g, '');
  assert.match(list, /default_one\.pem \[alpn h2,http\/1\.1\] one\.test\n/);
  assert.match(list, /default_two\.pem \[alpn h2,http\/1\.1\] two\.test\n/);
  assert.equal(echoOf(await request({ port, tls: true, host: 'two.test' })).id, 'a');
  // A PEM the CLI payload cannot carry as it is (an empty line would end it): validated and reloaded instead.
  const other = await cert('default/x', 'x.test');
  await d.apply(build([renewed, { ...two, certPem: `${two.certPem.trimEnd()}\n\n${other.certPem}` }]));
  assert.equal(d.validations, validations + 1);
  assert.equal(d.reloads, 1);
  assert.equal((await servedFingerprint(port, 'two.test')).cn, 'two.test default/two');
});

test('haproxy runtime: payloads are checked before anything is sent', () => {
  assert.ok(canMapPayload('h:a.test v0\nv0/ be_default.a:80\n'));
  assert.ok(!canMapPayload('h:a.test v0\n\nshow info\n'.replace('\n\n', '\n \n')));
  assert.ok(!canMapPayload('key\n'));
  const pem = '-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n';
  assert.ok(canPemPayload(pem));
  assert.ok(!canPemPayload(`${pem}\n${pem}`), 'an empty line ends a CLI payload');
  assert.ok(!canPemPayload(`${pem}show info\n`));
});
