import { normalizeHost, pathMatches, pathRegex } from '../../model/match.ts';
import type { BlockList } from 'node:net';
import { addressList } from './addresses.ts';
import { DEFAULT_CLIENT_TIMEOUTS, publicPortOf } from '../../model/types.ts';
import type { ClientTimeouts, EntryPoint, Route, RoutingModel, VirtualHost } from '../../model/types.ts';
import type { CompiledMiddleware } from './middlewares.ts';
import { compileMiddlewares } from './middlewares.ts';
import { compilePolicy } from './policy.ts';
import { LimitTable } from './limit-table.ts';
import type { CompiledPolicy } from './policy.ts';
import type { CompiledBackend } from './balance.ts';
import { compileBackend } from './balance.ts';
import type { UpstreamRegistry } from './upstream.ts';
import { routeName } from '../types.ts';

export interface CompiledRoute {
  readonly route: Route;
  /** A Regex route's pattern, compiled once per configuration; undefined for Exact and Prefix. */
  readonly regex: RegExp | undefined;
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

/** An immutable compiled routing model: one reference to swap on apply. */
export class Router {
  readonly model: RoutingModel;
  readonly entryPoints: ReadonlyMap<string, CompiledEntryPoint>;
  readonly #exact: Map<string, CompiledVirtualHost>;
  /** Wildcards keyed by their suffix with the dot (`*.a.b` → `.a.b`): one label less than the host. */
  readonly #wildcard: Map<string, CompiledVirtualHost>;
  readonly #any: CompiledVirtualHost | undefined;
  readonly #default: RouteResult;
  readonly backends: ReadonlyMap<string, CompiledBackend>;
  /** Cached results per host header text: a bounded map saves lower-casing and lookups on the hot path. */
  readonly #hostCache = new Map<string, CompiledVirtualHost | null>();

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
      policy: modelRoute?.policy === undefined ? undefined : compilePolicy(modelRoute.policy, model, limits, route),
    });

    this.#exact = new Map();
    this.#wildcard = new Map();
    let any: CompiledVirtualHost | undefined;
    for (const vhost of model.virtualHosts) {
      const compiled: CompiledVirtualHost = {
        vhost,
        routes: vhost.routes.map((route) => ({
          route,
          regex: route.pathType === 'Regex' ? pathRegex(route.path) : undefined,
          result: resultFor(route.backend, routeName(vhost.host, route.path, route.pathType), route),
        })),
      };
      // The first of equal patterns wins, as selectVirtualHost scans in order.
      if (vhost.kind === 'exact') {
        if (!this.#exact.has(vhost.host)) this.#exact.set(vhost.host, compiled);
      } else if (vhost.kind === 'wildcard') {
        const suffix = vhost.host.slice(1);
        if (!this.#wildcard.has(suffix)) this.#wildcard.set(suffix, compiled);
      } else {
        any ??= compiled;
      }
    }
    this.#any = any;
    this.#default = model.defaultBackend === undefined ? NOT_FOUND : resultFor(model.defaultBackend, model.defaultBackend);

    const eps = new Map<string, CompiledEntryPoint>();
    for (const ep of model.entryPoints) {
      const key = listenerKey(ep);
      if (!eps.has(key)) eps.set(key, compileEntryPoint(ep));
    }
    this.entryPoints = eps;
  }

  /** The virtual host for a Host header: exact, then one-label wildcard, then `*` (selectVirtualHost). */
  virtualHost(hostHeader: string): CompiledVirtualHost | undefined {
    const cached = this.#hostCache.get(hostHeader);
    if (cached !== undefined) return cached ?? undefined;
    const host = normalizeHost(hostHeader);
    let found = this.#exact.get(host);
    if (found === undefined) {
      const dot = host.indexOf('.');
      if (dot > 0) found = this.#wildcard.get(host.slice(dot));
    }
    found ??= this.#any;
    if (this.#hostCache.size >= 4096) this.#hostCache.clear();
    this.#hostCache.set(hostHeader, found ?? null);
    return found;
  }

  /** Resolves like resolveRequest: route of the virtual host, else default backend, else not found. */
  resolve(hostHeader: string, path: string): RouteResult {
    const vhost = this.virtualHost(hostHeader);
    if (vhost !== undefined) {
      const routes = vhost.routes;
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i]!;
        if (r.regex === undefined ? pathMatches(r.route, path) : r.regex.test(path)) return r.result;
      }
    }
    return this.#default;
  }
}

/** Every upstream key a router uses, so the registry can close the others. */
export function upstreamKeys(router: Router): Set<string> {
  const keys = new Set<string>();
  for (const b of router.backends.values()) for (const u of b.upstreams) keys.add(u.key);
  return keys;
}
