/*
 * The HAProxy view: everything haproxy.cfg.hbs loops over, computed from the routing model.
 * Routing is done with map lookups that do not grow with the number of hosts or routes:
 *   host  → virtual host id   (exact map, then a wildcard map keyed by the parent domain)
 *   vhost id + path → backend (an Exact map on the whole path, then the host's Regex routes in
 *                              order, one rule each, then a Prefix map tried on the first N path
 *                              elements, deepest first, then on "/")
 * which gives the model's order (Exact wins, then Regex, then the longest element-wise prefix).
 * Suffix hosts (Gateway API `*.domain`, one or more labels) come after the one-label wildcards, from a
 * `map_end` on a small suffix map (longest first). A host with a route that has conditions (method,
 * headers, query) is not in the path lookups: its routes are ordered rules (conditions.ts).
 * Route policies HAProxy sets per backend (TLS, h2, balance, cookie, retries, connect timeout) send
 * their routes to variant backends: copies of a backend's section with the same server slots.
 */
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';
import { trustedRanges } from '../trust.ts';
import { DEFAULT_CLIENT_TIMEOUTS, publicPortOf } from '../../model/types.ts';
import { unavailableCause } from '../../model/unavailable.ts';
import type { BasicAuthMiddleware, Certificate, EntryPoint, HtpasswdUser, RoutingModel, VirtualHost } from '../../model/types.ts';
import { hasConditions, isPlainHost, isWildcardHost } from '../quote.ts';
import { conditionProblem, conditionRoute, queryParamView } from './conditions.ts';
import type { ConditionRouteView, QueryParamView } from './conditions.ts';
import type { HostPort, RequestLogTarget } from '../types.ts';
import { canAddress, canCidr, canLiteral, canMapWord, canName, canRoutePath, canUser } from './quote.ts';
import { listenedEntryPoints } from '../../model/scopes.ts';
import { PolicyRegistry } from './policy.ts';
import type { PolicyView } from './policy.ts';
import { canRegexPath } from './quote.ts';
import { slotCookie, variantName } from './upstream.ts';
import type { UpstreamView } from './upstream.ts';

export type { BackendHeadersView, MirrorTargetView, PolicyCorsView, PolicyView, RegexRewriteView, RewriteView, RouteAuthView } from './policy.ts';
export type { CookieView, UpstreamView } from './upstream.ts';
export type { ConditionRouteView, QueryParamView, ValueConditionView } from './conditions.ts';

/** What the HAProxy rendering needs besides the model. */
export interface HaproxyRenderOptions {
  /** Absolute directory every file reference points into. */
  readonly workDir: string;
  /** Worker runtime API socket (default `<workDir>/haproxy.sock`). */
  readonly runtimeSocket?: string;
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** How long an old worker may finish its connections after a reload or stop. */
  readonly gracePeriodMs?: number;
  readonly forwardedHeader?: boolean;
  /** Where `/.well-known/acme-challenge/` goes (the controller's HTTP port), before redirect and auth. */
  readonly acmeChallengeAddress?: HostPort;
  /** Where request log lines go (the controller's syslog receiver); absent: no request log. */
  readonly requestLog?: RequestLogTarget;
  /**
   * The controller's auth socket (default `<workDir>/auth.sock`): users whose hash HAProxy cannot
   * check ($apr1$) are checked there by the Lua helper.
   */
  readonly authSocket?: string;
  /** The controller's socket for route basic auth users HAProxy cannot check (default `<workDir>/route-auth.sock`). */
  readonly routeAuthSocket?: string;
  /**
   * TLS entry points answer plain HTTP with a 400 saying to use https (as native and nginx do),
   * instead of closing the connection. It takes a TCP frontend in front of each of them that passes
   * TLS on to the HTTP frontend through a local socket: HAProxy's CPU per TLS request grows by about
   * 30 % with keep-alive (15–20 % with a handshake per request), hence off by default.
   */
  readonly answerPlainHttpOnTls?: boolean;
}

/** The upstream address of a server slot. */
export interface SlotAddress {
  readonly host: string;
  readonly port: number;
}

/** The server slots of one backend: the address each slot holds (also while disabled), or null for a slot never used. */
export type SlotAddresses = readonly (SlotAddress | null)[];

/**
 * What a rendering allocated in HAProxy's structure; the next rendering starts from it so that the
 * structure (and so the need for a reload) changes as rarely as possible.
 */
export interface HaproxyLayout {
  /**
   * The server slots of each backend id. Endpoints keep their slot; a new address only takes a
   * never-used slot, because HAProxy may reuse a connection a client's session holds to a slot
   * whatever address the slot has since been given. A backend without slots here (or whose
   * never-used slots run out) gets a fresh layout with room to double (`compacted` when it had
   * slots: that needs a reload).
   */
  readonly slots: Readonly<Record<string, SlotAddresses>>;
  /** How many path elements the Prefix lookups go down to (kept while the deepest Prefix route fits). */
  readonly prefixDepth: number;
  /**
   * The number of each virtual host's id (`v<N>`) by its routing map key (`h:name`, `w:domain`,
   * `s:domain`, `any`): a host keeps its id, and a new one takes a number never used before, so a
   * new host changes only its own map entries (sent one by one through the runtime API).
   */
  readonly vhosts?: Readonly<Record<string, number>>;
}

export interface ServerView {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** An empty slot: in maintenance until the runtime API fills it. */
  readonly disabled: boolean;
  /** The affinity cookie value of the slot (written in backends with a cookie): stable while the slot is. */
  readonly cookie: string;
}

export interface BackendView {
  readonly id: string;
  readonly name: string;
  readonly servers: readonly ServerView[];
  /** The slots of the previous layout could not take the endpoints: a fresh layout that needs a reload. */
  readonly compacted: boolean;
  /**
   * A variant backend's upstream settings (route policies HAProxy sets per backend: TLS, h2, balance,
   * cookie, retries, connect timeout), null for the base backend. A variant has its base's id and
   * server slots, so the runtime API updates it with its base.
   */
  readonly upstream: UpstreamView | null;
}

/** A Regex route: tried in order after the Exact lookup and before the Prefix ones, within its virtual host. */
export interface RegexRouteView {
  /** The virtual host id (`vN`). */
  readonly vhost: string;
  /** Its key in the routing map (`vN~K`): the value, backend and policy, changes through the runtime API. */
  readonly key: string;
  /** The pattern (the regex path grammar), matched case-insensitively from the start of the path. */
  readonly pattern: string;
}

export interface AuthView {
  readonly userlist: string;
  readonly realm: string;
  readonly removeHeader: boolean;
  /** Users with crypt(3) hashes (bcrypt) in the userlist. */
  readonly cryptUsers: readonly { readonly user: string; readonly hash: string }[];
  /** Map file of `{SHA}` users (user → base64 digest), or null. */
  readonly shaMap: string | null;
  /** Map file of the users the controller checks ($apr1$: user → entry point), or null. */
  readonly externalMap: string | null;
  /** The entry point name the controller knows the users by. */
  readonly entryPoint: string;
}

export interface FrontendView {
  readonly name: string;
  readonly bindHost: string;
  readonly bindPort: number;
  /** The port clients connect to (the entry point's publicPort, else bindPort): sent as X-Forwarded-Port. */
  readonly publicPort: number;
  readonly tls: boolean;
  readonly proto: 'http' | 'https';
  readonly redirect: { readonly location: string; readonly code: number } | null;
  readonly auth: AuthView | null;
  /** False for an entry point that only redirects: no routing rules are needed there. */
  readonly routes: boolean;
  /** Client-side timeouts (ms). */
  readonly timeouts: { readonly httpRequest: number; readonly keepAlive: number; readonly client: number };
  /** Client ranges whose forwarding headers are kept; empty: trust nobody. */
  readonly trusted: readonly string[];
  readonly allowEncodedSlashes: boolean;
  /** Address scopes' addresses this frontend also binds at its port (its own address is a specific one). */
  readonly scopeBinds: readonly string[];
  /** The scopes' addresses, each with the suffix of this frontend's entry point (no host key has it when the address has no scope here). */
  readonly scopes: readonly ScopeView[];
  /**
   * `@@ENTRYPOINT@` when the model has hosts served on some entry points only (`VirtualHost.entryPoints`),
   * else null: off a scope's address, this frontend also looks each host key up with it after, which
   * finds those hosts on their entry points only (the suffix map's keys all carry it then).
   */
  readonly entryPointSuffix: string | null;
  /**
   * On a TLS frontend, the address scopes of its entry point with listener hostnames
   * (`AddressScope.listenerHostnames`): a request whose Host falls to another listener than the
   * connection's server name (SNI) is answered 421. Empty for most models.
   */
  readonly misdirected: readonly MisdirectedView[];
}

/**
 * The listener hostnames of an address scope, as the rules that find the listener a name falls to
 * read them (match.ts `listenerOf`): ids from 1, each a listener; a name falling to none gets `none`.
 */
export interface MisdirectedView {
  /** The scope's address (connections to it, `dst`). */
  readonly address: string;
  /** Listed names: a name falls to itself. */
  readonly exact: readonly { readonly id: number; readonly host: string }[];
  /** `*.domain` names, the longest first: a name under `.domain` (`length` its length) with a label before it. */
  readonly wildcards: readonly { readonly id: number; readonly domain: string; readonly length: number }[];
  /** The id of the listener without hostname (`''`), what any other name falls to; null without one. */
  readonly unnamed: number | null;
}

/** An address scope: connections to `address` through `entryPoint` look their hosts up with `suffix` after each host key. */
export interface ScopeView {
  readonly address: string;
  readonly entryPoint: string;
  /** `@ADDRESS@ENTRYPOINT@`: host keys of the scope end with it (main keys never hold `@`). */
  readonly suffix: string;
}

/** A position in X-Forwarded-For (`hop`, from the end) and the positions walked before it. */
export interface ClientHopView {
  readonly hop: number;
  readonly walked: number;
}

export interface HaproxyView {
  readonly runtimeSocket: string;
  readonly timeouts: { readonly connect: number; readonly server: number; readonly client: number; readonly tunnel: number; readonly httpRequest: number; readonly keepAlive: number; readonly hardStop: number };
  readonly files: {
    /** The routing map: hosts → virtual host ids, virtual host id + path → backend. */
    readonly routes: string;
    readonly crtList: string;
    readonly defaultCert: string;
    readonly errors: string;
    /** The Lua helpers (hop-by-hop headers, controller-checked basic auth). */
    readonly lua: string;
    /** The controller's auth socket (a unix socket path). */
    readonly authSocket: string;
    /**
     * Backends whose Service (or its port) is missing: backend name → why, in the words native and
     * nginx answer (with spaces). The runtime API keeps it in step, so their 503 follows the Service without a reload.
     */
    readonly unavailable: string;
    /**
     * The answer to plain HTTP on a TLS entry point (a raw HTTP 400 saying to use https) with the
     * `answerPlainHttpOnTls` option; null without it: TLS entry points bind `ssl` directly and plain
     * HTTP gets the connection closed. When set, a TCP frontend on the entry point's address answers
     * it and passes TLS on to the frontend.
     */
    readonly plainHttpOnTls: string | null;
    /** The folder of HAProxy's internal sockets: behind its TCP frontend, a TLS frontend is bound on `<sockets>/<name>.sock`. */
    readonly sockets: string;
    /** The controller's socket for route basic auth users HAProxy cannot check ($apr1$), by {@link RouteAuthView} `key`. */
    readonly routeAuthSocket: string;
    /** The socket of the internal frontend the copies of mirrored requests are sent to (`mirror`), only HAProxy's user can open it. */
    readonly mirrorSocket: string;
  };
  readonly forwardedHeader: boolean;
  /**
   * How many path elements the Prefix routes go down to (at least 4). The built-in templates no
   * longer use it (one `map_beg` lookup finds the longest prefix); kept for user templates.
   */
  readonly prefixDepth: number;
  /** `field(1,/,N)` counts for per-depth Prefix lookups, deepest first; unused by the built-in templates, kept for user templates. */
  readonly prefixFields: readonly number[];
  /** Regex routes, in match order (by virtual host, each host's in the model's order). */
  readonly regexRoutes: readonly RegexRouteView[];
  /** The routes of hosts with conditional routes, in match order: one rule each, several with header or query conditions (conditions.ts). */
  readonly conditionRoutes: readonly ConditionRouteView[];
  /** The query parameters the conditions read, each into a variable. */
  readonly queryParams: readonly QueryParamView[];
  /**
   * The suffix map (`.domain` → `s:domain`, longest first; a `map_end` lookup after the one-label
   * wildcards), or null without suffix hosts (Gateway API `*.domain`: one or more labels).
   */
  readonly suffixMap: string | null;
  /** Address scopes (Gateways with an address of their own); empty for most models. */
  readonly scopes: readonly ScopeView[];
  /**
   * Which lookups the routing map can answer: one-label wildcard hosts, a `*` host, Exact routes. A
   * lookup nothing can answer is not written (per-request work); the first such entry is a reload.
   */
  readonly lookups: { readonly wildcard: boolean; readonly any: boolean; readonly exact: boolean };
  readonly frontends: readonly FrontendView[];
  readonly backends: readonly BackendView[];
  /**
   * ssl-redirect of routes (plain HTTP frontends): the routing map value `backend;ID;CODE` gives the
   * status; the https port (null for 443) and every status a redirect may have. Null without a TLS entry point.
   */
  readonly sslRedirect: { readonly port: number | null; readonly codes: readonly number[] } | null;
  /** Whether the routing map values may carry more than a backend (`backend;ID;CODE`): parsed then. */
  readonly routeValues: boolean;
  /** Route policies, by the id the routing map names. */
  readonly policies: readonly PolicyView[];
  /** The policies' server timeouts, by value: set in every backend (`set-timeout` is a backend rule). */
  readonly serverTimeouts: readonly { readonly ms: number; readonly policies: readonly string[] }[];
  /** Ids of the policies that judge the client (allowlist, limits). */
  readonly judged: readonly string[];
  /**
   * Whether a policy mirrors requests: the routing frontends then carry the Lua filter that sends the
   * copies, and the internal frontend on `files.mirrorSocket` (mirror.hbs) passes them to their backends.
   */
  readonly mirror: boolean;
  /**
   * The X-Forwarded-For positions walked from a trusted peer: the client a policy judges is the
   * right-most address the trusted proxies do not cover, as in native mode (at most this deep).
   */
  readonly clientHops: readonly ClientHopView[];
  readonly defaultBackend: string;
  readonly acme: HostPort | null;
  /** The controller's syslog receiver and whether every request is logged, or null. */
  readonly requestLog: { readonly host: string; readonly port: number; readonly all: boolean } | null;
  readonly hasTls: boolean;
}

/** A map file or certificate to write next to the configuration. */
export interface HaproxyAuxFile {
  readonly path: string;
  readonly lines: readonly string[];
  readonly secret: boolean;
}

/** The view plus the map, certificate and password files it references. */
export interface HaproxyBuild {
  readonly view: HaproxyView;
  /** Map files: `key value` lines (written by the template's map partial). */
  readonly maps: readonly { readonly path: string; readonly entries: readonly (readonly [string, string])[]; readonly secret: boolean }[];
  /** crt-list lines: certificate file and SNI filters. */
  readonly crtList: readonly { readonly file: string; readonly snis: readonly string[] }[];
  /** Certificate files (PEM chain + key), keyed by relative path. */
  readonly certs: readonly { readonly path: string; readonly id: string; readonly pem: string }[];
  readonly diagnostics: readonly Diagnostic[];
  /** The slots and prefix depth of this rendering: what the next one starts from. */
  readonly layout: HaproxyLayout;
  /** Route basic auth users the controller checks ($apr1$), by key: what the auth socket must know. */
  readonly routeAuth: readonly { readonly key: string; readonly users: readonly HtpasswdUser[] }[];
}

/** The request log target as the templates see it; null when absent or not a usable address. */
export function requestLogView(target: RequestLogTarget | undefined): HaproxyView['requestLog'] {
  if (target === undefined || !canAddress(target.address.host, target.address.port)) return null;
  return { host: target.address.host, port: target.address.port, all: target.all };
}

/** The routing map file, relative to the work directory: the runtime API replaces its contents. */
export const ROUTES_MAP = 'maps/routes.map';

/** The map of suffix hosts (see `suffixMap`), relative to the work directory. */
export const SUFFIX_MAP = 'maps/suffix.map';

/** The map of backends whose Service is missing (see `files.unavailable`), relative to the work directory. */
export const UNAVAILABLE_MAP = 'maps/unavailable.map';

/** The maps whose contents the runtime API replaces: a change to them alone needs no reload. */
export const RUNTIME_MAPS: readonly string[] = [UNAVAILABLE_MAP, ROUTES_MAP];

/** The answer to plain HTTP on a TLS entry point (see `files.plainHttpOnTls`), relative to the work directory. */
export const PLAIN_HTTP_ON_TLS_FILE = 'errors/plain-http-on-tls.http';

/**
 * The X-Forwarded-For positions from the end walked behind trusted proxies: position 1 is the peer
 * HAProxy appends itself, so the client is found through at most 8 trusted proxies.
 */
const CLIENT_HOPS: readonly ClientHopView[] = Array.from({ length: 8 }, (_, i) => ({ hop: i + 2, walked: i + 1 }));

/** The policies' server timeouts grouped by value, in order of first use. */
function serverTimeoutsOf(views: readonly PolicyView[]): HaproxyView['serverTimeouts'] {
  const byMs = new Map<number, string[]>();
  for (const v of views) if (v.serverTimeout !== null) byMs.set(v.serverTimeout, [...(byMs.get(v.serverTimeout) ?? []), v.id]);
  return [...byMs].map(([ms, ids]) => ({ ms, policies: ids }));
}

/** Backend section name for a backend id `ns/service:port`. */
export function haproxyBackendName(id: string): string {
  return `be_${id.replace('/', '.')}`;
}

/** Server slots allocated for `n` endpoints when nothing was allocated before: room to double. */
export function defaultSlots(n: number): number {
  let s = 4;
  while (s < n * 2) s *= 2;
  return s;
}

/**
 * The address written for a never-used slot (a server line needs one): disabled, nothing listens
 * there. Only ever written: which slots were never used is in the layout, not read back from this.
 */
const UNUSED_SLOT_ADDRESS = { host: '127.0.0.1', port: 1 } as const;

/** An endpoint to place, with its weight already clamped to HAProxy's range. */
interface Placeable extends SlotAddress {
  readonly weight: number;
}

/**
 * Places endpoints into server slots: each keeps the slot that last held its address, new
 * addresses take never-used slots. Undefined when `previous` has too few never-used slots; without
 * `previous`, endpoints in order in `defaultSlots(n)` slots. Returns the server lines and the slots.
 */
function placeEndpoints(backendId: string, endpoints: readonly Placeable[], previous: SlotAddresses | undefined): { servers: ServerView[]; slots: SlotAddresses } | undefined {
  const slots: (SlotAddress | null)[] = previous === undefined ? Array.from({ length: defaultSlots(endpoints.length) }, () => null) : [...previous];
  const serving: (Placeable | undefined)[] = slots.map(() => undefined);
  const index = new Map<string, number>();
  slots.forEach((a, i) => {
    if (a !== null) index.set(`${a.host}|${a.port}`, i);
  });
  const waiting: Placeable[] = [];
  for (const e of endpoints) {
    const i = index.get(`${e.host}|${e.port}`);
    if (i === undefined || serving[i] !== undefined) waiting.push(e);
    else serving[i] = e;
  }
  for (const e of waiting) {
    const i = slots.findIndex((a) => a === null);
    if (i < 0) return undefined;
    slots[i] = { host: e.host, port: e.port };
    serving[i] = e;
  }
  const servers = slots.map((a, i): ServerView => {
    const name = `s${i + 1}`;
    const e = serving[i];
    const cookie = slotCookie(backendId, name);
    if (e !== undefined) return { name, host: e.host, port: e.port, weight: e.weight, disabled: false, cookie };
    // A slot that held an address keeps it while disabled: the runtime API refills it in place.
    return { name, ...(a ?? UNUSED_SLOT_ADDRESS), weight: 1, disabled: true, cookie };
  });
  return { servers, slots };
}

/** The relative file name of a certificate id `ns/name`, or undefined if it is not a safe name. */
export function certFileName(id: string): string | undefined {
  const f = id.replace('/', '_');
  return /^[a-z0-9][a-z0-9._-]{0,250}$/.test(f) ? `certs/${f}.pem` : undefined;
}

function skipped(code: Diagnostic['code'], message: string, object?: ObjectRef, field?: string): Diagnostic {
  return { severity: 'warning', code, message, ...defined({ object, field }) };
}

/**
 * The rules' view of a scope's listener hostnames (match.ts `listenerOf`), or undefined when one of
 * them is neither `''`, a plain host nor a `*.domain`: then no name can be written safely for all.
 */
export function misdirectedView(address: string, listenerHostnames: readonly string[]): MisdirectedView | undefined {
  const exact: { id: number; host: string }[] = [];
  const wildcards: { id: number; domain: string; length: number }[] = [];
  let unnamed: number | null = null;
  let id = 0;
  for (const h of new Set(listenerHostnames)) {
    id++;
    if (h === '') unnamed = id;
    else if (isWildcardHost(h)) wildcards.push({ id, domain: h.slice(2), length: h.length - 1 });
    else if (isPlainHost(h)) exact.push({ id, host: h });
    else return undefined;
  }
  // Longest first: a name under several `*.domain` falls to the longest (the sort is stable).
  wildcards.sort((a, b) => b.length - a.length);
  return { address, exact, wildcards, unnamed };
}

function entryPointName(ep: EntryPoint): string | undefined {
  const n = `ep_${ep.name}`;
  return canName(n) ? n : undefined;
}

function authView(ep: EntryPoint, mw: BasicAuthMiddleware, workDir: string, diags: Diagnostic[], maps: HaproxyBuild['maps'][number][]): AuthView {
  const crypt: { user: string; hash: string }[] = [];
  const sha: [string, string][] = [];
  const external: [string, string][] = [];
  const epRef: ObjectRef = { kind: 'EntryPoint', name: ep.name };
  for (const u of mw.users) {
    if (!canUser(u.user)) {
      diags.push(skipped('PASS_HAPROXY_AUTH_USER', `user ${JSON.stringify(u.user)} has characters HAProxy cannot hold in a userlist; it cannot log in`, epRef, `entryPoints.${ep.name}.auth.basic.users`));
    } else if (/^\$2[aby]\$/.test(u.hash)) {
      crypt.push({ user: u.user, hash: u.hash });
    } else if (u.hash.startsWith('{SHA}')) {
      sha.push([u.user, u.hash.slice(5)]);
    } else {
      // HAProxy checks userlist passwords with crypt(3); glibc/libxcrypt has no $apr1$ (Apache MD5):
      // the Lua helper asks the controller, which checks the hash itself.
      external.push([u.user, ep.name]);
    }
  }
  let externalMap: string | null = null;
  if (external.length > 0) {
    const rel = `auth/${ep.name}-controller.map`;
    maps.push({ path: rel, entries: external, secret: false });
    externalMap = `${workDir}/${rel}`;
  }
  let shaMap: string | null = null;
  if (sha.length > 0) {
    const rel = `auth/${ep.name}-sha.map`;
    maps.push({ path: rel, entries: sha, secret: true });
    shaMap = `${workDir}/${rel}`;
  }
  const realm = canLiteral(mw.realm) ? mw.realm : 'passerelle';
  if (realm !== mw.realm) diags.push(skipped('PASS_HAPROXY_AUTH_REALM', 'the realm has characters HAProxy cannot quote; "passerelle" is used', epRef, `entryPoints.${ep.name}.auth.basic.realm`));
  return { userlist: `ul_${ep.name}`, realm, removeHeader: mw.removeHeader, cryptUsers: crypt, shaMap, externalMap, entryPoint: ep.name };
}

/**
 * Builds the HAProxy view, its auxiliary files and its layout from the model and the layout of the
 * previous rendering (pure): the same (model, options, previous) always gives the same build.
 */
export function buildHaproxyView(model: RoutingModel, options: HaproxyRenderOptions, previous?: HaproxyLayout): HaproxyBuild {
  const workDir = options.workDir.replace(/\/+$/, '');
  const diags: Diagnostic[] = [];
  const maps: HaproxyBuild['maps'][number][] = [];

  // Backends: every endpoint gets a slot; empty slots wait in maintenance for the runtime API.
  const backends: BackendView[] = [];
  const slots: Record<string, SlotAddresses> = {};
  const backendNames = new Map<string, string>();
  const unavailable: [string, string][] = [];
  for (const [id, b] of Object.entries(model.backends)) {
    const name = haproxyBackendName(id);
    if (!canName(name)) {
      diags.push(skipped('PASS_HAPROXY_BACKEND_NAME', `backend ${JSON.stringify(id)} cannot be named in HAProxy; its routes answer 503`, { kind: 'Service', namespace: b.namespace, name: b.service }));
      continue;
    }
    const endpoints = b.endpoints.filter((e) => canAddress(e.address, e.port));
    if (endpoints.length !== b.endpoints.length) {
      diags.push(skipped('PASS_HAPROXY_ENDPOINT', `backend ${id}: ${b.endpoints.length - endpoints.length} endpoint(s) with an address HAProxy cannot hold were left out`, { kind: 'Service', namespace: b.namespace, name: b.service }));
    }
    const weightOf = (w: number): number => Math.min(256, Math.max(0, Math.floor(w)));
    const placeable = endpoints.map((e) => ({ host: e.address, port: e.port, weight: weightOf(e.weight) }));
    const before = previous?.slots[id];
    const kept = placeEndpoints(id, placeable, before);
    // A fresh layout always fits: it is sized for the endpoints.
    const placed = kept ?? placeEndpoints(id, placeable, undefined) ?? { servers: [], slots: [] };
    backends.push({ id, name, servers: placed.servers, compacted: kept === undefined && before !== undefined, upstream: null });
    slots[id] = placed.slots;
    backendNames.set(id, name);
    // Not in the backend's lines: its server slots outlive the Service, and this map changes without a reload.
    if (b.unresolved !== undefined) unavailable.push([name, unavailableCause(b)]);
  }
  const backendFor = (id: string): string => backendNames.get(id) ?? 'pass_unavailable';
  // Variant backends, by name: a base backend's servers with the upstream settings of the routes that use them.
  const variants = new Map<string, BackendView>();
  const baseByName = new Map(backends.map((b) => [b.name, b]));
  const unavailableNames = new Map(unavailable);
  const routeBackend = (id: string, upstream: UpstreamView | null): string => {
    const base = backendFor(id);
    const b = baseByName.get(base);
    if (upstream === null || b === undefined) return base;
    const vname = variantName(base, upstream);
    if (!variants.has(vname)) {
      variants.set(vname, { ...b, name: vname, upstream });
      const why = unavailableNames.get(base);
      if (why !== undefined) unavailable.push([vname, why]);
    }
    return vname;
  };

  // One map holds the whole routing table, so that the runtime API replaces it in one atomic
  // commit. Keys cannot collide: `h:HOST` and `w:PARENT` (one-label wildcard) and `any` give a
  // virtual host id `vN`; `vN=PATH` (Exact, looked up with map_str) and `vN/PREFIX/` (Prefix, the
  // longest found with one map_beg on `vN` + path + "/") give a backend. A Prefix key ends with "/",
  // so `vN/foo/` never prefixes `vN/foobar/`: the match is element-wise by construction; and no
  // host or Exact key starts with `vN/`, so map_beg only ever finds a Prefix key.
  const routes: [string, string][] = [];
  const https = model.entryPoints.find((ep) => ep.tls);
  const policies = new PolicyRegistry(workDir, https !== undefined, routeBackend);
  const regexRoutes: RegexRouteView[] = [];
  const conditionRoutes: ConditionRouteView[] = [];
  const suffixes: [string, string][] = [];
  const queryParams: QueryParamView[] = [];
  const queryVariable = (name: string): string => {
    let q = queryParams.find((p) => p.name === name);
    if (q === undefined) queryParams.push((q = queryParamView(name, `pass_q${queryParams.length}`)));
    return q.variable;
  };
  const seenHosts = new Set<string>();
  let anyVhost = false;
  let anyKeys = false;
  let exactKeys = false;
  let maxDepth = 0;
  const vhostIds: Record<string, number> = {};
  const kept = previous?.vhosts ?? {};
  let nextId = Object.values(kept).reduce((max, n) => Math.max(max, n + 1), 0);
  // A kept id, else one never used: an id freed by this change may still be read by a request until its entries are gone.
  const idOf = (hostKey: string): string => {
    const n = kept[hostKey] ?? nextId++;
    vhostIds[hostKey] = n;
    return `v${n}`;
  };
  // Address scopes: a connection to a scope's address looks its host keys up with `@ADDRESS@ENTRYPOINT@` after them.
  const scopeSuffix = (address: string, entryPoint: string): string => `@${address}@${entryPoint}@`;
  const scopes: ScopeView[] = [];
  const scopeHosts: (readonly VirtualHost[])[] = [];
  const misdirectedScopes: { readonly entryPoint: string; readonly view: MisdirectedView }[] = [];
  for (const scope of model.addressScopes ?? []) {
    const suffix = scopeSuffix(scope.address, scope.entryPoint);
    if (canCidr(scope.address) && !scope.address.includes('/') && canMapWord(`h:x${suffix}`)) {
      scopes.push({ address: scope.address, entryPoint: scope.entryPoint, suffix });
      scopeHosts.push(scope.virtualHosts);
      if (scope.listenerHostnames !== undefined) {
        const view = misdirectedView(scope.address, scope.listenerHostnames);
        if (view !== undefined) misdirectedScopes.push({ entryPoint: scope.entryPoint, view });
        else diags.push(skipped('PASS_HAPROXY_HOST', `a listener hostname of address ${JSON.stringify(scope.address)} (entry point ${JSON.stringify(scope.entryPoint)}) cannot be written to an HAProxy rule; misdirected requests are not answered 421 there`, scope.virtualHosts[0]?.sources[0]));
      }
    } else {
      diags.push(skipped('PASS_HAPROXY_HOST', `address ${JSON.stringify(scope.address)} (entry point ${JSON.stringify(scope.entryPoint)}) cannot be written to an HAProxy rule; its hosts are left out`, scope.virtualHosts[0]?.sources[0]));
    }
  }
  // Hosts served on some entry points only: keyed `KEY@@ENTRYPOINT@` for each of them (an address is
  // never empty, so no scope suffix starts with `@@`); the suffix map then keys every main suffix host
  // per entry point, so that one map_end still takes the longest of the domains served there.
  const restricted = model.virtualHosts.some((v) => v.entryPoints !== undefined);
  const epSuffix = (entryPoint: string): string => `@@${entryPoint}@`;
  const everyEntryPoint = [...new Set(model.entryPoints.map((e) => e.name))];
  const keysOf = (v: VirtualHost, key: string, ss: string): string[] =>
    ss !== '' || v.entryPoints === undefined ? [key] : v.entryPoints.map((e) => `${key}${epSuffix(e)}`).filter((k) => canMapWord(k));
  const hostSets = [{ suffix: '', vhosts: model.virtualHosts }, ...scopes.map((sc, i) => ({ suffix: sc.suffix, vhosts: scopeHosts[i] ?? [] }))];
  for (const { suffix: ss, vhosts } of hostSets) {
    anyVhost = false;
    vhosts.forEach((v) => addHost(v, ss));
  }
  function addHost(v: VirtualHost, ss: string): void {
    const ref = v.sources[0];
    // Served on no entry point: as if it were not in the model.
    if (ss === '' && v.entryPoints?.length === 0) return;
    let vid: string;
    if (v.kind === 'any') {
      if (anyVhost) return;
      anyVhost = true;
      vid = idOf(`any${ss}`);
      for (const k of keysOf(v, `any${ss}`, ss)) routes.push([k, vid]);
      anyKeys = true;
    } else if (v.kind === 'exact' ? isPlainHost(v.host) : isWildcardHost(v.host)) {
      const hostKey = `${v.kind === 'exact' ? `h:${v.host}` : v.kind === 'wildcard' ? `w:${v.host.slice(2)}` : `s:${v.host.slice(2)}`}${ss}`;
      if (seenHosts.has(hostKey)) return;
      seenHosts.add(hostKey);
      // The id by the plain key: a host keeps it when its entry points change.
      vid = idOf(hostKey);
      if (v.kind !== 'suffix') for (const k of keysOf(v, hostKey, ss)) routes.push([k, vid]);
      else {
        routes.push([hostKey, vid]);
        // Suffix hosts: the suffix map gives the longest matching `.domain` its `s:domain` key (on the entry points that serve it).
        const domain = v.host.slice(1);
        if (ss !== '' || !restricted) suffixes.push([`${domain}${ss}`, hostKey]);
        else for (const e of v.entryPoints ?? everyEntryPoint) if (canMapWord(`${domain}${epSuffix(e)}`)) suffixes.push([`${domain}${epSuffix(e)}`, hostKey]);
      }
    } else {
      diags.push(skipped('PASS_HAPROXY_HOST', `host ${JSON.stringify(v.host)} cannot be written to a map file; left out`, ref));
      return;
    }
    const seenRoutes = new Set<string>();
    // A host with a conditional route is routed by ordered rules, one per route (conditions.ts).
    const conditional = v.routes.some(hasConditions);
    for (const original of v.routes) {
      let r = original;
      // A pattern outside the regex path grammar is never read as anything else.
      if (r.pathType === 'Regex' ? !canRegexPath(r.path) : !canRoutePath(r.path)) {
        diags.push(skipped('PASS_HAPROXY_PATH', `path ${JSON.stringify(r.path)} cannot be written to a map file; left out`, r.source, r.field));
        continue;
      }
      const key = conditional ? `${r.pathType} ${r.path} ${JSON.stringify(r.conditions ?? {})}` : `${r.pathType} ${r.path}`;
      if (seenRoutes.has(key)) continue;
      seenRoutes.add(key);
      const problem = conditional ? conditionProblem(r) : undefined;
      if (problem !== undefined) {
        // Served without its conditions it would take requests meant for the next route: it answers 503.
        diags.push(skipped('PASS_POLICY_NOT_IN_MODE', `${problem}; the route answers 503`, r.source, r.field));
        const { conditions: _dropped, ...rest } = r;
        r = { ...rest, policy: { denied: problem } };
      }
      // A route's policy is named after its backend: the policy travels with the map entry.
      const { id: pid, sslRedirect, upstream } = policies.routeValue(r);
      const target = [routeBackend(r.backend, upstream), ...(pid === undefined && sslRedirect === undefined ? [] : [pid ?? '']), ...(sslRedirect === undefined ? [] : [String(sslRedirect)])].join(';');
      if (conditional) {
        const ckey = `${vid}^${conditionRoutes.filter((x) => x.vhost === vid).length}`;
        conditionRoutes.push(conditionRoute(vid, ckey, conditionRoutes.length, r, queryVariable));
        routes.push([ckey, target]);
      } else if (r.pathType === 'Exact') {
        routes.push([`${vid}=${r.path}`, target]);
        exactKeys = true;
      } else if (r.pathType === 'Regex') {
        // Keyed by its rank among the host's Regex routes: the rules only name the pattern and the key.
        const key = `${vid}~${regexRoutes.filter((x) => x.vhost === vid).length}`;
        regexRoutes.push({ vhost: vid, key, pattern: r.path });
        routes.push([key, target]);
      } else {
        routes.push([prefixKey(vid, r.path), target]);
        if (r.path !== '/') maxDepth = Math.max(maxDepth, r.path.split('/').length - 1);
      }
    }
  }
  // Prefix lookups on the first N path elements, deepest first. Pre-allocated like server slots
  // (at least 4, kept while deep enough) so that a new route rarely changes the configuration.
  const wantDepth = previous?.prefixDepth;
  const depth = wantDepth !== undefined && wantDepth >= maxDepth ? wantDepth : Math.max(4, maxDepth);
  const prefixFields: number[] = [];
  for (let d = depth; d >= 1; d--) prefixFields.push(d + 1);

  const files = {
    routes: `${workDir}/${ROUTES_MAP}`,
    crtList: `${workDir}/certs/crt-list.txt`,
    defaultCert: `${workDir}/certs/default.pem`,
    errors: `${workDir}/errors`,
    lua: `${workDir}/lua/passerelle.lua`,
    authSocket: options.authSocket ?? `${workDir}/auth.sock`,
    unavailable: `${workDir}/${UNAVAILABLE_MAP}`,
    plainHttpOnTls: options.answerPlainHttpOnTls === true ? `${workDir}/${PLAIN_HTTP_ON_TLS_FILE}` : null,
    sockets: workDir,
    routeAuthSocket: options.routeAuthSocket ?? `${workDir}/route-auth.sock`,
    mirrorSocket: `${workDir}/mirror.sock`,
  };
  // Variants after their bases, by name: the configuration does not depend on the order of the routes.
  backends.push(...[...variants.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
  maps.push({ path: UNAVAILABLE_MAP, entries: unavailable, secret: false });
  maps.push({ path: ROUTES_MAP, entries: routes, secret: false });
  // map_end walks its entries in order and takes the first match: the longest domain first.
  suffixes.sort((a, b) => b[0].length - a[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (suffixes.length > 0) maps.push({ path: SUFFIX_MAP, entries: suffixes, secret: false });
  // By path: the files (and so the structure checksum) do not depend on the order of the routes.
  maps.push(...[...policies.maps].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
  diags.push(...policies.diagnostics);
  const policyViews = policies.sorted();
  const judged = policyViews.filter((p) => p.judgesClient).map((p) => p.id);

  // Certificates: a host is served by the first certificate naming it, as in the model.
  const { crtList, certs } = certificateFiles(model.certificates, diags);

  const frontends: FrontendView[] = [];
  const seenBinds = new Set<string>();
  const listened = listenedEntryPoints(model);
  for (const ep of model.entryPoints) {
    const name = entryPointName(ep);
    const epRef: ObjectRef = { kind: 'EntryPoint', name: ep.name };
    if (name === undefined || !canAddress(ep.address.host, ep.address.port)) {
      diags.push(skipped('PASS_HAPROXY_ENTRYPOINT', `entry point ${JSON.stringify(ep.name)} cannot be written as an HAProxy frontend; left out`, epRef));
      continue;
    }
    const bindKey = `${ep.address.host ?? ''}:${ep.address.port}`;
    if (seenBinds.has(bindKey)) continue;
    seenBinds.add(bindKey);
    const t = ep.timeouts ?? DEFAULT_CLIENT_TIMEOUTS;
    let redirect: FrontendView['redirect'] = null;
    let auth: AuthView | null = null;
    for (const mw of ep.middlewares) {
      if (mw.kind === 'redirect' && redirect === null && auth === null) {
        const port = mw.port === (mw.scheme === 'https' ? 443 : 80) ? '' : `:${mw.port}`;
        redirect = { location: `${mw.scheme}://%[var(txn.host)]${port}%[pathq]`, code: mw.status };
      } else if (mw.kind === 'basicAuth' && auth === null) {
        auth = authView(ep, mw, workDir, diags, maps);
      }
    }
    frontends.push({
      name,
      bindHost: ep.address.host ?? '',
      bindPort: ep.address.port,
      publicPort: publicPortOf(ep),
      tls: ep.tls,
      proto: ep.tls ? 'https' : 'http',
      redirect,
      auth,
      routes: redirect === null,
      timeouts: { httpRequest: t.requestHeader, keepAlive: t.idle, client: t.body },
      trusted: trustedRanges(ep, (r) => diags.push(skipped('PASS_HAPROXY_TRUSTED_IP', `trusted address ${JSON.stringify(r)} of entry point ${JSON.stringify(ep.name)} is not an IP or CIDR range; left out`, epRef, `entryPoints.${ep.name}.forwardedHeaders.trustedIPs`))),
      allowEncodedSlashes: ep.allowEncodedSlashes === true,
      // The copies listenedEntryPoints makes of this entry point for the scopes' addresses (HAProxy checks them at load).
      scopeBinds: listened.filter((l) => l !== ep && l.name === ep.name && scopes.some((sc) => sc.address === l.address.host && sc.entryPoint === ep.name)).map((l) => l.address.host ?? ''),
      scopes: [...new Set(scopes.map((sc) => sc.address))].map((address) => ({ address, entryPoint: ep.name, suffix: scopeSuffix(address, ep.name) })).filter((sc) => canMapWord(`h:x${sc.suffix}`)),
      entryPointSuffix: restricted && canMapWord(`h:x${epSuffix(ep.name)}`) ? epSuffix(ep.name) : null,
      misdirected: ep.tls ? misdirectedScopes.filter((m) => m.entryPoint === ep.name).map((m) => m.view) : [],
    });
  }

  const defaultBackend = model.defaultBackend === undefined ? 'pass_not_found' : backendFor(model.defaultBackend);
  const read = options.readTimeoutMs ?? 60_000;
  const acme = options.acmeChallengeAddress && canAddress(options.acmeChallengeAddress.host, options.acmeChallengeAddress.port) ? options.acmeChallengeAddress : null;
  return {
    view: {
      runtimeSocket: options.runtimeSocket ?? `${workDir}/haproxy.sock`,
      timeouts: {
        connect: options.connectTimeoutMs ?? 5000,
        server: read,
        client: Math.max(read, 60_000),
        tunnel: 3_600_000,
        httpRequest: 10_000,
        keepAlive: 10_000,
        hardStop: Math.max(1000, options.gracePeriodMs ?? 10_000),
      },
      files,
      forwardedHeader: options.forwardedHeader ?? false,
      prefixDepth: depth,
      prefixFields,
      regexRoutes,
      conditionRoutes,
      queryParams,
      suffixMap: suffixes.length > 0 ? `${workDir}/${SUFFIX_MAP}` : null,
      scopes,
      lookups: { wildcard: routes.some(([k]) => k.startsWith('w:')), any: anyKeys, exact: exactKeys },
      frontends,
      backends,
      sslRedirect: https === undefined ? null : { port: publicPortOf(https) === 443 ? null : publicPortOf(https), codes: [301, 302, 303, 307, 308] },
      routeValues: https !== undefined || policyViews.length > 0,
      policies: policyViews,
      serverTimeouts: serverTimeoutsOf(policyViews),
      judged,
      mirror: policyViews.some((p) => p.mirror.length > 0),
      clientHops: judged.length === 0 ? [] : CLIENT_HOPS,
      defaultBackend,
      acme,
      requestLog: requestLogView(options.requestLog),
      hasTls: frontends.some((f) => f.tls),
    },
    maps,
    crtList,
    certs,
    diagnostics: diags,
    layout: { slots, prefixDepth: depth, vhosts: vhostIds },
    routeAuth: policies.routeAuth,
  };
}

function certificateFiles(certificates: readonly Certificate[], diags: Diagnostic[]): Pick<HaproxyBuild, 'crtList' | 'certs'> {
  const crtList: { file: string; snis: string[] }[] = [];
  const certs: { path: string; id: string; pem: string }[] = [];
  const claimed = new Set<string>();
  const files = new Set<string>();
  for (const c of certificates) {
    const rel = certFileName(c.id);
    if (rel === undefined || files.has(rel)) {
      diags.push(skipped('PASS_HAPROXY_CERTIFICATE', `certificate ${JSON.stringify(c.id)} cannot be given a file name; its hosts get the default certificate`, c.source));
      continue;
    }
    const snis = c.hosts.map((h) => h.toLowerCase()).filter((h) => (isPlainHost(h) || isWildcardHost(h)) && !claimed.has(h));
    if (snis.length === 0) continue;
    if (!/^-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n-]+\n-----END [A-Z ]+-----\n?/.test(c.certPem) || c.keyPem.trim() === '') {
      diags.push(skipped('PASS_HAPROXY_CERTIFICATE', `certificate ${JSON.stringify(c.id)} is not PEM; its hosts get the default certificate`, c.source));
      continue;
    }
    for (const h of snis) claimed.add(h);
    files.add(rel);
    const pem = `${c.certPem.trimEnd()}\n${c.keyPem.trimEnd()}\n`;
    certs.push({ path: rel, id: c.id, pem });
    crtList.push({ file: rel, snis });
  }
  return { crtList, certs };
}

/**
 * The routing map key of a Prefix route: `vN/a/b/` (`vN/` for "/"). The request side looks up
 * `vN` + path + "/" with map_beg, which returns the longest key that prefixes it (see routing.hbs).
 */
export function prefixKey(vid: string, routePath: string): string {
  return `${vid}${routePath.replace(/\/+$/, '')}/`;
}

/** Whether `v` is a slot address as {@link HaproxyLayout} holds it. */
function isSlotAddress(v: unknown): v is SlotAddress {
  if (typeof v !== 'object' || v === null) return false;
  const { host, port } = v as { host?: unknown; port?: unknown };
  return typeof host === 'string' && typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535;
}

/**
 * Reads a layout saved as JSON (the driver keeps the last one in the work directory), or undefined
 * when `value` is not one: the next rendering then starts a fresh layout, which is always valid.
 */
export function parseHaproxyLayout(value: unknown): HaproxyLayout | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { slots, prefixDepth, vhosts } = value as { slots?: unknown; prefixDepth?: unknown; vhosts?: unknown };
  if (typeof prefixDepth !== 'number' || !Number.isInteger(prefixDepth) || prefixDepth < 0 || typeof slots !== 'object' || slots === null) return undefined;
  // A layout saved before hosts kept their ids has none: they are numbered afresh.
  const ids: Record<string, number> = {};
  if (typeof vhosts === 'object' && vhosts !== null) {
    for (const [key, n] of Object.entries(vhosts)) if (typeof n === 'number' && Number.isInteger(n) && n >= 0) ids[key] = n;
  }
  const out: Record<string, SlotAddresses> = {};
  for (const [id, list] of Object.entries(slots)) {
    if (!Array.isArray(list) || !list.every((a: unknown) => a === null || isSlotAddress(a))) return undefined;
    out[id] = list.map((a: SlotAddress | null) => (a === null ? null : { host: a.host, port: a.port }));
  }
  return { slots: out, prefixDepth, vhosts: ids };
}
