/*
 * Translate, TLS: the certificate of each virtual host from Ingress tls entries and Secrets,
 * deduplicated, and bad or missing Secrets reported.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, run, brief, endpointsOf, snapshotOf, v1Ingress, rule, webService } from './translate-helpers.ts';

test('missing Secret: the TLS entry is skipped, the host is still routed, with no certificate', () => {
  const model = run(load('missing.yaml'));
  assert.deepEqual(model.certificates, []);
  const vh = model.virtualHosts.find((v) => v.host === 'gaps.example.com');
  assert.equal(vh?.certificate, undefined);
  assert.deepEqual(endpointsOf(model, 'default/web:80'), ['10.0.0.1:80']);
});

const certCases: [string, string | undefined][] = [
  ['www.example.com', 'default/www-tls'],
  ['shop.example.com', 'default/wild-tls'],
  ['api.example.com', 'default/wild-tls'],
  ['*.example.com', 'default/wild-tls'],
  ['a.b.example.com', undefined],
  // Their own Secrets are unusable: they fall back to the wildcard certificate that covers them.
  ['bad.example.com', 'default/wild-tls'],
  ['notpem.example.com', 'default/wild-tls'],
  ['nohosts.example.org', 'default/www-tls'],
  ['*', undefined],
];
for (const [host, cert] of certCases) {
  test(`TLS: certificate for ${host} is ${cert ?? 'none'}`, () => {
    const model = run(load('tls.yaml'));
    const vh = model.virtualHosts.find((v) => v.host === host);
    assert.ok(vh, `no virtual host ${host}`);
    assert.equal(vh.certificate, cert);
  });
}

test('TLS: certificates deduplicated by Secret with hosts merged and sorted; PEM from data and stringData', () => {
  const model = run(load('tls.yaml'));
  assert.deepEqual(
    model.certificates.map((c) => [c.id, c.hosts, c.source]),
    [
      ['default/wild-tls', ['*.example.com', 'api.example.com'], { kind: 'Secret', namespace: 'default', name: 'wild-tls' }],
      ['default/www-tls', ['nohosts.example.org', 'www.example.com'], { kind: 'Secret', namespace: 'default', name: 'www-tls' }],
    ],
  );
  for (const c of model.certificates) {
    assert.match(c.certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    assert.match(c.keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
  }
});

test('TLS: wrong Secret type, non-PEM data, bad TLS host, host already taken are reported', () => {
  const model = run(load('tls.yaml'));
  assert.deepEqual(brief(model.diagnostics), [
    'error PASS_INGRESS_BAD_HOST Ingress default/site spec.tls[3].hosts[1]',
    'error PASS_SECRET_BAD_TLS Ingress default/site spec.tls[2].secretName',
    'error PASS_SECRET_BAD_TLS Ingress default/site spec.tls[3].secretName',
    'warning PASS_INGRESS_CONFLICT Ingress default/site2 spec.tls[0].hosts[0]',
    "error PASS_SECRET_BAD_TLS Secret default/notpem data['tls.crt']",
    'error PASS_SECRET_BAD_TLS Secret default/opaque type',
  ]);
});

test('TLS: a Secret name that is not a DNS-1123 subdomain is rejected before lookup', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('t', { tls: [{ hosts: ['t.example.com'], secretName: '../etc' }], rules: [rule('t.example.com', '/')] })], services: [webService] }));
  assert.deepEqual(brief(model.diagnostics), ['error PASS_OBJECT_INVALID Ingress default/t spec.tls[0].secretName']);
  assert.deepEqual(model.virtualHosts.map((v) => v.host), ['t.example.com']);
});
