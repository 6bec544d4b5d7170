/*
 * HAProxy quoting helpers. HAProxy 2.x splits a line into words on spaces; `#` starts a comment,
 * double quotes expand `$ENV` and backslashes, single quotes take everything literally. So a
 * literal goes between single quotes and may hold no single quote, backslash or control byte;
 * names and tokens fit a strict character class; anything else throws.
 */
import { isIPv4Literal, isIPv6Literal, isIntIn, isPlainHost, isSafePath, isWildcardHost, PRINTABLE_ASCII, unsafe } from '../quote.ts';

import { isAddressRange } from '../../config/schema.ts';
import { regexPathProblem } from '../../model/translate/validate.ts';
import { redirectParts } from '../../model/redirect.ts';
import type { WwwRedirectPolicy } from '../../model/policy.ts';

const D = 'haproxy';
const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const ROUTE_PATH = /^\/(?:[A-Za-z0-9\-._~!&()*+,=:@/]|%[0-9A-Fa-f]{2})*$/;

/** Whether a text can be a single-quoted HAProxy literal. */
export function canLiteral(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && PRINTABLE_ASCII.test(value) && !/['\\]/.test(value);
}

/** A single-quoted literal: `'text'`. */
export function literal(value: unknown): string {
  if (!canLiteral(value)) throw unsafe(D, 'text', value);
  return `'${value}'`;
}

/** Whether a text can be written by {@link text} and {@link format}: printable ASCII, at most 4096 characters. */
export function canText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 4096 && PRINTABLE_ASCII.test(value);
}

/** Double quotes with `\`, `"` and `$` escaped: HAProxy's parser reads the text back as it is. */
function doubleQuoted(value: string): string {
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

/**
 * Any printable text, double-quoted with `\\`, `\"` and `\$` escaped (HAProxy's parser turns them back
 * into the characters and expands no variable): an argument read as it is (`string`, `realm`).
 */
export function text(value: unknown): string {
  if (!canText(value)) throw unsafe(D, 'text', value);
  return doubleQuoted(value);
}

/**
 * Any printable text as a log-format argument (`hdr`, `set-header`, `redirect location`): double-quoted
 * as {@link text}, and `%` doubled so that it never starts a variable or a sample expression.
 */
export function format(value: unknown): string {
  if (!canText(value)) throw unsafe(D, 'text', value);
  return doubleQuoted(value.replace(/%/g, '%%'));
}

/**
 * Whether a text can be written by {@link regexLiteral}: printable ASCII without a single quote, at most
 * 1100 characters (a regex path of the grammar, its anchors and flags, or a replacement with `\\1`).
 */
export function canRegexLiteral(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 1100 && PRINTABLE_ASCII.test(value) && !value.includes("'");
}

/**
 * A regex or a regex replacement, single-quoted: HAProxy takes everything between single quotes as it is,
 * backslashes included, so `\\.` and `\\1` reach PCRE and the replacement as written.
 */
export function regexLiteral(value: unknown): string {
  if (!canRegexLiteral(value)) throw unsafe(D, 'regex', value);
  return `'${value}'`;
}

/** Whether a pattern follows the regex path grammar (`regexPathProblem`): nothing in it can leave a quoted word. */
export function canRegexPath(value: unknown): value is string {
  return typeof value === 'string' && regexPathProblem(value) === undefined && canRegexLiteral(value);
}

/** A Regex route's pattern as HAProxy matches it: case-insensitive (`(?i)`), from the start of the path, single-quoted. */
export function regexPath(value: unknown): string {
  if (!canRegexPath(value)) throw unsafe(D, 'regex path', value);
  return regexLiteral(`(?i)^(?:${value})`);
}

/** The SNI sample expression of a TLS server: the request's host (`var(txn.host)`) or a plain host name (`str(host)`). */
export function sniExpression(value: unknown): string {
  if (typeof value !== 'string') throw unsafe(D, 'SNI expression', value);
  const host = /^str\(([^()]*)\)$/.exec(value)?.[1];
  if (value !== 'var(txn.host)' && (host === undefined || !isPlainHost(host))) throw unsafe(D, 'SNI expression', value);
  return value;
}

/** Whether a text is a cookie name HAProxy reads bare (letters, digits, `- . _ ~`). */
export function canCookieName(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9._~-]{1,128}$/.test(value);
}

/** A cookie name, bare. */
export function cookieName(value: unknown): string {
  if (!canCookieName(value)) throw unsafe(D, 'cookie name', value);
  return value;
}

/** Whether a header name can be written (`[A-Za-z0-9_.-]`, an RFC 9110 token HAProxy reads bare). */
export function canHeaderName(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,100}$/.test(value);
}

/** A header name (`[A-Za-z0-9_.-]`), bare. */
export function headerName(value: unknown): string {
  if (!canHeaderName(value)) throw unsafe(D, 'header name', value);
  return value;
}

/** Whether a text is a section, server, userlist or ACL name. */
export function canName(value: unknown): value is string {
  return typeof value === 'string' && NAME.test(value);
}

/** A section, server or userlist name (`[A-Za-z0-9_.:-]`). */
export function name(value: unknown): string {
  if (!canName(value)) throw unsafe(D, 'name', value);
  return value;
}

/** An integer written bare, within [min, max]. */
export function int(value: unknown, min = 0, max = 2 ** 31 - 1): string {
  if (!isIntIn(value, min, max)) throw unsafe(D, 'number', value);
  return String(value);
}

/** A byte count written bare (HAProxy compares 64-bit integers): from 0 to 2^53 - 1. */
export function size(value: unknown): string {
  if (!isIntIn(value, 0, Number.MAX_SAFE_INTEGER)) throw unsafe(D, 'size', value);
  return String(value);
}

/** An absolute file path, single-quoted. */
export function file(value: unknown): string {
  if (typeof value !== 'string' || !isSafePath(value)) throw unsafe(D, 'file path', value);
  return `'${value}'`;
}

/** A unix socket address `'unix@/path'`, single-quoted. */
export function unixAddress(value: unknown): string {
  if (typeof value !== 'string' || !isSafePath(value)) throw unsafe(D, 'unix socket path', value);
  return `'unix@${value}'`;
}

/** Whether a text is an IP address or CIDR range {@link cidr} writes. */
export function canCidr(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9A-Fa-f.:/]+$/.test(value) && isAddressRange(value);
}

/** An IP address or CIDR range, bare (validated: digits, hex, dots, colons and one slash only). */
export function cidr(value: unknown): string {
  if (!canCidr(value)) throw unsafe(D, 'address range', value);
  return value;
}

/** Whether a host and port make a listening or server address. */
export function canAddress(host: unknown, port: unknown): boolean {
  if (!isIntIn(port, 0, 65535)) return false;
  if (host === undefined || host === null || host === '') return true;
  return typeof host === 'string' && (isIPv4Literal(host) || isIPv6Literal(host) || isPlainHost(host));
}

/** `host:port`, `[v6]:port`, or `:port` when the host is empty. */
export function address(host: unknown, port: unknown): string {
  if (!canAddress(host, port)) throw unsafe(D, 'address', `${String(host)}:${String(port)}`);
  const h = typeof host === 'string' ? host : '';
  return h.includes(':') ? `[${h}]:${String(port)}` : `${h}:${String(port)}`;
}

/** Whether a text can be a map file key or value: no space, control byte, `#` or backslash. */
export function canMapWord(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 1100 && /^[\x21-\x7e]+$/.test(value) && !/[#\\'"]/.test(value);
}

/** A map file word (key or value). */
export function mapWord(value: unknown): string {
  if (!canMapWord(value)) throw unsafe(D, 'map entry', value);
  return value;
}

/** Whether a text can be a map file value that holds spaces: printable ASCII, no quote or backslash, not padded. */
export function canMapText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !/[\\'"]/.test(value);
}

/** A map file value with spaces (HAProxy takes the rest of the line after the key). */
export function mapText(value: unknown): string {
  if (!canMapText(value)) throw unsafe(D, 'map value', value);
  return value;
}

/** Whether a route path fits the Ingress path grammar (so it can be a map key). */
export function canRoutePath(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && ROUTE_PATH.test(value);
}

/** A host or wildcard parent used as a map key. */
export function hostKey(value: unknown): string {
  if (typeof value !== 'string' || !(isPlainHost(value) || isWildcardHost(value))) throw unsafe(D, 'host', value);
  return value;
}

/** A crt-list SNI filter: an exact host or `*.domain`. */
export function sniFilter(value: unknown): string {
  return hostKey(value);
}

/** An htpasswd hash crypt(3) reads: `$2y$` / `$2a$` / `$2b$` bcrypt. */
export function cryptHash(value: unknown): string {
  if (typeof value !== 'string' || !/^\$2[aby]\$\d\d\$[./0-9A-Za-z]{53}$/.test(value)) throw unsafe(D, 'password hash', value);
  return value;
}

/** A base64 SHA-1 digest (`{SHA}` htpasswd hashes without their prefix). */
export function base64Digest(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]{27}=$/.test(value)) throw unsafe(D, 'SHA-1 digest', value);
  return value;
}

/** Whether a user name can be a userlist user and a map key. */
export function canUser(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_.@+=,:~-]{1,128}$/.test(value);
}

/** A userlist user name. */
export function user(value: unknown): string {
  if (!canUser(value)) throw unsafe(D, 'user name', value);
  return value;
}

/**
 * The `redirect prefix` of a {@link WwwRedirectPolicy} through a frontend (TLS or not, its public port):
 * `scheme://host[:port]`, the request's host (`txn.host`) when the policy names none.
 */
export function redirectPrefix(policy: unknown, tls: unknown, publicPort: unknown): string {
  if (typeof policy !== 'object' || policy === null) throw unsafe(D, 'redirect', policy);
  const w = policy as WwwRedirectPolicy;
  if (w.scheme !== undefined && w.scheme !== 'http' && w.scheme !== 'https') throw unsafe(D, 'redirect scheme', w.scheme);
  const { scheme, port } = redirectParts(w, tls === true, Number(int(publicPort)));
  return `${scheme}://${w.host === undefined ? '%[var(txn.host)]' : hostKey(w.host)}${port === undefined ? '' : `:${int(port)}`}`;
}

/** The helpers the HAProxy templates call, by name. */
export const haproxyHelpers = {
  q: literal,
  text,
  fmt: format,
  header: headerName,
  name,
  int: (v: unknown) => int(v),
  size,
  file,
  unix: unixAddress,
  addr: address,
  cidr,
  mapWord,
  hostKey,
  sni: sniFilter,
  crypt: cryptHash,
  digest: base64Digest,
  user,
  re: regexLiteral,
  regexPath,
  cookie: cookieName,
  sniExpr: sniExpression,
  redirectPrefix,
} as const;
