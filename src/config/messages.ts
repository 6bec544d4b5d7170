/* Configuration diagnostics: a key's file, line and name, zod's issues in TOML words, "did you mean". */
import type { z } from 'zod';
import { closest } from '../shared/closest.ts';
import type { PassCode } from '../shared/codes.ts';
import { isPassCode } from '../shared/codes.ts';
import type { Diagnostic, Severity } from '../shared/diagnostics.ts';
import type { KeyLocator } from './locate.ts';
import { formatKeyPath } from './locate.ts';
import { knownKeysAt } from './schema.ts';

/** A diagnostic about the key at `path` of `file`, with the line it is written on when known. */
export function keyDiagnostic(severity: Severity, code: PassCode, message: string, path: readonly PropertyKey[], file: string, locator: KeyLocator): Diagnostic {
  const line = locator.lineOf(path);
  return {
    severity,
    code,
    message,
    field: formatKeyPath(path),
    location: line === undefined ? { file } : { file, line },
  };
}

/** The TOML name of a value's type, for messages. */
function tomlType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number' || typeof value === 'bigint') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (value instanceof Date) return 'a date-time';
  if (typeof value === 'object') return 'a table';
  return typeof value;
}

function expectedName(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'array':
      return 'an array';
    case 'object':
    case 'record':
      return 'a table';
    default:
      return expected;
  }
}

/** The closest known key, for a "did you mean" hint. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  return closest(key, known);
}

/** One diagnostic per problem zod found, with the file, line and key, in file order. */
export function issueDiagnostics(issues: readonly z.core.$ZodIssue[], file: string, locator: KeyLocator): Diagnostic[] {
  const out: Diagnostic[] = [];
  const push = (code: PassCode, message: string, path: readonly PropertyKey[]): void => {
    out.push(keyDiagnostic('error', code, message, path, file, locator));
  };
  for (const issue of issues) {
    const path = issue.path;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const hint = suggest(key, knownKeysAt(path));
          push('PASS_CONFIG_UNKNOWN_KEY', `unknown key "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`, [...path, key]);
        }
        break;
      case 'invalid_type':
        if (issue.input === undefined) push('PASS_CONFIG_MISSING_KEY', `missing required key (${expectedName(issue.expected)})`, path);
        else push('PASS_CONFIG_BAD_TYPE', `expected ${expectedName(issue.expected)}, got ${tomlType(issue.input)}`, path);
        break;
      case 'invalid_value': {
        const got = typeof issue.input === 'string' ? `, got "${issue.input}"` : '';
        push('PASS_CONFIG_BAD_VALUE', `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`, path);
        break;
      }
      case 'invalid_union':
        push('PASS_CONFIG_BAD_TYPE', issue.message, path);
        break;
      case 'custom': {
        const passCode: unknown = issue.params?.['passCode'];
        push(isPassCode(passCode) ? passCode : 'PASS_CONFIG_BAD_VALUE', issue.message, path);
        break;
      }
      default:
        push('PASS_CONFIG_BAD_VALUE', issue.message, path);
    }
  }
  // In file order, as a reader fixes them top to bottom (sort is stable).
  return out.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
}
