/*
 * The per-route policies of src/model/policy.ts in the native proxy: compiled once per
 * configuration, run per request after routing, in ingress-nginx's phase order: answers of the
 * rewrite phase (redirects, app-root), then access (allowlist, basic auth), then limits, then the
 * changes to the upstream request and to the answer.
 */

import type { BlockList } from 'node:net';
import { isIP, isIPv4 } from 'node:net';
import { defined } from '../../shared/optional.ts';
import { redirectLocation } from '../../model/redirect.ts';
import type { RoutePolicy } from '../../model/policy.ts';
import { publicPortOf } from '../../model/types.ts';
import type { Route, RoutingModel } from '../../model/types.ts';
import type { BasicAuthCache, CompiledBasicAuth, Verdict } from './middlewares.ts';
import { checkBasicAuth, compileMiddlewares } from './middlewares.ts';
import { addressList } from './addresses.ts';

/** A route's policy, ready for the request path. */
export interface CompiledPolicy {
  readonly policy: RoutePolicy;
  readonly denied?: Verdict;
  /** ssl-redirect: the https port clients reach (the first TLS entry point's public port). */
  readonly sslRedirect?: { readonly status: number; readonly port: number };
  readonly allow?: BlockList;
  readonly auth?: CompiledBasicAuth;
  /** Flat `[name, value, ...]` added to every answer of the route; HSTS only over TLS. */
  readonly responseHeaders: readonly string[];
  readonly hsts?: string;
}

const TEXT = 'text/plain; charset=utf-8';

/** Compiles a route's policy against the model (the https entry point for ssl-redirect). */
export function compilePolicy(policy: RoutePolicy, model: RoutingModel): CompiledPolicy {
  const tls = model.entryPoints.find((ep) => ep.tls);
  const auth = policy.basicAuth === undefined ? undefined : compileMiddlewares([{ kind: 'basicAuth', realm: policy.basicAuth.realm, users: policy.basicAuth.users, removeHeader: false }])[0];
  const responseHeaders = Object.entries(policy.headers?.response ?? {}).flat();
  const hsts = policy.hsts === undefined ? undefined : `max-age=${policy.hsts.maxAgeSeconds}${policy.hsts.includeSubdomains ? '; includeSubDomains' : ''}${policy.hsts.preload ? '; preload' : ''}`;
  return {
    policy,
    responseHeaders,
    ...defined({
      denied: policy.denied === undefined ? undefined : { status: 503, headers: { 'content-type': TEXT }, body: `Service Unavailable: ${policy.denied}\n` },
      sslRedirect: policy.sslRedirect === undefined || tls === undefined ? undefined : { status: policy.sslRedirect.status, port: publicPortOf(tls) },
      allow: addressList(policy.allowSourceRange),
      auth: auth?.kind === 'basicAuth' ? auth : undefined,
      hsts,
    }),
  };
}

/** What a request brings to its route's policy. */
export interface PolicyRequest {
  readonly tls: boolean;
  readonly host: string;
  /** Normalised path (routing's). */
  readonly path: string;
  /** Path and query as the backend would receive them. */
  readonly target: string;
  /** The client's address, after the entry point's trusted proxies. */
  readonly client: string;
  readonly authorization: string | undefined;
  /** The Content-Length of the request, when it has one. */
  readonly contentLength: number | undefined;
}

function redirect(status: number, location: string): Verdict {
  return { status, headers: { location, 'content-type': TEXT }, body: `Redirecting to ${location}\n` };
}

/**
 * Runs the answering part of a policy.
 * @returns the answer to send instead of proxying, or undefined to proxy.
 */
export function runPolicy(p: CompiledPolicy, req: PolicyRequest, cache: BasicAuthCache): Verdict | undefined {
  if (p.denied !== undefined) return p.denied;
  const policy = p.policy;
  if (policy.redirect !== undefined) return redirect(policy.redirect.status, policy.redirect.url);
  if (p.sslRedirect !== undefined && !req.tls) {
    const location = redirectLocation({ kind: 'redirect', entryPoint: '', scheme: 'https', port: p.sslRedirect.port, status: 308 }, req.host, req.target);
    return redirect(p.sslRedirect.status, location);
  }
  if (policy.appRoot !== undefined && req.path === '/') return redirect(302, `${req.tls ? 'https' : 'http'}://${req.host}${policy.appRoot}`);
  if (p.allow !== undefined && !p.allow.check(req.client, isIPv4(req.client) ? 'ipv4' : 'ipv6')) {
    return { status: 403, headers: { 'content-type': TEXT }, body: 'Forbidden\n' };
  }
  if (p.auth !== undefined && !checkBasicAuth(p.auth, req.authorization, cache)) return p.auth.challenge;
  const max = policy.limits?.maxBodyBytes;
  if (max !== undefined && max > 0 && req.contentLength !== undefined && req.contentLength > max) {
    return { status: 413, headers: { 'content-type': TEXT, connection: 'close' }, body: 'Request Entity Too Large\n' };
  }
  return undefined;
}

/** The target the backend receives under the route's rewrite (the query kept). */
export function rewriteTarget(policy: RoutePolicy, route: Route, path: string, target: string): string {
  const rw = policy.rewrite;
  if (rw === undefined) return target;
  const query = target.slice(path.length);
  switch (rw.kind) {
    case 'replace-path':
      return rw.path + query;
    case 'strip-prefix':
    case 'prefix': {
      const rest = route.pathType === 'Prefix' && route.path !== '/' ? path.slice(route.path.length) : route.pathType === 'Exact' ? '' : path.slice(1);
      const base = rw.kind === 'prefix' ? rw.target : '';
      const joined = base.endsWith('/') && rest.startsWith('/') ? base + rest.slice(1) : base === '' || rest === '' || rest.startsWith('/') ? base + rest : `${base}/${rest}`;
      return (joined.startsWith('/') ? joined : `/${joined}`) + query;
    }
    case 'regex': {
      const m = new RegExp(rw.pattern).exec(path);
      if (m === null) return target;
      return rw.target.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '') + query;
    }
  }
}

/** The answer's extra headers for a request through a TLS entry point or not. */
export function responseHeadersFor(p: CompiledPolicy, tls: boolean): readonly string[] {
  if (p.hsts === undefined || !tls) return p.responseHeaders;
  return [...p.responseHeaders, 'strict-transport-security', p.hsts];
}

/**
 * The client a policy judges: the peer, or, when the peer is a trusted proxy, the right-most address
 * of X-Forwarded-For that is not one (what the peer chain vouches for).
 */
export function policyClient(trusted: BlockList | undefined, peer: string, xForwardedFor: string | undefined): string {
  const family = (ip: string): 'ipv4' | 'ipv6' => (isIPv4(ip) ? 'ipv4' : 'ipv6');
  if (trusted === undefined || xForwardedFor === undefined || !trusted.check(peer, family(peer))) return peer;
  const hops = xForwardedFor.split(',').map((s) => s.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] ?? '';
    if (isIP(hop) === 0) return peer;
    if (!trusted.check(hop, family(hop))) return hop;
  }
  return hops[0] ?? peer;
}

/** Flat headers with `extra` set: a name of `extra` replaces the same name in `headers`. */
export function setHeaders(headers: string[], extra: readonly string[]): string[] {
  if (extra.length === 0) return headers;
  const names = new Set<string>();
  for (let i = 0; i < extra.length; i += 2) names.add(extra[i]!.toLowerCase());
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  out.push(...extra);
  return out;
}
