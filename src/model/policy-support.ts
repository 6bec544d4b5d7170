/*
 * Which policy features each proxy mode renders. translate removes what the running mode cannot
 * do, with a diagnostic, and denies (503) a route whose access policy it cannot enforce: a route is
 * never served without the allowlist or the password its Ingress asks for.
 */

import type { RoutePolicy } from './policy.ts';

/** The proxy modes. */
export type ProxyMode = 'native' | 'haproxy' | 'nginx';

/** One feature of a policy, e.g. `limits.maxBodyBytes` or `rewrite.regex`. */
export type PolicyFeature =
  | 'sslRedirect'
  | 'redirect'
  | 'appRoot'
  | 'wwwRedirect'
  | 'rewrite.prefix'
  | 'rewrite.regex'
  | 'rewrite.strip-prefix'
  | 'rewrite.replace-path'
  | 'allowSourceRange'
  | 'basicAuth'
  | 'externalAuth'
  | 'limits.maxBodyBytes'
  | 'limits.rps'
  | 'limits.connections'
  | 'timeouts.connect'
  | 'timeouts.send'
  | 'timeouts.read'
  | 'upstream.https'
  | 'upstream.grpc'
  | 'upstream.vhost'
  | 'upstream.loadBalance'
  | 'upstream.ewma'
  | 'upstream.tries'
  | 'upstream.affinity'
  | 'cors'
  | 'cors.gateway'
  | 'hsts'
  | 'headers.request'
  | 'headers.response'
  | 'headers.requestAdd'
  | 'headers.requestRemove'
  | 'headers.responseAdd'
  | 'headers.responseRemove'
  | 'weights'
  | 'priority'
  | 'canary'
  | 'split'
  | 'mirror'
  | 'backendHeaders'
  | 'denied'
  | 'internalError';

/** Features whose absence would serve a route more openly than its Ingress asks. */
export const ACCESS_FEATURES: ReadonlySet<PolicyFeature> = new Set(['allowSourceRange', 'basicAuth', 'externalAuth']);

const ALL: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

/** The modes that render each feature (the README's policies table is generated from this). */
export const FEATURE_MODES: Readonly<Record<PolicyFeature, readonly ProxyMode[]>> = {
  sslRedirect: ALL,
  redirect: ALL,
  appRoot: ALL,
  wwwRedirect: ALL,
  'rewrite.prefix': ALL,
  'rewrite.regex': ALL,
  'rewrite.strip-prefix': ALL,
  'rewrite.replace-path': ALL,
  allowSourceRange: ALL,
  basicAuth: ALL,
  externalAuth: ALL,
  'limits.maxBodyBytes': ALL,
  'limits.rps': ALL,
  'limits.connections': ALL,
  'timeouts.connect': ALL,
  // HAProxy has one server timeout for both directions (timeouts.read): no send timeout of its own.
  'timeouts.send': ['native', 'nginx'],
  'timeouts.read': ALL,
  'upstream.https': ALL,
  'upstream.grpc': ALL,
  'upstream.vhost': ALL,
  'upstream.loadBalance': ALL,
  // nginx without Lua has no latency-aware balancer: ewma is rendered as least_conn there (fitPolicy).
  'upstream.ewma': ['native', 'haproxy'],
  // HAProxy sets retries per backend: a route's go to a variant backend (src/render/haproxy/upstream.ts).
  'upstream.tries': ALL,
  'upstream.affinity': ALL,
  cors: ALL,
  // The Gateway API CORS filter's additions: origin patterns, echoed origin, methods and headers, exposed headers.
  'cors.gateway': ALL,
  hsts: ALL,
  'headers.request': ALL,
  'headers.response': ALL,
  // Gateway API header modifiers' add and remove.
  'headers.requestAdd': ALL,
  'headers.requestRemove': ALL,
  'headers.responseAdd': ALL,
  'headers.responseRemove': ALL,
  // Traefik 1 service-weights: two Services on one path become a weight-only canary (translate).
  weights: ALL,
  // Traefik 1 priority: applied by translate (routes taken whole by a higher one left out, Regex routes ordered).
  priority: ALL,
  canary: ALL,
  // Gateway API: more than two weighted backendRefs.
  split: ALL,
  // Gateway API RequestMirror.
  mirror: ALL,
  // Gateway API backendRef filters on a rule with several backends (header changes by the backend chosen).
  backendHeaders: ALL,
  denied: ALL,
  // Gateway API: a rule without a usable backendRef answers 500.
  internalError: ALL,
};

/** The features a policy uses. */
export function policyFeatures(p: RoutePolicy): PolicyFeature[] {
  const out: PolicyFeature[] = [];
  if (p.sslRedirect !== undefined) out.push('sslRedirect');
  if (p.redirect !== undefined) out.push('redirect');
  if (p.appRoot !== undefined) out.push('appRoot');
  if (p.wwwRedirect !== undefined) out.push('wwwRedirect');
  if (p.rewrite !== undefined) out.push(`rewrite.${p.rewrite.kind}`);
  if (p.allowSourceRange !== undefined) out.push('allowSourceRange');
  if (p.basicAuth !== undefined) out.push('basicAuth');
  if (p.externalAuth !== undefined) out.push('externalAuth');
  if (p.limits?.maxBodyBytes !== undefined) out.push('limits.maxBodyBytes');
  if (p.limits?.rps !== undefined) out.push('limits.rps');
  if (p.limits?.connections !== undefined) out.push('limits.connections');
  if (p.timeouts?.connect !== undefined) out.push('timeouts.connect');
  if (p.timeouts?.send !== undefined) out.push('timeouts.send');
  if (p.timeouts?.read !== undefined) out.push('timeouts.read');
  if (p.upstream?.protocol === 'https') out.push('upstream.https');
  if (p.upstream?.protocol === 'grpc' || p.upstream?.protocol === 'grpcs') out.push('upstream.grpc');
  if (p.upstream?.vhost !== undefined) out.push('upstream.vhost');
  if (p.upstream?.loadBalance !== undefined) out.push(p.upstream.loadBalance === 'ewma' ? 'upstream.ewma' : 'upstream.loadBalance');
  if (p.upstream?.tries !== undefined) out.push('upstream.tries');
  if (p.upstream?.affinity !== undefined) out.push('upstream.affinity');
  if (p.cors !== undefined) out.push('cors');
  if (p.cors !== undefined && (p.cors.originPatterns !== undefined || p.cors.echoOrigin === true || p.cors.echoMethods === true || p.cors.echoHeaders === true || p.cors.exposeHeaders !== undefined)) out.push('cors.gateway');
  if (p.hsts !== undefined) out.push('hsts');
  if (p.headers?.request !== undefined) out.push('headers.request');
  if (p.headers?.response !== undefined) out.push('headers.response');
  if (p.headers?.requestAdd !== undefined) out.push('headers.requestAdd');
  if (p.headers?.requestRemove !== undefined) out.push('headers.requestRemove');
  if (p.headers?.responseAdd !== undefined) out.push('headers.responseAdd');
  if (p.headers?.responseRemove !== undefined) out.push('headers.responseRemove');
  if (p.priority !== undefined) out.push('priority');
  if (p.canary !== undefined) out.push('canary');
  if (p.split !== undefined) out.push('split');
  if (p.mirror !== undefined) out.push('mirror');
  if (p.backendHeaders !== undefined) out.push('backendHeaders');
  if (p.denied !== undefined) out.push('denied');
  if (p.internalError !== undefined) out.push('internalError');
  return out;
}

/** A policy without one feature. */
function without(p: RoutePolicy, f: PolicyFeature): RoutePolicy {
  const copy: Record<string, unknown> = { ...p };
  const [top, part] = f.split('.') as [keyof RoutePolicy, string | undefined];
  // The two protocol features are values of one field, as are the two balancing ones.
  const sub = part === 'https' || part === 'grpc' ? 'protocol' : part === 'ewma' ? 'loadBalance' : part;
  // Without the Gateway additions, a CORS filter's policy would answer other origins and headers: none at all.
  if (sub === undefined || top === 'rewrite' || f === 'cors.gateway') {
    delete copy[top];
  } else {
    const inner: Record<string, unknown> = { ...(p[top] as Record<string, unknown>) };
    delete inner[sub];
    if (Object.keys(inner).length === 0) delete copy[top];
    else copy[top] = inner;
  }
  return copy as RoutePolicy;
}

/** What a mode makes of a policy: what it renders, what it drops, and whether the route must be denied. */
export interface PolicyFit {
  readonly policy: RoutePolicy;
  readonly dropped: readonly PolicyFeature[];
  /** An access feature the mode cannot enforce (the route answers 503). */
  readonly deniedBy?: PolicyFeature;
  /** Features rendered with a nearby meaning instead of dropped, and what they became (ewma → least_conn). */
  readonly degraded: readonly { readonly feature: PolicyFeature; readonly as: string }[];
}

/**
 * Fits a policy to a mode: unsupported features are removed (ewma becomes least_conn where only
 * that is rendered); an unsupported access feature denies the route. `table` is FEATURE_MODES but
 * in tests.
 */
export function fitPolicy(p: RoutePolicy, mode: ProxyMode, table: Readonly<Record<PolicyFeature, readonly ProxyMode[]>> = FEATURE_MODES): PolicyFit {
  let policy = p;
  const dropped: PolicyFeature[] = [];
  const degraded: { feature: PolicyFeature; as: string }[] = [];
  let deniedBy: PolicyFeature | undefined;
  for (const f of policyFeatures(p)) {
    if (table[f].includes(mode)) continue;
    // Fewest requests in flight is the nearest to ewma a proxy without it has.
    if (f === 'upstream.ewma' && table['upstream.loadBalance'].includes(mode)) {
      policy = { ...policy, upstream: { ...policy.upstream, loadBalance: 'least_conn' } };
      degraded.push({ feature: f, as: 'least_conn' });
      continue;
    }
    policy = without(policy, f);
    dropped.push(f);
    if (ACCESS_FEATURES.has(f)) deniedBy ??= f;
  }
  if (deniedBy !== undefined) policy = { ...policy, denied: `${deniedBy} is not supported in ${mode} mode` };
  return { policy, dropped, degraded, ...(deniedBy === undefined ? {} : { deniedBy }) };
}
