/**
 * The request-handling contract shared by the three modes (README, "Request handling"): how a
 * request target is read, how its path is normalised once, and which requests are refused because
 * their meaning would stay ambiguous. Routing uses the normalised path and the backend receives it.
 */

/** Why a request is refused with 400. */
export type RefusalReason =
  | 'bad-target'
  | 'bad-escape'
  | 'encoded-slash'
  | 'backslash'
  | 'control-character'
  | 'above-root'
  | 'dot-segment-parameter'
  | 'bad-host';

/** A request target read and normalised, or the reason it is refused. */
export type Target =
  | { readonly ok: true; readonly path: string; readonly query: string; readonly authority: string | undefined }
  | { readonly ok: false; readonly reason: RefusalReason };

/** Options of {@link normalizeTarget}. */
export interface NormalizeOptions {
  /** Keep `%2F` and `%5C` encoded inside a segment instead of refusing them. */
  readonly allowEncodedSlashes?: boolean;
}

const HEX = /^[0-9A-Fa-f]{2}$/;
// RFC 3986 unreserved: the only escapes whose decoding never changes a URI's meaning.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// Raw bytes never valid in a path: controls, space, DEL, backslash, and what a parser would end the path on.
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const FORBIDDEN_RAW = /[\u0000-\u0020\u007f\\#]/;
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

function refuse(reason: RefusalReason): Target {
  return { ok: false, reason };
}

/**
 * Reads a request target (origin-form or absolute-form, RFC 9112 §3.2) and normalises its path:
 * escapes checked and unreserved ones decoded, slashes merged, dot segments removed (RFC 3986
 * §5.2.4). Pure.
 */
export function normalizeTarget(target: string, options: NormalizeOptions = {}): Target {
  let rest = target;
  let authority: string | undefined;
  if (!rest.startsWith('/')) {
    const m = ABSOLUTE.exec(rest);
    if (m === null) return refuse('bad-target');
    const scheme = m[1]!.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') return refuse('bad-target');
    authority = m[2]!;
    if (!isValidAuthority(authority)) return refuse('bad-host');
    rest = m[3]!;
    if (rest === '' || rest.startsWith('?')) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q);
  if (CONTROL.test(query)) return refuse('control-character');
  const path = normalizePath(rawPath, options);
  if (typeof path !== 'string') return path;
  return { ok: true, path, query, authority };
}

/**
 * Normalises an origin-form path (see {@link normalizeTarget}).
 * @returns the path, or a refusal.
 */
export function normalizePath(raw: string, options: NormalizeOptions = {}): string | Target {
  if (FORBIDDEN_RAW.test(raw)) return refuse(/\\/.test(raw) ? 'backslash' : 'control-character');
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return refuse('bad-escape');
    const code = Number.parseInt(hex, 16);
    const ch = String.fromCharCode(code);
    i += 2;
    if (code < 0x20 || code === 0x7f) return refuse('control-character');
    if (ch === '/' || ch === '\\') {
      if (options.allowEncodedSlashes !== true) return refuse(ch === '/' ? 'encoded-slash' : 'backslash');
    }
    decoded += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  }
  const out: string[] = [];
  const segments = decoded.split('/');
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '' && !last) continue;
    if (/^\.\.?(;|%3B)/.test(seg)) return refuse('dot-segment-parameter');
    if (seg === '.') {
      if (last) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return refuse('above-root');
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

const HOST_NAME = /^[A-Za-z0-9._~-]+$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;

/**
 * Whether a Host value (or an absolute-form authority) is a valid `host[:port]`: a name of
 * `A-Z a-z 0-9 . _ ~ -`, an IPv4 address or a bracketed IPv6 address, and decimal port digits.
 */
export function isValidAuthority(value: string): boolean {
  let host = value;
  const colon = value.lastIndexOf(':');
  if (colon !== -1 && !value.endsWith(']')) {
    const port = value.slice(colon + 1);
    if (!/^[0-9]{1,5}$/.test(port)) return false;
    host = value.slice(0, colon);
  }
  return HOST_NAME.test(host) || IPV6_LITERAL.test(host);
}
