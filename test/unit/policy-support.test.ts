import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FEATURE_MODES, fitPolicy, policyFeatures } from '../../src/model/policy-support.ts';
import type { PolicyFeature, ProxyMode } from '../../src/model/policy-support.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';

const users = [{ user: 'u', hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=' }];

test('policyFeatures names every feature a policy uses, sub-keys included', () => {
  const p: RoutePolicy = { rewrite: { kind: 'strip-prefix' }, limits: { maxBodyBytes: 1, rps: 5 }, upstream: { vhost: 'v' }, headers: { response: { A: 'b' } } };
  assert.deepEqual(policyFeatures(p), ['rewrite.strip-prefix', 'limits.maxBodyBytes', 'limits.rps', 'upstream.vhost', 'headers.response']);
  assert.deepEqual(policyFeatures({}), []);
});

/** A table where native lacks some features, so that fitPolicy's removal, degradation and denial can be seen. */
const LIMITED = {
  ...FEATURE_MODES,
  externalAuth: ['haproxy', 'nginx'],
  'upstream.ewma': ['haproxy'],
  'upstream.tries': ['haproxy', 'nginx'],
  'timeouts.send': ['nginx'],
} as const satisfies Readonly<Record<PolicyFeature, readonly ProxyMode[]>>;

const cases: readonly { name: string; mode: ProxyMode; policy: RoutePolicy; expect: RoutePolicy; dropped: string[]; degraded?: string[]; deniedBy?: string }[] = [
  { name: 'a supported feature is kept', mode: 'native', policy: { limits: { maxBodyBytes: 10 } }, expect: { limits: { maxBodyBytes: 10 } }, dropped: [] },
  { name: 'an unsupported sub-feature is removed, its siblings kept', mode: 'native', policy: { upstream: { vhost: 'v', tries: 3 } }, expect: { upstream: { vhost: 'v' } }, dropped: ['upstream.tries'] },
  { name: 'the last sub-feature removed removes the group', mode: 'native', policy: { timeouts: { send: 5 }, hsts: { maxAgeSeconds: 1, includeSubdomains: false, preload: false } }, expect: { hsts: { maxAgeSeconds: 1, includeSubdomains: false, preload: false } }, dropped: ['timeouts.send'] },
  { name: 'ewma where only least_conn is rendered becomes least_conn, reported', mode: 'native', policy: { upstream: { loadBalance: 'ewma', vhost: 'v' } }, expect: { upstream: { loadBalance: 'least_conn', vhost: 'v' } }, dropped: [], degraded: ['upstream.ewma as least_conn'] },
  { name: 'ewma where it is rendered is kept', mode: 'haproxy', policy: { upstream: { loadBalance: 'ewma' } }, expect: { upstream: { loadBalance: 'ewma' } }, dropped: [] },
  {
    name: 'an access feature the mode cannot enforce denies the route',
    mode: 'native',
    policy: { externalAuth: { url: 'https://auth.test/', responseHeaders: [] }, basicAuth: { realm: 'r', users, secret: 'ns/s' } },
    expect: { basicAuth: { realm: 'r', users, secret: 'ns/s' }, denied: 'externalAuth is not supported in native mode' },
    dropped: ['externalAuth'],
    deniedBy: 'externalAuth',
  },
];
for (const c of cases) {
  test(`fitPolicy: ${c.name}`, () => {
    const fit = fitPolicy(c.policy, c.mode, LIMITED);
    assert.deepEqual(fit.policy, c.expect);
    assert.deepEqual(fit.dropped, c.dropped);
    assert.deepEqual(fit.degraded.map((d) => `${d.feature} as ${d.as}`), c.degraded ?? []);
    assert.equal(fit.deniedBy, c.deniedBy);
  });
}

test('fitPolicy: whatever a policy holds, what is left is rendered by the mode, and access features are never lost silently', () => {
  const everything: RoutePolicy = {
    sslRedirect: { status: 308 },
    redirect: { url: 'https://e.test/', status: 301 },
    appRoot: '/app',
    wwwRedirect: { host: 'www.e.test', status: 308 },
    rewrite: { kind: 'prefix', target: '/' },
    allowSourceRange: ['10.0.0.0/8'],
    basicAuth: { realm: 'r', users, secret: 'ns/s' },
    externalAuth: { url: 'https://auth.test/', responseHeaders: [] },
    limits: { maxBodyBytes: 1, rps: 1, connections: 1 },
    timeouts: { connect: 1, send: 1, read: 1 },
    upstream: { protocol: 'grpc', vhost: 'v', loadBalance: 'ewma', tries: 2, affinity: { cookie: 'c' } },
    cors: { allowOrigins: ['*'], allowMethods: ['GET'], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 1, echoHeaders: true },
    hsts: { maxAgeSeconds: 1, includeSubdomains: false, preload: false },
    headers: { request: { A: 'b' }, response: { C: 'd' }, requestAdd: { E: 'f' }, requestRemove: ['g'], responseAdd: { H: 'i' }, responseRemove: ['j'] },
    canary: { backend: 'ns/c:80', weight: 10 },
    // Never beside a canary in a model; here only to count every feature.
    split: { backends: [{ backend: 'ns/a:80', weight: 1 }, { backend: 'ns/b:80', weight: 1 }, { backend: 'ns/c:80', weight: 1 }] },
    mirror: { targets: [{ backend: 'ns/b:80', percent: 50 }] },
    backendHeaders: { 'ns/c:80': { request: { X: 'c' } } },
    priority: 3,
    internalError: 'no backend',
  };
  // One rewrite kind of the four, one upstream protocol of two, one balancing feature of two, no denied, and weights (a canary in the model): every other feature is in the fixture.
  assert.equal(policyFeatures(everything).length, Object.keys(FEATURE_MODES).length - 7);
  const tables: readonly [ProxyMode, Readonly<Record<PolicyFeature, readonly ProxyMode[]>>][] = [['native', FEATURE_MODES], ['haproxy', FEATURE_MODES], ['nginx', FEATURE_MODES], ['native', LIMITED]];
  for (const [mode, table] of tables) {
    const fit = fitPolicy(everything, mode, table);
    for (const f of policyFeatures(fit.policy)) assert.ok(table[f].includes(mode), `${mode} keeps only what it renders: ${f}`);
    const accessLost = fit.dropped.some((f) => ['allowSourceRange', 'basicAuth', 'externalAuth'].includes(f));
    assert.equal(fit.policy.denied !== undefined, accessLost, `${mode}: denied exactly when an access feature is dropped`);
  }
});
