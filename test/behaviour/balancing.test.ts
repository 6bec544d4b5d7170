import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { backend, entryPoint, freePort, Harness, model, request, route, vhost, whoAnswers } from './harness.ts';

test('load spreads across 10 endpoints: all answer within 100 requests', async (t) => {
  const h = await Harness.create(t);
  const servers = await h.echoes(...Array.from({ length: 10 }, (_, i) => `e${i}`));
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('lb.test', [route('/', 'Prefix', 'pool')])],
      backends: [backend('pool', servers.map((s) => s.endpoint()))],
    }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const seen = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const id = await whoAnswers({ port, host: 'lb.test', path: `/r${i}`, agent });
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), servers.map((s) => s.id).sort(), `answers per endpoint: ${JSON.stringify(Object.fromEntries(seen))}`);
});

test('weights shape the spread', async (t) => {
  const h = await Harness.create(t);
  const [heavy, light] = await h.echoes('heavy', 'light');
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('lb.test', [route('/', 'Prefix', 'pool')])],
      backends: [backend('pool', [heavy!.endpoint(3), light!.endpoint(1)])],
    }),
  );
  let heavyCount = 0;
  for (let i = 0; i < 40; i++) if ((await whoAnswers({ port, host: 'lb.test' })) === 'heavy') heavyCount++;
  assert.ok(heavyCount >= 24 && heavyCount <= 36, `heavy answered ${heavyCount} of 40 (weights 3:1)`);
});

test('GETs are retried on the next endpoint when one is down: all succeed', async (t) => {
  const h = await Harness.create(t, { connectTimeoutMs: 1000 });
  const [up1, up2] = await h.echoes('up1', 'up2');
  const dead = await h.echo('dead');
  const deadEndpoint = dead.endpoint();
  await dead.close(); // a closed port: connections are refused
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('retry.test', [route('/', 'Prefix', 'pool')])],
      backends: [backend('pool', [up1!.endpoint(), deadEndpoint, up2!.endpoint()])],
    }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  t.after(() => agent.destroy());
  const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => request({ port, host: 'retry.test', path: `/g${i}`, agent })));
  assert.deepEqual(
    statuses.map((r) => r.status),
    Array.from({ length: 30 }, () => 200),
  );
  const ids = new Set(statuses.map((r) => (JSON.parse(r.text) as { id: string }).id));
  assert.ok(!ids.has('dead'));
  assert.deepEqual([...ids].sort(), ['up1', 'up2']);
});

test('502 when the only endpoint refuses connections', async (t) => {
  const h = await Harness.create(t);
  const dead = await h.echo('dead');
  const ep = dead.endpoint();
  await dead.close();
  const port = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost('dead.test', [route('/', 'Prefix', 'dead')])],
      backends: [backend('dead', [ep])],
    }),
  );
  const r = await request({ port, host: 'dead.test' });
  assert.equal(r.status, 502);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  const post = await request({ port, host: 'dead.test', method: 'POST', body: 'payload' });
  assert.equal(post.status, 502);
});
