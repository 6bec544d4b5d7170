/*
 * nginx quoting helpers. nginx splits on spaces, ends a directive at `;`, opens a block at `{`,
 * expands `$name` in many arguments and reads backslash escapes in quoted strings. A literal goes
 * between double quotes and may hold no `"`, backslash, `$` or control byte; anything else throws.
 */
import { isIPv4Literal, isIPv6Literal, isIntIn, isPlainHost, isSafePath, isWildcardHost, LABEL, PRINTABLE_ASCII, unsafe } from '../quote.ts';

import { isAddressRange } from '../../config/schema.ts';
import { regexPathProblem } from '../../model/translate/validate.ts';
import { redirectParts } from '../../model/redirect.ts';
import type { WwwRedirectPolicy } from '../../model/policy.ts';

const D = 'nginx';
const NAME = /^[A-Za-z0-9_.-]{1,120}$/;
const ROUTE_PATH = /^\/(?:[A-Za-z0-9\-._~!&()*+,=:@/]|%[0-9A-Fa-f]{2})*$/;

/** Whether a text can be a double-quoted nginx literal. */
export function canLiteral(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && PRINTABLE_ASCII.test(value) && !/["\\$]/.test(value);
}

/** A double-quoted literal: `"text"`. */
export function literal(value: unknown): string {
  if (!canLiteral(value)) throw unsafe(D, 'text', value);
  return `"${value}"`;
}

/** Whether a text can be written by {@link text}: printable ASCII, at most 4096 characters. */
export function canText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 4096 && PRINTABLE_ASCII.test(value);
}

/**
 * Any printable text, double-quoted: `"` and backslash escaped (nginx's parser reads `\"` and `\\`),
 * `$` written `${pass_dollar}` (nginx has no escape for it; the template declares that variable as
 * `$` when the view's `dollar` is set), so the value never names a variable nor ends the string.
 */
export function text(value: unknown): string {
  if (!canText(value)) throw unsafe(D, 'text', value);
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/\$/g, '${pass_dollar}')}"`;
}

/** Whether a text is an upstream name. */
export function canName(value: unknown): value is string {
  return typeof value === 'string' && NAME.test(value);
}

/** An upstream name (`[A-Za-z0-9_.-]`). */
export function name(value: unknown): string {
  if (!canName(value)) throw unsafe(D, 'name', value);
  return value;
}

/** An integer written bare, within [min, max]. */
export function int(value: unknown, min = 0, max = 2 ** 31 - 1): string {
  if (!isIntIn(value, min, max)) throw unsafe(D, 'number', value);
  return String(value);
}

/** An absolute file path, double-quoted. */
export function file(value: unknown): string {
  if (typeof value !== 'string' || !isSafePath(value)) throw unsafe(D, 'file path', value);
  return `"${value}"`;
}

/** A unix socket `listen` address (`"unix:/path"`), the path checked as {@link file} does. */
export function unixListen(value: unknown): string {
  if (typeof value !== 'string' || !isSafePath(value)) throw unsafe(D, 'unix socket path', value);
  return `"unix:${value}"`;
}

/** Whether a host and port make a listening or server address. */
export function canAddress(host: unknown, port: unknown): boolean {
  if (!isIntIn(port, 1, 65535)) return false;
  if (host === undefined || host === null || host === '') return true;
  return typeof host === 'string' && (isIPv4Literal(host) || isIPv6Literal(host) || isPlainHost(host));
}

/** `host:port`, `[v6]:port`, or the port alone when the host is empty. */
export function address(host: unknown, port: unknown): string {
  if (!canAddress(host, port)) throw unsafe(D, 'address', `${String(host)}:${String(port)}`);
  const h = typeof host === 'string' ? host : '';
  if (h === '') return String(port);
  return h.includes(':') ? `[${h}]:${String(port)}` : `${h}:${String(port)}`;
}

/** Whether a route path fits the Ingress path grammar. */
export function canRoutePath(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && ROUTE_PATH.test(value);
}

/** A location path, double-quoted. */
export function locationPath(value: unknown): string {
  if (!canRoutePath(value)) throw unsafe(D, 'location path', value);
  return `"${value}"`;
}

/**
 * Whether a pattern follows the regex path grammar (`regexPathProblem`): no `"`, no `{`, `}` or `;`,
 * and a backslash only before `d`, `w`, `D`, `W` or punctuation, which nginx's quoted strings keep as is.
 */
export function canPathRegex(value: unknown): value is string {
  return typeof value === 'string' && regexPathProblem(value) === undefined;
}

/** A regex location's pattern, double-quoted and anchored as the model matches it: `"^(?:pattern)"` (with `~*`). */
export function locationRegex(value: unknown): string {
  if (!canPathRegex(value)) throw unsafe(D, 'regex path', value);
  return `"^(?:${value})"`;
}

/** The regex of a `rewrite`, double-quoted: `"(?i)^(?:pattern)"`, case-insensitive as the location. */
export function rewriteRegex(value: unknown): string {
  if (!canPathRegex(value)) throw unsafe(D, 'regex path', value);
  return `"(?i)^(?:${value})"`;
}

const REWRITE_TARGET = /^\/(?:[A-Za-z0-9\-._~!&()*+,=:@/]|\$[1-9])*$/;

/**
 * Whether a text is a regex rewrite target: a route path with `$1`..`$9` (nginx reads `$1x` as `$1`
 * then `x`), without %-escapes: nginx escapes a rewritten path again, so `%20` would reach the backend as `%2520`.
 */
export function canRewriteTarget(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 1024 && REWRITE_TARGET.test(value);
}

/** A `rewrite` replacement, double-quoted: its only `$` are the capture groups `$1`..`$9`. */
export function rewriteTarget(value: unknown): string {
  if (!canRewriteTarget(value)) throw unsafe(D, 'rewrite target', value);
  return `"${value}"`;
}

/**
 * A server_name: an exact host quoted as is, or for `*.a.b` the regex `~^[^.]+\.a\.b$`: nginx's own
 * `*.a.b` also matches `x.y.a.b`, while an Ingress wildcard covers exactly one label. A suffix host
 * (Gateway API `*.a.b`, one or more labels) is written `**.a.b` in the view and becomes `~^.+\.a\.b$`
 * (nginx's `.a.b` would match `a.b` itself too).
 */
export function serverName(value: unknown): string {
  if (typeof value === 'string' && isPlainHost(value)) return `"${value}"`;
  // A suffix host (`**.a.b` in the view): one or more labels before the domain.
  if (typeof value === 'string' && value.startsWith('**.') && isPlainHost(value.slice(3))) return `"~^.+\\.${value.slice(3).split('.').join('\\.')}$"`;
  if (typeof value === 'string' && isWildcardHost(value)) {
    const labels = value.slice(2).split('.');
    if (!labels.every((l) => LABEL.test(l))) throw unsafe(D, 'server name', value);
    return `"~^[^.]+\\.${labels.join('\\.')}$"`;
  }
  throw unsafe(D, 'server name', value);
}

/**
 * A key of the certificate map on `$ssl_server_name`: an exact host (the map's hash lowercases the
 * client's name) or, for `*.domain`, a case-insensitive regex of one label (as a TLS wildcard covers).
 */
export function sniKey(value: unknown): string {
  const name = serverName(value);
  return name.startsWith('"~') ? `"~*${name.slice(2)}` : name;
}

/** Whether a user name can be written to an htpasswd file. */
export function canUser(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 128 && /^[\x21-\x7e]+$/.test(value) && !value.includes(':') && !value.startsWith('#');
}

/** An htpasswd line `user:hash` (apr1, bcrypt and {SHA} are read by nginx itself). */
export function htpasswdLine(user: unknown, hash: unknown): string {
  if (!canUser(user)) throw unsafe(D, 'user name', user);
  if (!canHtpasswdHash(hash)) throw unsafe(D, 'password hash', '(hidden)');
  return `${user}:${hash}`;
}

/**
 * The target of `proxy_pass` for a location: the upstream and the location's own path as URI, so that
 * nginx sends its normalised path (re-escaped) instead of the raw request target. Double-quoted, and
 * without `$` (the route path grammar has none), so nginx never reads it as variables.
 */
export function proxyPassTarget(upstream: unknown, path: unknown, scheme?: unknown): string {
  if (!canName(upstream)) throw unsafe(D, 'upstream name', upstream);
  if (!canRoutePath(path)) throw unsafe(D, 'location path', path);
  // Called from a template, a missing third argument is Handlebars' options object.
  const s = typeof scheme === 'string' ? scheme : 'http';
  if (s !== 'http' && s !== 'https') throw unsafe(D, 'upstream scheme', scheme);
  return `"${s}://${upstream}${path}"`;
}

/**
 * The regex of a `rewrite` that replaces the first `length` characters of the normalised path (those a
 * prefix location matched, as `proxy_pass` with a path replaces them), the rest captured as `$1`:
 * `"(?s)^.{length}(.*)"`, `length` from 1 to 1024.
 */
export function stripRegex(length: unknown): string {
  if (!isIntIn(length, 1, 1024)) throw unsafe(D, 'location path length', length);
  return `"(?s)^.{${String(length)}}(.*)"`;
}

/** Whether an htpasswd hash is one nginx verifies itself: `$apr1$`, bcrypt (`$2a$`, `$2b$`, `$2y$`) or `{SHA}`. */
export function canHtpasswdHash(value: unknown): value is string {
  return typeof value === 'string' && /^(?:\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}|\$2[aby]\$\d\d\$[./0-9A-Za-z]{53}|\{SHA\}[A-Za-z0-9+/]{27}=)$/.test(value);
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

/**
 * A double-quoted string of literal texts and variables, alternately: `splice("a", "v", "b")` is
 * `"a${v}b"`. The texts are written as {@link text} writes them (a `$` as `${pass_dollar}`), the
 * variables are names (`[A-Za-z0-9_]`) in braces, so nothing a text holds can name a variable.
 */
export function splice(...args: unknown[]): string {
  // Called from a template, the last argument is Handlebars' options object.
  const parts = typeof args[args.length - 1] === 'object' && args[args.length - 1] !== null ? args.slice(0, -1) : args;
  let out = '';
  parts.forEach((p, i) => {
    if (i % 2 === 0) {
      if (!canText(p)) throw unsafe(D, 'text', p);
      out += p.replace(/[\\"]/g, '\\$&').replace(/\$/g, '${pass_dollar}');
    } else {
      if (typeof p !== 'string' || !/^[A-Za-z0-9_]{1,120}$/.test(p)) throw unsafe(D, 'variable name', p);
      out += `\${${p}}`;
    }
  });
  return `"${out}"`;
}

const AUTH_URL = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\/[A-Za-z0-9\-._~!&'()*+,;=:@/%?]*$/;

/** An external-auth URL for `proxy_pass`, double-quoted: no `$` (so nginx reads no variable), quote, backslash or space. */
export function authUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2100 || !AUTH_URL.test(value)) throw unsafe(D, 'auth URL', value);
  return `"${value}"`;
}

/**
 * Whether a text can be written by {@link mapRegex}: a map key regex (`~` and a pattern) of printable
 * ASCII, at most 2100 characters.
 */
export function canMapRegex(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 2100 && /^~[\x20-\x7e]+$/.test(value);
}

/**
 * A `map` key regex, double-quoted with `"` and backslash escaped (nginx's parser turns `\"` and `\\`
 * back into the characters). A map's keys are never read as variables, so `$` stays the regex's own.
 */
export function mapRegex(value: unknown): string {
  if (!canMapRegex(value)) throw unsafe(D, 'map regex', value);
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** The helpers the nginx templates call, by name. */
/**
 * The Location of a {@link WwwRedirectPolicy} through a server block (TLS or not, its public port):
 * a double-quoted `scheme://host[:port]$request_uri`, the request's `$host` when the policy names none;
 * with `path` (a string), that path, then `$pass_rest` when `rest` is true, then the query.
 */
export function wwwUrl(policy: unknown, tls: unknown, publicPort: unknown, path?: unknown, rest?: unknown): string {
  if (typeof policy !== 'object' || policy === null) throw unsafe(D, 'redirect', policy);
  const w = policy as WwwRedirectPolicy;
  if (w.scheme !== undefined && w.scheme !== 'http' && w.scheme !== 'https') throw unsafe(D, 'redirect scheme', w.scheme);
  if (!isIntIn(publicPort, 1, 65535) || (w.port !== undefined && !isIntIn(w.port, 1, 65535))) throw unsafe(D, 'redirect port', w.port ?? publicPort);
  if (w.host !== undefined && !isPlainHost(w.host)) throw unsafe(D, 'redirect host', w.host);
  const { scheme, port } = redirectParts(w, tls === true, publicPort);
  const after = port === undefined ? '' : `:${port}`;
  const text = typeof path === 'string' ? path : '';
  // Texts and variables alternate: the path ends the text before them.
  const vars = typeof path !== 'string' ? ['request_uri'] : rest === true ? ['pass_rest', '', 'is_args', '', 'args'] : ['is_args', '', 'args'];
  return w.host === undefined ? splice(`${scheme}://`, 'host', after + text, ...vars) : splice(`${scheme}://${w.host}${after}${text}`, ...vars);
}

export const nginxHelpers = {
  q: literal,
  text,
  name,
  int: (v: unknown) => int(v),
  file,
  unixListen,
  addr: address,
  loc: locationPath,
  locRegex: locationRegex,
  rewriteRegex,
  rewriteTarget,
  stripRegex,
  proxyPass: proxyPassTarget,
  cidr,
  serverName,
  sniKey,
  splice,
  authUrl,
  wwwUrl,
  mapRegex,
} as const;
