import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { silentLogger } from '../../src/shared/logger.ts';
import { compareRoutes, modelForScope, resolveRequest } from '../../src/model/match.ts';
import type { Backend, Route, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { weightedCycle } from '../../src/drivers/native/balance.ts';
import { Router } from '../../src/drivers/native/router.ts';
import { UpstreamRegistry } from '../../src/drivers/native/upstream.ts';

// Small alphabets so that generated hosts and paths collide often with the rules.
const label = fc.constantFrom('a', 'b', 'foo', 'bar');
const host = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));
const segment = fc.constantFrom('a', 'aa', 'b', 'foo', '');
const path = fc.array(segment, { minLength: 0, maxLength: 3 }).map((ss) => `/${ss.join('/')}`);
const backendIds = ['ns/a:80', 'ns/b:80', 'ns/c:80'];
const route = fc.record({ path, pathType: fc.constantFrom('Exact' as const, 'Prefix' as const), backend: fc.constantFrom(...backendIds) }).map(
  (r): Route => ({ ...r, path: r.pathType === 'Prefix' && r.path.length > 1 ? r.path.replace(/\/+$/, '') || '/' : r.path, source: { kind: 'Ingress', namespace: 'ns', name: 'i' }, field: 'spec' }),
);
const vhost = fc.record({ host, kind: fc.constantFrom('exact' as const, 'wildcard' as const, 'any' as const), routes: fc.array(route, { maxLength: 4 }) }).map(
  (v): VirtualHost => ({
    host: v.kind === 'any' ? '*' : v.kind === 'wildcard' ? `*.${v.host}` : v.host,
    kind: v.kind,
    routes: [...v.routes].sort(compareRoutes),
    sources: [],
  }),
);
const backends: Record<string, Backend> = Object.fromEntries(
  backendIds.map((id, i) => [id, { id, namespace: 'ns', service: id, servicePort: 80, protocol: 'http', endpoints: i === 2 ? [] : [{ address: '127.0.0.1', port: 9000 + i, weight: 1 }] }]),
);
const model = fc.record({ virtualHosts: fc.array(vhost, { maxLength: 5 }), defaultBackend: fc.option(fc.constantFrom(...backendIds), { nil: undefined }) }).map(
  (m): RoutingModel => ({ entryPoints: [], virtualHosts: m.virtualHosts, backends, certificates: [], diagnostics: [], ...(m.defaultBackend === undefined ? {} : { defaultBackend: m.defaultBackend }) }),
);
const hostHeader = fc.tuple(host, fc.constantFrom('', ':8080', '.'), fc.boolean()).map(([h, suffix, upper]) => `${upper ? h.toUpperCase() : h}${suffix}`);

test('native router resolves every request exactly as resolveRequest (the model semantics)', () => {
  const registry = new UpstreamRegistry({ connectTimeoutMs: 1000, readTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connectionsPerEndpoint: undefined }, silentLogger);
  try {
    fc.assert(
      fc.property(model, fc.array(fc.tuple(hostHeader, path), { minLength: 1, maxLength: 10 }), (m, requests) => {
        const router = new Router(m, registry);
        for (const [h, p] of requests) {
          const expected = resolveRequest(m, h, p);
          const got = router.resolve(h, p);
          if (expected.outcome === 'not-found') {
            assert.equal(got.found, false, `${h} ${p}`);
          } else {
            assert.equal(got.found, true, `${h} ${p}`);
            assert.equal(got.found && got.backend?.id, expected.backend?.id, `${h} ${p}`);
          }
        }
      }),
      { numRuns: 500 },
    );
  } finally {
    void registry.close(0);
  }
});

test('native router: a connection to an address scope\'s address sees only the hosts of its scope on that entry point (no default backend), any other the model\'s', () => {
  const registry = new UpstreamRegistry({ connectTimeoutMs: 1000, readTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connectionsPerEndpoint: undefined }, silentLogger);
  const addresses = ['192.0.2.2', '2001:db8::2'];
  const local = fc.constantFrom('192.0.2.1', ...addresses);
  const entry = fc.constantFrom('web', 'other');
  const scoped = fc.tuple(model, fc.array(vhost, { maxLength: 4 }), fc.array(vhost, { maxLength: 4 }), fc.array(vhost, { maxLength: 4 })).map(([m, a, b, c]): RoutingModel => ({
    ...m,
    addressScopes: [
      { address: addresses[0]!, entryPoint: 'web', virtualHosts: a },
      { address: addresses[0]!, entryPoint: 'other', virtualHosts: c },
      { address: addresses[1]!, entryPoint: 'web', virtualHosts: b },
    ],
  }));
  try {
    fc.assert(
      fc.property(scoped, fc.array(fc.tuple(hostHeader, path, local, entry), { minLength: 1, maxLength: 10 }), (m, requests) => {
        const router = new Router(m, registry);
        for (const [h, p, l, e] of requests) {
          const expected = resolveRequest(modelForScope(m, l, e), h, p);
          const got = router.resolve(h, p, undefined, l, e);
          assert.equal(got.found, expected.outcome !== 'not-found', `${l} ${h} ${p}`);
          if (got.found && expected.outcome !== 'not-found') assert.equal(got.backendId, expected.outcome === 'route' ? expected.route.backend : m.defaultBackend, `${l} ${h} ${p}`);
        }
      }),
      { numRuns: 300 },
    );
  } finally {
    void registry.close(0);
  }
});

test('native router: a host served on some entry points only is looked past on the others, as modelForScope says', () => {
  const registry = new UpstreamRegistry({ connectTimeoutMs: 1000, readTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connectionsPerEndpoint: undefined }, silentLogger);
  const entry = fc.constantFrom('web', 'other', 'third');
  const only = fc.option(fc.subarray(['web', 'other', 'third'], { minLength: 1, maxLength: 2 }), { nil: undefined });
  const restricted = fc.tuple(model, fc.array(only, { minLength: 5, maxLength: 5 })).map(([m, eps]): RoutingModel => ({
    ...m,
    entryPoints: ['web', 'other', 'third'].map((name, i) => ({ name, address: { port: 8000 + i }, tls: false, middlewares: [] })),
    virtualHosts: m.virtualHosts.map((v, i) => (eps[i] === undefined ? v : { ...v, entryPoints: eps[i] })),
  }));
  try {
    fc.assert(
      fc.property(restricted, fc.array(fc.tuple(hostHeader, path, entry), { minLength: 1, maxLength: 10 }), (m, requests) => {
        const router = new Router(m, registry);
        for (const [h, p, e] of requests) {
          const expected = resolveRequest(modelForScope(m, undefined, e), h, p);
          const got = router.resolve(h, p, undefined, undefined, e);
          assert.equal(got.found, expected.outcome !== 'not-found', `${e} ${h} ${p}`);
          if (got.found && expected.outcome !== 'not-found') assert.equal(got.backendId, expected.outcome === 'route' ? expected.route.backend : m.defaultBackend, `${e} ${h} ${p}`);
        }
      }),
      { numRuns: 300 },
    );
  } finally {
    void registry.close(0);
  }
});

const cycles: { name: string; weights: number[]; expected: number[] }[] = [
  { name: 'equal-weights-alternate', weights: [1, 1, 1], expected: [0, 1, 2] },
  { name: 'weights-3-1-spread-smoothly', weights: [3, 1], expected: [0, 0, 1, 0] },
  { name: 'zero-weight-gets-nothing', weights: [0, 2], expected: [1] },
  { name: 'all-zero-weights-spread-evenly', weights: [0, 0], expected: [0, 1] },
];
for (const c of cycles) {
  test(`weighted round-robin cycle: ${c.name}`, () => {
    assert.deepEqual([...weightedCycle(c.weights)], c.expected);
  });
}
