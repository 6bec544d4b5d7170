/*
 * The Traefik 1.x Kubernetes Ingress annotations Passerelle knows, as data: traefik.ts reads them,
 * docs/annotations.md lists them. Each name is read as `ingress.kubernetes.io/<name>`, then
 * `traefik.ingress.kubernetes.io/<name>`, then its older label (`compat`), as Traefik 1.7 does
 * (provider/kubernetes/annotations.go, docs/configuration/backends/kubernetes.md of the v1.7 branch).
 */

import type { Catalogue, CatalogueEntry } from './reader.ts';

/** The two annotation prefixes of the Traefik 1 dialect, in the order Traefik 1 reads them. */
export const TRAEFIK_PREFIXES = ['ingress.kubernetes.io/', 'traefik.ingress.kubernetes.io/'] as const;

/** Label prefixes of Traefik 1 (Docker-style labels): known compat names are read, the rest reported. */
export const TRAEFIK_LABEL_PREFIXES = ['traefik.frontend.', 'traefik.backend.'] as const;

const SERVICE = 'a Service annotation in Traefik 1, not read on an Ingress';
const HEADERS = 'security headers are not generated: set the header with custom-response-headers';

const table = {
  // Redirects
  'ssl-redirect': {
    policy: 'sslRedirect', status: 'applied', example: 'true',
    note: '"true": plain HTTP to the routes redirects to https with 301 (307 with ssl-temporary-redirect); "false": no redirect, not even the default one of an Ingress with spec.tls',
  },
  'ssl-temporary-redirect': { policy: 'sslRedirect', status: 'applied', example: 'true', note: 'with ssl-redirect: "true", the redirect is 307 instead of 301' },
  'redirect-entry-point': {
    policy: 'sslRedirect', status: 'different', example: 'https', compat: 'traefik.frontend.redirect.entrypoint',
    note: '"https": plain HTTP to the routes redirects to https, 308 with redirect-permanent else 307 (Traefik 1 sends 301 or 302 to GET requests); another entry point is not supported',
  },
  'redirect-permanent': {
    policy: 'sslRedirect', status: 'applied', example: 'true',
    note: 'with redirect-entry-point: a permanent redirect (308); app-root redirects stay 302',
  },
  'redirect-regex': { policy: 'redirect', status: 'unsupported', compat: 'traefik.frontend.redirect.regex', note: 'regex redirects are not supported: use ingress-nginx\'s permanent-redirect or temporal-redirect' },
  'redirect-replacement': { policy: 'redirect', status: 'unsupported', compat: 'traefik.frontend.redirect.replacement', note: 'regex redirects are not supported: use ingress-nginx\'s permanent-redirect or temporal-redirect' },
  'app-root': { policy: 'appRoot', status: 'applied', example: '/app', note: 'a request for / redirects (302) to this path' },
  'ssl-host': { policy: 'sslRedirect', status: 'unsupported', note: 'the https redirect keeps the request host' },
  'ssl-force-host': { policy: 'sslRedirect', status: 'unsupported', note: 'the https redirect keeps the request host' },
  'ssl-proxy-headers': { policy: 'sslRedirect', status: 'unsupported', note: 'whether a request came over TLS is decided by the entry point and forwardedHeaders.trustedIPs' },

  // Rewrites
  'rewrite-target': {
    policy: 'rewrite', status: 'different', example: '/api',
    note: 'the matched path prefix is replaced by this path (Traefik 1\'s ReplacePathRegex ^<path>(.*) <target>$1; "/" removes the prefix); no X-Replaced-Path header is added',
  },
  'rule-type': {
    policy: 'rewrite', status: 'applied', example: 'PathPrefixStrip', compat: 'traefik.frontend.rule.type',
    note: 'PathPrefixStrip: the matched prefix is removed; PathPrefix: the default; Path and PathStrip match by the path\'s pathType (write pathType: Exact), PathStrip also removes the path; ReplacePath is not supported (use request-modifier)',
  },
  'request-modifier': {
    policy: 'rewrite', status: 'applied', example: 'ReplacePath: /health',
    note: '"ReplacePath: /x": the whole path becomes /x; AddPrefix and ReplacePathRegex are not supported',
  },

  // Access
  'whitelist-source-range': {
    policy: 'allowSourceRange', status: 'applied', example: '10.0.0.0/8, fd00::/8',
    note: 'comma-separated IPv4 and IPv6 addresses and CIDR ranges allowed, others get 403; a bad entry is an error here, where Traefik 1 then allows every client',
  },
  'whitelist-x-forwarded-for': { policy: 'allowSourceRange', status: 'unsupported', note: 'the client address is taken from X-Forwarded-For only behind forwardedHeaders.trustedIPs' },
  'auth-type': {
    policy: 'basicAuth', status: 'applied', example: 'basic',
    note: 'basic (with auth-secret) or forward (with auth-url), in any case; digest is not supported',
  },
  'auth-secret': {
    policy: 'basicAuth', ref: 'authSecret', status: 'different', example: 'basic-auth',
    note: 'a Secret of the Ingress\'s namespace; its htpasswd lines are read from the key auth (Traefik 1 reads its only key, whatever its name)',
  },
  'auth-realm': {
    policy: 'basicAuth', status: 'applied', example: 'traefik',
    note: 'only "traefik", the realm Traefik 1 always uses (it skips an Ingress with another one)',
  },
  'auth-remove-header': { policy: 'basicAuth', status: 'unsupported', note: 'the Authorization header is passed to the backend' },
  'auth-header-field': { policy: 'basicAuth', status: 'unsupported', note: 'the user name is not passed to the backend' },
  'auth-url': {
    policy: 'externalAuth', status: 'applied', example: 'https://auth.example.com/check',
    note: 'with auth-type: forward, each request is first sent to this absolute http(s) URL and a 2xx answer lets it through',
  },
  'auth-response-headers': { policy: 'externalAuth', status: 'applied', example: 'X-User, X-Email', note: 'comma-separated headers of the auth-url answer copied into the request' },
  'auth-trust-headers': { policy: 'externalAuth', status: 'unsupported', note: 'X-Forwarded-* headers are trusted per entry point (forwardedHeaders.trustedIPs)' },
  'auth-tls-secret': { policy: 'externalAuth', status: 'unsupported', note: 'no client certificate is sent to auth-url' },
  'auth-tls-insecure': { policy: 'externalAuth', status: 'unsupported', note: 'the certificate of auth-url is verified' },

  // Headers
  'custom-request-headers': {
    policy: 'headers', status: 'applied', example: 'X-Env:prod||X-Team:web',
    note: 'Name:value||Name2:value2 set on the request to the backend; an empty value (Traefik 1: remove the header) is refused',
  },
  'custom-response-headers': {
    policy: 'headers', status: 'applied', example: 'X-Frame-Options:DENY',
    note: 'Name:value||Name2:value2 set on the answer to the client; an empty value (Traefik 1: remove the header) is refused',
  },
  'hsts-max-age': { policy: 'hsts', status: 'applied', example: '31536000', note: 'Strict-Transport-Security max-age in seconds on https answers; 0: none' },
  'hsts-include-subdomains': { policy: 'hsts', status: 'applied', example: 'true', note: 'with hsts-max-age: includeSubDomains (default false)' },
  'hsts-preload': { policy: 'hsts', status: 'applied', example: 'true', note: 'with hsts-max-age: preload (default false)' },
  'force-hsts': { policy: 'hsts', status: 'unsupported', note: 'Strict-Transport-Security is sent on https answers only (browsers ignore it over http)' },
  'sts-seconds': { policy: 'hsts', status: 'unsupported', note: 'not a Traefik 1.7 Ingress annotation (the frontend label STSSeconds): use hsts-max-age' },
  'sts-include-subdomains': { policy: 'hsts', status: 'unsupported', note: 'not a Traefik 1.7 Ingress annotation: use hsts-include-subdomains' },
  'sts-preload': { policy: 'hsts', status: 'unsupported', note: 'not a Traefik 1.7 Ingress annotation: use hsts-preload' },
  'allowed-hosts': { status: 'unsupported', note: 'the hosts of the Ingress rules are the allowed hosts' },
  'proxy-headers': { status: 'unsupported', note: 'the Host is taken from the request' },
  'frame-deny': { policy: 'headers', status: 'unsupported', note: HEADERS },
  'custom-frame-options-value': { policy: 'headers', status: 'unsupported', note: HEADERS },
  'content-type-nosniff': { policy: 'headers', status: 'unsupported', note: HEADERS },
  'browser-xss-filter': { policy: 'headers', status: 'unsupported', note: HEADERS },
  'custom-browser-xss-value': { policy: 'headers', status: 'unsupported', note: HEADERS },
  'content-security-policy': { policy: 'headers', status: 'unsupported', note: `${HEADERS} (a value without ";")` },
  'public-key': { policy: 'headers', status: 'unsupported', note: 'HTTP public key pinning is obsolete' },
  'referrer-policy': { policy: 'headers', status: 'unsupported', note: HEADERS },
  'is-development': { status: 'unsupported', note: 'there is no development mode' },

  // Backends
  'service-weights': {
    ref: 'serviceWeights', policy: 'canary', status: 'applied', example: 'web-v2: 10%',
    note: 'YAML lines "service: percent" (0 to 100, up to 3 decimals, % optional); two Services on the same path split its requests by their weights (Services not listed share what is left); more than two per path are not supported',
  },
  priority: {
    policy: 'priority', status: 'applied', example: '10', compat: 'traefik.frontend.priority',
    note: 'a higher priority is matched first among the routes of a host: a route whose every request a higher one takes is left out (a warning), Regex routes are tried by priority; a Prefix cannot be put before a Regex route (reported)',
  },
  protocol: {
    policy: 'upstream', status: 'applied', example: 'https',
    note: 'http, https (TLS to the pod, its certificate not verified) or h2c (HTTP/2 without TLS, the grpc protocol of the policy)',
  },
  'preserve-host': { status: 'unsupported', compat: 'traefik.frontend.passHostHeader', note: 'the backend receives the request Host (use ingress-nginx\'s upstream-vhost to change it)' },
  'frontend-entry-points': { status: 'unsupported', compat: 'traefik.frontend.entryPoints', note: 'an Ingress is served on every entry point of defaultEntryPoints' },
  'pass-tls-cert': { status: 'unsupported', compat: 'traefik.frontend.passTLSCert', note: 'client certificates are not requested' },
  'pass-client-tls-cert': { status: 'unsupported', note: 'client certificates are not requested' },
  'error-pages': { status: 'unsupported', note: 'error answers of the backend are passed as they are' },
  'rate-limit': { policy: 'limits', status: 'unsupported', note: 'use ingress-nginx\'s limit-rps and limit-connections' },
  affinity: { policy: 'upstream', status: 'unsupported', note: `${SERVICE}; use ingress-nginx's affinity: cookie on the Ingress` },
  'session-cookie-name': { policy: 'upstream', status: 'unsupported', note: `${SERVICE}; use ingress-nginx's session-cookie-name` },
  'load-balancer-method': { policy: 'upstream', status: 'unsupported', note: `${SERVICE}; use ingress-nginx's load-balance` },
  'circuit-breaker-expression': { status: 'unsupported', note: SERVICE },
  'max-conn-amount': { status: 'unsupported', note: SERVICE },
  'max-conn-extractor-func': { status: 'unsupported', note: SERVICE },
  buffering: { status: 'unsupported', note: SERVICE },
  'responseforwarding-flushinterval': { status: 'unsupported', note: SERVICE },
} satisfies Record<string, CatalogueEntry>;

/** A Traefik 1 annotation name Passerelle knows (after either prefix). */
export type TraefikName = keyof typeof table;

/** The Traefik 1 table, in the order of docs/annotations.md. */
export const TRAEFIK_CATALOGUE: Catalogue<TraefikName> = table;

/** The note of any other name under a Traefik 1 prefix. */
export const TRAEFIK_UNKNOWN_NOTE = 'not a Traefik 1 annotation Passerelle implements; it is ignored';
