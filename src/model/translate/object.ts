/* Narrowing of untyped Kubernetes objects: every read starts from `unknown`. */

import type { ObjectRef, SourceLocation } from '../../shared/diagnostics.ts';
import { Codes } from './diagnostics.ts';
import type { DiagnosticList, Reporter } from './diagnostics.ts';
import { isDns1123Label, isDns1123Subdomain } from './validate.ts';

/** A plain JSON object. */
export type Rec = Readonly<Record<string, unknown>>;

/** Whether a value is a non-array object. */
/**
 * A short, always printable rendering of a value for a diagnostic: JSON when it can be, else a
 * description (a value from YAML may be cyclic through anchors, and JSON.stringify throws on it).
 */
export function showValue(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return Array.isArray(value) ? 'a self-referencing list' : 'a self-referencing object';
  }
}

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

const NO_STRINGS: Readonly<Record<string, string>> = Object.freeze({});

function readStringMap(value: unknown, field: string, report: Reporter): Readonly<Record<string, string>> | undefined {
  if (value === undefined || value === null) return NO_STRINGS;
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be a map of strings`);
    return undefined;
  }
  for (const k of Object.keys(value)) {
    if (typeof value[k] !== 'string') {
      report.error(Codes.objectInvalid, `${field}['${k}']`, `${field} values must be strings`);
      return undefined;
    }
  }
  // Checked: every value is a string. The object itself is returned (read-only), not a copy.
  return value as Readonly<Record<string, string>>;
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
  // Findings on an object that cannot be named: the reporter is made on these error paths only.
  const anonymous = (field: string, message: string): void => diags.reporter({ kind, name: `<${placeholder}>` }, location).error(Codes.objectInvalid, field, message);
  if (!isRecord(obj)) {
    anonymous('', `the ${kind} is not an object`);
    return undefined;
  }
  if (obj['kind'] !== undefined && obj['kind'] !== kind) {
    anonymous('kind', `expected kind ${kind}, found ${showValue(obj['kind'])}`);
    return undefined;
  }
  const meta = obj['metadata'];
  if (!isRecord(meta)) {
    anonymous('metadata', `the ${kind} has no metadata object`);
    return undefined;
  }
  const name = meta['name'];
  const validName = nameIsLabel ? isDns1123Label : isDns1123Subdomain;
  if (typeof name !== 'string' || !validName(name)) {
    anonymous(
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
  const annotations = readStringMap(meta['annotations'], 'metadata.annotations', reporter);
  const labels = readStringMap(meta['labels'], 'metadata.labels', reporter);
  let created = Number.POSITIVE_INFINITY;
  const ts = meta['creationTimestamp'];
  if (ts !== undefined && ts !== null) {
    // js-yaml / the API client may hand a Date; YAML 1.2 and JSON give a string.
    const parsed = typeof ts === 'string' ? Date.parse(ts) : ts instanceof Date ? ts.getTime() : Number.NaN;
    if (Number.isNaN(parsed)) {
      valid = false;
      reporter.error(Codes.objectInvalid, 'metadata.creationTimestamp', 'metadata.creationTimestamp must be an RFC 3339 time');
    } else created = parsed;
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
