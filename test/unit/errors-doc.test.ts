import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODES } from '../../src/shared/codes.ts';
import { codesByArea, errorsReference } from '../../src/shared/codes-reference.ts';

test('docs/errors.md is what the code catalogue generates (run node scripts/errors-doc.ts)', () => {
  assert.equal(readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8'), errorsReference());
});

test('every code of the catalogue is in exactly one area of docs/errors.md, with its meaning', () => {
  const placed = codesByArea().flatMap((g) => g.codes);
  assert.deepEqual([...placed].sort(), Object.keys(CODES).sort());
  const doc = errorsReference();
  for (const [code, meaning] of Object.entries(CODES)) assert.ok(doc.includes(`| \`${code}\` | ${meaning} |`), code);
});

test('the error reference groups codes by area', () => {
  const doc = errorsReference();
  for (const line of ['## Configuration file (CONFIG)', '## Kubernetes source (KUBE)', '## ACME certificates (ACME)', '## HAProxy (HAPROXY)', '## nginx (NGINX)', '## Controller (SYNC)']) {
    assert.ok(doc.includes(line), line);
  }
  assert.ok(doc.indexOf('`PASS_INGRESS_BAD_PATH`') > doc.indexOf('## Kubernetes objects'));
  assert.ok(doc.indexOf('`PASS_INGRESS_BAD_PATH`') < doc.indexOf('## File source'));
});
