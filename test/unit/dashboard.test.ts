/*
 * The web server's pure pieces: the liveness/readiness decisions (src/dashboard/health.ts) and the
 * JSON API builders (src/dashboard/api.ts), on a model translated from test/fixtures/translate/:
 * field names, real data, and no secret (htpasswd hash, private key) anywhere in an answer.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthText, liveness, readiness } from '../../src/dashboard/health.ts';
import type { HealthState } from '../../src/dashboard/health.ts';
import { endpointKey } from '../../src/drivers/types.ts';
import { parseServerStats, serverLiveState } from '../../src/drivers/haproxy/stats.ts';
import { backendsOf, certificatesOf, diagnosticsOf, explainOf, overviewOf, redactSecrets, routersOf } from '../../src/dashboard/api.ts';
import type { ControllerState } from '../../src/controller/sync.ts';
import type { EntryPoint, RoutingModel } from '../../src/model/types.ts';
import { modelForJson } from '../../src/model/describe.ts';
import { load, options, run } from './translate-helpers.ts';

const APR1 = '$apr1$M7pJ5fVy$/oV8m1hsMBPMpsDOzicGF0'; // demo / demo
const entryPoints: EntryPoint[] = [
  { name: 'web', address: { port: 8000 }, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'websecure', scheme: 'https', port: 8443, status: 302 }] },
  { name: 'websecure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares: [{ kind: 'basicAuth', realm: 'private', users: [{ user: 'demo', hash: APR1 }], removeHeader: false }] },
];

function model(): RoutingModel {
  return run(load('tls.yaml'), { ...options, entryPoints });
}

function state(over: Partial<ControllerState> = {}): ControllerState {
  return {
    model: undefined,
    hash: undefined,
    appliedAt: undefined,
    lastError: undefined,
    syncs: 0,
    failures: 0,
    stopped: false,
    syncStartedAt: undefined,
    applyDurationMs: undefined,
    lastErrorAt: undefined,
    ...over,
  };
}

const now = new Date('2026-01-01T12:00:00Z');

/** Fails when a serialised answer holds an htpasswd hash or a private key. */
function assertNoSecret(value: unknown): void {
  const text = JSON.stringify(value);
  assert.doesNotMatch(text, /\$apr1\$|\$2[aby]\$|\{SHA\}/, 'an htpasswd hash');
  assert.doesNotMatch(text, /PRIVATE KEY/, 'a private key');
  assert.doesNotMatch(text, /"keyPem"/, 'a keyPem field');
}

test('liveness: ok while idle or syncing briefly; fails when stopped or when a sync runs past the bound', () => {
  const idle: HealthState = state();
  assert.equal(liveness(idle, now).status, 200);
  assert.equal(liveness({ ...idle, syncStartedAt: new Date(now.getTime() - 1000) }, now, 5000).status, 200);
  const wedged = liveness({ ...idle, syncStartedAt: new Date(now.getTime() - 6000) }, now, 5000);
  assert.equal(wedged.status, 503);
  assert.match(healthText(wedged, false), /sync-progress: a sync has been running for 6\.0 s \(limit 5\.0 s\)/);
  const stopped = liveness({ ...idle, stopped: true }, now);
  assert.equal(stopped.ok, false);
  assert.match(healthText(stopped, false), /sync loop is stopped/);
  assert.equal(healthText(liveness(idle, now), false), 'ok\n');
  assert.match(healthText(liveness(idle, now), true), /^\[\+\] sync-loop: running$/m);
});

test('readiness: 503 before the first apply (with the last error), 200 after when the proxy answers, 503 when it does not or when stopping', () => {
  assert.equal(readiness(state(), undefined).status, 503);
  assert.match(healthText(readiness(state({ lastError: 'cannot listen' }), undefined), false), /no configuration applied yet: cannot listen/);
  const applied = state({ appliedAt: now, hash: 'abcdef0123456789' });
  assert.equal(readiness(applied, true).status, 200);
  assert.equal(readiness(applied, undefined).status, 200);
  assert.equal(readiness(applied, false).status, 503);
  assert.equal(readiness({ ...applied, stopped: true }, true).status, 503);
});

test('overview: mode, version, entry points without hashes, counts and last apply', () => {
  const m = model();
  const o = overviewOf({ mode: 'native', version: '1.2.3', entryPoints, state: state({ model: m, appliedAt: now, hash: 'h'.repeat(64), applyDurationMs: 12.345, syncs: 3, failures: 1 }) });
  assert.equal(o.mode, 'native');
  assert.equal(o.version, '1.2.3');
  assert.deepEqual(o.entryPoints.map((e) => [e.name, e.address, e.tls]), [['web', ':8000', false], ['websecure', '127.0.0.1:8443', true]]);
  assert.deepEqual(o.entryPoints[1]?.middlewares, [{ kind: 'basicAuth', realm: 'private', users: ['demo'], removeHeader: false }]);
  assert.equal(o.counts.virtualHosts, m.virtualHosts.length);
  assert.ok(o.counts.virtualHosts > 0);
  assert.equal(o.counts.certificates, m.certificates.length);
  assert.deepEqual(o.lastApply, { at: now.toISOString(), hash: 'h'.repeat(64), durationMs: 12.3, error: null, errorAt: null, applies: 3, failures: 1 });
  assertNoSecret(o);
  // Before the first apply: the configured entry points, nulls.
  const before = overviewOf({ mode: 'haproxy', version: '1', entryPoints, state: state() });
  assert.equal(before.entryPoints.length, 2);
  assert.equal(before.lastApply.at, null);
  assertNoSecret(before);
});

test('routers, backends and diagnostics carry the model with its source objects', () => {
  const m = model();
  const r = routersOf(m);
  assert.deepEqual(r.virtualHosts.map((v) => v.host), m.virtualHosts.map((v) => v.host));
  const first = r.virtualHosts[0];
  assert.ok(first);
  assert.equal(first.routes[0]?.source.kind, 'Ingress');
  assert.match(first.routes[0]?.field ?? '', /^spec\.rules\[\d+\]/);
  const some = m.virtualHosts[0]?.host ?? '';
  assert.deepEqual(routersOf(m, some.toUpperCase()).virtualHosts.map((v) => v.host).includes(some), true);
  assert.deepEqual(routersOf(m, 'no-such-host.invalid').virtualHosts, []);
  const b = backendsOf(m);
  assert.deepEqual(b.backends.map((x) => x.id), Object.keys(m.backends));
  assert.ok(b.backends.every((x) => x.usedBy.length > 0));
  const d = diagnosticsOf(m.diagnostics);
  assert.equal(d.diagnostics.length, m.diagnostics.length);
  assert.equal(d.errors + d.warnings, m.diagnostics.length);
  for (const x of [r, b, d]) assertNoSecret(x);
});

test('routers: a Gateway\'s own address (address scope) lists its hosts after the model\'s, with the address; its backends name it', () => {
  const m = model();
  const first = m.virtualHosts[0];
  assert.ok(first);
  const scoped: RoutingModel = { ...m, addressScopes: [{ address: '192.0.2.64', entryPoint: 'web', virtualHosts: [{ ...first, host: 'scoped.test' }] }] };
  const r = routersOf(scoped);
  assert.deepEqual(r.virtualHosts.map((v) => `${v.address ?? '-'} ${v.entryPoint ?? '-'} ${v.host}`), [...m.virtualHosts.map((v) => `- - ${v.host}`), '192.0.2.64 web scoped.test']);
  const backend = first.routes[0]?.backend ?? '';
  assert.ok(backendsOf(scoped).backends.find((x) => x.id === backend)?.usedBy.some((u) => u.startsWith('192.0.2.64 web scoped.test')));
  // A host served on some entry points only lists them; the others null.
  const only: RoutingModel = { ...m, virtualHosts: m.virtualHosts.map((v, i) => (i === 0 ? { ...v, entryPoints: ['websecure'] } : v)) };
  assert.deepEqual(routersOf(only).virtualHosts.map((v) => v.entryPoints), m.virtualHosts.map((_, i) => (i === 0 ? ['websecure'] : null)));
});

test('backends: live is the driver\'s state by backend and address, null when unknown or when the mode has none', () => {
  const withEndpoints = {
    id: 'web/echo:80', namespace: 'web', service: 'echo', servicePort: 80, protocol: 'http' as const,
    endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }, { address: '10.0.0.2', port: 8080, weight: 1 }],
  };
  const m: RoutingModel = { ...model(), backends: { [withEndpoints.id]: withEndpoints } };
  const [first] = withEndpoints.endpoints;
  assert.ok(first);
  const none = backendsOf(m);
  assert.equal(none.liveStates, false);
  assert.ok(none.backends.every((x) => x.endpoints.every((e) => e.live === null && e.state === 'ready')));
  const live = backendsOf(m, new Map([[endpointKey(withEndpoints.id, first.address, first.port), 'down' as const]]));
  assert.equal(live.liveStates, true);
  const b = live.backends.find((x) => x.id === withEndpoints.id);
  assert.equal(b?.endpoints[0]?.live, 'down');
  assert.equal(b?.endpoints[0]?.state, 'ready');
  assert.equal(b?.endpoints[1]?.live, null);
  assert.equal(endpointKey('ns/s:80', '2001:db8::1', 8080), 'ns/s:80 [2001:db8::1]:8080');
});

test('haproxy show stat: check status when servers have checks, else the counters since the last look', () => {
  const csv = [
    '# pxname,svname,qcur,econ,wretr,wredis,status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,',
    'be,FRONTEND,0,,,,OPEN,0,0,0,0,0,0,',
    'be,s1,0,0,0,0,no check,0,2,0,1,0,0,',
    'be,s2,0,0,0,2,no check,0,0,0,0,0,0,',
    'be,s3,0,5,0,0,DOWN 1/2,0,9,0,0,0,0,',
    'be,BACKEND,0,0,0,2,UP,0,2,0,1,0,0,',
    '',
  ].join('\n');
  const rows = parseServerStats(csv);
  assert.deepEqual(rows.map((r) => [r.server, r.failures, r.answers]), [['s1', 0, 3], ['s2', 2, 0], ['s3', 5, 9]]);
  const [s1, s2, s3] = rows;
  assert.ok(s1 && s2 && s3);
  assert.equal(serverLiveState(s1, undefined).state, 'up');
  assert.equal(serverLiveState(s2, undefined).state, 'down');
  assert.equal(serverLiveState(s3, undefined).state, 'down');
  assert.equal(serverLiveState({ ...s1, failures: 0, answers: 0 }, undefined).state, undefined);
  // s2 comes back: answers since the last look, no failure.
  const seen = serverLiveState(s2, undefined);
  assert.equal(serverLiveState({ ...s2, answers: 4 }, seen).state, 'up');
  // Nothing happened: unchanged.
  assert.equal(serverLiveState(s2, seen).state, 'down');
  // A reload starts the counters over.
  assert.equal(serverLiveState({ ...s2, failures: 0, answers: 1 }, seen).state, 'up');
});

test('certificates: names, issuer, not-after, source, never the key; the default certificate when TLS is on', () => {
  const m = model();
  assert.ok(m.certificates.length > 0, 'the fixture has TLS Secrets');
  const c = certificatesOf(m, undefined, now);
  const secrets = c.certificates.filter((x) => x.source === 'secret');
  assert.equal(secrets.length, m.certificates.length);
  for (const s of secrets) {
    assert.ok(s.names.length > 0);
    assert.equal(s.served, true);
    assert.equal(s.object?.kind, 'Secret');
    assert.ok(s.notAfter === null || !Number.isNaN(Date.parse(s.notAfter)));
  }
  assert.equal(c.certificates.at(-1)?.source, 'default');
  assert.equal(c.acme, null);
  assertNoSecret(c);
});

test('certificates: ACME states (pending, failed with cause) and the weekly budget left', () => {
  const c = certificatesOf(model(), {
    storage: 'acme.json',
    caServer: 'https://ca.invalid/dir',
    leading: true,
    statuses: [
      { id: 'acme.passerelle/a.example.com', names: ['a.example.com'], state: 'pending', sources: [{ kind: 'Ingress', namespace: 'default', name: 'a' }], detail: 'ordering' },
      {
        id: 'acme.passerelle/b.example.com',
        names: ['b.example.com'],
        state: 'failed',
        sources: [],
        nextAttemptAt: '2026-01-01T13:00:00.000Z',
        lastError: { detail: 'connection refused', cause: 'the CA cannot reach port 80', at: '2026-01-01T11:00:00.000Z' },
      },
    ],
    state: { certificates: {}, orders: {}, backoff: {}, issuances: [{ names: ['c.example.com'], at: '2026-01-01T00:00:00.000Z', renewal: false }] },
    perDomainBudget: 50,
    windowMs: 7 * 24 * 3600_000,
  }, now);
  const a = c.certificates.find((x) => x.id === 'acme.passerelle/a.example.com');
  assert.equal(a?.source, 'acme');
  assert.equal(a?.served, false);
  assert.equal(a?.acme?.state, 'pending');
  const b = c.certificates.find((x) => x.id === 'acme.passerelle/b.example.com');
  assert.equal(b?.acme?.state, 'failed');
  assert.equal(b?.acme?.lastError?.cause, 'the CA cannot reach port 80');
  assert.deepEqual(c.acme?.budget, [{ domain: 'example.com', used: 1, limit: 50, left: 49 }]);
});

test('explain over HTTP: the explanation, or 400 naming the problem', () => {
  const m = model();
  const host = m.virtualHosts.find((v) => v.kind === 'exact')?.host ?? '';
  const ok = explainOf(m, new URLSearchParams({ url: `https://${host}:8443/` }));
  assert.equal(ok.status, 200);
  const body = ok.body as { entryPoint: string; virtualHost: string; lines: string[] };
  assert.equal(body.entryPoint, 'websecure');
  assert.equal(body.virtualHost, host);
  assert.ok(body.lines.some((l) => /basic auth/.test(l)));
  assertNoSecret(ok.body);
  assert.equal(explainOf(m, new URLSearchParams()).status, 400);
  assert.equal(explainOf(m, new URLSearchParams({ url: 'not a url' })).status, 400);
  assert.equal(explainOf(m, new URLSearchParams({ url: 'ftp://x/' })).status, 400);
  assert.equal(explainOf(m, new URLSearchParams({ url: 'http://x/', header: 'nocolon' })).status, 400);
});

test('redactSecrets and the dry-run JSON leave out hashes and private keys', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
  const out = redactSecrets({ a: [APR1, '{SHA}abc', 'plain'], keyPem: 'x', nested: { accountKey: 'k', note: pem } });
  assert.deepEqual(out, { a: ['[redacted]', '[redacted]', 'plain'], keyPem: '[redacted]', nested: { accountKey: '[redacted]', note: '[redacted]' } });
  const json = modelForJson(model()) as { entryPoints: { middlewares: { users?: unknown[] }[] }[] };
  assert.deepEqual(json.entryPoints[1]?.middlewares[0]?.users, [{ user: 'demo' }]);
  assertNoSecret(json);
});
