/* Narrowing of untyped Kubernetes objects: every read starts from `unknown`. */

import type { ObjectRef, SourceLocation } from '../../shared/diagnostics.ts';
import { Codes } from './diagnostics.ts';
import type { DiagnosticList, Reporter } from './diagnostics.ts';
import { isDns1123Label, isDns1123Subdomain } from './validate.ts';

/** A plain JSON object. */
export type Rec = Readonly<Record<string, unknown>>;

/** Whether a value is a non-array object. */
export function isRecord(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The namespace the file source and kubectl assume when metadata.namespace is absent. */
export const DEFAULT_NAMESPACE = 'default';

/** What translate needs from an object's metadata, validated. */
export interface ObjectHeader {
  readonly kind: string;
  readonly name: string;
  /** `''` for cluster-scoped kinds. */
  readonly namespace: string;
  readonly ref: ObjectRef;
  readonly location: SourceLocation | undefined;
  readonly annotations: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** creationTimestamp in ms since the epoch; +Infinity when absent (sorts as the newest). */
  readonly created: number;
  readonly reporter: Reporter;
  /** The object itself, narrowed to a record. */
  readonly body: Rec;
}

/** The `source` the file source attaches to an object, when well-formed. */
export function readLocation(obj: unknown): SourceLocation | undefined {
  if (!isRecord(obj) || !isRecord(obj['source'])) return undefined;
  const { file, line } = obj['source'];
  if (typeof file !== 'string') return undefined;
  return typeof line === 'number' && Number.isInteger(line) ? { file, line } : { file };
}

function readStringMap(value: unknown, field: string, report: (field: string, msg: string) => void): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    report(field, `${field} must be a map of strings`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      report(`${field}['${k}']`, `${field} values must be strings`);
      return undefined;
    }
    out[k] = v;
  }
  return out;
}

/**
 * Reads and validates `metadata` of one object of a snapshot list. Returns undefined (after a
 * `PASS_OBJECT_INVALID` diagnostic) when the object cannot be identified or its metadata is malformed.
 * `placeholder` names the object in that diagnostic when it has no usable name, e.g. `ingresses[3]`.
 */
export function readHeader(
  obj: unknown,
  kind: string,
  namespaced: boolean,
  placeholder: string,
  diags: DiagnosticList,
  nameIsLabel = false,
): ObjectHeader | undefined {
  const location = readLocation(obj);
  const anonymous = diags.reporter({ kind, name: `<${placeholder}>` }, location);
  if (!isRecord(obj)) {
    anonymous.error(Codes.objectInvalid, '', `the ${kind} is not an object`);
    return undefined;
  }
  if (obj['kind'] !== undefined && obj['kind'] !== kind) {
    anonymous.error(Codes.objectInvalid, 'kind', `expected kind ${kind}, found ${JSON.stringify(obj['kind'])}`);
    return undefined;
  }
  const meta = obj['metadata'];
  if (!isRecord(meta)) {
    anonymous.error(Codes.objectInvalid, 'metadata', `the ${kind} has no metadata object`);
    return undefined;
  }
  const name = meta['name'];
  const validName = nameIsLabel ? isDns1123Label : isDns1123Subdomain;
  if (typeof name !== 'string' || !validName(name)) {
    anonymous.error(
      Codes.objectInvalid,
      'metadata.name',
      typeof name === 'string'
        ? `metadata.name must be a DNS-1123 ${nameIsLabel ? 'label' : 'subdomain'}`
        : 'metadata.name must be a string',
    );
    return undefined;
  }
  let namespace = '';
  if (namespaced) {
    const ns = meta['namespace'];
    if (ns === undefined || ns === null || ns === '') namespace = DEFAULT_NAMESPACE;
    else if (typeof ns === 'string' && isDns1123Label(ns)) namespace = ns;
    else {
      diags.reporter({ kind, name }, location).error(Codes.objectInvalid, 'metadata.namespace', 'metadata.namespace must be a DNS-1123 label');
      return undefined;
    }
  }
  const ref: ObjectRef = namespaced ? { kind, namespace, name } : { kind, name };
  const reporter = diags.reporter(ref, location);
  let valid = true;
  const invalid = (field: string, msg: string): void => {
    valid = false;
    reporter.error(Codes.objectInvalid, field, msg);
  };
  const annotations = readStringMap(meta['annotations'], 'metadata.annotations', invalid);
  const labels = readStringMap(meta['labels'], 'metadata.labels', invalid);
  let created = Number.POSITIVE_INFINITY;
  const ts = meta['creationTimestamp'];
  if (ts !== undefined && ts !== null) {
    // js-yaml / the API client may hand a Date; YAML 1.2 and JSON give a string.
    const parsed = typeof ts === 'string' ? Date.parse(ts) : ts instanceof Date ? ts.getTime() : Number.NaN;
    if (Number.isNaN(parsed)) invalid('metadata.creationTimestamp', 'metadata.creationTimestamp must be an RFC 3339 time');
    else created = parsed;
  }
  if (!valid || annotations === undefined || labels === undefined) return undefined;
  return { kind, name, namespace, ref, location, annotations, labels, created, reporter, body: obj };
}

/** Orders objects oldest first (creationTimestamp), then by namespace and name. */
export function compareAge(a: ObjectHeader, b: ObjectHeader): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Orders strings by UTF-16 code units, independent of locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
