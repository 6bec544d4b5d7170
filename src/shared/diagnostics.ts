import type { PassCode } from './codes.ts';

/** The Kubernetes (or config) object a diagnostic or error is about. */
export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

/** Where an object came from, when it was read from a file. */
export interface SourceLocation {
  readonly file: string;
  readonly line?: number;
}

export type Severity = 'error' | 'warning';

/** One finding about one object: stable code, object, field, plain message. */
export interface Diagnostic {
  readonly severity: Severity;
  /** Stable code such as `PASS_INGRESS_BAD_PATH` (the catalogue: `CODES` in codes.ts, docs/errors.md). */
  readonly code: PassCode;
  readonly message: string;
  readonly object?: ObjectRef;
  /** JSON-path-like field, e.g. `spec.rules[0].http.paths[1].path`. */
  readonly field?: string;
  readonly location?: SourceLocation;
}

/** `namespace/name` (or `name` for cluster-scoped objects). */
export function refName(ref: ObjectRef): string {
  return ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
}

/** One-line human form: `error PASS_INGRESS_BAD_HOST Ingress default/web spec.rules[0].host: message (file:line)`. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [d.severity, d.code];
  if (d.object) parts.push(`${d.object.kind} ${refName(d.object)}`);
  const head = parts.join(' ');
  const field = d.field === undefined ? '' : ` ${d.field}`;
  const where = d.location ? ` (${d.location.file}${d.location.line === undefined ? '' : `:${d.location.line}`})` : '';
  return `${head}${field}: ${d.message}${where}`;
}
