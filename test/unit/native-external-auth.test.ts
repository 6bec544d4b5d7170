import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent } from 'undici';
import { AUTH_ERROR, applyAuthHeaders, askExternalAuth, authOutcome, authRequestHeaders, originalUrl, signinLocation } from '../../src/drivers/native/external-auth.ts';
import type { AuthRequestContext } from '../../src/drivers/native/external-auth.ts';
import type { ExternalAuthPolicy } from '../../src/model/policy.ts';

const ctx: AuthRequestContext = {
  scheme: 'https',
  host: 'app.test',
  uri: '/a/b?c=1',
  method: 'PUT',
  forwarded: ['x-forwarded-for', '192.0.2.7', 'x-forwarded-proto', 'https', 'x-real-ip', '192.0.2.7'],
};

test('originalUrl: scheme://host/uri as the client asked', () => {
  assert.equal(originalUrl(ctx), 'https://app.test/a/b?c=1');
  assert.equal(originalUrl({ ...ctx, scheme: 'http', host: 'app.test:8080' }), 'http://app.test:8080/a/b?c=1');
});

test('authRequestHeaders: the client headers without Host, body framing and forgeable names; then the proxy-set ones', () => {
  const client = [
    'Host', 'app.test',
    'Cookie', 'session=1',
    'Authorization', 'Bearer t',
    'Content-Length', '12',
    'Content-Type', 'application/json',
    'X-Original-URL', 'https://evil.test/',
    'x-original-method', 'GET',
    'X-Auth-Request-Redirect', '/evil',
    'X-Real-IP', '10.0.0.1',
    'Accept', 'text/html',
    'Accept', 'application/json',
  ];
  assert.deepEqual(authRequestHeaders(client, ctx), [
    'Cookie', 'session=1',
    'Authorization', 'Bearer t',
    'Content-Type', 'application/json',
    'Accept', 'text/html',
    'Accept', 'application/json',
    'x-original-url', 'https://app.test/a/b?c=1',
    'x-original-method', 'PUT',
    'x-auth-request-redirect', '/a/b?c=1',
    'x-forwarded-for', '192.0.2.7',
    'x-forwarded-proto', 'https',
    'x-real-ip', '192.0.2.7',
  ]);
  assert.deepEqual(client.slice(0, 2), ['Host', 'app.test'], 'the client list is not changed');
});

test('signinLocation: rd= the URL-encoded original URL, after the sign-in URL\'s own query and before its fragment', () => {
  const original = 'https://app.test/a b?c=1&d=é';
  const enc = encodeURIComponent(original);
  assert.equal(signinLocation('https://auth.test/start', original), `https://auth.test/start?rd=${enc}`);
  assert.equal(signinLocation('https://auth.test/start?app=1', original), `https://auth.test/start?app=1&rd=${enc}`);
  assert.equal(signinLocation('https://auth.test/start?', original), `https://auth.test/start?rd=${enc}`);
  assert.equal(signinLocation('https://auth.test/start?app=1#top', original), `https://auth.test/start?app=1&rd=${enc}#top`);
  assert.equal(new URL(signinLocation('https://auth.test/s?x=1', original)).searchParams.get('rd'), original);
});

const policy: ExternalAuthPolicy = { url: 'http://auth.test/check', responseHeaders: ['X-User', 'x-groups', 'X-Missing'] };

test('authOutcome: 2xx allows with the listed headers present in the answer (repeated ones joined)', () => {
  const headers: IncomingHttpHeaders = { 'x-user': 'alice', 'x-groups': ['a', 'b'] as unknown as string, 'x-other': 'no' };
  assert.deepEqual(authOutcome(policy, 200, headers, 'https://app.test/'), { allow: true, headers: ['X-User', 'alice', 'x-groups', 'a, b'] });
  assert.deepEqual(authOutcome(policy, 204, {}, 'https://app.test/'), { allow: true, headers: [] });
  assert.deepEqual(authOutcome(policy, 200, { 'x-user': '' }, 'https://app.test/'), { allow: true, headers: [] }, 'an empty value is no value (nginx sends no header)');
});

test('authOutcome: 401 (its WWW-Authenticate passed), 401 with signin (302), 403; anything else is 500', () => {
  const unauthorized = authOutcome(policy, 401, { 'www-authenticate': 'Bearer realm="x"' }, 'https://app.test/p');
  assert.equal(unauthorized.allow, false);
  assert.equal(!unauthorized.allow && unauthorized.verdict.status, 401);
  assert.equal(!unauthorized.allow && unauthorized.verdict.headers['www-authenticate'], 'Bearer realm="x"');
  const signin = authOutcome({ ...policy, signin: 'https://login.test/' }, 401, {}, 'https://app.test/p?q=1');
  assert.equal(!signin.allow && signin.verdict.status, 302);
  assert.equal(!signin.allow && signin.verdict.headers.location, `https://login.test/?rd=${encodeURIComponent('https://app.test/p?q=1')}`);
  const forbidden = authOutcome({ ...policy, signin: 'https://login.test/' }, 403, {}, 'https://app.test/');
  assert.equal(!forbidden.allow && forbidden.verdict.status, 403, 'signin is for 401 only');
  for (const status of [100, 301, 302, 400, 404, 429, 500, 502, 503]) {
    const o = authOutcome(policy, status, {}, 'https://app.test/');
    assert.deepEqual(o, { allow: false, verdict: AUTH_ERROR }, String(status));
  }
});

test('applyAuthHeaders: every client copy of a listed name goes (any case), granted or not; the granted ones are added', () => {
  const out = ['Host', 'a', 'x-user', 'mallory', 'X-USER', 'eve', 'X-Missing', 'forged', 'Cookie', 'c'];
  applyAuthHeaders(out, ['X-User', 'X-Missing'], ['X-User', 'alice']);
  assert.deepEqual(out, ['Host', 'a', 'Cookie', 'c', 'X-User', 'alice']);
});

test('askExternalAuth: asks with the method and no body; an unreachable service or one too slow is a failure; an abort is nothing', async (t) => {
  let seen: { method: string; bytes: number; headers: IncomingHttpHeaders } | undefined;
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen = { method: req.method ?? '', bytes, headers: req.headers };
      if (req.url === '/slow') return void setTimeout(() => res.end(), 2000);
      res.writeHead(200, { 'x-user': 'bob' });
      res.end('a body that is dropped');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent();
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await agent.close();
  });
  const never = new AbortController().signal;
  const ok = await askExternalAuth(agent, { url: `http://127.0.0.1:${port}/check`, responseHeaders: ['X-User'] }, ['Content-Length', '5', 'Cookie', 'k=v'], ctx, 5000, never);
  assert.deepEqual(ok, { allow: true, headers: ['X-User', 'bob'] });
  assert.equal(seen?.method, 'PUT');
  assert.equal(seen?.bytes, 0);
  assert.equal(seen?.headers.cookie, 'k=v');
  assert.equal(seen?.headers['x-original-url'], 'https://app.test/a/b?c=1');
  assert.equal(seen?.headers.host, `127.0.0.1:${port}`, "the auth URL's own Host");

  const slow = await askExternalAuth(agent, { url: `http://127.0.0.1:${port}/slow`, responseHeaders: [] }, [], { ...ctx, method: 'GET' }, 200, never);
  assert.ok(slow !== undefined && 'error' in slow, 'too slow: a failure');

  server.close();
  server.closeAllConnections();
  const down = await askExternalAuth(agent, { url: `http://127.0.0.1:${port}/check`, responseHeaders: [] }, [], { ...ctx, method: 'GET' }, 2000, never);
  assert.ok(down !== undefined && 'error' in down, 'unreachable: a failure');

  const aborted = new AbortController();
  aborted.abort();
  assert.equal(await askExternalAuth(agent, { url: `http://127.0.0.1:${port}/check`, responseHeaders: [] }, [], ctx, 2000, aborted.signal), undefined);
});
