/*
 * The nginx Lua balancer (Debian libnginx-mod-http-lua + lua-cjson): an endpoint-only change goes to
 * nginx's admin unix socket as JSON, without a reload; everything else still reloads. Real nginx,
 * real HTTP clients. The packages are required (scripts/setup-test-deps.sh installs them).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Agent, request as httpRequest } from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import type { NginxDriver, NginxDriverOptions } from '../../../src/drivers/nginx/index.ts';
import { LUA_ADMIN_SOCKET, LUA_MODULES } from '../../../src/render/nginx/view.ts';
import type { Endpoint, RoutingModel } from '../../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { echoes, requireBinary } from '../haproxy/common.ts';

requireBinary('nginx');
assert.ok(existsSync(LUA_MODULES.lua) && existsSync(LUA_MODULES.ndk), 'the nginx Lua module is missing: apt-get install -y libnginx-mod-http-lua lua-cjson (scripts/setup-test-deps.sh)');

function driver(t: TestContext, options: NginxDriverOptions = {}): NginxDriver {
  const d = createNginxDriver({ gracePeriodMs: 2000, workerProcesses: 2, ...options });
  t.after(() => d.stop(500));
  return d;
}

const one = (port: number, endpoints: readonly Endpoint[], extraRoute = false): RoutingModel =>
  model({
    entryPoints: [entryPoint('http', port)],
    virtualHosts: [vhost('lua.test', [route('/', 'Prefix', 'x'), ...(extraRoute ? [route('/extra', 'Exact', 'x')] : [])])],
    backends: [backend('x', endpoints)],
  });

/** Which echo servers answer `n` requests, and how often. */
async function spread(port: number, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = echoOf(await request({ port, host: 'lua.test', path: '/' })).id;
    seen[id] = (seen[id] ?? 0) + 1;
  }
  return seen;
}

/** A raw request to the admin socket: status and body. */
function admin(workDir: string, method: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: path.join(workDir, LUA_ADMIN_SOCKET), method, path: '/endpoints', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('nginx Lua: 30 endpoint changes under a request stream apply with 0 reloads and 0 failed requests; traffic follows them, also after a reload', async (t) => {
  const d = driver(t);
  const [a, b, c] = await echoes(t, 'a', 'b', 'c');
  const port = await freePort();
  await d.apply(one(port, [a!.endpoint()]));
  assert.match(readFileSync(d.configFile, 'utf8'), /balancer_by_lua_block/);
  const sets: { eps: Endpoint[]; ids: string[] }[] = [
    { eps: [b!.endpoint()], ids: ['b'] },
    { eps: [a!.endpoint(), c!.endpoint()], ids: ['a', 'c'] },
    { eps: [c!.endpoint()], ids: ['c'] },
    { eps: [a!.endpoint(), b!.endpoint(), c!.endpoint()], ids: ['a', 'b', 'c'] },
    { eps: [a!.endpoint()], ids: ['a'] },
  ];
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  t.after(() => agent.destroy());
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const r = await request({ port, host: 'lua.test', path: '/stream', agent });
        if (r.status === 200) ok++;
        else failures.push(`status ${r.status} ${r.text.trim().slice(0, 80)}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: 6 }, () => worker());
  const reloads = d.reloads;
  const updates = d.runtimeUpdates;
  for (let i = 0; i < 30; i++) {
    const set = sets[i % sets.length]!;
    await d.apply(one(port, set.eps));
    // Every worker takes the new set at once (shared memory): no answer from an endpoint left out.
    // Each nginx worker keeps its own round robin and the streams take turns too: sample until every
    // endpoint of the set has answered (at most 60 requests), never one left out.
    const seen = await spread(port, 3 * set.ids.length);
    for (let more = 0; more < 60 && Object.keys(seen).length < set.ids.length; more++) Object.assign(seen, { [echoOf(await request({ port, host: 'lua.test', path: '/' })).id]: 1 });
    assert.deepEqual(Object.keys(seen).sort(), set.ids, `change ${i}: answered by ${JSON.stringify(seen)}`);
  }
  running = false;
  await Promise.all(workers);
  assert.equal(d.reloads - reloads, 0, 'no endpoint change reloaded nginx');
  assert.equal(d.runtimeUpdates - updates, 30);
  assert.deepEqual(failures, [], `${failures.length} failed requests of ${ok + failures.length}: ${[...new Set(failures)].slice(0, 5).join('; ')}`);
  assert.ok(ok > 100, `only ${ok} requests completed`);

  // Weights: 3 to 1, smooth round robin per worker.
  await d.apply(one(port, [a!.endpoint(3), b!.endpoint(1)]));
  const weighted = await spread(port, 80);
  assert.ok((weighted['a'] ?? 0) >= 50 && (weighted['b'] ?? 0) >= 10, `3:1 weights gave ${JSON.stringify(weighted)}`);

  // A structural change reloads; the reloaded nginx starts from the endpoints the runtime path set last.
  await d.apply(one(port, [c!.endpoint()]));
  await d.apply(one(port, [c!.endpoint()], true));
  assert.equal(d.reloads - reloads, 1);
  assert.deepEqual(await spread(port, 6), { c: 6 });
  assert.equal(echoOf(await request({ port, host: 'lua.test', path: '/extra' })).id, 'c');
});

test('nginx Lua: an admin socket file left behind (an nginx that did not stop cleanly) does not stop the next start', async (t) => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'passerelle-lua-'));
  t.after(() => rmSync(workDir, { recursive: true, force: true }));
  const stale = createServer();
  await new Promise<void>((resolve) => stale.listen(path.join(workDir, LUA_ADMIN_SOCKET), resolve));
  // Closing the listener would unlink it: keep the file, as a killed process leaves it.
  stale.unref();
  assert.ok(existsSync(path.join(workDir, LUA_ADMIN_SOCKET)));
  const d = driver(t, { workDir });
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  await d.apply(one(port, [a!.endpoint()]));
  await d.apply(one(port, [b!.endpoint()]));
  assert.equal(d.runtimeUpdates, 1);
  assert.deepEqual(await spread(port, 4), { b: 4 });
});

test('nginx Lua: an empty endpoint set answers 503 as the template path does, and endpoints coming back serve again', async (t) => {
  const d = driver(t);
  const [a] = await echoes(t, 'a');
  const port = await freePort();
  await d.apply(one(port, [a!.endpoint()]));
  assert.equal(echoOf(await request({ port, host: 'lua.test', path: '/' })).id, 'a');
  await d.apply(one(port, []));
  const r = await request({ port, host: 'lua.test', path: '/' });
  assert.equal(r.status, 503);
  assert.match(r.text, /no endpoint is ready/);
  await d.apply(one(port, [a!.endpoint()]));
  assert.equal(echoOf(await request({ port, host: 'lua.test', path: '/' })).id, 'a');
});

test('nginx Lua: the admin endpoint is not reachable from an entry point', async (t) => {
  const d = driver(t);
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  await d.apply(one(port, [a!.endpoint()]));
  const doc = JSON.stringify({ upstreams: { 'be_default.x_80': [{ host: b!.host, port: b!.port, weight: 1 }] } });
  for (const host of ['lua.test', 'localhost', 'unknown.test']) {
    const r = await request({ port, host, path: '/endpoints', method: 'PUT', body: doc, headers: { 'content-type': 'application/json' } });
    // The route's backend (or the default 404) answers: the admin location exists only on the unix socket.
    if (host === 'lua.test') assert.equal(echoOf(r).method, 'PUT');
    else assert.equal(r.status, 404);
  }
  assert.deepEqual(await spread(port, 6), { a: 6 });
  // The same document through the socket does apply (the controller's way).
  assert.equal((await admin(d.workDir, 'PUT', doc)).status, 200);
  assert.deepEqual(await spread(port, 6), { b: 6 });
});

test('nginx Lua: a malformed update is refused whole and nothing changes', async (t) => {
  const d = driver(t);
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  await d.apply(one(port, [a!.endpoint()]));
  const name = 'be_default.x_80';
  const ep = { host: b!.host, port: b!.port, weight: 1 };
  const bad: string[] = [
    'not json',
    '',
    '[]',
    JSON.stringify({ upstreams: [[ep]] }),
    JSON.stringify({ upstreams: 'x' }),
    JSON.stringify({ upstreams: { [name]: [ep] }, extra: 1 }),
    JSON.stringify({ upstreams: { [name]: [] } }),
    JSON.stringify({ upstreams: { [name]: { 1: ep } } }),
    JSON.stringify({ upstreams: { 'be x; os.exit()': [ep] } }),
    JSON.stringify({ upstreams: { [name]: [{ ...ep, host: '127.0.0.1; evil' }] } }),
    JSON.stringify({ upstreams: { [name]: [{ ...ep, host: 'example.com' }] } }),
    JSON.stringify({ upstreams: { [name]: [{ ...ep, port: 0 }] } }),
    JSON.stringify({ upstreams: { [name]: [{ ...ep, port: 80.5 }] } }),
    JSON.stringify({ upstreams: { [name]: [{ ...ep, weight: 0 }] } }),
    JSON.stringify({ upstreams: { [name]: [{ ...ep, weight: '1' }] } }),
    // One good upstream next to a bad one: nothing of the document is taken.
    JSON.stringify({ upstreams: { [name]: [ep], other: [{ ...ep, port: 70000 }] } }),
  ];
  for (const body of bad) {
    const r = await admin(d.workDir, 'PUT', body);
    assert.equal(r.status, 400, `accepted ${body}: ${r.text}`);
    assert.match(r.text, /^refused: /);
  }
  assert.equal((await admin(d.workDir, 'GET', '')).status, 405);
  assert.deepEqual(await spread(port, 8), { a: 8 });
  // The driver's own next update still applies.
  await d.apply(one(port, [b!.endpoint()]));
  assert.deepEqual(await spread(port, 4), { b: 4 });
  assert.equal(d.reloads, 0);
});

test('nginx Lua off (module absent): the template path renders the endpoints and reloads on every change', async (t) => {
  const d = driver(t, { luaModules: false });
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  await d.apply(one(port, [a!.endpoint()]));
  const conf = readFileSync(d.configFile, 'utf8');
  assert.doesNotMatch(conf, /balancer_by_lua|lua_shared_dict|ngx_http_lua_module/);
  assert.match(conf, new RegExp(`server ${a!.host.replace(/\./g, '\\.')}:${a!.port} weight=1`));
  assert.ok(!existsSync(path.join(d.workDir, LUA_ADMIN_SOCKET)));
  assert.deepEqual(await spread(port, 4), { a: 4 });
  await d.apply(one(port, [b!.endpoint()]));
  assert.equal(d.reloads, 1);
  assert.equal(d.runtimeUpdates, 0);
  assert.deepEqual(await spread(port, 4), { b: 4 });
  await d.apply(one(port, []));
  assert.equal((await request({ port, host: 'lua.test', path: '/' })).status, 503);
});

test('nginx Lua: a least_conn route keeps its variant upstream on the template path (its endpoint change reloads)', async (t) => {
  const d = driver(t);
  const [a, b] = await echoes(t, 'a', 'b');
  const port = await freePort();
  const lc = (eps: Endpoint[]): RoutingModel => {
    const m = one(port, eps);
    const vh = m.virtualHosts[0]!;
    const r = vh.routes[0]!;
    return { ...m, virtualHosts: [{ ...vh, routes: [{ ...r, policy: { upstream: { loadBalance: 'least_conn' } } }] }] };
  };
  await d.apply(lc([a!.endpoint()]));
  assert.match(readFileSync(d.configFile, 'utf8'), new RegExp(`upstream be_default\\.x_80__lc \\{\\n[^}]*least_conn;\\n\\s+server ${a!.host.replace(/\./g, '\\.')}:${a!.port}`));
  assert.deepEqual(await spread(port, 4), { a: 4 });
  await d.apply(lc([b!.endpoint()]));
  assert.equal(d.reloads, 1);
  assert.deepEqual(await spread(port, 4), { b: 4 });
});
