import type { PassCode } from './codes.ts';
import type { Diagnostic, ObjectRef, SourceLocation } from './diagnostics.ts';
import { formatDiagnostic } from './diagnostics.ts';
import { defined } from './optional.ts';

/** Details carried by a {@link PassError}. */
export interface PassErrorDetails {
  readonly object?: ObjectRef;
  readonly field?: string;
  readonly location?: SourceLocation;
  readonly cause?: unknown;
}

/** An error with a stable code (from the `CODES` catalogue of codes.ts, docs/errors.md) and the object it concerns. */
export class PassError extends Error {
  readonly code: PassCode;
  readonly object: ObjectRef | undefined;
  readonly field: string | undefined;
  readonly location: SourceLocation | undefined;

  constructor(code: PassCode, message: string, details: PassErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PassError';
    this.code = code;
    this.object = details.object;
    this.field = details.field;
    this.location = details.location;
  }

  /** The error as an error-severity diagnostic. */
  toDiagnostic(): Diagnostic {
    return {
      severity: 'error',
      code: this.code,
      message: this.message,
      ...defined({ object: this.object, field: this.field, location: this.location }),
    };
  }
}

/** An error raised with a list of diagnostics (e.g. an invalid config file). */
export class PassDiagnosticsError extends PassError {
  readonly diagnostics: readonly Diagnostic[];

  constructor(code: PassCode, message: string, diagnostics: readonly Diagnostic[]) {
    super(code, `${message}\n${diagnostics.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`);
    this.diagnostics = diagnostics;
  }
}
