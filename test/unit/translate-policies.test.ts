/*
 * Translate, per-route policies: an Ingress's annotations become the policy of each of its routes,
 * with Secrets resolved, problems reported on the annotation, and access policies that cannot be
 * enforced denying the routes (503) rather than opening them.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingModel } from '../../src/model/types.ts';
import { describeMigration, migrationReport } from '../../src/model/migration.ts';
import { load, options, run } from './translate-helpers.ts';
import { FEATURE_MODES } from '../../src/model/policy-support.ts';
import { weightShares, wwwCounterpart } from '../../src/model/translate/index.ts';

function routeOf(model: RoutingModel, host: string): NonNullable<RoutingModel['virtualHosts'][number]['routes'][number]> {
  const r = model.virtualHosts.find((v) => v.host === host)?.routes[0];
  assert.ok(r, `a route for ${host}`);
  return r;
}

const codesOf = (model: RoutingModel, name: string): string[] => model.diagnostics.filter((d) => d.object?.name === name).map((d) => `${d.severity} ${d.code} ${d.field ?? ''}`);

test('policies: ingress-nginx annotations become the route policy (allowlist, basic auth from the Secret, body size, rewrite, default ssl-redirect)', () => {
  const model = run(load('policies.yaml'), options);
  assert.deepEqual(routeOf(model, 'admin.shop.test').policy, {
    sslRedirect: { status: 308 },
    allowSourceRange: ['10.0.0.0/8', '192.168.1.7'],
    limits: { maxBodyBytes: 8 * 1024 * 1024 },
    rewrite: { kind: 'replace-path', path: '/' },
    basicAuth: { realm: 'Shop admin', users: [{ user: 'alice', hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=' }], secret: 'shop/basic-auth' },
    // From the canary Ingress shop/shop-canary of the same host and path.
    canary: { header: 'X-Canary', weight: 20, backend: 'shop/web-next:http' },
  });
  // bob's unusable line is a warning on the Secret; the Ingress itself is fine apart from its TLS Secret.
  assert.deepEqual(codesOf(model, 'basic-auth'), ["warning PASS_SECRET_BAD_AUTH_USER stringData['auth']"]);
  assert.deepEqual(codesOf(model, 'admin'), ['error PASS_INGRESS_MISSING_SECRET spec.tls[0].secretName']);
});

test('policies: an auth Secret that does not exist denies the routes (503) with an error on the annotation', () => {
  const model = run(load('policies.yaml'), options);
  const policy = routeOf(model, 'locked.shop.test').policy;
  assert.match(policy?.denied ?? '', /basic-auth Secret shop\/nowhere/);
  assert.equal(policy?.basicAuth, undefined);
  assert.deepEqual(codesOf(model, 'no-secret'), ["error PASS_INGRESS_MISSING_AUTH_SECRET metadata.annotations['nginx.ingress.kubernetes.io/auth-secret']"]);
});

test('policies: snippets are refused, unknown names are warnings, nothing is applied from them; use-regex makes the paths Regex', () => {
  const model = run(load('policies.yaml'), options);
  assert.equal(routeOf(model, 'plain.shop.test').policy, undefined);
  assert.equal(routeOf(model, 'plain.shop.test').pathType, 'Regex');
  assert.deepEqual(codesOf(model, 'snippets').sort(), [
    "error PASS_ANNOTATION_SNIPPET metadata.annotations['nginx.ingress.kubernetes.io/configuration-snippet']",
    "warning PASS_ANNOTATION_UNSUPPORTED metadata.annotations['traefik.ingress.kubernetes.io/frobnicate']",
  ]);
});

test('policies: sslRedirect = false in the options turns the TLS default off', () => {
  const model = run(load('policies.yaml'), { ...options, sslRedirect: false });
  assert.equal(routeOf(model, 'admin.shop.test').policy?.sslRedirect, undefined);
});

test('policies: fitted to the mode — what it does not render is dropped with a warning; ewma becomes least_conn where only that is rendered', () => {
  const auth = { url: 'https://auth.shop.test/check', responseHeaders: [] };
  const fitted = (mode: 'native' | 'haproxy' | 'nginx') => {
    const model = run(load('policies.yaml'), { ...options, mode });
    return { policy: routeOf(model, 'sso.shop.test').policy, codes: codesOf(model, 'not-rendered') };
  };
  assert.deepEqual(fitted('native'), { policy: { externalAuth: auth, upstream: { loadBalance: 'ewma' }, timeouts: { send: 5000 } }, codes: [] });
  // HAProxy has no send timeout of its own.
  assert.deepEqual(fitted('haproxy'), { policy: { externalAuth: auth, upstream: { loadBalance: 'ewma' } }, codes: ['warning PASS_POLICY_NOT_IN_MODE metadata.annotations'] });
  assert.deepEqual(fitted('nginx'), { policy: { externalAuth: auth, upstream: { loadBalance: 'least_conn' }, timeouts: { send: 5000 } }, codes: ['warning PASS_POLICY_NOT_IN_MODE metadata.annotations'] });
  const nginx = run(load('policies.yaml'), { ...options, mode: 'nginx' });
  assert.match(nginx.diagnostics.find((d) => d.object?.name === 'not-rendered')?.message ?? '', /upstream\.ewma is not rendered in nginx mode; it is rendered as least_conn/);
});

test('migration report: per Ingress, each annotation with its status; counts; what the mode does not render', () => {
  const snapshot = load('policies.yaml');
  const report = migrationReport(snapshot, options, run(snapshot, options).diagnostics);
  assert.deepEqual(
    report.ingresses.map((i) => `${i.ingress.name}: ${i.findings.map((f) => f.status).join(',')} | ${i.notInMode.join(',')}`),
    ['admin: different,applied,applied,applied,different,applied | ', 'no-secret: applied,applied | ', 'not-rendered: applied,applied,applied | ', 'shop-canary: applied,applied,applied | ', 'snippets: refused,applied,unsupported | '],
  );
  assert.equal(report.counts.refused, 1);
  assert.equal(report.counts.unsupported, 1, 'use-regex is applied: only the unknown Traefik name is unsupported');
  assert.deepEqual(
    report.ingresses.flatMap((i) => i.problems.map((d) => `${i.ingress.name} ${d.code}`)),
    ['no-secret PASS_INGRESS_MISSING_AUTH_SECRET'],
  );
  const text = describeMigration(report);
  assert.match(text.join('\n'), /refused +nginx\.ingress\.kubernetes\.io\/configuration-snippet/);
  assert.match(text.at(-1) ?? '', /^annotations: 13 applied, 2 applied differently, 1 unsupported, 1 refused, 0 invalid, 0 in conflict \(5 Ingress\(es\), native mode\)$/);
});

test('canary: a canary Ingress adds its backend to the main route of the same host and path; a path no main Ingress routes is reported', () => {
  const model = run(load('policies.yaml'), options);
  assert.deepEqual(routeOf(model, 'admin.shop.test').policy?.canary, { header: 'X-Canary', weight: 20, backend: 'shop/web-next:http' });
  assert.equal(routeOf(model, 'admin.shop.test').backend, 'shop/web:http', 'the main backend stays');
  assert.ok(model.backends['shop/web-next:http'] !== undefined, 'the canary backend is in the model');
  assert.equal(model.virtualHosts.find((v) => v.host === 'admin.shop.test')?.routes.length, 1, 'the canary routes nothing of its own');
  assert.deepEqual(codesOf(model, 'shop-canary'), ['warning PASS_POLICY_CANARY_WITHOUT_MAIN spec.rules[0].http.paths[1].path']);
});

test('canary: every mode renders canaries, so the main route carries it in native, haproxy and nginx mode', () => {
  for (const mode of ['native', 'haproxy', 'nginx'] as const) {
    const model = run(load('policies.yaml'), { ...options, mode });
    assert.equal(routeOf(model, 'admin.shop.test').policy?.canary?.backend, 'shop/web-next:http', mode);
  }
});


test('from-to-www-redirect: the other name of each exact host redirects to it (308, path and query kept); a routed name or a wildcard gets none', () => {
  for (const mode of ['native', 'haproxy', 'nginx'] as const) {
    const model = run(load('www-redirect.yaml'), { ...options, mode });
    const hosts = model.virtualHosts.map((v) => v.host);
    const field = "metadata.annotations['nginx.ingress.kubernetes.io/from-to-www-redirect']";
    if (!FEATURE_MODES.wwwRedirect.includes(mode)) {
      assert.deepEqual(hosts.sort(), ['*.wild.test', 'shop.test', 'taken.test', 'www.blog.test', 'www.taken.test'], mode);
      assert.ok(codesOf(model, 'apex').includes(`warning PASS_POLICY_NOT_IN_MODE ${field}`), mode);
      continue;
    }
    assert.deepEqual(routeOf(model, 'www.shop.test'), {
      path: '/',
      pathType: 'Prefix',
      backend: 'shop/web:http',
      source: { kind: 'Ingress', namespace: 'shop', name: 'apex' },
      field: 'spec.rules[0].host',
      policy: { wwwRedirect: { host: 'shop.test', status: 308 } },
    }, mode);
    assert.deepEqual(routeOf(model, 'blog.test').policy, { wwwRedirect: { host: 'www.blog.test', status: 308 } }, mode);
    assert.equal(routeOf(model, 'www.taken.test').policy, undefined, `${mode}: the name another Ingress routes is left to it`);
    assert.ok(!hosts.includes('wild.test') && !hosts.includes('www.*.wild.test'), `${mode}: no redirect for a wildcard`);
    assert.deepEqual(codesOf(model, 'www'), [`warning PASS_INGRESS_CONFLICT ${field}`], mode);
    assert.equal(model.virtualHosts.find((v) => v.host === 'www.shop.test')?.routes.length, 1);
  }
});

test('wwwCounterpart: www. added or removed; none for wildcards and single labels', () => {
  assert.equal(wwwCounterpart('shop.test'), 'www.shop.test');
  assert.equal(wwwCounterpart('www.shop.test'), 'shop.test');
  assert.equal(wwwCounterpart('*.shop.test'), undefined);
  assert.equal(wwwCounterpart('localhost'), undefined);
});

test('service-weights: a second Service on a path of the Ingress joins the route as a weight-only canary; a third is reported; without the annotation it is a conflict', () => {
  for (const mode of ['native', 'haproxy', 'nginx'] as const) {
    const model = run(load('service-weights.yaml'), { ...options, mode });
    const split = model.virtualHosts.find((v) => v.host === 'split.test');
    assert.deepEqual(split?.routes.map((r) => [r.path, r.backend, r.policy]), [
      // v1 and v3 not listed share 90% (45 each); v3 is left out, so v1:v2 is 45:10.
      ['/three', 'shop/v1:80', { canary: { backend: 'shop/v2:80', weight: 18 } }],
      // v2 listed at 10%, v1 not listed: it has the other 90%.
      ['/', 'shop/v1:80', { canary: { backend: 'shop/v2:80', weight: 10 } }],
    ], mode);
    assert.deepEqual(codesOf(model, 'split'), ['error PASS_POLICY_NOT_IMPLEMENTED spec.rules[0].http.paths[4].backend'], mode);
    assert.deepEqual(routeOf(model, 'plain.test').backend, 'shop/v1:80');
    assert.deepEqual(codesOf(model, 'plain'), ['warning PASS_INGRESS_CONFLICT spec.rules[0].http.paths[1].path'], mode);
  }
});

test('weightShares: listed Services as written, the others share what is left', () => {
  assert.deepEqual(weightShares(['a', 'b'], { b: 10 }), [90, 10]);
  assert.deepEqual(weightShares(['a', 'b', 'c'], { a: 50 }), [50, 25, 25]);
  assert.deepEqual(weightShares(['a', 'b'], { a: 70, b: 30 }), [70, 30]);
  assert.deepEqual(weightShares(['a', 'b'], { a: 100 }), [100, 0]);
});

test('custom-headers: the ConfigMap\'s entries become response headers; a bad entry is a warning on the ConfigMap and is left out; a missing ConfigMap is an error and the route is served', () => {
  const model = run(load('custom-headers.yaml'), options);
  assert.deepEqual(routeOf(model, 'headers.test').policy, { headers: { response: { 'X-Frame-Options': 'DENY', 'Content-Security-Policy': "default-src 'self'" } } });
  assert.deepEqual(codesOf(model, 'security-headers'), ["warning PASS_CONFIGMAP_BAD_HEADER data['Bad Name']", "warning PASS_CONFIGMAP_BAD_HEADER data['X-Newline']"]);
  assert.equal(routeOf(model, 'missing.test').policy, undefined);
  assert.deepEqual(codesOf(model, 'missing'), ["error PASS_INGRESS_MISSING_CONFIGMAP metadata.annotations['nginx.ingress.kubernetes.io/custom-headers']"]);
});

test('Traefik 1 priority: a route a higher-priority one takes whole is left out (reported); Regex routes go by priority; a Prefix cannot go before a Regex (reported); the proxies see no priority', () => {
  for (const mode of ['native', 'haproxy', 'nginx'] as const) {
    const model = run(load('priority.yaml'), { ...options, mode });
    const vh = model.virtualHosts.find((v) => v.host === 'p.test');
    assert.deepEqual(vh?.routes.map((r) => `${r.pathType} ${r.path} ${r.backend}`), ['Regex /items/.* shop/a:80', 'Regex /items/[0-9]+ shop/b:80', 'Prefix /other shop/b:80', 'Prefix /api shop/a:80'], mode);
    assert.ok(vh?.routes.every((r) => r.policy?.priority === undefined), 'no priority reaches a proxy');
    assert.deepEqual(codesOf(model, 'rest'), [
      'warning PASS_INGRESS_CONFLICT spec.rules[0].http.paths[0].path',
      'warning PASS_INGRESS_CONFLICT spec.rules[0].http.paths[1].path',
      'warning PASS_INGRESS_CONFLICT spec.rules[0].http.paths[3].path',
    ], mode);
    assert.deepEqual(codesOf(model, 'api'), ['warning PASS_POLICY_NOT_IMPLEMENTED spec.rules[0].http.paths[0].path', 'warning PASS_POLICY_NOT_IMPLEMENTED spec.rules[0].http.paths[0].path'], mode);
    const messages = model.diagnostics.filter((d) => d.object?.name === 'rest').map((d) => d.message);
    assert.match(messages[0] ?? '', /host p\.test Prefix \/api\/v1 \(priority 0\) is left out: every request it would take goes to Prefix \/api of Ingress shop\/api, whose priority 10 is higher/);
    assert.match(messages[2] ?? '', /Exact \/items\/42 .* goes to Regex \/items\/\.\* of Ingress shop\/any-item, whose priority 5/);
  }
});
