import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfigResult } from '../../src/config/load.ts';
import { CONFIG_EXAMPLES, configReference } from '../../src/config/reference.ts';
import { PassDiagnosticsError } from '../../src/shared/errors.ts';

const DOC = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** The contents of every ```toml block of a Markdown text, in order. */
function tomlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```toml\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

/** Loads a TOML text as a configuration file, failing with its diagnostics; returns the warnings. */
function load(text: string, what: string): readonly string[] {
  try {
    return parseConfigResult(text, '/etc/passerelle/passerelle.toml').warnings.map((w) => w.message);
  } catch (err) {
    if (!(err instanceof PassDiagnosticsError)) throw err;
    assert.fail(`${what} does not load: ${err.message}\n${text}`);
  }
}

test('docs/configuration.md is what the schema generates (run node scripts/config-doc.ts)', () => {
  assert.equal(DOC, configReference());
});

test('the configuration reference lists every section with its defaults', () => {
  const doc = configReference();
  for (const line of ['[entryPoints.NAME.redirect]', 'proxy.mode = "native"', 'kubernetes.classAliases = ["traefik"]', 'acme.onHostRule = false', 'web.address = ":8080"']) {
    assert.ok(doc.includes(line), line);
  }
});

test('docs/configuration.md has one TOML example per section', () => {
  const blocks = tomlBlocks(DOC);
  assert.equal(blocks.length, CONFIG_EXAMPLES.length);
  const all = blocks.join('\n');
  for (const table of ['[entryPoints.http]', '[entryPoints.http.redirect]', '[entryPoints.https.timeouts]', '[entryPoints.https.forwardedHeaders]', '[entryPoints.https.tls]', '[entryPoints.internal.auth.basic]', '[proxy]', '[kubernetes]', '[file]', '[acme]', '[[acme.domains]]', '[web]', '[web.auth.basic]', '[accessLog]', '[log]']) {
    assert.ok(all.split('\n').includes(table), table);
  }
});

test('every TOML block of docs/configuration.md loads after the entry point block, without warnings', () => {
  const [first, ...rest] = tomlBlocks(DOC);
  assert.ok(first !== undefined);
  assert.deepEqual(load(first, 'the first block'), []);
  rest.forEach((block, i) => {
    assert.deepEqual(load(`${first}\n${block}`, `block ${i + 2}`), [], `block ${i + 2}`);
  });
});

test('the TOML blocks of docs/configuration.md together make one configuration file', () => {
  const blocks = tomlBlocks(DOC);
  assert.deepEqual(load(blocks.join('\n'), 'the concatenation'), []);
  const config = parseConfigResult(blocks.join('\n'), '/etc/passerelle/passerelle.toml').config;
  assert.deepEqual(config.defaultEntryPoints, ['http', 'https', 'internal']);
  assert.equal(config.entryPoints['http']?.redirect?.entryPoint, 'https');
  assert.equal(config.proxy.mode, 'haproxy');
  assert.equal(config.kubernetes.enabled, true);
  assert.equal(config.acme?.domains.length, 2);
  assert.equal(config.web.auth?.basic?.users[0]?.user, 'admin');
  assert.equal(config.accessLog?.format, 'json');
  assert.equal(config.log.format, 'json');
});
