/*
 * The policy of an Ingress's routes, as translate builds it: its annotations read (findings become
 * diagnostics on them), its auth Secret resolved, fitted to the proxy mode (an access policy that cannot
 * be enforced denies), and the per-route parts (a regex rewrite's pattern is each route's path).
 */

import { findingSeverity, readAnnotations } from '../annotations/index.ts';
import type { PolicyRefs } from '../annotations/index.ts';
import type { RoutePolicy } from '../policy.ts';
import { fitPolicy } from '../policy-support.ts';
import type { ProxyMode } from '../policy-support.ts';
import type { PathType } from '../types.ts';
import { Codes } from './diagnostics.ts';
import type { ParsedIngress } from './ingress.ts';
import type { ObjectHeader } from './object.ts';
import type { SecretReader } from './tls.ts';
import type { ConfigMapReader } from './config-maps.ts';

/** Access policies: when one cannot be honoured, the route is denied rather than served open. */
const ACCESS_POLICIES = new Set(['basicAuth', 'externalAuth', 'allowSourceRange']);

/**
 * The policy of an Ingress's routes from its annotations, with the Secret references resolved; each
 * finding that is a problem becomes a diagnostic on the annotation. Undefined: no policy.
 */
export function policyOf(
  ing: ParsedIngress,
  secrets: SecretReader,
  configMaps: ConfigMapReader,
  sslRedirect: boolean,
  mode: ProxyMode,
): { readonly policy: RoutePolicy | undefined; readonly canary: PolicyRefs['canary']; readonly wwwRedirect: boolean; readonly serviceWeights: PolicyRefs['serviceWeights'] } {
  const h = ing.header;
  const result = readAnnotations(h.annotations, { namespace: h.namespace, hasTls: ing.tls.length > 0, sslRedirectDefault: sslRedirect });
  let denied: string | undefined;
  for (const f of result.findings) {
    const severity = findingSeverity(f);
    if (severity === undefined || f.code === undefined) continue;
    const field = `metadata.annotations['${f.annotation}']`;
    if (severity === 'warning') h.reporter.warning(f.code, field, f.note);
    else h.reporter.error(f.code, field, f.note);
    // An access annotation that is not read (invalid, or a kind Passerelle lacks such as digest auth) denies.
    if ((f.status === 'invalid' || f.status === 'unsupported') && f.policy !== undefined && ACCESS_POLICIES.has(f.policy)) denied ??= `${f.annotation} cannot be enforced`;
  }
  const refs = result.refs;
  let policy: RoutePolicy = result.policy;
  // The pattern is each route's own path: filled in per route (routePolicy), once the mode kept the rewrite.
  const target = refs.regexPaths?.rewriteTarget;
  if (target !== undefined) policy = { ...policy, rewrite: { kind: 'regex', pattern: '', target } };
  const auth = result.refs.authSecret;
  if (auth !== undefined) {
    const read = secrets.readAuth(auth.namespace, auth.name, auth.form);
    const field = `metadata.annotations['${auth.annotation}']`;
    if (read.ok) policy = { ...policy, basicAuth: { realm: auth.realm, users: read.users, secret: `${auth.namespace}/${auth.name}` } };
    else {
      h.reporter.error(Codes.missingAuthSecret, field, `${read.message}; the routes of this Ingress answer 503 until it does`);
      denied ??= `the basic-auth Secret ${auth.namespace}/${auth.name} is not usable`;
    }
  }
  const custom = refs.customHeaders;
  if (custom !== undefined) {
    const read = configMaps.readHeaders(custom.namespace, custom.name);
    if (read.ok) policy = { ...policy, headers: { ...policy.headers, response: { ...policy.headers?.response, ...read.headers } } };
    else h.reporter.error(Codes.missingConfigMap, `metadata.annotations['${custom.annotation}']`, `${read.message}; its headers are not set`);
  }
  if (denied !== undefined) policy = { ...policy, denied };
  const fit = fitPolicy(policy, mode);
  for (const f of fit.dropped) {
    const what = `policy ${f} is not rendered in ${mode} mode`;
    if (f === fit.deniedBy) h.reporter.error(Codes.policyNotInMode, 'metadata.annotations', `${what}: the routes of this Ingress answer 503 rather than serve without it`);
    else h.reporter.warning(Codes.policyNotInMode, 'metadata.annotations', `${what}; it is ignored`);
  }
  for (const d of fit.degraded) h.reporter.warning(Codes.policyNotInMode, 'metadata.annotations', `policy ${d.feature} is not rendered in ${mode} mode; it is rendered as ${d.as}`);
  policy = fit.policy;
  return { policy: Object.keys(policy).length === 0 ? undefined : policy, canary: refs.canary, wwwRedirect: refs.wwwRedirect === true, serviceWeights: refs.serviceWeights };
}

/**
 * The modes whose renderers route Regex routes. Elsewhere translate skips regex paths (an error on
 * each): a proxy that reads them as plain prefixes would route other requests than its Ingress asks.
 */
export const REGEX_ROUTE_MODES: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

/** Whether an Ingress's annotations make its paths regexes (refs.regexPaths, which hasTls plays no part in). */
export function asksRegexPaths(h: ObjectHeader): boolean {
  const keys = Object.keys(h.annotations);
  // Only use-regex and rewrite-target set it: most Ingresses are not read twice.
  if (!keys.some((k) => k.endsWith('/use-regex') || k.endsWith('/rewrite-target'))) return false;
  return readAnnotations(h.annotations, { namespace: h.namespace, hasTls: false }).refs.regexPaths !== undefined;
}

/**
 * A route's own policy: a regex rewrite gets the route's pattern. An Exact path of a regex Ingress
 * is a literal with no group, so its rewrite is the target with `$1`...`$9` empty (a replace-path).
 */
export function routePolicy(policy: RoutePolicy | undefined, path: string, pathType: PathType): RoutePolicy | undefined {
  const rw = policy?.rewrite;
  if (policy === undefined || rw?.kind !== 'regex') return policy;
  if (pathType === 'Regex') return { ...policy, rewrite: { kind: 'regex', pattern: path, target: rw.target } };
  return { ...policy, rewrite: { kind: 'replace-path', path: rw.target.replace(/\$[1-9]/g, '') } };
}

