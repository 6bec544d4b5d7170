/* ReferenceGrants: whether an object may refer to one in another namespace. */

import type { DiagnosticList } from '../diagnostics.ts';
import { isRecord, readHeader } from '../object.ts';

/** One `from` → `to` permission of a grant, in the grant's namespace. */
interface Grant {
  readonly namespace: string;
  readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
  readonly to: readonly { readonly group: string; readonly kind: string; readonly name: string | undefined }[];
}

/** Answers whether a cross-namespace reference is allowed by a ReferenceGrant. */
export interface ReferenceGrants {
  /**
   * Whether an object of `from` (group, kind, namespace) may refer to `to` (group, kind, name) in
   * `to.namespace`. A reference within one namespace needs no grant.
   */
  allows(from: { readonly group: string; readonly kind: string; readonly namespace: string }, to: { readonly group: string; readonly kind: string; readonly namespace: string; readonly name: string }): boolean;
}

function strings(value: unknown, keys: readonly string[]): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = value[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** Indexes the ReferenceGrants of a snapshot (malformed ones are reported and left out). */
export function readReferenceGrants(list: readonly unknown[], diags: DiagnosticList): ReferenceGrants {
  const grants: Grant[] = [];
  list.forEach((obj, i) => {
    const h = readHeader(obj, 'ReferenceGrant', true, `referenceGrants[${i}]`, diags);
    const spec = h?.body['spec'];
    if (h === undefined || !isRecord(spec) || !Array.isArray(spec['from']) || !Array.isArray(spec['to'])) return;
    const from = (spec['from'] as readonly unknown[]).map((f) => strings(f, ['group', 'kind', 'namespace'])).flatMap((f) => (f?.['kind'] === undefined || f['namespace'] === undefined ? [] : [{ group: f['group'] ?? '', kind: f['kind'], namespace: f['namespace'] }]));
    const to = (spec['to'] as readonly unknown[]).map((t) => strings(t, ['group', 'kind', 'name'])).flatMap((t) => (t?.['kind'] === undefined ? [] : [{ group: t['group'] ?? '', kind: t['kind'], name: t['name'] === '' ? undefined : t['name'] }]));
    grants.push({ namespace: h.namespace, from, to });
  });
  return {
    allows(from, to) {
      if (from.namespace === to.namespace) return true;
      return grants.some(
        (g) =>
          g.namespace === to.namespace &&
          g.from.some((f) => f.group === from.group && f.kind === from.kind && f.namespace === from.namespace) &&
          g.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === undefined || t.name === to.name)),
      );
    },
  };
}
