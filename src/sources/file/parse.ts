import { LineCounter, parseAllDocuments } from 'yaml';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { KubeObject } from '../../model/k8s.ts';
import { isModelKind } from '../snapshot.ts';

/** What one YAML file holds: its objects, or the reason it could not be read. */
export type ParsedFile =
  | { readonly ok: true; readonly objects: readonly KubeObject[]; readonly ignored: number }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses a multi-document YAML file of Kubernetes objects. `kind: List` is flattened,
 * a missing namespace becomes `default` (as `kubectl apply` does for namespaced kinds),
 * kinds the model does not read are counted and dropped. Any syntax error fails the whole file
 * so the caller can keep its last good state.
 */
export function parseObjectsFile(text: string, file: string): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const diagnostics: Diagnostic[] = [];
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
    const items = value['kind'] === 'List' && Array.isArray(value['items']) ? (value['items'] as unknown[]) : [value];
    for (const item of items) {
      if (!isRecord(item) || typeof item['kind'] !== 'string') {
        diagnostics.push({ severity: 'error', code: 'PASS_FILE_NOT_OBJECT', message: 'object has no string `kind`', location: { file, line } });
        continue;
      }
      if (!isModelKind(item['kind'])) {
        ignored++;
        continue;
      }
      const meta = isRecord(item['metadata']) ? item['metadata'] : {};
      const namespaced = item['kind'] !== 'IngressClass';
      const metadata = namespaced && meta['namespace'] === undefined ? { ...meta, namespace: 'default' } : meta;
      objects.push({ ...(item as KubeObject), metadata, source: { file, line } });
    }
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  return { ok: true, objects, ignored };
}
