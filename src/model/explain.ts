import { refName } from '../shared/diagnostics.ts';
import { verifyHtpasswd } from '../config/htpasswd.ts';
import type { EntryPoint, Middleware, Route, RoutingModel, VirtualHost } from './types.ts';
import { hostMatches, modelForScope, normalizeHost, pathMatches, resolveRequest, routeConditionsHold, servedOn } from './match.ts';
import type { ConditionRequest } from './match.ts';
import { describeConditions, describeMiddleware, formatAddress } from './describe.ts';
import { ACME_CHALLENGE_PREFIX, redirectLocation } from './redirect.ts';

/** The request to explain. */
export interface ExplainRequest {
  readonly url: string;
  readonly method?: string;
  /** Header names in any case; `host` overrides the URL's host. */
  readonly headers?: readonly (readonly [string, string])[];
  /** The entry point the request arrives on, by name; by default the one listening on the URL's port. */
  readonly entryPoint?: string;
}

/** Why a request gets the answer it gets, step by step; `status` is the answer's status code. */
export interface Explanation {
  readonly status: number;
  readonly entryPoint: string | undefined;
  readonly virtualHost: string | undefined;
  readonly route: { readonly pathType: string; readonly path: string; readonly source: string } | undefined;
  readonly backend: string | undefined;
  readonly lines: readonly string[];
}

function pickEntryPoint(model: RoutingModel, tls: boolean, port: number, name: string | undefined): { ep: EntryPoint | undefined; why: string } {
  const names = model.entryPoints.map((e) => e.name).join(', ');
  if (name !== undefined) {
    const named = model.entryPoints.find((e) => e.name === name);
    if (named === undefined) return { ep: undefined, why: `no entry point is named ${JSON.stringify(name)} (entry points: ${names === '' ? 'none' : names})` };
    const mismatch = named.tls === tls ? '' : ` (the URL says ${tls ? 'https' : 'http'} but the entry point is ${named.tls ? 'TLS' : 'plain HTTP'})`;
    return { ep: named, why: `named with --entrypoint${mismatch}` };
  }
  const exact = model.entryPoints.find((e) => e.address.port === port && e.tls === tls);
  if (exact) return { ep: exact, why: `port ${port} and ${tls ? 'TLS' : 'plain HTTP'} match` };
  const byPort = model.entryPoints.find((e) => e.address.port === port);
  if (byPort) return { ep: byPort, why: `port ${port} matches (but the entry point is ${byPort.tls ? 'TLS' : 'plain HTTP'})` };
  // Guessing among several would pick one by its name (maybe the one with basic auth): only a single candidate is assumed.
  const byTls = model.entryPoints.filter((e) => e.tls === tls);
  const [only] = byTls;
  if (only !== undefined && byTls.length === 1) return { ep: only, why: `no entry point listens on port ${port}; the only ${tls ? 'TLS' : 'plain HTTP'} one is assumed (--entrypoint NAME names another)` };
  if (byTls.length > 1) return { ep: undefined, why: `no entry point listens on port ${port}; name one with --entrypoint NAME (${byTls.map((e) => e.name).join(', ')})` };
  return { ep: undefined, why: `no entry point listens on port ${port}${names === '' ? '' : `; name one with --entrypoint NAME (${names})`}` };
}

function whyHostDiffers(v: VirtualHost, host: string, chosen: VirtualHost | undefined): string {
  if (hostMatches(v, host)) return `matches too, but ${chosen?.host ?? '?'} is more specific (exact > the longest wildcard or suffix > any)`;
  if (v.kind === 'wildcard') return `a wildcard matches exactly one label before ${v.host.slice(1)}`;
  if (v.kind === 'suffix') return `a suffix matches one or more labels before ${v.host.slice(1)}`;
  return 'different name';
}

function whyRouteDiffers(r: Route, path: string, chosen: Route | undefined, request: ConditionRequest): string {
  if (pathMatches(r, path) && !routeConditionsHold(r, request)) return 'its conditions do not hold for this request';
  if (pathMatches(r, path)) return `matches too, but ${chosen ? `${chosen.pathType} ${chosen.path}` : '?'} comes first (Exact, then Regex, then Prefix; longer first; then a method, more headers, more query parameters)`;
  if (r.pathType === 'Exact') return 'Exact: the path must be equal, character for character';
  if (r.pathType === 'Regex') return 'Regex: the pattern does not match from the start of the path (case-insensitive)';
  return 'Prefix: the path elements differ';
}

/** A route's conditions in words, for `explain`. */

function header(req: ExplainRequest, name: string): string | undefined {
  return req.headers?.find(([k]) => k.toLowerCase() === name)?.[1];
}

function authOutcome(m: Extract<Middleware, { kind: 'basicAuth' }>, authorization: string | undefined): { ok: boolean; why: string } {
  if (authorization === undefined) return { ok: false, why: 'no Authorization header: 401' };
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization.trim());
  if (!match?.[1]) return { ok: false, why: 'Authorization is not Basic: 401' };
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const name = colon === -1 ? decoded : decoded.slice(0, colon);
  const user = m.users.find((u) => u.user === name);
  if (!user) return { ok: false, why: `unknown user ${JSON.stringify(name)}: 401` };
  return verifyHtpasswd(user, colon === -1 ? '' : decoded.slice(colon + 1))
    ? { ok: true, why: `user ${name}: password accepted` }
    : { ok: false, why: `user ${name}: wrong password: 401` };
}

/**
 * Explains which entry point, middlewares, virtual host, route and endpoints serve a request,
 * and why the other hosts and routes did not match. Pure: the same answer a driver must give.
 */
export function explainRequest(model: RoutingModel, req: ExplainRequest): Explanation {
  const url = new URL(req.url);
  const method = (req.method ?? 'GET').toUpperCase();
  const tls = url.protocol === 'https:';
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  const hostHeader = header(req, 'host') ?? url.host;
  const host = normalizeHost(hostHeader);
  const pathAndQuery = `${url.pathname}${url.search}`;
  const path = url.pathname;
  const lines: string[] = [`Request: ${method} ${url.href} (Host: ${hostHeader})`];

  const { ep, why } = pickEntryPoint(model, tls, port, req.entryPoint);
  if (!ep) {
    lines.push(`Entry point: none — ${why}`);
    return { status: 0, entryPoint: undefined, virtualHost: undefined, route: undefined, backend: undefined, lines };
  }
  lines.push(`Entry point: ${ep.name} (${formatAddress(ep.address)}${ep.tls ? ', TLS' : ''}) — ${why}`);

  let status: number | undefined;
  if (path.startsWith(ACME_CHALLENGE_PREFIX)) {
    lines.push(`Middlewares: bypassed — ${ACME_CHALLENGE_PREFIX} is answered by the controller (ACME HTTP-01)`);
    status = 200;
  } else if (ep.middlewares.length === 0) {
    lines.push('Middlewares: none');
  } else {
    lines.push('Middlewares, in order:');
    ep.middlewares.forEach((m, i) => {
      const n = `  ${i + 1}. ${describeMiddleware(m)}`;
      if (status !== undefined) {
        lines.push(`${n} — not reached (answered by an earlier middleware)`);
      } else if (m.kind === 'redirect') {
        status = m.status;
        lines.push(`${n} — answers ${m.status} Location: ${redirectLocation(m, host, pathAndQuery)}`);
      } else {
        const auth = authOutcome(m, header(req, 'authorization'));
        if (!auth.ok) status = 401;
        lines.push(`${n} — ${auth.why}`);
      }
    });
  }

  // What route conditions read: the method, the headers (lines of one name joined with ", "), the raw query.
  const conditionRequest: ConditionRequest = {
    method,
    header: (name) => {
      const all = (req.headers ?? []).filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
      return all.length === 0 ? undefined : all.join(', ');
    },
    query: url.search.slice(1),
  };
  const res = resolveRequest(modelForScope(model, undefined, ep.name), hostHeader, path, conditionRequest);
  const vhost = res.vhost;
  if (vhost) {
    lines.push(`Virtual host: ${vhost.host} (${vhost.kind}) from ${vhost.sources.map((s) => `${s.kind} ${refName(s)}`).join(', ')}`);
  } else {
    lines.push(`Virtual host: none matches ${host}`);
  }
  for (const v of model.virtualHosts) {
    if (v !== vhost) lines.push(`  not ${v.host}: ${servedOn(v, ep.name) ? whyHostDiffers(v, host, vhost) : `served only on entry point ${(v.entryPoints ?? []).join(', ')}`}`);
  }

  let route: Explanation['route'];
  let backendId: string | undefined;
  if (res.outcome === 'route') {
    const r = res.route;
    route = { pathType: r.pathType, path: r.path, source: `${r.source.kind} ${refName(r.source)} ${r.field}` };
    backendId = r.backend;
    lines.push(`Route: ${r.pathType} ${r.path}${r.conditions === undefined ? '' : ` if ${describeConditions(r)}`} -> ${r.backend} (${route.source})`);
    for (const o of res.vhost.routes) if (o !== r) lines.push(`  not ${o.pathType} ${o.path}${o.conditions === undefined ? '' : ` if ${describeConditions(o)}`}: ${whyRouteDiffers(o, path, r, conditionRequest)}`);
  } else {
    if (vhost) {
      lines.push(`Route: none of ${vhost.host}'s ${vhost.routes.length} route(s) matches ${path}`);
      for (const o of vhost.routes) lines.push(`  not ${o.pathType} ${o.path}${o.conditions === undefined ? '' : ` if ${describeConditions(o)}`}: ${whyRouteDiffers(o, path, undefined, conditionRequest)}`);
    }
    if (res.outcome === 'default') {
      backendId = model.defaultBackend;
      lines.push(`Default backend: ${model.defaultBackend ?? ''}`);
    } else {
      lines.push('No default backend: 404');
    }
  }

  const backend = res.outcome === 'not-found' ? undefined : res.backend;
  if (backendId !== undefined) {
    if (!backend || backend.endpoints.length === 0) {
      lines.push(`Backend ${backendId}: no ready endpoint — 503`);
    } else {
      lines.push(`Backend ${backendId}: ${backend.endpoints.length} ready endpoint(s), weighted round-robin`);
      for (const e of backend.endpoints) lines.push(`  server ${e.address}:${e.port} weight ${e.weight}${e.name === undefined ? '' : ` (${e.name})`}`);
    }
  }
  const finalStatus = status ?? (backendId === undefined ? 404 : backend && backend.endpoints.length > 0 ? 200 : 503);
  lines.push(`Answer: ${status === undefined ? (finalStatus === 200 ? 'proxied to the backend' : String(finalStatus)) : String(status)}`);
  return { status: finalStatus, entryPoint: ep.name, virtualHost: vhost?.host, route, backend: backendId, lines };
}
