/* Golden files (test/golden/): compared, or written with UPDATE_GOLDEN=1; a missing one fails. */

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden');

/** Asserts `actual` equals test/golden/`folder`/`name`; UPDATE_GOLDEN=1 writes it instead. */
export function golden(name: string, actual: string, folder = 'render'): void {
  const file = path.join(root, folder, name);
  const shown = path.posix.join('test/golden', folder, name);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  assert.ok(existsSync(file), `${shown} is missing (UPDATE_GOLDEN=1 writes it)`);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${shown} (UPDATE_GOLDEN=1 to accept)`);
}
