/*
 * Strict grammars for every Kubernetes value that reaches the routing model, and from there a
 * proxy configuration file: names, hosts, paths, ports, addresses. A value that fails here never
 * reaches the model, so a template can never receive a newline, a quote or a `;`.
 */

import type { HostKind } from '../types.ts';

const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
/** Dot-separated labels of 1 to 63 characters each: isDns1123Label on every label, in one pass. */
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** Kubernetes DNS-1123 label: lower-case alphanumerics and `-`, at most 63 characters (namespaces, Services). */
export function isDns1123Label(value: string): boolean {
  return value.length > 0 && value.length <= 63 && DNS1123_LABEL.test(value);
}

/**
 * Kubernetes DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters
 * (Ingresses, Secrets, EndpointSlices, IngressClasses). Each label is also capped at 63 (RFC 1123).
 */
export function isDns1123Subdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** IANA service name (a named container / EndpointSlice port): at most 15 characters, a letter, no `--`. */
export function isIanaSvcName(value: string): boolean {
  return (
    value.length > 0 &&
    value.length <= 15 &&
    IANA_SVC_NAME.test(value) &&
    /[a-z]/.test(value) &&
    !value.includes('--')
  );
}

/** A TCP port number, 1 to 65535. */
export function isPortNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** A dotted-quad IPv4 address without leading zeros. */
export function isIPv4(value: string): boolean {
  if (!IPV4.test(value)) return false;
  return value.split('.').every((o) => Number(o) <= 255 && (o === '0' || !o.startsWith('0')));
}

/** An IPv6 address (no zone, no brackets), checked by the WHATWG URL parser after a character filter. */
export function isIPv6(value: string): boolean {
  // The character filter keeps `]`, `/`, `%` and spaces out before the URL parser sees the text.
  if (value.length < 2 || value.length > 45 || !/^[0-9a-fA-F:.]+$/.test(value) || !value.includes(':')) return false;
  return URL.canParse(`http://[${value}]/`);
}

/** A parsed Ingress host: the lower-cased name and its kind, or why it was rejected. */
export type HostParse =
  | { readonly ok: true; readonly host: string; readonly kind: Exclude<HostKind, 'any'> }
  | { readonly ok: false; readonly reason: string };

/**
 * Validates an Ingress rule or TLS host the way the Kubernetes API does: a DNS-1123 subdomain
 * (lower-cased first), or `*.` followed by one, and never an IP address.
 */
export function parseHost(raw: string): HostParse {
  const host = raw.toLowerCase();
  if (host.length === 0) return { ok: false, reason: 'host is empty' };
  if (host.length > 253) return { ok: false, reason: 'host is longer than 253 characters' };
  if (IPV4.test(host) || host.includes(':')) return { ok: false, reason: 'host must be a DNS name, not an IP address' };
  if (host.startsWith('*.')) {
    if (!isDns1123Subdomain(host.slice(2))) {
      return { ok: false, reason: 'a wildcard host must be "*." followed by a DNS-1123 subdomain (lower-case letters, digits, "-" and ".")' };
    }
    return { ok: true, host, kind: 'wildcard' };
  }
  if (!isDns1123Subdomain(host)) {
    return { ok: false, reason: 'host must be a DNS-1123 subdomain (lower-case letters, digits, "-" and "."; labels of at most 63 characters); "*" may only be the whole first label' };
  }
  return { ok: true, host, kind: 'exact' };
}

/** Paths longer than this are refused: HAProxy reads configuration lines of at most 2048 bytes. */
export const MAX_PATH_LENGTH = 1024;

/*
 * Ingress path grammar (stricter than RFC 3986 on purpose):
 *
 *   path       = "/" *( pchar / "/" )
 *   pchar      = unreserved / pct-encoded / safe-delim / ":" / "@"
 *   unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
 *   pct-encoded= "%" HEXDIG HEXDIG   ; except %00-%1F, %7F (encoded controls) and %2F (encoded "/")
 *   safe-delim = "!" / "&" / "(" / ")" / "*" / "+" / "," / "="
 *                ; RFC 3986 sub-delims minus "$" (proxy variables), "'" (quoting) and ";" (directive end)
 *
 * plus the Kubernetes API rules for Exact and Prefix paths, applied to every path type: no "//",
 * "/./" or "/../" and no trailing "/." or "/..". Whitespace, control characters, `"`, `{`, `}`, `\`,
 * `#`, `?`, backquote, `<`, `>`, `^`, `|` and any non-ASCII character are outside the grammar.
 */
const PATH_CHARS = /^\/(?:[A-Za-z0-9\-._~!&()*+,=:@/]|%[0-9A-Fa-f]{2})*$/;

/** Why an Ingress path is refused, or undefined when it follows the grammar above. */
export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'path must start with "/"';
  if (path.length > MAX_PATH_LENGTH) return `path is longer than ${MAX_PATH_LENGTH} characters`;
  if (!PATH_CHARS.test(path)) {
    return 'path may only contain letters, digits, "/", "-", ".", "_", "~", "!", "&", "(", ")", "*", "+", ",", "=", ":", "@" and %-escapes';
  }
  if (path.includes('%')) {
    for (const m of path.matchAll(/%([0-9A-Fa-f]{2})/g)) {
      const code = Number.parseInt(m[1] ?? '', 16);
      if (code < 0x20 || code === 0x7f) return 'path must not contain %-encoded control characters';
      if (code === 0x2f) return 'path must not contain an encoded "/" (%2F)';
    }
  }
  if (/\/\/|\/\.\/|\/\.\.\//.test(path)) return 'path must not contain "//", "/./" or "/../"';
  if (path.endsWith('/.') || path.endsWith('/..')) return 'path must not end with "/." or "/.."';
  return undefined;
}
