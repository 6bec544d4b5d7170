/*
 * Header changes by the backend chosen (the `backendHeaders` policy: Gateway API filters on the
 * backendRefs of a rule with several weighted backends), as the proxy of the mode under test serves
 * them: each answer comes from one backend, and the request that backend got, and the answer the
 * client got, carry that backend's changes (after the route's own) and none of the other's.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutePolicy } from '../../src/model/policy.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

let http = 0;
let h: Harness | undefined;

before(async () => {
  h = await Harness.start();
  const [v1, v2] = await h.echoes('v1', 'v2');
  http = await freePort();
  const policy: RoutePolicy = {
    canary: { backend: 'default/v2:80', weight: 50 },
    headers: { request: { 'X-Route': 'route', 'X-Both': 'route' }, response: { 'X-Route-Answer': 'route' } },
    backendHeaders: {
      'default/v1:80': { request: { Backend: 'v1', 'X-Both': 'v1' }, requestAdd: { 'X-Added': 'v1' }, requestRemove: ['x-gone'], response: { 'X-From': 'v1' } },
      'default/v2:80': { request: { Backend: 'v2' }, responseAdd: { 'X-Also': 'v2' }, responseRemove: ['content-type'] },
    },
  };
  await h.apply(
    model({
      entryPoints: [entryPoint('http', http)],
      virtualHosts: [vhost('split.test', [{ ...route('/', 'Prefix', 'v1'), policy }])],
      backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()])],
    }),
  );
});

after(async () => {
  await h?.close();
});

test('each backend gets its own request header changes after the route\'s, and its answer its own', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const r = await request({ port: http, host: 'split.test', path: `/r/${i}`, headers: { 'x-gone': 'client', 'x-added': 'client', backend: 'client' } });
    const e = echoOf(r);
    seen.add(e.id);
    assert.equal(e.headers['backend'], e.id, 'the chosen backend\'s set replaces the client\'s line');
    assert.equal(e.headers['x-route'], 'route', 'the route\'s own change is kept');
    assert.equal(r.headers['x-route-answer'], 'route');
    if (e.id === 'v1') {
      assert.equal(e.headers['x-both'], 'v1', 'the backend\'s set comes after the route\'s');
      assert.equal(e.headers['x-added'], 'client, v1', 'an added line comes after the client\'s');
      assert.equal(e.headers['x-gone'], undefined);
      assert.equal(r.headers['x-from'], 'v1');
      assert.equal(r.headers['x-also'], undefined);
      assert.equal(r.headers['content-type'], 'application/json', 'the other backend\'s answer removal is not applied');
    } else {
      assert.equal(e.headers['x-both'], 'route');
      assert.equal(e.headers['x-added'], 'client');
      assert.equal(e.headers['x-gone'], 'client', 'the other backend\'s removal is not applied');
      assert.equal(r.headers['x-from'], undefined);
      assert.equal(r.headers['x-also'], 'v2');
      assert.equal(r.headers['content-type'], undefined, 'the backend\'s answer removal');
    }
  }
  assert.deepEqual([...seen].sort(), ['v1', 'v2'], 'both backends answered (50 % each over 40 requests)');
});
