import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PathType } from '../../src/model/types.ts';
import { backend, entryPoint, freePort, Harness, model, request, route, vhost, whoAnswers } from './harness.ts';

test('routes by host name', async (t) => {
  const h = await Harness.create(t);
  const [a, b] = await h.echoes('a', 'b');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('a.example.test', [route('/', 'Prefix', 'a')]), vhost('b.example.test', [route('/', 'Prefix', 'b')])],
      backends: [backend('a', [a!.endpoint()]), backend('b', [b!.endpoint()])],
    }),
  );
  assert.equal(await whoAnswers({ port, host: 'a.example.test' }), 'a');
  assert.equal(await whoAnswers({ port, host: 'b.example.test' }), 'b');
  // Host matching ignores case, the port and a trailing dot.
  assert.equal(await whoAnswers({ port, host: 'B.Example.Test:8080' }), 'b');
  assert.equal((await request({ port, host: 'c.example.test' })).status, 404);
});

test('a wildcard host matches exactly one more label; an exact host wins over it', async (t) => {
  const h = await Harness.create(t);
  const [wild, exact] = await h.echoes('wild', 'exact');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('*.wild.test', [route('/', 'Prefix', 'wild')]), vhost('www.wild.test', [route('/', 'Prefix', 'exact')])],
      backends: [backend('wild', [wild!.endpoint()]), backend('exact', [exact!.endpoint()])],
    }),
  );
  assert.equal(await whoAnswers({ port, host: 'foo.wild.test' }), 'wild');
  assert.equal(await whoAnswers({ port, host: 'www.wild.test' }), 'exact');
  assert.equal((await request({ port, host: 'a.b.wild.test' })).status, 404);
  assert.equal((await request({ port, host: 'wild.test' })).status, 404);
});

/** The path matching table of the Kubernetes Ingress documentation; `default` is the default backend. */
const pathExamples: readonly { kind: string; paths: readonly [string, PathType][]; request: string; expect: string }[] = [
  { kind: 'Prefix', paths: [['/', 'Prefix']], request: '/anything/at/all', expect: 'P/' },
  { kind: 'Exact', paths: [['/foo', 'Exact']], request: '/foo', expect: 'E/foo' },
  { kind: 'Exact', paths: [['/foo', 'Exact']], request: '/bar', expect: 'default' },
  { kind: 'Exact', paths: [['/foo', 'Exact']], request: '/foo/', expect: 'default' },
  { kind: 'Exact', paths: [['/foo/', 'Exact']], request: '/foo', expect: 'default' },
  { kind: 'Prefix', paths: [['/foo', 'Prefix']], request: '/foo', expect: 'P/foo' },
  { kind: 'Prefix', paths: [['/foo', 'Prefix']], request: '/foo/', expect: 'P/foo' },
  { kind: 'Prefix', paths: [['/foo/', 'Prefix']], request: '/foo', expect: 'P/foo/' },
  { kind: 'Prefix', paths: [['/foo/', 'Prefix']], request: '/foo/', expect: 'P/foo/' },
  { kind: 'Prefix', paths: [['/aaa/bb', 'Prefix']], request: '/aaa/bbb', expect: 'default' },
  { kind: 'Prefix', paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbb', expect: 'P/aaa/bbb' },
  { kind: 'Prefix', paths: [['/aaa/bbb/', 'Prefix']], request: '/aaa/bbb', expect: 'P/aaa/bbb/' },
  { kind: 'Prefix', paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbb/', expect: 'P/aaa/bbb' },
  { kind: 'Prefix', paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbb/ccc', expect: 'P/aaa/bbb' },
  { kind: 'Prefix', paths: [['/aaa/bbb', 'Prefix']], request: '/aaa/bbbxyz', expect: 'default' },
  { kind: 'Prefix', paths: [['/', 'Prefix'], ['/aaa', 'Prefix']], request: '/aaa/ccc', expect: 'P/aaa' },
  { kind: 'Prefix', paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], request: '/aaa/bbb', expect: 'P/aaa/bbb' },
  { kind: 'Prefix', paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], request: '/ccc', expect: 'P/' },
  { kind: 'Prefix', paths: [['/aaa', 'Prefix']], request: '/ccc', expect: 'default' },
  { kind: 'Mixed', paths: [['/foo', 'Prefix'], ['/foo', 'Exact']], request: '/foo', expect: 'E/foo' },
];

test('every pathType example of the Kubernetes documentation', async (t) => {
  const h = await Harness.create(t);
  const labels = new Set<string>(['default']);
  for (const ex of pathExamples) for (const [p, pt] of ex.paths) labels.add(`${pt[0]!}${p}`);
  const names = [...labels];
  const servers = await h.echoes(...names);
  const backendName = (label: string): string => `b${names.indexOf(label)}`;
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: pathExamples.map((ex, i) =>
        vhost(
          `row${i}.paths.test`,
          ex.paths.map(([p, pt]) => route(p, pt, backendName(`${pt[0]!}${p}`))),
        ),
      ),
      backends: servers.map((s, i) => backend(`b${i}`, [s.endpoint()])),
      defaultBackend: backendName('default'),
    }),
  );
  for (const [i, ex] of pathExamples.entries()) {
    const paths = ex.paths.map(([p, pt]) => `${pt} ${p}`).join(', ');
    const got = await whoAnswers({ port, host: `row${i}.paths.test`, path: `${ex.request}?q=1` });
    assert.equal(got, ex.expect, `row ${i} (${ex.kind}: ${paths}) requesting ${ex.request}`);
  }
});

test('the longest path wins and Exact wins a tie with Prefix', async (t) => {
  const h = await Harness.create(t);
  const [short, long, exact] = await h.echoes('short', 'long', 'exact');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [
        vhost('paths.test', [route('/api', 'Prefix', 'short'), route('/api/v1', 'Prefix', 'long'), route('/api/v1', 'Exact', 'exact')]),
      ],
      backends: [backend('short', [short!.endpoint()]), backend('long', [long!.endpoint()]), backend('exact', [exact!.endpoint()])],
    }),
  );
  assert.equal(await whoAnswers({ port, host: 'paths.test', path: '/api/v2' }), 'short');
  assert.equal(await whoAnswers({ port, host: 'paths.test', path: '/api/v1/users' }), 'long');
  assert.equal(await whoAnswers({ port, host: 'paths.test', path: '/api/v1' }), 'exact');
  assert.equal(await whoAnswers({ port, host: 'paths.test', path: '/api/v1?x=y' }), 'exact');
  assert.equal((await request({ port, host: 'paths.test', path: '/other' })).status, 404);
});

test('the default backend serves unknown hosts and unmatched paths', async (t) => {
  const h = await Harness.create(t);
  const [site, fallback] = await h.echoes('site', 'fallback');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('site.test', [route('/app', 'Prefix', 'site')])],
      backends: [backend('site', [site!.endpoint()]), backend('fallback', [fallback!.endpoint()])],
      defaultBackend: 'fallback',
    }),
  );
  assert.equal(await whoAnswers({ port, host: 'site.test', path: '/app/x' }), 'site');
  assert.equal(await whoAnswers({ port, host: 'site.test', path: '/elsewhere' }), 'fallback');
  assert.equal(await whoAnswers({ port, host: 'unknown.test' }), 'fallback');
});

test('a catch-all host (*) serves hosts no other rule names', async (t) => {
  const h = await Harness.create(t);
  const [any, named] = await h.echoes('any', 'named');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('*', [route('/', 'Prefix', 'any')]), vhost('named.test', [route('/', 'Prefix', 'named')])],
      backends: [backend('any', [any!.endpoint()]), backend('named', [named!.endpoint()])],
    }),
  );
  assert.equal(await whoAnswers({ port, host: 'whatever.test' }), 'any');
  assert.equal(await whoAnswers({ port, host: 'named.test' }), 'named');
});

test('404 without a match and without a default backend; 503 for a backend without endpoints', async (t) => {
  const h = await Harness.create(t);
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('empty.test', [route('/', 'Prefix', 'empty')])],
      backends: [backend('empty', [])],
    }),
  );
  const notFound = await request({ port, host: 'nothing.test' });
  assert.equal(notFound.status, 404);
  assert.match(String(notFound.headers['content-type']), /^text\/plain/);
  const unavailable = await request({ port, host: 'empty.test', path: '/x' });
  assert.equal(unavailable.status, 503);
  assert.match(String(unavailable.headers['content-type']), /^text\/plain/);
});

test('503 for a route to a Service that does not exist says so (a Service without endpoints: no endpoint is ready)', async (t) => {
  const h = await Harness.create(t);
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('missing.test', [route('/', 'Prefix', 'missing')]), vhost('empty.test', [route('/', 'Prefix', 'empty')])],
      backends: [{ ...backend('missing', []), unresolved: 'service' }, backend('empty', [])],
    }),
  );
  const missing = await request({ port, host: 'missing.test' });
  assert.equal(missing.status, 503);
  assert.match(missing.text, /Service of this route does not exist/);
  const empty = await request({ port, host: 'empty.test' });
  assert.equal(empty.status, 503);
  assert.match(empty.text, /no endpoint is ready/);
});
