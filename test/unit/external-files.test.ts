import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { restoreAuxFiles, writeAuxFiles } from '../../src/drivers/external/files.ts';
import type { RenderedConfig, RenderedFile } from '../../src/render/types.ts';

const config = (files: RenderedFile[]): RenderedConfig => ({ dialect: 'nginx', main: { path: 'nginx.conf', content: '', mode: 0o644, secret: false }, files, checksum: '', structure: '', diagnostics: [] });
const file = (p: string, content: string, mode: number, workerReadable?: boolean): RenderedFile => ({ path: p, content, mode, secret: mode === 0o600, ...(workerReadable === undefined ? {} : { workerReadable }) });

test('writeAuxFiles: new files get their exact mode whatever the umask, a filter writes a part, a rewrite and a restore replace contents', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pass-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const modeOf = (p: string): number => statSync(path.join(dir, p)).mode & 0o7777;
  const read = (p: string): string => readFileSync(path.join(dir, p), 'utf8');
  for (const mask of [0o022, 0o077]) {
    const old = process.umask(mask);
    try {
      const sub = `u${mask.toString(8)}`;
      const next = config([file(`${sub}/a.pem`, 'A', 0o600, true), file(`${sub}/b.pem`, 'B', 0o600, true), file(`${sub}/endpoints.json`, '{}', 0o644)]);
      // Only the files read at load first, then the others (as the driver does around a validation).
      await writeAuxFiles(dir, next, undefined, undefined, (f) => f.workerReadable !== true);
      assert.equal(modeOf(`${sub}/endpoints.json`), 0o644, `umask ${mask.toString(8)}`);
      assert.throws(() => statSync(path.join(dir, `${sub}/a.pem`)), /ENOENT/);
      const created = await writeAuxFiles(dir, next, undefined, undefined, (f) => f.workerReadable === true);
      // What a readability check takes instead of a stat: the mode and owner on disk.
      assert.deepEqual([...created.keys()], [path.join(dir, `${sub}/a.pem`), path.join(dir, `${sub}/b.pem`)]);
      for (const [p, m] of created) {
        const st = statSync(p);
        assert.deepEqual(m, { path: p, mode: st.mode & 0o777, uid: st.uid, gid: st.gid });
      }
      assert.equal(modeOf(`${sub}/a.pem`), 0o600);
      assert.equal(modeOf(`${sub}/b.pem`), 0o600);
      assert.equal(read(`${sub}/b.pem`), 'B');
      // A changed file is replaced (temporary file and rename), a new one created, with their modes.
      const changed = config([file(`${sub}/a.pem`, 'A2', 0o640, true), file(`${sub}/b.pem`, 'B', 0o600, true), file(`${sub}/c.pem`, 'C', 0o640, true), file(`${sub}/endpoints.json`, '{}', 0o644)]);
      // Replaced files are not in the answer (their check reads the disk).
      assert.deepEqual([...(await writeAuxFiles(dir, changed, next)).keys()], [path.join(dir, `${sub}/c.pem`)]);
      assert.equal(read(`${sub}/a.pem`), 'A2');
      assert.equal(modeOf(`${sub}/a.pem`), 0o640);
      assert.equal(modeOf(`${sub}/c.pem`), 0o640);
      // Restored: the previous contents, the file it did not have removed.
      await restoreAuxFiles(dir, changed, next);
      assert.equal(read(`${sub}/a.pem`), 'A');
      assert.equal(modeOf(`${sub}/a.pem`), 0o600);
      assert.throws(() => statSync(path.join(dir, `${sub}/c.pem`)), /ENOENT/);
    } finally {
      process.umask(old);
    }
  }
});
