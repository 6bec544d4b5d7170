import type { PassCode } from '../../shared/codes.ts';
import type { Diagnostic, ObjectRef, Severity, SourceLocation } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';

/** Stable diagnostic codes produced by translate. */
export const Codes = {
  objectInvalid: 'PASS_OBJECT_INVALID',
  badHost: 'PASS_INGRESS_BAD_HOST',
  badPath: 'PASS_INGRESS_BAD_PATH',
  badPathType: 'PASS_INGRESS_BAD_PATH_TYPE',
  badBackend: 'PASS_INGRESS_BAD_BACKEND',
  unsupportedBackend: 'PASS_INGRESS_UNSUPPORTED_BACKEND',
  missingService: 'PASS_INGRESS_MISSING_SERVICE',
  unknownPort: 'PASS_INGRESS_UNKNOWN_PORT',
  externalName: 'PASS_INGRESS_EXTERNAL_NAME',
  conflict: 'PASS_INGRESS_CONFLICT',
  missingSecret: 'PASS_INGRESS_MISSING_SECRET',
  badTls: 'PASS_SECRET_BAD_TLS',
  endpointFqdn: 'PASS_ENDPOINTSLICE_FQDN',
  internal: 'PASS_INGRESS_UNREADABLE',
  badAuthUser: 'PASS_SECRET_BAD_AUTH_USER',
  missingAuthSecret: 'PASS_INGRESS_MISSING_AUTH_SECRET',
  policyNotInMode: 'PASS_POLICY_NOT_IN_MODE',
  policyNotImplemented: 'PASS_POLICY_NOT_IMPLEMENTED',
  canaryWithoutMain: 'PASS_POLICY_CANARY_WITHOUT_MAIN',
  missingConfigMap: 'PASS_INGRESS_MISSING_CONFIGMAP',
  badConfigMapHeader: 'PASS_CONFIGMAP_BAD_HEADER',
} as const satisfies Record<string, PassCode>;

/** Reports findings about one object. */
export interface Reporter {
  readonly ref: ObjectRef;
  readonly location: SourceLocation | undefined;
  error(code: PassCode, field: string, message: string): void;
  warning(code: PassCode, field: string, message: string): void;
}

/** The group a diagnostic is sorted into: its object's kind, namespace and name. */
export function diagnosticSortKey(d: Diagnostic): string {
  const o = d.object;
  return o === undefined ? '' : `${o.kind}\u0000${o.namespace ?? ''}\u0000${o.name}`;
}

/** What makes two diagnostics the same (an exact repeat is kept once). */
export function diagnosticKey(d: Diagnostic): string {
  return JSON.stringify([d.severity, d.code, d.object, d.field, d.message]);
}

/** Collects diagnostics, drops exact repeats, and returns them grouped by object in a stable order. */
export class DiagnosticList {
  readonly #items: Diagnostic[] = [];
  readonly #seen = new Set<string>();

  add(d: Diagnostic): void {
    const key = diagnosticKey(d);
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#items.push(d);
  }

  /** A reporter bound to one object (and its file location, when the file source set one). */
  reporter(ref: ObjectRef, location: SourceLocation | undefined): Reporter {
    return new ObjectReporter(this, ref, location);
  }

  /** Grouped by kind, namespace and name; within one object in the order they were found (field order). */
  sorted(): Diagnostic[] {
    // Array.prototype.sort is stable, so the walk order within an object is kept.
    return [...this.#items].sort((a, b) => {
      const ka = diagnosticSortKey(a);
      const kb = diagnosticSortKey(b);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  }
}

/** One allocation per object (translate makes one for every object of the snapshot, on every build). */
class ObjectReporter implements Reporter {
  readonly #list: DiagnosticList;
  readonly ref: ObjectRef;
  readonly location: SourceLocation | undefined;

  constructor(list: DiagnosticList, ref: ObjectRef, location: SourceLocation | undefined) {
    this.#list = list;
    this.ref = ref;
    this.location = location;
  }

  #emit(severity: Severity, code: PassCode, field: string, message: string): void {
    const location = this.location;
    this.#list.add({ severity, code, message, object: this.ref, field, ...defined({ location }) });
  }

  error(code: PassCode, field: string, message: string): void {
    this.#emit('error', code, field, message);
  }

  warning(code: PassCode, field: string, message: string): void {
    this.#emit('warning', code, field, message);
  }
}
