import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseObjectsFile } from '../../src/sources/file/parse.ts';

const cases: {
  name: string;
  yaml: string;
  ok: boolean;
  kinds?: string[];
  namespaces?: (string | undefined)[];
  lines?: number[];
  ignored?: number;
  errorLine?: number;
  errorCode?: string;
}[] = [
  {
    name: 'multi-document-file-keeps-each-object-and-its-line',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: x}\n',
    ok: true,
    kinds: ['Service', 'Secret'],
    namespaces: ['default', 'x'],
    lines: [1, 5],
  },
  {
    name: 'list-kind-is-flattened',
    yaml: 'apiVersion: v1\nkind: List\nitems:\n  - {kind: Service, metadata: {name: a}}\n  - {kind: Service, metadata: {name: b}}\n',
    ok: true,
    kinds: ['Service', 'Service'],
  },
  {
    name: 'ingress-class-stays-cluster-scoped',
    yaml: 'kind: IngressClass\nmetadata: {name: c}\n',
    ok: true,
    kinds: ['IngressClass'],
    namespaces: [undefined],
  },
  {
    name: 'kinds-the-model-does-not-read-are-counted-and-dropped',
    yaml: 'kind: Deployment\nmetadata: {name: d}\n---\nkind: PodDisruptionBudget\nmetadata: {name: c}\n---\nkind: Service\nmetadata: {name: s}\n',
    ok: true,
    kinds: ['Service'],
    ignored: 2,
  },
  { name: 'empty-documents-are-skipped', yaml: '---\n---\n# only a comment\n', ok: true, kinds: [] },
  {
    name: 'syntax-error-names-the-line',
    yaml: 'kind: Service\nmetadata:\n  name: a\n  labels: {x: [1, 2}\n',
    ok: false,
    errorLine: 4,
    errorCode: 'PASS_FILE_PARSE',
  },
  {
    name: 'duplicate-keys-are-an-error',
    yaml: 'kind: Service\nkind: Secret\nmetadata: {name: a}\n',
    ok: false,
    errorLine: 2,
    errorCode: 'PASS_FILE_PARSE',
  },
  { name: 'scalar-document-is-not-an-object', yaml: 'just a string\n', ok: false, errorLine: 1, errorCode: 'PASS_FILE_NOT_OBJECT' },
  { name: 'object-without-kind-is-rejected', yaml: 'metadata: {name: a}\n', ok: false, errorLine: 1, errorCode: 'PASS_FILE_NOT_OBJECT' },
];

for (const c of cases) {
  test(`file parse: ${c.name}`, () => {
    const parsed = parseObjectsFile(c.yaml, 'fixture.yaml');
    assert.equal(parsed.ok, c.ok, JSON.stringify(parsed));
    if (parsed.ok) {
      if (c.kinds) assert.deepEqual(parsed.objects.map((o) => o.kind), c.kinds);
      if (c.namespaces) assert.deepEqual(parsed.objects.map((o) => o.metadata?.namespace), c.namespaces);
      if (c.lines) assert.deepEqual(parsed.objects.map((o) => o.source?.line), c.lines);
      if (c.ignored !== undefined) assert.equal(parsed.ignored, c.ignored);
      for (const o of parsed.objects) assert.equal(o.source?.file, 'fixture.yaml');
    } else {
      const first = parsed.diagnostics[0];
      assert.ok(first, 'a diagnostic is reported');
      assert.equal(first.code, c.errorCode);
      assert.equal(first.location?.file, 'fixture.yaml');
      assert.equal(first.location?.line, c.errorLine);
    }
  });
}
