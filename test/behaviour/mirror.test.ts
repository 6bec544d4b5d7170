/*
 * Request mirroring (the `mirror` policy, Gateway API RequestMirror) as the proxy of the mode under
 * test serves it: the client's answer comes from the route's backend alone; each mirror backend gets
 * a copy with the client's method, path and query, the route's request header changes and the body;
 * a share below 100 % copies about that share; a mirror that never answers does not hold the client.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, nextLoopback, request, route, vhost } from './harness.ts';
import { sleep } from './raw.ts';

/** A request a mirror backend received. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bytes: number;
  readonly sha256: string;
}

/** A mirror backend that records what it gets; `hang` ones never answer. */
interface MirrorServer {
  readonly seen: Seen[];
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

async function startMirror(hang = false): Promise<MirrorServer> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      h.update(c);
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes, sha256: h.digest('hex') });
      if (!hang) res.end('mirror answer, discarded\n');
    });
  });
  const host = nextLoopback();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('mirror server has no port');
  return {
    seen,
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Waits until `pred` holds (polling), or fails after `ms`. */
async function eventually(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`not seen within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

let http = 0;
let h: Harness | undefined;
const mirrors: MirrorServer[] = [];
let copy: MirrorServer;
let second: MirrorServer;
let half: MirrorServer;
let stuck: MirrorServer;

before(async () => {
  h = await Harness.start();
  const [main] = await h.echoes('main');
  [copy, second, half, stuck] = await Promise.all([startMirror(), startMirror(), startMirror(), startMirror(true)]);
  mirrors.push(copy, second, half, stuck);
  http = await freePort();
  const ep = (m: MirrorServer, name: string) => backend(name, [{ address: m.host, port: m.port, weight: 1, name }]);
  const mirrorTo = (...targets: [string, number][]): RoutePolicy => ({ mirror: { targets: targets.map(([name, percent]) => ({ backend: `default/${name}:80`, percent })) } });
  const served: RoutingModel = model({
    entryPoints: [entryPoint('http', http)],
    virtualHosts: [
      vhost('mirror.test', [
        { ...route('/one', 'Prefix', 'main'), policy: { ...mirrorTo(['copy', 100]), headers: { request: { 'X-Set': 'set' } } } },
        { ...route('/two', 'Prefix', 'main'), policy: mirrorTo(['copy', 100], ['second', 100]) },
        { ...route('/half', 'Prefix', 'main'), policy: mirrorTo(['half', 50]) },
        { ...route('/stuck', 'Prefix', 'main'), policy: mirrorTo(['stuck', 100]) },
        { ...route('/__upload', 'Prefix', 'main'), policy: mirrorTo(['copy', 100]) },
        route('/plain', 'Prefix', 'main'),
      ]),
    ],
    backends: [backend('main', [main!.endpoint()]), ep(copy, 'copy'), ep(second, 'second'), ep(half, 'half'), ep(stuck, 'stuck')],
  });
  await h.apply(served);
});

after(async () => {
  await h?.close();
  await Promise.all(mirrors.map((m) => m.close()));
});

test('a GET is answered by the route backend and copied with its path, query and the route header changes', async () => {
  const r = await request({ port: http, host: 'mirror.test', path: '/one/a?x=1&y=2', headers: { 'x-client': 'c' } });
  const e = echoOf(r);
  assert.equal(e.id, 'main');
  assert.equal(e.url, '/one/a?x=1&y=2');
  await eventually(() => copy.seen.some((s) => s.url === '/one/a?x=1&y=2'), 5000, 'the copy of GET /one/a?x=1&y=2');
  const s = copy.seen.find((x) => x.url === '/one/a?x=1&y=2')!;
  assert.equal(s.method, 'GET');
  assert.equal(s.headers['x-client'], 'c');
  assert.equal(s.headers['x-set'], 'set', 'the route header change is in the copy');
  assert.equal(s.headers.host, 'mirror.test');
});

test('a POST body reaches the backend and the copy whole', async () => {
  const body = Buffer.alloc(300_000, 7);
  const sha = createHash('sha256').update(body).digest('hex');
  const r = await request({ port: http, host: 'mirror.test', path: '/__upload/big', method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 200, r.text);
  const up = JSON.parse(r.text) as { id: string; bytes: number; sha256: string };
  assert.deepEqual([up.id, up.bytes, up.sha256], ['main', body.length, sha]);
  await eventually(() => copy.seen.some((s) => s.url === '/__upload/big'), 5000, 'the copy of POST /__upload/big');
  const s = copy.seen.find((x) => x.url === '/__upload/big')!;
  assert.deepEqual([s.method, s.bytes, s.sha256], ['POST', body.length, sha]);
});

test('two mirrors each get a copy; a route without the policy copies nothing', async () => {
  await request({ port: http, host: 'mirror.test', path: '/two/both' });
  await request({ port: http, host: 'mirror.test', path: '/plain/none' });
  await eventually(() => copy.seen.some((s) => s.url === '/two/both') && second.seen.some((s) => s.url === '/two/both'), 5000, 'both copies of /two/both');
  await sleep(300);
  assert.ok(![copy, second, half, stuck].some((m) => m.seen.some((s) => s.url === '/plain/none')), 'no copy of a route without mirror');
});

test('a 50 % mirror copies about half of the requests', async () => {
  const n = 200;
  for (let i = 0; i < n; i++) echoOf(await request({ port: http, host: 'mirror.test', path: `/half/${i}` }));
  await sleep(1000);
  const copies = half.seen.filter((s) => s.url.startsWith('/half/')).length;
  // Binomial(200, 0.5): mean 100, standard deviation about 7; 5 deviations either side.
  assert.ok(copies >= 65 && copies <= 135, `${copies} copies of ${n}`);
});

test('a mirror that never answers does not hold the client answer', async () => {
  const started = Date.now();
  const r = await request({ port: http, host: 'mirror.test', path: '/stuck/x', timeoutMs: 5000 });
  assert.equal(echoOf(r).id, 'main');
  assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
  await eventually(() => stuck.seen.some((s) => s.url === '/stuck/x'), 5000, 'the copy reached the stuck mirror');
  const again = await request({ port: http, host: 'mirror.test', path: '/plain/after', timeoutMs: 5000 });
  assert.equal(echoOf(again).id, 'main');
});
