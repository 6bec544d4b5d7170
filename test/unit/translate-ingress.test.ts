/*
 * Translate, Ingress shapes: the seed's legacy extensions/v1beta1 Ingress, networking.k8s.io/v1beta1
 * and v1, ImplementationSpecific paths, default backends, entry points copied into the model.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRequest } from '../../src/model/match.ts';
import { load, run, brief, endpointsOf, snapshotOf, v1Ingress, rule, options, webService } from './translate-helpers.ts';

test('seed: the legacy extensions/v1beta1 Ingress (class "traefik" alias, paths without path) gives 4 virtual hosts', () => {
  const model = run(load('seed-ingress.yml', 'seed-services.yaml'));
  assert.deepEqual(model.diagnostics, []);
  const expected: [string, string, string[]][] = [
    ['movies.archifleks.net', 'default/couchpotato:5050', ['10.1.0.14:5050 couchpotato-0', '10.1.0.15:5050 couchpotato-1']],
    ['seedbox.archifleks.net', 'default/h5ai:80', ['10.1.0.11:80 h5ai-7d9f-1']],
    ['torrents.archifleks.net', 'default/rtorrent-internal:80', ['10.1.0.13:8080 rtorrent-0']],
    ['tv.archifleks.net', 'default/sickrage:8081', ['10.1.0.12:8081 sickrage-0']],
  ];
  assert.deepEqual(model.virtualHosts.map((v) => v.host), expected.map(([h]) => h));
  for (const [host, backend, endpoints] of expected) {
    const vh = model.virtualHosts.find((v) => v.host === host);
    assert.ok(vh);
    assert.equal(vh.kind, 'exact');
    assert.deepEqual(vh.routes.map((r) => [r.path, r.pathType, r.backend]), [['/', 'Prefix', backend]]);
    assert.deepEqual(vh.sources, [{ kind: 'Ingress', namespace: 'default', name: 'bobox' }]);
    assert.equal(vh.certificate, undefined);
    assert.deepEqual(endpointsOf(model, backend), endpoints);
    const res = resolveRequest(model, `${host}:80`, '/some/page');
    assert.equal(res.outcome, 'route');
  }
  assert.deepEqual(Object.keys(model.backends), ['default/couchpotato:5050', 'default/h5ai:80', 'default/rtorrent-internal:80', 'default/sickrage:8081']);
  assert.equal(model.defaultBackend, undefined);
});

test('entry points are copied from the options into the model', () => {
  const entryPoints = [{ name: 'http', address: { port: 80 }, tls: false, middlewares: [] }];
  const model = run(load('seed-ingress.yml', 'seed-services.yaml'), { ...options, entryPoints });
  assert.deepEqual(model.entryPoints, entryPoints);
});

test('legacy shape: networking.k8s.io/v1beta1 with spec.backend, servicePort by name, explicit pathType', () => {
  const ingress = {
    apiVersion: 'networking.k8s.io/v1beta1',
    kind: 'Ingress',
    metadata: { name: 'old', namespace: 'default', annotations: { 'kubernetes.io/ingress.class': 'passerelle' } },
    spec: {
      backend: { serviceName: 'web', servicePort: 'http' },
      rules: [{ host: 'old.example.com', http: { paths: [{ path: '/exact', pathType: 'Exact', backend: { serviceName: 'web', servicePort: 80 } }] } }],
    },
  };
  const service = { kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } };
  const model = run(snapshotOf({ ingresses: [ingress], services: [service] }));
  assert.deepEqual(model.diagnostics, []);
  assert.equal(model.defaultBackend, 'default/web:http');
  assert.deepEqual(model.virtualHosts[0]?.routes.map((r) => [r.path, r.pathType, r.backend]), [['/exact', 'Exact', 'default/web:80']]);
  assert.equal(resolveRequest(model, 'other.example.com', '/').outcome, 'default');
});

test('legacy shape without apiVersion (API list items) is recognised by serviceName', () => {
  const ingress = {
    metadata: { name: 'bare', annotations: { 'kubernetes.io/ingress.class': 'passerelle' } },
    spec: { rules: [{ http: { paths: [{ backend: { serviceName: 'web', servicePort: 80 } }] } }] },
  };
  const model = run(snapshotOf({ ingresses: [ingress], services: [webService] }));
  assert.deepEqual(model.diagnostics, []);
  assert.deepEqual(model.virtualHosts.map((v) => [v.host, v.routes[0]?.path, v.routes[0]?.pathType]), [['*', '/', 'Prefix']]);
});

test('v1: ImplementationSpecific without path means "/" served as Prefix', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('i', { rules: [rule('i.example.com', undefined, 'ImplementationSpecific')] })], services: [webService] }));
  assert.deepEqual(model.diagnostics, []);
  assert.deepEqual(model.virtualHosts[0]?.routes.map((r) => [r.path, r.pathType]), [['/', 'Prefix']]);
});

test('v1: spec.defaultBackend becomes the model default backend', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('d', { defaultBackend: { service: { name: 'web', port: { number: 80 } } } })], services: [webService] }));
  assert.deepEqual(model.diagnostics, []);
  assert.equal(model.defaultBackend, 'default/web:80');
  assert.deepEqual(model.virtualHosts, []);
});

for (const [name, spec] of [['absent', {}], ['empty', { rules: [] }]] as const) {
  test(`an Ingress with neither rules (${name}) nor default backend is reported`, () => {
    const model = run(snapshotOf({ ingresses: [v1Ingress('e', spec)] }));
    assert.deepEqual(brief(model.diagnostics), ['error PASS_OBJECT_INVALID Ingress default/e spec']);
  });
}
