/*
 * The backend-level half of route policies: how a route reaches its pods (TLS, h2, balance, cookie
 * affinity, retries, connect timeout). HAProxy sets these per backend and per server, not per request,
 * so a route that asks for them is sent to a variant backend: a copy of its backend's section with the
 * same server slots (the runtime API updates both alike) and these settings. Pure.
 */
import { createHash } from 'node:crypto';
import type { Route } from '../../model/types.ts';
import { isPlainHost } from '../quote.ts';
import { canCookieName } from './quote.ts';

/** Session affinity by an inserted cookie, its Set-Cookie rewritten to the native proxy's form. */
export interface CookieView {
  readonly name: string;
  /** The regex matching HAProxy's own `name=VALUE; path=/` (single-quoted by the template). */
  readonly match: string;
  /** The native Set-Cookie with `\1` for the value: Path, Max-Age, SameSite (and Secure with None), HttpOnly. */
  readonly replacement: string;
}

/** What a variant backend sets besides its servers; null fields: the defaults. */
export interface UpstreamView {
  /** TLS to the pod, its certificate not verified (backend-protocol HTTPS / GRPCS, as ingress-nginx). */
  readonly tls: boolean;
  /** HTTP/2: cleartext prior knowledge (`proto h2`, GRPC) or offered by ALPN over TLS (GRPCS). */
  readonly h2: boolean;
  /** With TLS: the SNI sample expression (the upstream vhost, else the request's host). */
  readonly sni: string | null;
  /** `balance` algorithm; null: roundrobin. */
  readonly balance: 'leastconn' | null;
  /**
   * ewma: HAProxy has none; the Lua action `pass_ewma` picks the server with the lowest average
   * response time (HAProxy's `rtime`) times its requests in progress, as nginx's peak EWMA weighs them.
   */
  readonly ewma: boolean;
  /** `retries` (attempts - 1) with redispatch and retry-on for connection failures, empty answers and timeouts; null: the defaults. */
  readonly retries: number | null;
  /** `timeout connect` in ms; null: the defaults. */
  readonly connectMs: number | null;
  /**
   * With `connectMs`: HAProxy answers a connection that failed on every attempt 503 (written 502), a
   * refused one as one that timed out; one that took this long (every attempt timed out, where
   * refusals only wait min(1 s, connect timeout) between attempts) is answered 504 as native and nginx do.
   */
  readonly gatewayTimeoutMs: number | null;
  readonly cookie: CookieView | null;
}

const INT_MAX = 2 ** 31 - 1;

/** A regex matching a text literally (the characters of a cookie name). */
function literalRegex(s: string): string {
  return s.replace(/[.\\^$|?*+()[\]{}-]/g, '\\$&');
}

/**
 * The backend-level settings of a route's policy: null when it asks for none, undefined when a value
 * cannot be written (the route answers 503 rather than reach its pods another way than asked).
 */
export function upstreamView(route: Route): UpstreamView | null | undefined {
  const up = route.policy?.upstream;
  const connect = route.policy?.timeouts?.connect;
  if (up === undefined && connect === undefined) return null;
  const protocol = up?.protocol ?? 'http';
  const tls = protocol === 'https' || protocol === 'grpcs';
  const vhost = up?.vhost?.toLowerCase().replace(/:[0-9]+$/, '');
  const sni = !tls ? null : vhost !== undefined && isPlainHost(vhost) ? `str(${vhost})` : 'var(txn.host)';
  // HAProxy has no EWMA (peak latency): least connections is the closest, and leastconn's own meaning.
  const balance = up?.loadBalance === 'least_conn' || up?.loadBalance === 'ewma' ? 'leastconn' : null;
  const tries = up?.tries;
  if (tries !== undefined && (!Number.isInteger(tries) || tries < 1)) return undefined;
  if (connect !== undefined && (!Number.isInteger(connect) || connect < 1 || connect > INT_MAX)) return undefined;
  let cookie: CookieView | null = null;
  const aff = up?.affinity;
  if (aff !== undefined) {
    if (!canCookieName(aff.cookie)) return undefined;
    if (aff.maxAgeSeconds !== undefined && (!Number.isInteger(aff.maxAgeSeconds) || aff.maxAgeSeconds < 0 || aff.maxAgeSeconds > INT_MAX)) return undefined;
    // As the native proxy: the route's path for a Prefix route, else "/".
    const path = route.pathType === 'Prefix' ? route.path : '/';
    const age = aff.maxAgeSeconds === undefined ? '' : `; Max-Age=${aff.maxAgeSeconds}`;
    const site = aff.sameSite === undefined ? '' : `; SameSite=${aff.sameSite}${aff.sameSite === 'None' ? '; Secure' : ''}`;
    // The replacement is a log-format string: a %-escape of the path is written %%.
    cookie = { name: aff.cookie, match: `^${literalRegex(aff.cookie)}=([0-9a-f]{16}); path=/$`, replacement: `${aff.cookie}=\\1; Path=${path.replace(/%/g, '%%')}${age}${site}; HttpOnly` };
  }
  const retries = tries === undefined ? null : Math.min(tries, 100) - 1;
  const view: UpstreamView = {
    tls,
    h2: protocol === 'grpc' || protocol === 'grpcs',
    sni,
    balance,
    ewma: up?.loadBalance === 'ewma',
    // Each attempt goes to another endpoint (redispatch): more than 100 would only go round again.
    retries,
    connectMs: connect ?? null,
    // The defaults' retries are 2.
    gatewayTimeoutMs: connect === undefined ? null : Math.min(INT_MAX, Math.floor(((retries ?? 2) + 0.5) * connect)),
    cookie,
  };
  const plain = !view.tls && !view.h2 && view.balance === null && !view.ewma && view.retries === null && view.connectMs === null && view.cookie === null;
  return plain ? null : view;
}

/**
 * The section name of a backend's variant: the base name and a tag of the settings, stable whatever
 * routes use it (`_` appears in no Kubernetes name, so no base name ends like this); a digest alone
 * when that is too long to be a name.
 */
export function variantName(base: string, upstream: UpstreamView): string {
  const digest = createHash('sha256').update(JSON.stringify([base, upstream])).digest('hex');
  const long = `${base}_v${digest.slice(0, 8)}`;
  return /^[A-Za-z0-9_.:-]{1,100}$/.test(long) ? long : `be_v${digest.slice(0, 24)}`;
}

/**
 * The affinity cookie value of a server slot: a digest of the backend and the slot, 16 hex digits as
 * the native proxy's. A slot keeps its endpoint (a new address only takes a never-used slot), so a
 * client's cookie keeps naming its endpoint while others come and go.
 */
export function slotCookie(backendId: string, slot: string): string {
  return createHash('sha1').update(`${backendId} ${slot}`).digest('hex').slice(0, 16);
}
