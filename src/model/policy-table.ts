/*
 * The README's policies table: each policy feature, the annotations of both dialects that set it, and
 * the modes that render it (from FEATURE_MODES). Pure; test/unit/policy-table.test.ts keeps the README
 * section equal to it and checks every annotation named here against the catalogues.
 */

import { FEATURE_MODES } from './policy-support.ts';
import type { PolicyFeature, ProxyMode } from './policy-support.ts';

/** The annotations (without their prefix) that set a feature, per dialect. */
export const FEATURE_ANNOTATIONS: Readonly<Record<Exclude<PolicyFeature, 'denied' | 'internalError'>, { readonly what: string; readonly nginx: readonly string[]; readonly traefik: readonly string[] }>> = {
  sslRedirect: { what: 'plain HTTP redirected to https (308)', nginx: ['ssl-redirect', 'force-ssl-redirect'], traefik: ['ssl-redirect', 'ssl-temporary-redirect', 'redirect-entry-point', 'redirect-permanent'] },
  redirect: { what: 'every request redirected to one URL', nginx: ['permanent-redirect', 'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code'], traefik: [] },
  appRoot: { what: '`/` redirected to the application root', nginx: ['app-root'], traefik: ['app-root'] },
  wwwRedirect: { what: '`www.host` ↔ `host`', nginx: ['from-to-www-redirect'], traefik: [] },
  'rewrite.prefix': { what: 'the matched prefix replaced', nginx: [], traefik: ['rewrite-target'] },
  'rewrite.regex': { what: 'regex paths with capture groups in the target', nginx: ['use-regex', 'rewrite-target'], traefik: [] },
  'rewrite.strip-prefix': { what: 'the matched prefix removed', nginx: [], traefik: ['rule-type'] },
  'rewrite.replace-path': { what: 'the whole path replaced', nginx: ['rewrite-target'], traefik: ['rule-type', 'request-modifier'] },
  allowSourceRange: { what: 'client address allowlist (403)', nginx: ['allowlist-source-range', 'whitelist-source-range'], traefik: ['whitelist-source-range'] },
  basicAuth: { what: 'basic auth from a Secret (401)', nginx: ['auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm'], traefik: ['auth-type', 'auth-secret', 'auth-realm'] },
  externalAuth: { what: 'external authentication', nginx: ['auth-url', 'auth-response-headers', 'auth-signin'], traefik: ['auth-url', 'auth-response-headers'] },
  'limits.maxBodyBytes': { what: 'largest request body (413)', nginx: ['proxy-body-size'], traefik: [] },
  'limits.rps': { what: 'requests per second per client, per replica (503)', nginx: ['limit-rps'], traefik: [] },
  'limits.connections': { what: 'requests in progress per client, per replica (503)', nginx: ['limit-connections'], traefik: [] },
  'timeouts.connect': { what: 'upstream connect timeout', nginx: ['proxy-connect-timeout'], traefik: [] },
  'timeouts.send': { what: 'upstream send timeout (between two writes)', nginx: ['proxy-send-timeout'], traefik: [] },
  'timeouts.read': { what: 'upstream read timeout (between two reads)', nginx: ['proxy-read-timeout'], traefik: [] },
  'upstream.https': { what: 'HTTPS to the pods (certificate not verified)', nginx: ['backend-protocol'], traefik: ['protocol'] },
  'upstream.grpc': { what: 'gRPC (h2c) or gRPC over TLS to the pods', nginx: ['backend-protocol'], traefik: [] },
  'upstream.vhost': { what: 'the Host the backend receives', nginx: ['upstream-vhost'], traefik: [] },
  'upstream.loadBalance': { what: 'load-balancing algorithm: round_robin, least_conn', nginx: ['load-balance'], traefik: ['load-balancer-method'] },
  'upstream.ewma': { what: 'load-balance ewma: latency times requests in flight (least_conn where not rendered)', nginx: ['load-balance'], traefik: [] },
  'upstream.tries': { what: 'attempts over the endpoints', nginx: ['proxy-next-upstream-tries'], traefik: [] },
  'upstream.affinity': { what: 'session affinity by cookie', nginx: ['affinity', 'session-cookie-name', 'session-cookie-max-age', 'session-cookie-samesite'], traefik: ['affinity', 'session-cookie-name'] },
  cors: { what: 'CORS answers and preflights', nginx: ['enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-allow-credentials', 'cors-max-age'], traefik: [] },
  'cors.gateway': { what: 'CORS by the Gateway API filter: origin patterns, `*` methods and headers echoed, exposed headers', nginx: [], traefik: [] },
  hsts: { what: 'Strict-Transport-Security over TLS', nginx: ['hsts', 'hsts-max-age', 'hsts-include-subdomains', 'hsts-preload'], traefik: ['hsts-max-age', 'hsts-include-subdomains', 'hsts-preload'] },
  'headers.request': { what: 'request headers set', nginx: [], traefik: ['custom-request-headers'] },
  'headers.response': { what: 'response headers set', nginx: [], traefik: ['custom-response-headers'] },
  'headers.requestAdd': { what: 'request headers added (Gateway API RequestHeaderModifier)', nginx: [], traefik: [] },
  'headers.requestRemove': { what: 'request headers removed (Gateway API RequestHeaderModifier)', nginx: [], traefik: [] },
  'headers.responseAdd': { what: 'response headers added (Gateway API ResponseHeaderModifier)', nginx: [], traefik: [] },
  'headers.responseRemove': { what: 'response headers removed (Gateway API ResponseHeaderModifier)', nginx: [], traefik: [] },
  canary: { what: 'a canary Ingress\'s backend by header, cookie or weight', nginx: ['canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-cookie', 'canary-weight'], traefik: [] },
  weights: { what: 'two Services of one path weighted', nginx: [], traefik: ['service-weights'] },
  split: { what: 'more than two weighted backends (Gateway API backendRefs)', nginx: [], traefik: [] },
  mirror: { what: 'copies of each request to other backends, answers discarded (Gateway API RequestMirror)', nginx: [], traefik: [] },
  backendHeaders: { what: 'header changes by the backend chosen (Gateway API filters on weighted backendRefs)', nginx: [], traefik: [] },
  priority: { what: 'route priority (applied by translate: routes taken whole by a higher one are left out)', nginx: [], traefik: ['priority'] },
};

const MODES: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

/** The Markdown table, one row per feature. */
export function policiesTable(): string[] {
  const names = (list: readonly string[]): string => (list.length === 0 ? '—' : list.map((n) => `\`${n}\``).join(', '));
  const lines = ['| policy | what | ingress-nginx | Traefik 1 | native | haproxy | nginx |', '|---|---|---|---|---|---|---|'];
  for (const [feature, row] of Object.entries(FEATURE_ANNOTATIONS) as [Exclude<PolicyFeature, 'denied' | 'internalError'>, (typeof FEATURE_ANNOTATIONS)[Exclude<PolicyFeature, 'denied' | 'internalError'>]][]) {
    const modes = MODES.map((m) => (FEATURE_MODES[feature].includes(m) ? 'yes' : 'no'));
    lines.push(`| \`${feature}\` | ${row.what} | ${names(row.nginx)} | ${names(row.traefik)} | ${modes.join(' | ')} |`);
  }
  return lines;
}
