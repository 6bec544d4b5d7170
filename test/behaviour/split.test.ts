/*
 * More than two weighted backends (the `split` policy: Gateway API backendRefs), as the proxy of the
 * mode under test serves them: each request goes to one backend with probability weight / sum (a
 * fourth backend of the model, not in the split, gets none), and each backend's own header changes
 * (`backendHeaders`) reach only the requests it gets.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutePolicy } from '../../src/model/policy.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

let http = 0;
let h: Harness | undefined;

before(async () => {
  h = await Harness.start();
  const [v1, v2, v3, v4] = await h.echoes('v1', 'v2', 'v3', 'v4');
  http = await freePort();
  const split: RoutePolicy = {
    split: {
      backends: [
        { backend: 'default/v1:80', weight: 6 },
        { backend: 'default/v2:80', weight: 3 },
        { backend: 'default/v3:80', weight: 1 },
      ],
    },
  };
  const withHeaders: RoutePolicy = {
    ...split,
    backendHeaders: { 'default/v1:80': { request: { Backend: 'v1' } }, 'default/v2:80': { request: { Backend: 'v2' } }, 'default/v3:80': { request: { Backend: 'v3' }, response: { 'X-From': 'v3' } } },
  };
  await h.apply(
    model({
      entryPoints: [entryPoint('http', http)],
      virtualHosts: [
        vhost('split.test', [
          { ...route('/weights', 'Prefix', 'v1'), policy: split },
          { ...route('/headers', 'Prefix', 'v1'), policy: withHeaders },
        ]),
      ],
      backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()]), backend('v3', [v3!.endpoint()]), backend('v4', [v4!.endpoint()])],
    }),
  );
});

after(async () => {
  await h?.close();
});

test('requests are shared by weight between three backends', async () => {
  const n = 300;
  const count: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = echoOf(await request({ port: http, host: 'split.test', path: `/weights/${i}` })).id;
    count[id] = (count[id] ?? 0) + 1;
  }
  // Binomial counts, 5 standard deviations either side: 180 ± 42, 90 ± 40, 30 ± 26.
  const [a = 0, b = 0, c = 0] = [count['v1'], count['v2'], count['v3']];
  assert.ok(a >= 138 && a <= 222, `v1 ${a} of ${n}: ${JSON.stringify(count)}`);
  assert.ok(b >= 50 && b <= 130, `v2 ${b} of ${n}: ${JSON.stringify(count)}`);
  assert.ok(c >= 4 && c <= 56, `v3 ${c} of ${n}: ${JSON.stringify(count)}`);
  assert.equal(a + b + c, n, `no other backend answers: ${JSON.stringify(count)}`);
});

test('each backend of a split gets its own header changes', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const r = await request({ port: http, host: 'split.test', path: `/headers/${i}`, headers: { backend: 'client' } });
    const e = echoOf(r);
    seen.add(e.id);
    assert.equal(e.headers['backend'], e.id);
    assert.equal(r.headers['x-from'], e.id === 'v3' ? 'v3' : undefined);
  }
  assert.ok(seen.has('v1') && seen.has('v2'), `answered by ${[...seen].join(', ')}`);
});
