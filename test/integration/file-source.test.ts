import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, unlink, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSource } from '../../src/sources/file/source.ts';

const service = (name: string): string => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: web}\nspec: {ports: [{port: 80}]}\n`;

/** Resolves when `check` holds after a change signal, or rejects after `ms`; returns the time it took. */
function waitFor(source: FileSource, check: () => boolean, ms: number): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    if (check()) return resolve(0);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`not applied within ${ms} ms`));
    }, ms);
    const off = source.onChange(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve(performance.now() - start);
    });
  });
}

const names = (s: FileSource): string[] => s.snapshot().services.map((o) => o.metadata?.name ?? '').sort();

test('file source: reads a folder, follows edits within one second, keeps the last good state of a broken file', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-files-'));
  const source = new FileSource({ directory: dir });
  t.after(async () => {
    await source.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(path.join(dir, 'a.yaml'), service('a'));
  await writeFile(path.join(dir, 'notes.txt'), 'not yaml: [');
  await source.start();
  assert.deepEqual(names(source), ['a']);
  assert.deepEqual(source.diagnostics(), []);

  // A new file is picked up.
  const added = waitFor(source, () => names(source).includes('b'), 1000);
  await writeFile(path.join(dir, 'b.yaml'), service('b'));
  assert.ok((await added) < 1000);

  // An edit replaces that file's objects.
  const edited = waitFor(source, () => names(source).includes('a2'), 1000);
  await writeFile(path.join(dir, 'a.yaml'), service('a2'));
  await edited;
  assert.deepEqual(names(source), ['a2', 'b']);

  // A broken edit keeps the last good objects and reports path and line.
  const broken = waitFor(source, () => source.diagnostics().length > 0, 1000);
  await writeFile(path.join(dir, 'a.yaml'), 'kind: Service\nmetadata:\n  name: [oops\n');
  await broken;
  assert.deepEqual(names(source), ['a2', 'b']);
  const [diag] = source.diagnostics();
  assert.equal(diag?.code, 'PASS_FILE_PARSE');
  assert.match(diag?.location?.file ?? '', /a\.yaml$/);
  assert.equal(typeof diag?.location?.line, 'number');

  // Fixing it clears the diagnostic.
  const fixed = waitFor(source, () => source.diagnostics().length === 0 && names(source).includes('a3'), 1000);
  await writeFile(path.join(dir, 'a.yaml'), service('a3'));
  await fixed;

  // An atomic replace (write + rename, as editors and kubectl-like tools do) is seen.
  const replaced = waitFor(source, () => names(source).includes('b2'), 1000);
  await writeFile(path.join(dir, '.b.yaml.tmp'), service('b2'));
  await rename(path.join(dir, '.b.yaml.tmp'), path.join(dir, 'b.yaml'));
  await replaced;

  // Removing a file removes its objects.
  const removed = waitFor(source, () => !names(source).includes('b2'), 1000);
  await unlink(path.join(dir, 'b.yaml'));
  await removed;
  assert.deepEqual(names(source), ['a3']);
});

test('file source: a missing folder is a diagnostic, not a crash', async (t) => {
  const source = new FileSource({ directory: path.join(tmpdir(), 'passerelle-does-not-exist-xyz'), watch: false });
  t.after(() => source.stop());
  await source.start();
  assert.equal(source.diagnostics()[0]?.code, 'PASS_FILE_DIRECTORY');
  assert.deepEqual(source.snapshot().services, []);
});

test('file source: a misspelled field is reported with its file and line, and its rule is left out', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-files-'));
  const source = new FileSource({ directory: dir, watch: false });
  t.after(async () => {
    await source.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'shop.yaml');
  await writeFile(
    file,
    [
      'apiVersion: networking.k8s.io/v1',
      'kind: Ingress',
      'metadata: {name: shop, namespace: web}',
      'spec:',
      '  rules:',
      '    - hots: shop.test',
      '      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}]}',
      '',
    ].join('\n'),
  );
  await source.start();
  const [diag, ...more] = source.diagnostics();
  assert.deepEqual(more, []);
  assert.equal(diag?.code, 'PASS_FILE_UNKNOWN_FIELD');
  assert.equal(diag.field, 'spec.rules[0].hots');
  assert.equal(diag.location?.file, path.relative(process.cwd(), file));
  assert.equal(diag.location.line, 6);
  assert.deepEqual(source.snapshot().ingresses.map((o) => o.skippedFields), [['spec.rules[0]']]);
});
