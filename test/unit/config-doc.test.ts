import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configReference } from '../../src/config/reference.ts';

test('docs/configuration.md is what the schema generates (run node scripts/config-doc.ts)', () => {
  assert.equal(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8'), configReference());
});

test('the configuration reference lists every section with its defaults', () => {
  const doc = configReference();
  for (const line of ['[entryPoints.NAME.redirect]', 'proxy.mode = "native"', 'kubernetes.classAliases = ["traefik"]', 'acme.onHostRule = false', 'web.address = ":8080"']) {
    assert.ok(doc.includes(line), line);
  }
});
