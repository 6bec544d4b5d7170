import { valueRegexProblem } from '../model/translate/validate.ts';
import { PassError } from '../shared/errors.ts';

// Shared checks of the dialect quoting helpers: a value either fits a grammar both proxies
// read literally, or the helper throws. Nothing is ever "cleaned up" into something else.

/** Thrown by a quoting helper: the value cannot be written safely into the configuration. */
export function unsafe(dialect: string, what: string, value: unknown): PassError {
  const shown = JSON.stringify(typeof value === 'string' && value.length > 80 ? `${value.slice(0, 80)}...` : value);
  return new PassError('PASS_RENDER_UNSAFE_VALUE', `${dialect}: refusing to write ${what} ${shown ?? String(value)} into the configuration`);
}

/** Printable ASCII without space (0x21-0x7e). */
export const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Printable ASCII with space (0x20-0x7e). */
export const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A DNS label as the model keeps it: lower-case letters, digits, `-`. */
export const LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** A host the model serves (exact name or IPv4 literal): labels of `[a-z0-9-]` joined by dots. */
export function isPlainHost(host: string): boolean {
  return host.length > 0 && host.length <= 253 && host.split('.').every((l) => LABEL.test(l));
}

/** A `*.domain` wildcard host whose parent is a plain host. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*.') && isPlainHost(host.slice(2));
}

/** An integer in [min, max]. */
export function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A file system path both dialects can hold: absolute, printable, no quote, backslash, `$` or `#`. */
export function isSafePath(value: string): boolean {
  return value.startsWith('/') && value.length <= 1024 && /^[A-Za-z0-9_./@+=,:~-]+$/.test(value);
}

/** An IPv4 literal. */
export function isIPv4Literal(value: string): boolean {
  return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(value) && value.split('.').every((o) => Number(o) <= 255);
}

/** An IPv6 literal (no brackets, no zone). */
export function isIPv6Literal(value: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(value) && value.includes(':') && value.length <= 45 && URL.canParse(`http://[${value}]/`);
}

/** Whether a route has conditions besides host and path (method, headers, query parameters). */
export function hasConditions(route: { readonly conditions?: { readonly method?: string; readonly headers?: readonly unknown[]; readonly query?: readonly unknown[] } }): boolean {
  const c = route.conditions;
  return c !== undefined && (c.method !== undefined || (c.headers?.length ?? 0) > 0 || (c.query?.length ?? 0) > 0);
}

/**
 * Whether a condition's regular expression can be written by both dialects: printable ASCII without a
 * quote, at most 1024 characters, of the model's value regex grammar (`valueRegexProblem`).
 */
export function isValueRegex(value: string): boolean {
  return value.length <= 1024 && /^[\x20-\x7e]+$/.test(value) && !/['"]/.test(value) && valueRegexProblem(value) === undefined;
}

/** An HTTP method token as a condition names it: upper-case letters, at most 32. */
export function isMethodToken(value: string): boolean {
  return /^[A-Z]{1,32}$/.test(value);
}
