import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import type { KubeObject } from '../../model/k8s.ts';
import { CLUSTER_SCOPED_KINDS, GATEWAY_API_VERSIONS, isModelKind } from '../snapshot.ts';
import { dispositionOf, fieldTableOf, unknownFieldDiagnostic, unknownFieldsIn, unknownKindDiagnostic } from './fields.ts';

/**
 * What one YAML file holds: its objects and the findings that did not stop it from loading
 * (unknown fields and kinds), or the reason it could not be read at all.
 */
export type ParsedFile =
  | { readonly ok: true; readonly objects: readonly KubeObject[]; readonly ignored: number; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The line where a node starts, when it has a range. */
function lineOf(node: unknown, lineCounter: LineCounter): number | undefined {
  const start = isMap(node) || isSeq(node) || isScalar(node) ? node.range?.[0] : undefined;
  return start === undefined ? undefined : lineCounter.linePos(start).line;
}

/** The value node of `key` in a map node, if any. */
function valueNode(node: unknown, key: string): unknown {
  return isMap(node) ? node.get(key, true) : undefined;
}

/** The line of the `key:` of a map node, if present. */
function keyLine(node: unknown, key: string, lineCounter: LineCounter): number | undefined {
  if (!isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair === undefined ? undefined : lineOf(pair.key, lineCounter);
}

function refOf(kind: string, metadata: Readonly<Record<string, unknown>>): ObjectRef {
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : '(no name)';
  return typeof metadata['namespace'] === 'string' ? { kind, namespace: metadata['namespace'], name } : { kind, name };
}

/**
 * Parses a multi-document YAML file of Kubernetes objects. `kind: List` is flattened,
 * a missing namespace becomes `default` (as `kubectl apply` does for namespaced kinds),
 * built-in kinds the model does not read are counted and dropped, and so is a Gateway API kind of a
 * version translate does not read (with a warning). Any syntax error fails the whole
 * file so the caller can keep its last good state. Fields the Kubernetes API does not define in the
 * kinds translate reads, and kinds it does not know, are diagnostics with the line of the field (see
 * fields.ts): the Ingress rule, path or TLS entry holding such a field is marked skipped on the object
 * (`skippedFields`), any other object holding one is not loaded.
 */
export function parseObjectsFile(text: string, file: string): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const diagnostics: Diagnostic[] = [];
  const findings: Diagnostic[] = [];
  const objects: KubeObject[] = [];
  let ignored = 0;
  for (const doc of list) {
    for (const err of doc.errors) {
      const line = lineCounter.linePos(err.pos[0]).line;
      diagnostics.push({
        severity: 'error',
        code: 'PASS_FILE_PARSE',
        message: `YAML syntax error: ${err.message.split('\n')[0] ?? err.message}`,
        location: line === undefined ? { file } : { file, line },
      });
    }
    if (doc.errors.length > 0) continue;
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    const line = doc.contents ? lineCounter.linePos(doc.contents.range[0]).line : 1;
    if (!isRecord(value)) {
      diagnostics.push({ severity: 'error', code: 'PASS_FILE_NOT_OBJECT', message: 'document is not a Kubernetes object (a mapping with kind)', location: { file, line } });
      continue;
    }
    const isList = value['kind'] === 'List' && Array.isArray(value['items']);
    const items = isList ? (value['items'] as unknown[]) : [value];
    const listNode = isList ? valueNode(doc.contents, 'items') : undefined;
    items.forEach((item, index) => {
      const node = isList ? (isSeq(listNode) ? listNode.items[index] : undefined) : doc.contents;
      const itemLine = isList ? (lineOf(node, lineCounter) ?? line) : line;
      if (!isRecord(item) || typeof item['kind'] !== 'string') {
        diagnostics.push({ severity: 'error', code: 'PASS_FILE_NOT_OBJECT', message: 'object has no string `kind`', location: { file, line: itemLine } });
        return;
      }
      const kind = item['kind'];
      if (!isModelKind(kind, item['apiVersion'])) {
        ignored++;
        const line = keyLine(node, 'apiVersion', lineCounter) ?? itemLine;
        const versions = GATEWAY_API_VERSIONS[kind];
        if (versions !== undefined && typeof item['apiVersion'] === 'string' && item['apiVersion'].startsWith('gateway.networking.k8s.io/')) {
          findings.push({
            severity: 'warning',
            code: 'PASS_FILE_UNKNOWN_KIND',
            message: `${kind} of apiVersion ${JSON.stringify(item['apiVersion'])} is not read (only ${versions.join(' or ')}); not loaded`,
            ...(isRecord(item['metadata']) ? { object: refOf(kind, item['metadata']) } : {}),
            field: 'apiVersion',
            location: { file, line },
          });
          return;
        }
        const d = unknownKindDiagnostic(kind, item['apiVersion'], file, keyLine(node, 'kind', lineCounter) ?? itemLine, isRecord(item['metadata']) ? refOf(kind, item['metadata']) : undefined);
        if (d !== undefined) findings.push(d);
        return;
      }
      const meta = isRecord(item['metadata']) ? item['metadata'] : {};
      const namespaced = !CLUSTER_SCOPED_KINDS.has(kind);
      const metadata = namespaced && meta['namespace'] === undefined ? { ...meta, namespace: 'default' } : meta;
      const table = fieldTableOf(kind, item);
      const unknown = table === undefined ? [] : unknownFieldsIn(node, table, lineCounter).map((u) => ({ u, d: dispositionOf(kind, u.path) }));
      // One field that costs the whole object: every finding says so, nothing of it is loaded.
      const refused = unknown.some(({ d }) => d === 'object');
      const skipped: string[] = [];
      for (const { u, d } of unknown) {
        findings.push(unknownFieldDiagnostic(u, refused ? 'object' : d, refOf(kind, metadata), file));
        if (d !== 'object' && d !== 'none' && !skipped.includes(d.skip)) skipped.push(d.skip);
      }
      if (refused) return;
      objects.push({ ...(item as KubeObject), metadata, source: { file, line: itemLine }, ...(skipped.length === 0 ? {} : { skippedFields: skipped }) });
    });
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  return { ok: true, objects, ignored, diagnostics: findings };
}
