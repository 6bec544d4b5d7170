import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acmeConfigWarnings, nonPublicReason } from '../../src/cli/check.ts';

const LE = 'https://acme-v02.api.letsencrypt.org/directory';

test('nonPublicReason: reserved top-level domains and single labels, not public names', () => {
  for (const n of ['localhost', 'intranet', 'app.localhost', 'shop.test', 'a.b.example', 'x.invalid', 'printer.local', 'svc.internal', 'SHOP.TEST.']) {
    assert.ok(nonPublicReason(n) !== undefined, n);
  }
  for (const n of ['archifleks.net', 'tv.archifleks.net', 'example.com', 'test.example.org', 'localhost.example.net']) {
    assert.equal(nonPublicReason(n), undefined, n);
  }
  assert.match(nonPublicReason('intranet') ?? '', /single-label/);
  assert.match(nonPublicReason('shop.test') ?? '', /\.test/);
});

test('check warns when the directory of the ACME storage file does not exist', () => {
  const missing = acmeConfigWarnings({ storage: '/acme/acme.json', caServer: LE }, [], () => false);
  assert.equal(missing.length, 1);
  assert.equal(missing[0]?.severity, 'warning');
  assert.equal(missing[0]?.code, 'PASS_ACME_STORAGE_DIR');
  assert.equal(missing[0]?.field, 'acme.storage');
  assert.match(missing[0]?.message ?? '', /directory \/acme of acme.storage .* does not exist.*volume/);
  const asked: string[] = [];
  assert.deepEqual(acmeConfigWarnings({ storage: '/acme/acme.json', caServer: LE }, [], (p) => (asked.push(p), true)), []);
  assert.deepEqual(asked, ['/acme']);
  // Secrets: no directory to check.
  assert.deepEqual(acmeConfigWarnings({ storage: 'kubernetes:passerelle/acme', caServer: LE }, [], () => false), []);
});

test('check warns, once per name, about names ACME would order that no public CA issues for', () => {
  const w = acmeConfigWarnings({ storage: '/data/acme.json', caServer: LE }, ['archifleks.net', 'shop.test', 'app.localhost', 'intranet', 'shop.test'], () => true);
  assert.deepEqual(
    w.map((d) => [d.code, d.severity, d.message.split(' ')[0]]),
    [
      ['PASS_ACME_NAME_NOT_PUBLIC', 'warning', 'shop.test'],
      ['PASS_ACME_NAME_NOT_PUBLIC', 'warning', 'app.localhost'],
      ['PASS_ACME_NAME_NOT_PUBLIC', 'warning', 'intranet'],
    ],
  );
  assert.match(w[0]?.message ?? '', /no public CA \(https:\/\/acme-v02\.api\.letsencrypt\.org\/directory\)/);
  // A private CA trusted through caBundle (Pebble, step-ca) may issue for them: no warning.
  assert.deepEqual(acmeConfigWarnings({ storage: '/data/acme.json', caServer: 'https://ca.internal/dir', caBundle: '/ca.pem' }, ['shop.test'], () => true), []);
});
