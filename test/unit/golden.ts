/* Golden files of rendered configurations (test/golden/render/): compared, or written with UPDATE_GOLDEN=1. */

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden/render');

/** Asserts `actual` equals test/golden/render/`name`; UPDATE_GOLDEN=1 (or a missing file) writes it instead. */
export function golden(name: string, actual: string): void {
  const file = path.join(dir, name);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from test/golden/render/${name} (UPDATE_GOLDEN=1 to accept)`);
}
