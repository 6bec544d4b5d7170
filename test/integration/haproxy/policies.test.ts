/*
 * Route policies with a real HAProxy: the golden policy model passes haproxy -c; the client an
 * allowlist judges behind trusted proxies is the native proxy's; $apr1$ route users are checked by the
 * controller; route changes through the runtime API carry their policies (none left stale), while
 * a changed policy is a reload; and a canary is chosen as the native proxy's choosesCanary chooses it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { BlockList, isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { verifyHtpasswd } from '../../../src/config/htpasswd.ts';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import { choosesCanary, policyClient } from '../../../src/drivers/native/policy.ts';
import type { RoutePolicy } from '../../../src/model/policy.ts';
import type { Route } from '../../../src/model/types.ts';
import { renderHaproxy } from '../../../src/render/haproxy/index.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { echoes, requireBinary } from './common.ts';
import { policyModel, USERS } from './policy-model.ts';

requireBinary('haproxy');

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const withPolicy = (r: Route, policy: RoutePolicy): Route => ({ ...r, policy });

test('haproxy -c accepts the rendering of a route per policy (the golden haproxy-policies.txt)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-policies-'));
  try {
    const r = renderHaproxy(policyModel(), { workDir: dir });
    for (const f of [r.main, ...r.files]) {
      mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
      writeFileSync(path.join(dir, f.path), f.content);
    }
    spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=default', '-days', '2', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')]);
    const pem = spawnSync('cat', [path.join(dir, 'c.pem'), path.join(dir, 'k.pem')], { encoding: 'utf8' }).stdout;
    writeFileSync(path.join(dir, 'certs/default.pem'), pem);
    const res = spawnSync('haproxy', ['-c', '-f', path.join(dir, r.main.path)], { encoding: 'utf8' });
    assert.equal(res.status, 0, `haproxy refused the policies rendering: ${res.stdout}${res.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('haproxy policies: behind trusted proxies the allowlist judges the client the native proxy judges', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 1000 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const [trusting, plain] = [await freePort(), await freePort()];
  const ranges = ['10.0.0.0/8'];
  await d.apply(
    model({
      entryPoints: [entryPoint('trusting', trusting, { trustedIPs: ['127.0.0.0/8', '192.168.0.0/16'] }), entryPoint('plain', plain)],
      virtualHosts: [vhost('trust.test', [withPolicy(route('/', 'Prefix', 'a'), { allowSourceRange: ranges })])],
      backends: [backend('a', [a!.endpoint()])],
    }),
  );
  const trusted = new BlockList();
  trusted.addSubnet('127.0.0.0', 8);
  trusted.addSubnet('192.168.0.0', 16);
  const allow = new BlockList();
  allow.addSubnet('10.0.0.0', 8);
  const allowed = (ip: string): boolean => allow.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
  const cases: (string | string[] | undefined)[] = [
    undefined,
    '10.1.2.3',
    '10.1.2.3, 192.168.1.1',
    '10.1.2.3, 172.16.0.1',
    '172.16.0.1, 10.1.2.3',
    '10.1.2.3, 127.0.0.5',
    'garbage, 127.0.0.5',
    '10.1.2.3, garbage',
    '192.168.0.1, 127.0.0.2',
    ['10.1.2.3', '192.168.4.4'],
    ['172.16.0.1', '10.9.9.9, 127.0.0.3'],
  ];
  for (const xff of cases) {
    const joined = xff === undefined ? undefined : typeof xff === 'string' ? xff : xff.join(', ');
    const want = allowed(policyClient(trusted, '127.0.0.1', joined)) ? 200 : 403;
    const headers = xff === undefined ? {} : { 'x-forwarded-for': xff };
    assert.equal((await request({ port: trusting, host: 'trust.test', headers })).status, want, `trusted peer, X-Forwarded-For ${JSON.stringify(xff)}`);
    // From a peer the entry point does not trust, X-Forwarded-For changes nothing.
    assert.equal((await request({ port: plain, host: 'trust.test', headers })).status, 403, `untrusted peer, X-Forwarded-For ${JSON.stringify(xff)}`);
  }
});

test('haproxy policies: route basic auth with bcrypt and $apr1$ users (checked by the controller), and the entry point auth checks the same header', async (t) => {
  const apr1 = USERS[1];
  assert.ok(verifyHtpasswd(apr1, 'wonderland'), 'the fixture hash is "wonderland"');
  const d = createHaproxyDriver({ gracePeriodMs: 1000 });
  t.after(() => d.stop(500));
  const [a] = await echoes(t, 'a');
  const [port, guarded] = [await freePort(), await freePort()];
  const users = [{ user: 'alice', hash: bcrypt.hashSync('wonderland', 4) }, apr1];
  await d.apply(
    model({
      entryPoints: [
        entryPoint('web', port),
        entryPoint('guarded', guarded, { middlewares: [{ kind: 'basicAuth', realm: 'ep', users: [{ user: 'bob', hash: bcrypt.hashSync('wonderland', 4) }], removeHeader: true }] }),
      ],
      virtualHosts: [vhost('auth.test', [withPolicy(route('/private', 'Prefix', 'a'), { basicAuth: { realm: 'Private', users, secret: 'default/auth' } }), route('/', 'Prefix', 'a')])],
      backends: [backend('a', [a!.endpoint()])],
    }),
  );
  const ask = (p: number, authorization?: string) => request({ port: p, host: 'auth.test', path: '/private', headers: authorization === undefined ? {} : { authorization } });
  assert.equal((await ask(port)).status, 401);
  assert.equal((await ask(port)).headers['www-authenticate'], 'Basic realm="Private"');
  assert.equal((await ask(port, basic('bob', 'nope'))).status, 401, 'a wrong $apr1$ password');
  const ok = await ask(port, basic('bob', 'wonderland'));
  assert.equal(ok.status, 200, 'the controller checks the $apr1$ user');
  assert.equal(echoOf(ok).headers.authorization, undefined, 'the credentials are not passed on');
  assert.equal((await ask(port, basic('alice', 'wonderland'))).status, 200);
  // The entry point asks for bob's password, the route for its own users: the same header must pass both.
  assert.equal((await ask(guarded, basic('bob', 'wonderland'))).status, 200, 'bob is a user of both');
  assert.equal((await ask(guarded, basic('alice', 'wonderland'))).status, 401, 'alice is not a user of the entry point');
  assert.equal((await request({ port: guarded, host: 'auth.test', path: '/x', headers: { authorization: basic('bob', 'wonderland') } })).status, 200);
});

test('haproxy policies: routes change through the runtime API with their policies (none left stale); a changed policy is a reload', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 1000 });
  t.after(() => d.stop(500));
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  const office: RoutePolicy = { allowSourceRange: ['10.0.0.0/8'] };
  const build = (routes: Route[], pool = a!) =>
    model({ entryPoints: [entryPoint('web', port)], virtualHosts: [vhost('rt.test', routes)], backends: [backend('a', [pool.endpoint()]), backend('b', [b!.endpoint()])] });
  const status = async (p: string): Promise<number> => (await request({ port, host: 'rt.test', path: p })).status;
  await d.apply(build([withPolicy(route('/office', 'Prefix', 'a'), office), withPolicy(route('/closed', 'Prefix', 'a'), office), route('/', 'Prefix', 'a')]));
  assert.equal(await status('/office'), 403);
  assert.equal(await status('/closed'), 403);
  const reloads = d.reloads;
  // /closed opens while /office keeps the policy; /new takes it; /office moves to another backend.
  await d.apply(build([withPolicy(route('/office', 'Prefix', 'b'), office), route('/closed', 'Prefix', 'a'), withPolicy(route('/new', 'Prefix', 'a'), office), route('/', 'Prefix', 'a')]));
  assert.equal(d.reloads, reloads, 'the same policies: the routing map alone changed');
  assert.equal(d.lastApply, 'runtime');
  assert.equal(await status('/closed'), 200, 'a route that lost its policy is served');
  assert.equal(await status('/new'), 403, 'a route that took an existing policy enforces it at once');
  assert.equal(await status('/office'), 403, 'a route moved to another backend keeps its policy');
  // ssl-redirect alone lives in the map too.
  await d.apply(build([withPolicy(route('/office', 'Prefix', 'b'), office), withPolicy(route('/closed', 'Prefix', 'a'), { ...office, sslRedirect: { status: 308 } }), route('/', 'Prefix', 'a')]));
  assert.equal(d.reloads, reloads);
  assert.equal(await status('/closed'), 403, 'no TLS entry point: nowhere to redirect, the allowlist applies');
  // A changed policy is a new one: a reload.
  await d.apply(build([withPolicy(route('/office', 'Prefix', 'b'), { allowSourceRange: ['127.0.0.0/8'] }), route('/', 'Prefix', 'a')]));
  assert.equal(d.reloads, reloads + 1);
  assert.equal(await status('/office'), 200);
  assert.equal(echoOf(await request({ port, host: 'rt.test', path: '/office' })).id, 'b');
});

test('haproxy policies: a canary is chosen as the native proxy chooses it (header, then cookie, then weight)', async (t) => {
  const d = createHaproxyDriver({ gracePeriodMs: 1000 });
  t.after(() => d.stop(500));
  const [main, next] = await echoes(t, 'main', 'next');
  const port = await freePort();
  const canaries: Record<string, NonNullable<RoutePolicy['canary']>> = {
    '/hc': { backend: 'default/next:80', header: 'X-Canary', cookie: 'canary' },
    '/value': { backend: 'default/next:80', header: 'X-Canary', headerValue: "blue 'v2', beta", cookie: 'canary' },
    '/cookie': { backend: 'default/next:80', cookie: 'canary', weight: 100 },
    '/none': { backend: 'default/next:80', header: 'X-Canary', weight: 0 },
  };
  await d.apply(
    model({
      entryPoints: [entryPoint('web', port)],
      virtualHosts: [
        vhost('canary.test', [
          ...Object.entries(canaries).map(([p, canary]) => withPolicy(route(p, 'Prefix', 'main'), { canary })),
          withPolicy(route('/half', 'Prefix', 'main'), { canary: { backend: 'default/next:80', weight: 50 } }),
        ]),
      ],
      backends: [backend('main', [main!.endpoint()]), backend('next', [next!.endpoint()])],
    }),
  );
  const cases: Record<string, string | string[]>[] = [
    {},
    { 'x-canary': 'always' },
    { 'x-canary': 'never' },
    { 'x-canary': 'Always' },
    { 'x-canary': 'always,never' },
    { 'x-canary': ['always', 'always'] },
    { 'x-canary': "blue 'v2', beta" },
    { 'x-canary': "blue 'v2'" },
    { 'x-canary': 'never', cookie: 'canary=always' },
    { 'x-canary': 'other', cookie: 'canary=always' },
    { 'x-canary': 'always', cookie: 'canary=never' },
    { cookie: 'canary=always' },
    { cookie: 'canary=never' },
    { cookie: 'a=1; canary=always; b=2' },
    { cookie: 'xcanary=always' },
    { cookie: 'canary=alwaysx' },
  ];
  for (const [p, canary] of Object.entries(canaries)) {
    for (const headers of cases) {
      const joined = (name: string): string | undefined => {
        const v = headers[name.toLowerCase()];
        return Array.isArray(v) ? v.join(', ') : v;
      };
      const want = choosesCanary(canary, joined, joined('cookie'), 50) ? 'next' : 'main';
      const got = echoOf(await request({ port, host: 'canary.test', path: p, headers })).id;
      assert.equal(got, want, `${p} with ${JSON.stringify(headers)}`);
    }
  }
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) seen.add(echoOf(await request({ port, host: 'canary.test', path: '/half' })).id);
  assert.deepEqual([...seen].sort(), ['main', 'next'], 'weight 50: both backends serve');
});
