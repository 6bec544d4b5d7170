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

/** Regex paths longer than this are refused: they are written into nginx and HAProxy configuration lines. */
export const MAX_REGEX_PATH_LENGTH = 512;

/*
 * Regex path grammar (use-regex): a subset that JavaScript (non-unicode mode) and PCRE (nginx,
 * HAProxy) read the same way, which nginx's quoted strings keep as written:
 *
 *   regex       = "/" alternation                 ; the first character is a literal "/"
 *   alternation = sequence *( "|" sequence )
 *   sequence    = *( anchor / atom [ quantifier ] )
 *   anchor      = "^" / "$"
 *   atom        = literal / "." / class / escape / "(" [ "?:" ] alternation ")"
 *   quantifier  = ( "?" / "*" / "+" ) [ "?" ]       ; "*" and "+" only on a one-character atom
 *   literal     = ALPHA / DIGIT / "-" / "_" / "~" / "!" / "&" / "," / "=" / ":" / "@" / "/"
 *   escape      = "\d" / "\D" / "\w" / "\W" / "\" ( "." / "(" / ")" / "|" / "?" / "*" / "+" / "[" / "]" / "^" / "$" / "/" / "-" )
 *   class       = "[" [ "^" ] 1*item "]"            ; "-" literal only first or last
 *   item        = literal / "." / "(" / ")" / "|" / "?" / "*" / "+" / "$" / class-escape / range
 *   range       = a "-" b                           ; both in 0-9, a-z or A-Z, a <= b
 *
 * Left out on purpose: `{n,m}` braces (nginx needs quoting for them), backreferences, lookaround and
 * named groups (PCRE-only or read differently), possessive quantifiers, `\\` and `\t`-like escapes
 * (nginx's parser rewrites them), quotes, `;`, `%`, spaces and non-ASCII. A `*` or `+` on a group is
 * refused so that backtracking stays polynomial (no `(a+)+` or `(a|a)*`).
 */
const REGEX_LITERAL = /[A-Za-z0-9\-_~!&,=:@/]/;
const REGEX_ESCAPED = new Set(['.', '(', ')', '|', '?', '*', '+', '[', ']', '^', '$', '/', '-']);
const CLASS_ESCAPED = new Set(['d', 'D', 'w', 'W', ']', '[', '-', '^', '.', '/']);
const CLASS_PLAIN = /[A-Za-z0-9\-_~!&,=:@/.()|?*+$]/;

/** Whether two characters bound a range within digits, lower-case or upper-case letters. */
function isRange(a: string, b: string): boolean {
  const same = (re: RegExp): boolean => re.test(a) && re.test(b);
  return (same(/[0-9]/) || same(/[a-z]/) || same(/[A-Z]/)) && a <= b;
}

/** Reads the regex grammar above; each method returns the next index or throws the problem. */
class RegexReader {
  readonly #s: string;
  groups = 0;

  constructor(s: string) {
    this.#s = s;
  }

  /** alternation, up to an unmatched ")" or the end. */
  alternation(i: number, depth: number): { next: number; quantified: boolean } {
    let at = i;
    let quantified = false;
    for (;;) {
      const seq = this.sequence(at, depth);
      quantified ||= seq.quantified;
      at = seq.next;
      if (this.#s[at] !== '|') return { next: at, quantified };
      at++;
    }
  }

  sequence(i: number, depth: number): { next: number; quantified: boolean } {
    let at = i;
    let quantified = false;
    for (;;) {
      const c = this.#s[at];
      if (c === undefined || c === '|' || c === ')') return { next: at, quantified };
      if (c === '^' || c === '$') {
        at++;
        continue;
      }
      let single = true;
      if (c === '(') {
        at++;
        if (this.#s[at] === '?') {
          if (this.#s[at + 1] !== ':') throw new Error('"(?" may only start a non-capturing group "(?:" (no lookaround, named groups or flags)');
          at += 2;
        } else this.groups++;
        if (depth >= 16) throw new Error('groups nest more than 16 deep');
        const inner = this.alternation(at, depth + 1);
        if (this.#s[inner.next] !== ')') throw new Error('a "(" is not closed');
        at = inner.next + 1;
        quantified ||= inner.quantified;
        single = false;
      } else if (c === '[') {
        at = this.charClass(at + 1);
      } else if (c === '\\') {
        const e = this.#s[at + 1] ?? '';
        if (e !== 'd' && e !== 'D' && e !== 'w' && e !== 'W' && !REGEX_ESCAPED.has(e)) throw new Error(`"\\${e}" is not an escape of the grammar (\\d \\w \\D \\W, or a backslash before one of . ( ) | ? * + [ ] ^ $ / -)`);
        at += 2;
      } else if (c === '.' || REGEX_LITERAL.test(c)) {
        at++;
      } else if (c === '?' || c === '*' || c === '+') {
        throw new Error(`"${c}" follows nothing it can repeat`);
      } else if (c === ']') {
        throw new Error('a "]" closes no "["');
      } else {
        throw new Error(`"${c}" is not allowed (letters, digits, - _ ~ ! & , = : @ / and the regex syntax ( ) | ? * + . [ ] ^ $ \\)`);
      }
      const q = this.#s[at];
      if (q === '?' || q === '*' || q === '+') {
        if (q !== '?' && !single) throw new Error(`"${q}" may only repeat one character, a "." or a class, not a group (backtracking would grow exponentially)`);
        quantified = true;
        at++;
        if (this.#s[at] === '?') at++;
        const again = this.#s[at];
        if (again === '?' || again === '*' || again === '+') throw new Error(`"${again}" repeats a repetition (possessive and nested quantifiers are not allowed)`);
      }
    }
  }

  /** A class after its "["; returns the index after its "]". */
  charClass(i: number): number {
    let at = i;
    if (this.#s[at] === '^') at++;
    const first = at;
    for (;;) {
      const c = this.#s[at];
      if (c === undefined) throw new Error('a "[" is not closed');
      if (c === ']') {
        if (at === first) throw new Error('a character class is empty');
        return at + 1;
      }
      if (c === '-') {
        if (at !== first && this.#s[at + 1] !== ']') throw new Error('"-" in a class must be first, last, or between two letters or digits');
        at++;
        continue;
      }
      if (c === '\\') {
        const e = this.#s[at + 1] ?? '';
        if (!CLASS_ESCAPED.has(e)) throw new Error(`"\\${e}" is not a class escape of the grammar (\\d \\w \\D \\W \\] \\[ \\- \\^ \\. \\/)`);
        at += 2;
        if (this.#s[at] === '-' && this.#s[at + 1] !== ']') throw new Error('a range cannot start at an escape');
        continue;
      }
      if (c === '[') throw new Error('"[" inside a class must be written "\\[" (PCRE reads "[:" as a POSIX class)');
      if (!CLASS_PLAIN.test(c)) throw new Error(`"${c}" is not allowed in a class`);
      at++;
      if (this.#s[at] === '-' && this.#s[at + 1] !== undefined && this.#s[at + 1] !== ']') {
        const end = this.#s[at + 1] ?? '';
        if (!isRange(c, end)) throw new Error(`"${c}-${end}" is not a range within 0-9, a-z or A-Z`);
        at += 2;
      }
    }
  }
}

/**
 * Why a regex path (use-regex) is refused, or undefined when it follows the grammar above: a pattern
 * matched case-insensitively from the start of the normalised path, the same in every mode.
 */
export function regexPathProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'a regex path must start with "/"';
  if (pattern.length > MAX_REGEX_PATH_LENGTH) return `a regex path is longer than ${MAX_REGEX_PATH_LENGTH} characters`;
  try {
    const reader = new RegexReader(pattern);
    const end = reader.alternation(0, 0).next;
    if (end !== pattern.length) throw new Error('a ")" closes no "("');
    if (reader.groups > 9) throw new Error('more than 9 capture groups ($1 to $9)');
  } catch (err) {
    return `not a regex path of the grammar: ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}

/**
 * Why a header or query value regex (Gateway API `RegularExpression` matches) is refused, or undefined
 * when it follows the regex path grammar above without its leading "/": a pattern matched
 * case-sensitively against the whole value, the same in every mode.
 */
export function valueRegexProblem(pattern: string): string | undefined {
  if (pattern === '') return 'a regular expression must not be empty';
  if (pattern.length > MAX_REGEX_PATH_LENGTH) return `a regular expression is longer than ${MAX_REGEX_PATH_LENGTH} characters`;
  try {
    const reader = new RegexReader(pattern);
    const end = reader.alternation(0, 0).next;
    if (end !== pattern.length) throw new Error('a ")" closes no "("');
  } catch (err) {
    return `not a regular expression of the grammar: ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}
