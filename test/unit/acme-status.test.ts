import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../src/acme/planner.ts';
import { acmeDiagnostics, certificateStatuses, describeCertificateStatuses } from '../../src/acme/status.ts';
import { acmeCertificateId, emptyAcmeState } from '../../src/acme/types.ts';
import type { AcmeState, CertificateRequest, StoredCertificate } from '../../src/acme/types.ts';
import { certificateFromSecret, certificateSecretName, certificateToSecret } from '../../src/acme/store/kubernetes.ts';

const NOW = new Date('2025-06-01T00:00:00Z');
const DAY = 24 * 3600_000;
const iso = (offsetMs: number): string => new Date(NOW.getTime() + offsetMs).toISOString();
const ING = { kind: 'Ingress', namespace: 'web', name: 'shop' };

function req(...names: string[]): CertificateRequest {
  return { id: acmeCertificateId(names[0]!), names, origin: 'ingress', sources: [ING] };
}
function cert(names: string[], notBefore: number, notAfter: number): StoredCertificate {
  return { id: acmeCertificateId(names[0]!), names, certPem: '-----BEGIN CERTIFICATE-----\nC\n', keyPem: '-----BEGIN PRIVATE KEY-----\nK\n', notBefore: iso(notBefore), notAfter: iso(notAfter), issuedAt: iso(notBefore) };
}
const problem = { type: 'urn:ietf:params:acme:error:connection', detail: 'connection refused', cause: 'the CA could not connect', at: iso(-60_000) };

test('statuses and diagnostics: valid, pending, failed (error), failing renewal (warning), unused', () => {
  const state: AcmeState = {
    ...emptyAcmeState,
    certificates: {
      [acmeCertificateId('ok.test')]: cert(['ok.test'], -DAY, 60 * DAY),
      [acmeCertificateId('renew.test')]: cert(['renew.test'], -80 * DAY, 10 * DAY),
      [acmeCertificateId('old.test')]: cert(['old.test'], -DAY, 60 * DAY),
    },
    backoff: {
      'bad.test': { failures: 2, nextAttemptAt: iso(120_000), lastError: problem },
      'renew.test': { failures: 1, nextAttemptAt: iso(60_000), lastError: problem },
    },
  };
  const requests = [req('ok.test'), req('new.test'), req('bad.test'), req('renew.test')];
  const p = plan({ requests, state, now: NOW });
  const statuses = certificateStatuses(p, state, NOW);
  const by = new Map(statuses.map((s) => [s.names[0], s]));
  assert.equal(by.get('ok.test')?.state, 'valid');
  assert.equal(by.get('ok.test')?.notAfter, iso(60 * DAY));
  assert.equal(by.get('new.test')?.state, 'pending');
  assert.equal(by.get('bad.test')?.state, 'failed');
  assert.deepEqual(by.get('bad.test')?.lastError, problem);
  assert.equal(by.get('renew.test')?.state, 'valid');
  assert.equal(by.get('renew.test')?.lastError?.detail, 'connection refused');
  assert.equal(by.get('old.test')?.state, 'unused');

  const diags = acmeDiagnostics(p, state, NOW);
  assert.deepEqual(
    diags.map((d) => [d.severity, d.code, d.object?.name]),
    [
      ['error', 'PASS_ACME_ORDER_FAILED', 'shop'],
      ['warning', 'PASS_ACME_ORDER_FAILED', 'shop'],
    ],
  );
  assert.match(diags[0]!.message, /bad\.test: connection refused — the CA could not connect/);
  const text = describeCertificateStatuses(statuses, 'file /x/acme.json').join('\n');
  assert.match(text, /failed +bad\.test: no certificate yet; backing off/);
  assert.match(text, /last error .*connection refused — the CA could not connect/);
});

test('a certificate survives the round trip through a kubernetes.io/tls Secret', () => {
  const c: StoredCertificate = { ...cert(['a.test', 'www.a.test'], -DAY, 60 * DAY), origin: 'ingress', orderUrl: 'https://ca/order/1', ariId: 'aki.serial', renewal: { start: iso(DAY), end: iso(2 * DAY), nextCheck: iso(3600_000) } };
  const s = certificateToSecret('acme', c);
  assert.equal(s.type, 'kubernetes.io/tls');
  assert.equal(s.metadata.name, 'acme-a.test');
  assert.deepEqual(certificateFromSecret(s), c);
  assert.equal(certificateFromSecret({ ...s, data: {} }), undefined, 'no key: not a certificate');
  assert.ok(certificateSecretName('acme', `${'x'.repeat(250)}.test`).length <= 253);
});
