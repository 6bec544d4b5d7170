// The code catalogue against the sources: every PASS_* code written in src/ is catalogued, and
// every catalogued code is used. Reads the repository's own src/**/*.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import ts from 'typescript';
import { CODES, isPassCode } from '../../src/shared/codes.ts';

const SRC = new URL('../../src/', import.meta.url);
const CATALOGUE = 'shared/codes.ts';
const CODE = /PASS_[A-Z0-9_]+/g;

/** src/**\/*.ts, as paths relative to src/ with forward slashes, and their text. */
const sources: readonly { readonly path: string; readonly text: string }[] = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .map((p) => p.split('\\').join('/'))
  .filter((p) => p.endsWith('.ts'))
  .sort()
  .map((path) => ({ path, text: readFileSync(new URL(path, SRC), 'utf8') }));

/** The codes in the string and template literals of a file (not its comments). */
function codesInLiterals(path: string, text: string): Set<string> {
  const found = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      for (const m of node.text.matchAll(CODE)) found.add(m[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS));
  return found;
}

test('the scan sees the sources', () => {
  assert.ok(sources.length > 50, `${sources.length} files`);
  assert.ok(sources.some((s) => s.path === CATALOGUE));
});

test('every PASS_* code written in src/ (code or comment) is in the catalogue of src/shared/codes.ts', () => {
  const missing: string[] = [];
  for (const { path, text } of sources) {
    for (const m of text.matchAll(CODE)) if (!isPassCode(m[0])) missing.push(`src/${path}: ${m[0]}`);
  }
  assert.deepEqual(missing, [], 'add these codes to CODES (src/shared/codes.ts) with their meaning, then run node scripts/errors-doc.ts');
});

test('every code of the catalogue is used in a string of src/ outside the catalogue (no stale entry)', () => {
  const used = new Set<string>();
  for (const { path, text } of sources) {
    if (path === CATALOGUE) continue;
    for (const code of codesInLiterals(path, text)) used.add(code);
  }
  const stale = Object.keys(CODES).filter((code) => !used.has(code));
  assert.deepEqual(stale, [], 'remove these entries from CODES (src/shared/codes.ts), then run node scripts/errors-doc.ts');
});

test('catalogue entries are PASS_ codes with a one-line meaning', () => {
  for (const [code, meaning] of Object.entries(CODES)) {
    assert.match(code, /^PASS_[A-Z0-9]+(_[A-Z0-9]+)+$/, code);
    assert.ok(meaning.trim() !== '' && !/[\r\n]/.test(meaning) && meaning === meaning.trim(), code);
  }
});

test('isPassCode accepts catalogue codes only', () => {
  assert.equal(isPassCode('PASS_INGRESS_BAD_PATH'), true);
  assert.equal(isPassCode('PASS_NOT_A_CODE'), false);
  assert.equal(isPassCode('toString'), false);
  assert.equal(isPassCode(42), false);
});
