/*
 * Strict grammars for annotation values. Every value a policy holds has passed one of these: the
 * renderers paste URLs, paths, header values, cookie names and realms into nginx and HAProxy
 * configuration files, so the grammars are deliberately narrower than what the original controllers
 * accept (they refuse `$`, `;`, quotes, braces, `#`, whitespace and non-ASCII where a config could
 * read them as syntax). Pure.
 */

import { isIPv4, isIPv6, pathProblem } from '../translate/validate.ts';

/** A value read by a grammar, or what is wrong with it (a phrase that follows the shown value). */
export type Parse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** Reads one annotation value. */
export type Grammar<T> = (value: string) => Parse<T>;

const ok = <T>(value: T): Parse<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parse<T> => ({ ok: false, problem });

/** The longest value shown in a note. */
const SHOW_MAX = 80;

/**
 * A value as a note shows it: JSON-quoted, every character outside printable ASCII escaped, cut
 * after {@link SHOW_MAX} characters, so a note never carries a newline or a control character.
 */
export function show(value: string): string {
  const cut = value.length > SHOW_MAX ? `${value.slice(0, SHOW_MAX)}...` : value;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `true` or `false`, exactly (the original controllers also take `1`, `True`, ...: written out here). */
export const bool: Grammar<boolean> = (v) =>
  v === 'true' ? ok(true) : v === 'false' ? ok(false) : bad('is not a boolean: expected "true" or "false" (lower-case, without spaces)');

/**
 * A whole number of decimal digits in [min, max].
 *
 * @param min smallest value accepted
 * @param max largest value accepted
 * @returns the grammar
 */
export function integer(min: number, max: number): Grammar<number> {
  return (v) => {
    const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? ok(n) : bad(`is not a whole number from ${min} to ${max} (digits only)`);
  };
}

/**
 * One of a list of words, as written or (`anyCase`) in any case; gives the word as listed.
 *
 * @param words the accepted words
 * @param anyCase compare without regard to ASCII case
 * @returns the grammar
 */
export function oneOf<const W extends string>(words: readonly W[], anyCase = false): Grammar<W> {
  return (v) => {
    const found = words.find((w) => (anyCase ? w.toLowerCase() === v.toLowerCase() : w === v));
    return found !== undefined ? ok(found) : bad(`is not one of ${words.join(', ')}${anyCase ? ' (any case)' : ''}`);
  };
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** An nginx size: bytes, or a number followed by `k`, `m` or `g` (any case); in bytes. `0` is allowed. */
export const size: Grammar<number> = (v) => {
  const m = /^([0-9]{1,16})([kmgKMG]?)$/.exec(v);
  const bytes = m === null ? Number.NaN : Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? Number.NaN);
  return Number.isSafeInteger(bytes) ? ok(bytes) : bad('is not a size: expected bytes, or a number followed by k, m or g (e.g. 8m)');
};

/**
 * A comma-separated list: items trimmed of spaces and tabs, none empty, each read by `item`.
 *
 * @param item the grammar of one item
 * @param what what the list holds, for the message
 * @returns the grammar of the list
 */
export function list<T>(item: Grammar<T>, what: string): Grammar<T[]> {
  return (v) => {
    const out: T[] = [];
    for (const raw of v.split(',')) {
      const text = raw.replace(/^[ \t]+|[ \t]+$/g, '');
      if (text === '') return bad(`has an empty item: expected ${what} separated by commas`);
      const r = item(text);
      if (!r.ok) return bad(`has the item ${show(text)}, which ${r.problem}`);
      out.push(r.value);
    }
    return ok(out);
  };
}

/** The 8 hextets of a canonical IPv6 address (as the URL parser writes it: hex only, one `::`). */
function hextets(canonical: string): number[] {
  const [head = '', tail] = canonical.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...fill, ...right].map((h) => Number.parseInt(h, 16));
}

/** An IPv6 address in the URL parser's canonical form (lower-case, compressed), without brackets. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The first address of a range: the bits after the prefix cleared (as Go's net.ParseCIDR). */
function networkOf(address: string, family: 4 | 6, prefix: number): string {
  const parts = family === 4 ? address.split('.').map(Number) : hextets(address);
  const width = family === 4 ? 8 : 16;
  const masked = parts.map((p, i) => {
    const keep = Math.min(Math.max(prefix - i * width, 0), width);
    return keep === 0 ? 0 : p & ~((1 << (width - keep)) - 1) & ((1 << width) - 1);
  });
  return family === 4 ? masked.join('.') : canonicalIPv6(masked.map((h) => h.toString(16)).join(':'));
}

/**
 * An IPv4 or IPv6 address or CIDR range (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`), as node:net's
 * BlockList takes them: no zone, no brackets, no leading zeros, the prefix in range. Given in canonical
 * form, a range's host bits cleared.
 */
export const addressRange: Grammar<string> = (v) => {
  const [address = '', prefixText, extra] = v.split('/');
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : 0;
  if (family === 0 || extra !== undefined) return bad('is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)');
  const canonical = family === 4 ? address : canonicalIPv6(address);
  if (prefixText === undefined) return ok(canonical);
  const max = family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > max) return bad(`has a prefix length that is not 0 to ${max}`);
  return ok(`${networkOf(canonical, family, Number(prefixText))}/${prefixText}`);
};

/** A comma-separated list of addresses and ranges ({@link addressRange}), without repeats, sorted. */
export const addressRanges: Grammar<string[]> = (v) => {
  const r = list(addressRange, 'IP addresses or CIDR ranges')(v);
  return r.ok ? ok([...new Set(r.value)].sort()) : r;
};

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `host` or `host:port`: a DNS name, an IPv4 address or a bracketed IPv6 address; the port 1-65535. */
function authorityProblem(authority: string): string | undefined {
  const m = /^(\[[^\]]*\]|[^:]*)(?::([0-9]{1,5}))?$/.exec(authority);
  const host = m?.[1] ?? '';
  const port = m?.[2];
  const hostOk = host.startsWith('[') ? isIPv6(host.slice(1, -1)) : isIPv4(host) || DNS_NAME.test(host);
  if (m === null || !hostOk) return 'a host name, an IPv4 address or a bracketed IPv6 address';
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535 || port.startsWith('0'))) return 'a port from 1 to 65535';
  return undefined;
}

/** `host` or `host:port` (the Host header a backend receives). */
export const hostPort: Grammar<string> = (v) => {
  const problem = authorityProblem(v);
  return problem === undefined ? ok(v) : bad(`is not host or host:port: expected ${problem}`);
};

/** Longest URL accepted: it becomes one configuration line. */
const MAX_URL_LENGTH = 2048;
/**
 * What may follow the authority of a URL: RFC 3986 path and query characters and %-escapes, minus
 * `'` `;` `$` (quoting, nginx directive end, nginx variables); `#` (a fragment) is outside too.
 */
const URL_REST = /^(?:\/(?:[A-Za-z0-9\-._~!&()*+,=:@/]|%[0-9A-Fa-f]{2})*)?(?:\?(?:[A-Za-z0-9\-._~!&()*+,=:@/?]|%[0-9A-Fa-f]{2})*)?$/;

/**
 * An absolute `http://` or `https://` URL with a host, no user info and no fragment, written only with
 * the characters of {@link URL_REST}: these URLs are pasted into nginx and HAProxy configuration.
 */
export const httpUrl: Grammar<string> = (v) => {
  if (v.length > MAX_URL_LENGTH) return bad(`is longer than ${MAX_URL_LENGTH} characters`);
  if (/[^\x21-\x7e]/.test(v)) return bad('has whitespace, control or non-ASCII characters: expected a literal absolute http(s) URL (%-escape them)');
  if (v.includes('$')) return bad('uses nginx variables ($...), which are not supported: expected a literal absolute http(s) URL');
  const m = /^(https?):\/\/([^/?#]*)(.*)$/.exec(v);
  if (m === null) return bad('is not an absolute URL starting with http:// or https://');
  const problem = authorityProblem(m[2] ?? '');
  if (problem !== undefined) return bad(`has a host part that is not ${problem} (and no user info)`);
  if (!URL_REST.test(m[3] ?? '') || !URL.canParse(v)) {
    return bad('has characters outside a URL path and query: letters, digits, - . _ ~ ! & ( ) * + , = : @ / ? and %-escapes, no # fragment');
  }
  return ok(v);
};

/** An absolute path of the Ingress path grammar (src/model/translate/validate.ts): no `..` segments. */
export const path: Grammar<string> = (v) => {
  const problem = pathProblem(v);
  return problem === undefined ? ok(v) : bad(`is not a valid path: ${problem}`);
};

/**
 * A rewrite target: a {@link path}, with `$1`..`$9` (the groups of a regex path) when `groups` is
 * true; any other `$` is refused.
 *
 * @param groups whether capture-group references are allowed (the regex case)
 * @returns the grammar
 */
export function rewriteTarget(groups: boolean): Grammar<string> {
  return (v) => {
    const plain = groups ? v.replace(/\$[1-9]/g, 'x') : v;
    if (plain.includes('$')) return bad(groups ? 'has a $ that is not $1 to $9' : 'has a $: capture groups ($1...) are not allowed here');
    const problem = pathProblem(plain);
    return problem === undefined ? ok(v) : bad(`is not a valid path: ${problem}`);
  };
}

/**
 * RFC 9110 token characters minus those a proxy configuration reads as syntax: `$` (variables), `%`
 * (HAProxy log-format), `#` (comments), `'` and backquote (quotes).
 */
const HEADER_NAME = /^[A-Za-z0-9!&*+\-.^_|~]{1,256}$/;

/** A header name: an RFC 9110 token without `$ % # ' \``. */
export const headerName: Grammar<string> = (v) =>
  HEADER_NAME.test(v) ? ok(v) : bad('is not a header name: expected letters, digits and - _ . ! & * + ^ | ~');

/** Comma-separated header names. */
export const headerNames: Grammar<string[]> = list(headerName, 'header names');

/** A header value: printable ASCII without `"` `\` `$` `{` `}` `;`, not starting or ending with a space. */
export const headerValue: Grammar<string> = (v) => {
  if (v.length === 0 || v.length > 4096) return bad('is not a header value of 1 to 4096 characters');
  if (!/^[\x20-\x7e]+$/.test(v) || /["\\${};]/.test(v)) return bad('is not a header value: expected printable ASCII without " \\ $ { } ;');
  return v.startsWith(' ') || v.endsWith(' ') ? bad('starts or ends with a space') : ok(v);
};

/** A cookie name: letters, digits and `- . _ ~` (RFC 6265 token characters ingress-nginx also accepts). */
export const cookieName: Grammar<string> = (v) =>
  /^[A-Za-z0-9\-._~]{1,128}$/.test(v) ? ok(v) : bad('is not a cookie name: expected 1 to 128 letters, digits, - . _ ~');

/** An HTTP method: upper-case letters. */
const method: Grammar<string> = (v) => (/^[A-Z]{1,32}$/.test(v) ? ok(v) : bad('is not an upper-case HTTP method (e.g. GET)'));

/** Comma-separated upper-case HTTP methods. */
export const methods: Grammar<string[]> = list(method, 'upper-case HTTP methods');

/** A CORS origin: `scheme://host[:port]` with a lower-case scheme, no path; the host lower-cased. */
const origin: Grammar<string> = (v) => {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/.exec(v);
  if (m !== null && (m[2] ?? '').startsWith('*.')) return bad('is a wildcard origin, which is not supported: list the origins');
  if (v === 'null') return bad('is the null origin, which any sandboxed page sends: it is refused');
  if (m === null) return bad('is not an origin: expected scheme://host[:port] with a lower-case scheme, no path');
  const problem = authorityProblem(m[2] ?? '');
  return problem === undefined ? ok(v.toLowerCase()) : bad(`is not an origin: expected scheme://host[:port] with ${problem}, no path`);
};

/** `*` alone, or comma-separated `scheme://host[:port]` origins. */
export const origins: Grammar<string[]> = (v) => (v === '*' ? ok(['*']) : list(origin, '"*" alone or origins')(v));

/** An authentication realm: 1 to 128 printable ASCII characters without `"` `\` `$` `{` `}` `;`. */
export const realm: Grammar<string> = (v) =>
  /^[\x20-\x7e]{1,128}$/.test(v) && !/["\\${};]/.test(v) ? ok(v) : bad('is not a realm: expected 1 to 128 printable ASCII characters without " \\ $ { } ;');

const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** A Secret reference: `name`, or `namespace/name` when `namespaced`. */
export interface SecretRef {
  readonly namespace?: string;
  readonly name: string;
}

/**
 * A Secret (or another object: `kind`) named by an annotation: a DNS-1123 subdomain, or
 * (`namespaced`) `namespace/name`.
 *
 * @param namespaced whether `namespace/name` is accepted
 * @param kind the kind named in the problem
 * @returns the grammar
 */
export function secretRef(namespaced: boolean, kind = 'Secret'): Grammar<SecretRef> {
  return (v) => {
    const parts = v.split('/');
    const [first = '', second] = parts;
    if (parts.length === 1 && DNS1123_SUBDOMAIN.test(first)) return ok({ name: first });
    if (namespaced && parts.length === 2 && DNS1123_LABEL.test(first) && DNS1123_SUBDOMAIN.test(second ?? '')) {
      return ok({ namespace: first, name: second ?? '' });
    }
    return bad(`is not a ${kind} name${namespaced ? ' or namespace/name' : ' of the Ingress namespace'} (lower-case letters, digits, - and .)`);
  };
}
