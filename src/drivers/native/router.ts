import { hostsOnEntryPoint, misdirected, normalizeHost, pathMatches, pathRegex, queryParam, valueRegex } from '../../model/match.ts';
import type { ConditionRequest } from '../../model/match.ts';
import type { BlockList } from 'node:net';
import { addressList } from './addresses.ts';
import { listenedEntryPoints, scopeKey } from '../../model/scopes.ts';
import { DEFAULT_CLIENT_TIMEOUTS, publicPortOf } from '../../model/types.ts';
import type { ClientTimeouts, EntryPoint, Route, RouteConditions, RoutingModel, ValueCondition, VirtualHost } from '../../model/types.ts';
import type { CompiledMiddleware } from './middlewares.ts';
import { compileMiddlewares } from './middlewares.ts';
import { compilePolicy } from './policy.ts';
import { LimitTable } from './limit-table.ts';
import type { CompiledPolicy } from './policy.ts';
import type { CompiledBackend } from './balance.ts';
import { compileBackend } from './balance.ts';
import type { UpstreamRegistry } from './upstream.ts';
import { routeName } from '../types.ts';

/** A header or query condition, its regex compiled once per configuration. */
export interface CompiledValueCondition {
  readonly name: string;
  /** The exact value, or undefined for a regex condition. */
  readonly exact: string | undefined;
  readonly regex: RegExp | undefined;
}

/** A route's conditions (src/model/match.ts `routeConditionsHold`), ready for the request path. */
export interface CompiledConditions {
  readonly method: string | undefined;
  readonly headers: readonly CompiledValueCondition[];
  readonly query: readonly CompiledValueCondition[];
}

function compileValue(c: ValueCondition): CompiledValueCondition {
  return c.type === 'Exact' ? { name: c.name, exact: c.value, regex: undefined } : { name: c.name, exact: undefined, regex: valueRegex(c.value) };
}

/** Compiles a route's conditions; undefined when it has none (the fast path). */
export function compileConditions(c: RouteConditions | undefined): CompiledConditions | undefined {
  if (c === undefined) return undefined;
  return { method: c.method, headers: (c.headers ?? []).map(compileValue), query: (c.query ?? []).map(compileValue) };
}

function valueHolds(c: CompiledValueCondition, value: string | undefined): boolean {
  if (value === undefined) return false;
  return c.regex === undefined ? value === c.exact : c.regex.test(value);
}

/** Whether a request meets compiled conditions: as `routeConditionsHold` of src/model/match.ts. */
export function conditionsHold(c: CompiledConditions, request: ConditionRequest): boolean {
  if (c.method !== undefined && c.method !== request.method) return false;
  for (let i = 0; i < c.headers.length; i++) {
    const h = c.headers[i]!;
    if (!valueHolds(h, request.header(h.name))) return false;
  }
  for (let i = 0; i < c.query.length; i++) {
    const q = c.query[i]!;
    if (!valueHolds(q, queryParam(request.query, q.name))) return false;
  }
  return true;
}

/** A request without method, headers or query known: a plain GET (as `PLAIN_REQUEST`). */
const PLAIN: ConditionRequest = { method: 'GET', header: () => undefined, query: '' };

export interface CompiledRoute {
  readonly route: Route;
  /** A Regex route's pattern, compiled once per configuration; undefined for Exact and Prefix. */
  readonly regex: RegExp | undefined;
  /** The route's conditions; undefined when it has none. */
  readonly conditions: CompiledConditions | undefined;
  /** Shared result object: resolving allocates nothing. */
  readonly result: RouteResult;
}

export interface CompiledVirtualHost {
  readonly vhost: VirtualHost;
  readonly routes: readonly CompiledRoute[];
}

/** An entry point as a listener serves it. */
export interface CompiledEntryPoint {
  readonly entryPoint: EntryPoint;
  readonly middlewares: readonly CompiledMiddleware[];
  /** Clients whose forwarding headers are kept; undefined: trust nobody. */
  readonly trusted: BlockList | undefined;
  readonly timeouts: ClientTimeouts;
  /** X-Forwarded-Port for requests through this entry point: its public port (see `publicPortOf`). */
  readonly forwardedPort: string;
}

/** Compiles an entry point for a listener. */
export function compileEntryPoint(ep: EntryPoint): CompiledEntryPoint {
  return {
    entryPoint: ep,
    middlewares: compileMiddlewares(ep.middlewares),
    trusted: addressList(ep.trustedIPs),
    timeouts: ep.timeouts ?? DEFAULT_CLIENT_TIMEOUTS,
    forwardedPort: String(publicPortOf(ep)),
  };
}

/** Listener identity: a change of address or of TLS reopens the listener. */
export function listenerKey(ep: EntryPoint): string {
  return `${ep.tls ? 'tls' : 'tcp'}|${ep.address.host ?? '*'}|${ep.address.port}`;
}

/** What a request resolved to; mirrors `Resolution` of src/model/match.ts. */
export type RouteResult =
  | {
      readonly found: true;
      readonly backend: CompiledBackend | undefined;
      /** The backend id the route names (also when the backend is missing). */
      readonly backendId: string;
      /** The route as access logs name it: `"host path pathType"`, or the backend id for the default backend. */
      readonly route: string;
      /** The model's route (undefined for the default backend) and its compiled policy, when it has one. */
      readonly modelRoute: Route | undefined;
      readonly policy: CompiledPolicy | undefined;
    }
  | { readonly found: false };

const NOT_FOUND: RouteResult = { found: false };

/** The hosts one address serves, compiled for lookup by Host header. */
class HostTable {
  readonly #list: readonly VirtualHost[];
  readonly #exact = new Map<string, CompiledVirtualHost>();
  /** Wildcards keyed by their suffix with the dot (`*.a.b` → `.a.b`): one label less than the host. */
  readonly #wildcard = new Map<string, CompiledVirtualHost>();
  /** Suffix hosts (Gateway API wildcards) keyed the same way: one or more labels less than the host. */
  readonly #suffix = new Map<string, CompiledVirtualHost>();
  readonly #any: CompiledVirtualHost | undefined;
  /** Cached results per host header text: a bounded map saves lower-casing and lookups on the hot path. */
  readonly #hostCache = new Map<string, CompiledVirtualHost | null>();

  constructor(vhosts: readonly VirtualHost[], compile: (vhost: VirtualHost) => CompiledVirtualHost) {
    this.#list = vhosts;
    let any: CompiledVirtualHost | undefined;
    for (const vhost of vhosts) {
      const compiled = compile(vhost);
      // The first of equal patterns wins, as selectVirtualHost scans in order.
      if (vhost.kind === 'exact') {
        if (!this.#exact.has(vhost.host)) this.#exact.set(vhost.host, compiled);
      } else if (vhost.kind === 'wildcard' || vhost.kind === 'suffix') {
        const map = vhost.kind === 'wildcard' ? this.#wildcard : this.#suffix;
        const suffix = vhost.host.slice(1);
        if (!map.has(suffix)) map.set(suffix, compiled);
      } else {
        any ??= compiled;
      }
    }
    this.#any = any;
  }

  /** As {@link Router.virtualHost}, in this table. */
  lookup(hostHeader: string): CompiledVirtualHost | undefined {
    const cached = this.#hostCache.get(hostHeader);
    if (cached !== undefined) return cached ?? undefined;
    const host = normalizeHost(hostHeader);
    let found = this.#exact.get(host);
    let dot = found === undefined ? host.indexOf('.') : -1;
    if (dot > 0) {
      // The first dot gives the longest pattern: a wildcard or a suffix; later dots only suffixes.
      const first = host.slice(dot);
      const w = this.#wildcard.get(first);
      const x = this.#suffix.get(first);
      // A wildcard and a suffix of the same pattern both match here: the first in the list wins, as in selectVirtualHost.
      found = w !== undefined && x !== undefined ? (this.#list.indexOf(w.vhost) < this.#list.indexOf(x.vhost) ? w : x) : (w ?? x);
      if (this.#suffix.size !== 0) {
        while (found === undefined && (dot = host.indexOf('.', dot + 1)) !== -1) found = this.#suffix.get(host.slice(dot));
      }
    }
    found ??= this.#any;
    if (this.#hostCache.size >= 4096) this.#hostCache.clear();
    this.#hostCache.set(hostHeader, found ?? null);
    return found;
  }
}

/** An immutable compiled routing model: one reference to swap on apply. */
export class Router {
  readonly model: RoutingModel;
  readonly entryPoints: ReadonlyMap<string, CompiledEntryPoint>;
  readonly #hosts: HostTable;
  /** The model's own hosts per entry point, when some host is served on some entry points only (VirtualHost.entryPoints). */
  readonly #hostsByEntryPoint = new Map<string, HostTable>();
  /** Address scopes by scopeKey of address and entry point (src/model/types.ts `addressScopes`); empty for most models. */
  readonly #scopes = new Map<string, HostTable>();
  readonly #scopeAddresses = new Set<string>();
  /** The scopes' listener hostnames by scopeKey (AddressScope.listenerHostnames): requests there may be misdirected. */
  readonly #listenerHostnames = new Map<string, readonly string[]>();
  /** What an address scope's address serves on an entry point it has no scope for: nothing. */
  readonly #noHosts: HostTable;
  /** Whether some route has conditions: requests then bring their method, headers and query to `resolve`. */
  readonly hasConditions: boolean;
  readonly #default: RouteResult;
  readonly backends: ReadonlyMap<string, CompiledBackend>;

  /** `limits`: where route limits count (one table for the driver's life, shared by worker threads). */
  constructor(model: RoutingModel, upstreams: UpstreamRegistry, limits: LimitTable = new LimitTable(1024)) {
    this.model = model;
    const backends = new Map<string, CompiledBackend>();
    for (const [id, backend] of Object.entries(model.backends)) backends.set(id, compileBackend(backend, upstreams));
    this.backends = backends;

    // One result per route, built here: resolving still allocates nothing.
    const resultFor = (backendId: string, route: string, modelRoute?: Route): RouteResult => ({
      found: true,
      backend: backends.get(backendId),
      backendId,
      route,
      modelRoute,
      policy: modelRoute?.policy === undefined ? undefined : compilePolicy(modelRoute.policy, model, limits, route, modelRoute),
    });

    let hasConditions = false;
    const compile = (vhost: VirtualHost): CompiledVirtualHost => {
      if (vhost.routes.some((r) => r.conditions !== undefined)) hasConditions = true;
      return {
        vhost,
        routes: vhost.routes.map((route) => ({
          route,
          regex: route.pathType === 'Regex' ? pathRegex(route.path) : undefined,
          conditions: compileConditions(route.conditions),
          result: resultFor(route.backend, routeName(vhost.host, route.path, route.pathType), route),
        })),
      };
    };
    if (model.virtualHosts.some((v) => v.entryPoints !== undefined)) {
      // One compiled host per model host: the tables of the entry points share them.
      const compiled = new Map<VirtualHost, CompiledVirtualHost>();
      const once = (v: VirtualHost): CompiledVirtualHost => compiled.get(v) ?? compiled.set(v, compile(v)).get(v)!;
      this.#hosts = new HostTable(model.virtualHosts, once);
      for (const ep of model.entryPoints) this.#hostsByEntryPoint.set(ep.name, new HostTable(hostsOnEntryPoint(model, ep.name), once));
    } else {
      this.#hosts = new HostTable(model.virtualHosts, compile);
    }
    for (const scope of model.addressScopes ?? []) {
      this.#scopes.set(scopeKey(scope.address, scope.entryPoint), new HostTable(scope.virtualHosts, compile));
      this.#scopeAddresses.add(scope.address);
      if (scope.listenerHostnames !== undefined) this.#listenerHostnames.set(scopeKey(scope.address, scope.entryPoint), scope.listenerHostnames);
    }
    this.#noHosts = new HostTable([], compile);
    this.hasConditions = hasConditions;
    this.#default = model.defaultBackend === undefined ? NOT_FOUND : resultFor(model.defaultBackend, model.defaultBackend);

    const eps = new Map<string, CompiledEntryPoint>();
    for (const ep of listenedEntryPoints(model)) {
      const key = listenerKey(ep);
      if (!eps.has(key)) eps.set(key, compileEntryPoint(ep));
    }
    this.entryPoints = eps;
  }

  /**
   * The virtual host for a Host header (selectVirtualHost): exact, then the longest matching pattern
   * (a one-label wildcard or a suffix of one or more labels), then `*`. `local`: the connection's
   * local address ({@link scopeAddress}) and `entryPoint` its entry point's name; an address scope's
   * connection sees only the hosts of its scope on that entry point.
   */
  virtualHost(hostHeader: string, local?: string, entryPoint?: string): CompiledVirtualHost | undefined {
    return (this.#scopeOf(local, entryPoint) ?? this.#ownHosts(entryPoint)).lookup(hostHeader);
  }

  #ownHosts(entryPoint: string | undefined): HostTable {
    return this.#hostsByEntryPoint.size === 0 || entryPoint === undefined ? this.#hosts : (this.#hostsByEntryPoint.get(entryPoint) ?? this.#hosts);
  }

  #scopeOf(local: string | undefined, entryPoint: string | undefined): HostTable | undefined {
    if (this.#scopes.size === 0 || local === undefined || !this.#scopeAddresses.has(local)) return undefined;
    return this.#scopes.get(scopeKey(local, entryPoint ?? '')) ?? this.#noHosts;
  }

  /**
   * Resolves like resolveRequest: the first route of the virtual host whose path matches and whose
   * conditions the request meets (a route it fails falls through), else the default backend, else not
   * found. `request` (absent: a plain GET) is read only for routes with conditions. A connection to an
   * address scope's address never reaches the default backend: it is the Gateway's alone.
   */
  resolve(hostHeader: string, path: string, request?: ConditionRequest, local?: string, entryPoint?: string): RouteResult {
    const scope = this.#scopeOf(local, entryPoint);
    const vhost = (scope ?? this.#ownHosts(entryPoint)).lookup(hostHeader);
    if (vhost !== undefined) {
      const routes = vhost.routes;
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!;
        if ((r.regex === undefined ? pathMatches(r.route, path) : r.regex.test(path)) && (r.conditions === undefined || conditionsHold(r.conditions, request ?? PLAIN))) return r.result;
      }
    }
    return scope === undefined ? this.#default : NOT_FOUND;
  }

  /**
   * Whether a request on a TLS connection to `local` through `entryPoint`, with server name
   * `serverName`, is misdirected (421): its Host falls to another listener of the scope (match.ts `misdirected`).
   */
  misdirected(hostHeader: string, serverName: string | false | null | undefined, local: string | undefined, entryPoint: string): boolean {
    if (this.#listenerHostnames.size === 0 || local === undefined || typeof serverName !== 'string') return false;
    const names = this.#listenerHostnames.get(scopeKey(local, entryPoint));
    return names !== undefined && misdirected(names, serverName, normalizeHost(hostHeader));
  }

  /** Whether some connection's local address has hosts of its own (the handlers then pass `local`). */
  get scoped(): boolean {
    return this.#scopes.size !== 0;
  }
}

/** Every upstream key a router uses, so the registry can close the others. */
export function upstreamKeys(router: Router): Set<string> {
  const keys = new Set<string>();
  for (const b of router.backends.values()) for (const u of b.upstreams) keys.add(u.key);
  return keys;
}
