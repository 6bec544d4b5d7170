import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { parseConfig } from '../../src/config/load.ts';
import { entryPointsFromConfig } from '../../src/model/entrypoints.ts';
import type { BasicAuthMiddleware, RedirectMiddleware } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

const redirect = (status: 302 | 308, port: number): RedirectMiddleware => ({ kind: 'redirect', entryPoint: 'https', scheme: 'https', port, status });

test('redirect answers 302 or 308 with a Location keeping host, path and query', async (t) => {
  const h = await Harness.create(t);
  const [site] = await h.echoes('site');
  const [p302, p308, pOdd] = [await freePort(), await freePort(), await freePort()];
  await h.apply(
    model({
      entryPoints: [
        entryPoint('temp', p302, { middlewares: [redirect(302, 443)] }),
        entryPoint('perm', p308, { middlewares: [redirect(308, 443)] }),
        entryPoint('odd', pOdd, { middlewares: [redirect(302, 8443)] }),
      ],
      virtualHosts: [vhost('site.test', [route('/', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  const r302 = await request({ port: p302, host: `site.test:${p302}`, path: '/a/b?x=1&y=2' });
  assert.equal(r302.status, 302);
  assert.equal(r302.headers.location, 'https://site.test/a/b?x=1&y=2');
  const r308 = await request({ port: p308, host: 'site.test', path: '/deep/path/', method: 'POST', body: 'data' });
  assert.equal(r308.status, 308);
  assert.equal(r308.headers.location, 'https://site.test/deep/path/');
  const odd = await request({ port: pOdd, host: 'other.test', path: '/x?q' });
  assert.equal(odd.status, 302);
  assert.equal(odd.headers.location, 'https://other.test:8443/x?q');
});

// The seed's user, plus one user per other accepted hash kind.
const apr1 = { user: 'klefevre', hash: '$apr1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/', password: 'klo98zsd' };
const bcryptUser = { user: 'bob', password: 'b0b-secret', hash: bcrypt.hashSync('b0b-secret', 5).replace(/^\$2b\$/, '$2y$') };
const shaUser = { user: 'sha', password: 'sha-pass', hash: `{SHA}${createHash('sha1').update('sha-pass').digest('base64')}` };

const basicAuth = (removeHeader: boolean): BasicAuthMiddleware => ({
  kind: 'basicAuth',
  realm: 'Passerelle test',
  users: [apr1, bcryptUser, shaUser].map(({ user, hash }) => ({ user, hash })),
  removeHeader,
});

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('basic auth accepts good $apr1$, bcrypt and {SHA} passwords and refuses bad or missing ones', async (t) => {
  const h = await Harness.create(t);
  const [site] = await h.echoes('site');
  const [port, stripPort] = [await freePort(), await freePort()];
  await h.apply(
    model({
      entryPoints: [entryPoint('web', port, { middlewares: [basicAuth(false)] }), entryPoint('strip', stripPort, { middlewares: [basicAuth(true)] })],
      virtualHosts: [vhost('site.test', [route('/', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  for (const u of [apr1, bcryptUser, shaUser]) {
    for (let i = 0; i < 2; i++) {
      // Twice: the second answer may come from the verification cache and must agree.
      const ok = await request({ port, host: 'site.test', headers: { authorization: basic(u.user, u.password) } });
      assert.equal(ok.status, 200, `${u.user} with the right password (try ${i + 1})`);
      assert.equal(echoOf(ok).headers.authorization, basic(u.user, u.password));
    }
    const bad = await request({ port, host: 'site.test', headers: { authorization: basic(u.user, `${u.password}x`) } });
    assert.equal(bad.status, 401, `${u.user} with a wrong password`);
    assert.equal(bad.headers['www-authenticate'], 'Basic realm="Passerelle test"');
  }
  const unknown = await request({ port, host: 'site.test', headers: { authorization: basic('mallory', apr1.password) } });
  assert.equal(unknown.status, 401);
  const missing = await request({ port, host: 'site.test' });
  assert.equal(missing.status, 401);
  assert.equal(missing.headers['www-authenticate'], 'Basic realm="Passerelle test"');
  const garbage = await request({ port, host: 'site.test', headers: { authorization: 'Bearer abc' } });
  assert.equal(garbage.status, 401);

  const stripped = await request({ port: stripPort, host: 'site.test', headers: { authorization: basic(apr1.user, apr1.password) } });
  assert.equal(stripped.status, 200);
  assert.equal(echoOf(stripped).headers.authorization, undefined, 'removeHeader drops Authorization upstream');
});

test('redirect runs before basic auth on the same entry point', async (t) => {
  const h = await Harness.create(t);
  const [site] = await h.echoes('site');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('web', port, { middlewares: [redirect(302, 443), basicAuth(false)] })],
      virtualHosts: [vhost('site.test', [route('/', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  const r = await request({ port, host: 'site.test', path: '/x' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'https://site.test/x');
});

test('ACME HTTP-01 challenges bypass redirect and auth', async (t) => {
  const tokens = new Map([['tok-123', 'tok-123.thumbprint']]);
  const h = await Harness.create(t, { acmeChallenge: (token) => tokens.get(token) });
  const [site] = await h.echoes('site');
  const [redirPort, authPort] = [await freePort(), await freePort()];
  await h.apply(
    model({
      entryPoints: [
        entryPoint('http', redirPort, { middlewares: [redirect(308, 443)] }),
        entryPoint('auth', authPort, { middlewares: [basicAuth(false)] }),
      ],
      virtualHosts: [vhost('site.test', [route('/', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  for (const port of [redirPort, authPort]) {
    const ok = await request({ port, host: 'site.test', path: '/.well-known/acme-challenge/tok-123' });
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'tok-123.thumbprint');
    assert.match(String(ok.headers['content-type']), /^text\/plain/);
    const unknown = await request({ port, host: 'site.test', path: '/.well-known/acme-challenge/nope' });
    assert.equal(unknown.status, 404);
  }
  // Everything else still goes through the middlewares.
  assert.equal((await request({ port: redirPort, host: 'site.test', path: '/.well-known/other' })).status, 308);
  assert.equal((await request({ port: authPort, host: 'site.test', path: '/' })).status, 401);
});

test('publicPort (from TOML): the redirect goes to the port clients connect to, and X-Forwarded-Port is that port', async (t) => {
  const h = await Harness.create(t);
  const [site] = await h.echoes('site');
  const [pHttp, pHttps, pOdd, pTrusted] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // As deploy/base/passerelle.toml: listening on high ports behind something that maps 80 and 443 to them.
  const toml = [
    '[entryPoints.http]',
    `address = "127.0.0.1:${pHttp}"`,
    'publicPort = 80',
    'redirect.entryPoint = "https"',
    '[entryPoints.https]',
    `address = "127.0.0.1:${pHttps}"`,
    'publicPort = 443',
    'tls = {}',
    '[entryPoints.odd]',
    `address = "127.0.0.1:${pOdd}"`,
    'publicPort = 8081',
    '[entryPoints.trusted]',
    `address = "127.0.0.1:${pTrusted}"`,
    'publicPort = 8082',
    'forwardedHeaders.trustedIPs = ["127.0.0.0/8"]',
  ].join('\n');
  await h.apply(
    model({
      entryPoints: entryPointsFromConfig(parseConfig(toml, 'behaviour.toml')),
      virtualHosts: [vhost('site.test', [route('/', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  const redirected = await request({ port: pHttp, host: `site.test:${pHttp}`, path: '/a?b=1' });
  assert.equal(redirected.status, 302);
  assert.equal(redirected.headers.location, 'https://site.test/a?b=1', 'no container port in the Location');

  const cases: { name: string; port: number; tls?: boolean; sent?: string; want: string }[] = [
    { name: 'TLS entry point with publicPort 443', port: pHttps, tls: true, want: '443' },
    { name: 'plain entry point with publicPort 8081', port: pOdd, want: '8081' },
    { name: 'untrusted client: its own X-Forwarded-Port is replaced by the public port', port: pOdd, sent: '9999', want: '8081' },
    { name: 'trusted client without X-Forwarded-Port: the public port', port: pTrusted, want: '8082' },
    { name: 'trusted client: its X-Forwarded-Port is kept', port: pTrusted, sent: '9999', want: '9999' },
  ];
  for (const c of cases) {
    const r = await request({
      port: c.port,
      host: 'site.test',
      ...(c.tls === true ? { tls: true } : {}),
      ...(c.sent === undefined ? {} : { headers: { 'x-forwarded-port': c.sent } }),
    });
    assert.equal(echoOf(r).headers['x-forwarded-port'], c.want, c.name);
  }
});
