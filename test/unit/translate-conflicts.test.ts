/*
 * Translate, conflicts and order: the oldest Ingress wins a (host, path, pathType) and the default
 * backend; the model does not depend on the input order; virtual hosts are sorted.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Snapshot } from '../../src/model/k8s.ts';
import { load, run, brief, snapshotOf, v1Ingress, rule, webService } from './translate-helpers.ts';

test('conflicts: the oldest Ingress keeps a (host, path, pathType); newer ones get warnings; hosts merge', () => {
  const model = run(load('conflicts.yaml'));
  const shared = model.virtualHosts.find((v) => v.host === 'shared.example.com');
  assert.ok(shared);
  assert.deepEqual(
    shared.routes.map((r) => `${r.pathType} ${r.path} ${r.backend}`),
    ['Exact /exact a/svc-a:80', 'Prefix /exact b/svc-b:80', 'Prefix /other b/svc-b:80', 'Prefix /app a/svc-a:80', 'Prefix /dup a/svc-a:80', 'Prefix / a/svc-a:80'],
  );
  assert.deepEqual(shared.sources, [
    { kind: 'Ingress', namespace: 'a', name: 'older' },
    { kind: 'Ingress', namespace: 'b', name: 'newer' },
  ]);
  assert.deepEqual(brief(model.diagnostics), [
    'warning PASS_INGRESS_CONFLICT Ingress a/older spec.rules[0].http.paths[4].path',
    'warning PASS_INGRESS_CONFLICT Ingress b/newer spec.rules[0].http.paths[0].path',
    'warning PASS_INGRESS_CONFLICT Ingress b/newer spec.rules[0].http.paths[3].path',
    'warning PASS_INGRESS_CONFLICT Ingress b/newer spec.defaultBackend',
    'warning PASS_INGRESS_CONFLICT Ingress b/tie spec.rules[0].http.paths[0].path',
  ]);
});

test('conflicts: the oldest default backend wins', () => {
  assert.equal(run(load('conflicts.yaml')).defaultBackend, 'a/svc-a:80');
});

test('conflicts: same creationTimestamp, namespace/name decides', () => {
  const tie = run(load('conflicts.yaml')).virtualHosts.find((v) => v.host === 'tie.example.com');
  assert.deepEqual(tie?.routes.map((r) => r.backend), ['a/svc-a:80']);
});

test('determinism: the input order of objects does not change the model', () => {
  const snapshot = load('conflicts.yaml');
  const reversed: Snapshot = { ...snapshot, ingresses: [...snapshot.ingresses].reverse(), services: [...snapshot.services].reverse() };
  assert.deepEqual(run(reversed), run(load('conflicts.yaml')));
});

test('virtual hosts sorted: exact by name, then wildcards by name, then "*"', () => {
  const model = run(
    snapshotOf({
      ingresses: [v1Ingress('s', { rules: [rule(undefined, '/'), rule('*.b.com', '/'), rule('z.com', '/'), rule('*.a.com', '/'), rule('a.com', '/')] })],
      services: [webService],
    }),
  );
  assert.deepEqual(model.virtualHosts.map((v) => v.host), ['a.com', 'z.com', '*.a.com', '*.b.com', '*']);
});
