/*
 * Upstream-level policies in nginx terms, pure. nginx balances and pins per `upstream` block, not per
 * location: a route asking for least_conn or cookie affinity gets a variant of its backend's upstream
 * (same servers, its own settings), named from the base name and a short stable tag. Affinity is done
 * with maps (nginx OSS has no `sticky cookie`): the cookie's token names a per-endpoint upstream, never
 * an address the client writes. Also the external-auth URL, as nginx's `proxy_pass` can take it.
 */
import { createHash } from 'node:crypto';
import { isIPv4Literal, isIPv6Literal, isPlainHost } from '../quote.ts';
import type { ExternalAuthPolicy, UpstreamPolicy } from '../../model/policy.ts';
import { regexLiteral } from './policy.ts';
import { canLiteral, canName } from './quote.ts';

/** One `server` of an upstream block. */
export interface UpstreamServerView {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** Tried only when the others failed (the per-endpoint upstreams of affinity). */
  readonly backup: boolean;
}

/** An `upstream` block: a backend's, or a variant of it for a route's load-balance or affinity. */
export interface UpstreamView {
  readonly id: string;
  readonly name: string;
  /** `least_conn` (load-balance least_conn, and ewma, which nginx OSS does not have). */
  readonly leastConn: boolean;
  readonly servers: readonly UpstreamServerView[];
  /** The Lua balancer picks the endpoints (the backend's own upstream, when nginx has the Lua module); the servers are not written. */
  readonly lua: boolean;
}

/** The balancing a route asks of nginx: only least_conn differs from the default (round robin). */
export function leastConnOf(upstream: UpstreamPolicy | undefined): boolean {
  // nginx OSS has no EWMA (an NGINX Plus / ingress-nginx Lua balancer): ewma is applied as least_conn.
  return upstream?.loadBalance === 'least_conn' || upstream?.loadBalance === 'ewma';
}

/** `host:port`, an IPv6 host bracketed, as nginx writes `$upstream_addr` and native keys its endpoints. */
export function endpointKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What an affinity cookie holds for an endpoint: as native, a digest of its address (16 hex), not the address. */
export function affinityToken(host: string, port: number): string {
  return createHash('sha1').update(endpointKey(host, port)).digest('hex').slice(0, 16);
}

/** Backups of a pinned endpoint's upstream (affinity): the endpoints after it, in ring order. */
const MAX_BACKUPS = 16;

/** The upstream variants a rendering collects: one per (backend, settings) pair, named `<base>__<tag>`. */
export class UpstreamVariants {
  readonly #byName = new Map<string, UpstreamView>();
  readonly #base = new Map<string, UpstreamView>();
  readonly #order: UpstreamView[] = [];

  /** Registers a backend's own upstream. */
  base(view: UpstreamView): void {
    this.#base.set(view.id, view);
    this.#byName.set(view.name, view);
    this.#order.push(view);
  }

  /** All upstream blocks in a stable order: the backends', then the variants as routes asked for them. */
  get all(): readonly UpstreamView[] {
    return this.#order;
  }

  /** The backend's upstream with least_conn, or the base one; undefined when the backend has none or the name cannot be written. */
  balanced(id: string, leastConn: boolean): string | undefined {
    const base = this.#base.get(id);
    if (base === undefined) return undefined;
    if (!leastConn) return base.name;
    return this.#variant(`${base.name}__lc`, () => ({ ...base, name: `${base.name}__lc`, leastConn: true, lua: false }));
  }

  /**
   * The per-endpoint upstreams of a backend for affinity: each endpoint first, the others as backups
   * (tried when it fails, as native picks another endpoint then). Undefined when a name cannot be written.
   */
  pinned(id: string): readonly { readonly token: string; readonly key: string; readonly upstream: string }[] | undefined {
    const base = this.#base.get(id);
    if (base === undefined) return undefined;
    // Every name has the base's length plus the same tag length: all can be written, or none.
    if (!canName(`${base.name}__a${'0'.repeat(16)}`)) return undefined;
    const n = base.servers.length;
    return base.servers.map((s, i) => {
      const token = affinityToken(s.host, s.port);
      const name = `${base.name}__a${token}`;
      // The next endpoints in ring order as backups, at most MAX_BACKUPS: n pinned upstreams of n servers each would grow as n².
      const backups = Array.from({ length: Math.min(n - 1, MAX_BACKUPS) }, (_, k) => base.servers[(i + 1 + k) % n]).filter((o) => o !== undefined);
      this.#variant(name, () => ({ id: base.id, name, leastConn: false, lua: false, servers: [{ ...s, backup: false }, ...backups.map((o) => ({ ...o, backup: true }))] }));
      return { token, key: endpointKey(s.host, s.port), upstream: name };
    });
  }

  #variant(name: string, make: () => UpstreamView): string | undefined {
    if (!canName(name)) return undefined;
    const known = this.#byName.get(name);
    if (known !== undefined) return known.name;
    const view = make();
    this.#byName.set(name, view);
    this.#order.push(view);
    return name;
  }
}

/**
 * A cookie affinity in nginx terms: `$<variable>` is the upstream a request goes to (the pinned one of
 * the endpoint its cookie names, else `fallback`), `$<setCookie.variable>` the Set-Cookie to add (empty
 * when the cookie already names the endpoint that answered).
 */
export interface AffinityView {
  readonly variable: string;
  /** `map $http_cookie $variable`: the first cookie of that name (value trimmed), captured as `capture`. */
  readonly cookie: { readonly variable: string; readonly pattern: string; readonly capture: string };
  /** Exact token regexes and the pinned upstream each gives. */
  readonly pins: readonly { readonly pattern: string; readonly upstream: string }[];
  /** The upstream of a request without a valid cookie (the base or the least_conn variant). */
  readonly fallback: string;
  /** `map $upstream_addr $variable`: the token of the last address tried (the one that answered). */
  readonly served: { readonly variable: string; readonly rules: readonly { readonly pattern: string; readonly token: string }[] };
  /** The Set-Cookie value: `prefix`, the token (`$capture`), `suffix`. */
  readonly setCookie: { readonly variable: string; readonly capture: string; readonly prefix: string; readonly suffix: string };
}

/** A cookie affinity's settings. */
export type AffinityPolicy = NonNullable<UpstreamPolicy['affinity']>;

/** The Set-Cookie attributes after the value, as native `affinityCookie` writes them. */
export function affinityAttributes(affinity: AffinityPolicy, path: string): string {
  const age = affinity.maxAgeSeconds === undefined ? '' : `; Max-Age=${affinity.maxAgeSeconds}`;
  const site = affinity.sameSite === undefined ? '' : `; SameSite=${affinity.sameSite}${affinity.sameSite === 'None' ? '; Secure' : ''}`;
  return `; Path=${path}${age}${site}; HttpOnly`;
}

/** The affinity maps of entry `n`, or undefined when the cookie name or path cannot be written. */
export function affinityEntry(n: number, affinity: AffinityPolicy, path: string, pins: readonly { readonly token: string; readonly key: string; readonly upstream: string }[], fallback: string): AffinityView | undefined {
  const name = regexLiteral(affinity.cookie);
  const attributes = affinityAttributes(affinity, path);
  if (name === undefined || affinity.cookie === '' || !/^[\x21-\x7e]+$/.test(affinity.cookie) || !canLiteral(attributes)) return undefined;
  const base = `pass_aff_${n}`;
  const capture = `${base}_v`;
  const served: { pattern: string; token: string }[] = [];
  for (const p of pins) {
    const key = regexLiteral(p.key);
    if (key === undefined) return undefined;
    served.push({ pattern: `~(?:^|, )${key}\\z`, token: p.token });
  }
  return {
    variable: base,
    cookie: { variable: `${base}_cookie`, pattern: `~(?:^|;)\\s*${name}\\s*=\\s*(?<${capture}>[^;]*?)\\s*(?:;|\\z)`, capture },
    pins: pins.map((p) => ({ pattern: `~^${p.token}\\z`, upstream: p.upstream })),
    fallback,
    served: { variable: `${base}_served`, rules: served },
    setCookie: { variable: `${base}_set`, capture: `${base}_t`, prefix: `${affinity.cookie}=`, suffix: attributes },
  };
}

/** The external-auth URL as `proxy_pass` takes it (no variable, so nginx resolves a host name once at load). */
export interface AuthTarget {
  /** `scheme://authority/path?query`, without `$`, quote, backslash or space. */
  readonly url: string;
  /** The host: an IP literal (nothing to resolve) or a name nginx resolves when it loads the configuration. */
  readonly host: string;
  readonly isName: boolean;
}

const AUTH_PATH = /^\/[A-Za-z0-9\-._~!&'()*+,;=:@/%?]*$/;

/** The auth URL of a policy in nginx terms, or undefined when it cannot be written (userinfo, odd characters). */
export function authTarget(policy: ExternalAuthPolicy): AuthTarget | undefined {
  let u: URL;
  try {
    u = new URL(policy.url);
  } catch {
    return undefined;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '') return undefined;
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const ip = isIPv4Literal(host) || isIPv6Literal(host);
  if (!ip && !isPlainHost(host)) return undefined;
  const rest = `${u.pathname}${u.search}`;
  if (!AUTH_PATH.test(rest) || rest.length > 2048) return undefined;
  const authority = `${host.includes(':') ? `[${host}]` : host}${u.port === '' ? '' : `:${u.port}`}`;
  return { url: `${u.protocol}//${authority}${rest}`, host, isName: !ip };
}

/** The auth_request_set variable of an auth answer's header (`X-User` → `pass_auth_x_user`), or undefined for a name nginx cannot read alike. */
export function authHeaderVariable(name: string): string | undefined {
  return /^[A-Za-z0-9-]{1,100}$/.test(name) ? `pass_auth_${name.toLowerCase().replace(/-/g, '_')}` : undefined;
}
