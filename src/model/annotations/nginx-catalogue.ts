/*
 * The ingress-nginx annotations Passerelle knows (`nginx.ingress.kubernetes.io/` + name), as data:
 * nginx.ts reads them, docs/annotations.md lists them. Semantics from ingress-nginx's
 * internal/ingress/annotations/ and docs/user-guide/nginx-configuration/annotations.md.
 */

import type { Catalogue, CatalogueEntry } from './reader.ts';

/** The prefix of the ingress-nginx dialect. */
export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';

const CONFIGMAP = 'a ConfigMap key in ingress-nginx (on for every TLS server by default), read here per Ingress';

const table = {
  // Redirects
  'ssl-redirect': {
    policy: 'sslRedirect', status: 'applied', example: 'false',
    note: 'with spec.tls ("true" by default), plain HTTP to the routes redirects to https with 308 (ingress-nginx\'s http-redirect-code); "false" turns it off',
  },
  'force-ssl-redirect': {
    policy: 'sslRedirect', status: 'applied', example: 'true',
    note: '"true": the redirect to https (308) even without spec.tls (TLS ended in front of Passerelle)',
  },
  'permanent-redirect': {
    policy: 'redirect', status: 'applied', example: 'https://example.com/new',
    note: 'every request of the routes gets a redirect (301, or permanent-redirect-code) to this absolute http(s) URL; the request path is not appended',
  },
  'permanent-redirect-code': {
    policy: 'redirect', status: 'applied', example: '308',
    note: 'the status of permanent-redirect: 301 (default), 302, 303, 307 or 308 (ingress-nginx silently uses 301 for another number: here it is an error)',
  },
  'temporal-redirect': {
    policy: 'redirect', status: 'applied', example: 'https://example.com/maintenance',
    note: 'as permanent-redirect with 302 (or temporal-redirect-code); it takes precedence over permanent-redirect',
  },
  'temporal-redirect-code': {
    policy: 'redirect', status: 'applied', example: '307',
    note: 'the status of temporal-redirect: 302 (default), 301, 303 or 307 (ingress-nginx silently uses 302 for another number: here it is an error)',
  },
  'app-root': { policy: 'appRoot', status: 'applied', example: '/app', note: 'a request for / redirects (302) to this path' },
  'from-to-www-redirect': {
    policy: 'wwwRedirect', status: 'applied', example: 'true',
    note: 'www.host redirects to host, or the reverse (from the host the Ingress names), with 308 (ingress-nginx\'s http-redirect-code)',
  },
  'preserve-trailing-slash': { status: 'unsupported', note: 'the https redirect keeps the request target as it is' },
  'relative-redirects': { status: 'unsupported', note: 'redirects from the backend are passed as they are' },

  // Rewrite
  'rewrite-target': {
    policy: 'rewrite', ref: 'regexPaths', status: 'different', example: '/',
    note: 'without $1..$9 the whole path becomes the target (ingress-nginx\'s rewrite "(?i)<path>" <target>); with them each path of the Ingress is a case-insensitive regex whose groups are substituted (refs.regexPaths); the regex paths are this Ingress\'s only, where ingress-nginx makes every path of the host a regex',
  },
  'use-regex': {
    ref: 'regexPaths', status: 'applied', example: 'true',
    note: '"true": the paths of the Ingress are regular expressions matched case-insensitively from the start of the path (ingress-nginx\'s location ~*), in the three modes',
  },
  'x-forwarded-prefix': { status: 'unsupported', note: 'no X-Forwarded-Prefix header is added' },

  // Access
  'allowlist-source-range': {
    policy: 'allowSourceRange', status: 'applied', example: '10.0.0.0/8, 192.168.1.7',
    note: 'comma-separated IPv4 and IPv6 addresses and CIDR ranges allowed; other clients get 403',
  },
  'whitelist-source-range': {
    policy: 'allowSourceRange', status: 'applied', example: '10.0.0.0/8',
    note: 'the former name of allowlist-source-range, which takes precedence when both are set',
  },
  'denylist-source-range': { policy: 'allowSourceRange', status: 'unsupported', note: 'there is no deny-list policy: list the allowed clients with allowlist-source-range' },
  'auth-type': {
    policy: 'basicAuth', status: 'applied', example: 'basic',
    note: '"basic" with auth-secret: basic authentication; "digest" is not supported',
  },
  'auth-secret': {
    policy: 'basicAuth', ref: 'authSecret', status: 'applied', example: 'basic-auth',
    note: 'the Secret (name, or namespace/name) holding the users; another namespace is read (ingress-nginx only allows it with allow-cross-namespace-resources)',
  },
  'auth-secret-type': {
    policy: 'basicAuth', status: 'applied', example: 'auth-map',
    note: 'auth-file (default: htpasswd lines under the key auth) or auth-map (one key per user, its value the hash)',
  },
  'auth-realm': {
    policy: 'basicAuth', status: 'different', example: 'Staff only',
    note: 'the realm browsers show: printable ASCII without " \\ $ { } ; (free text in ingress-nginx); "Authentication Required" when absent, where ingress-nginx sends an empty realm',
  },
  'auth-url': {
    policy: 'externalAuth', status: 'applied', example: 'https://auth.example.com/check',
    note: 'each request is first sent to this absolute http(s) URL and a 2xx answer lets it through; nginx variables such as $host are refused',
  },
  'auth-response-headers': {
    policy: 'externalAuth', status: 'applied', example: 'X-User, X-Email',
    note: 'comma-separated headers of the auth-url answer copied into the request to the backend',
  },
  'auth-signin': {
    policy: 'externalAuth', status: 'applied', example: 'https://auth.example.com/start',
    note: 'where a 401 of auth-url sends the browser, with rd= the original URL (an rd= parameter made of nginx variables is dropped: Passerelle adds its own)',
  },
  'auth-method': { policy: 'externalAuth', status: 'unsupported', note: 'the auth request uses the method of the original request' },
  'auth-signin-redirect-param': { policy: 'externalAuth', status: 'unsupported', note: 'the parameter is always rd' },
  'auth-snippet': { policy: 'externalAuth', status: 'refused', note: 'free nginx text is never rendered: use auth-url, auth-response-headers and auth-signin' },
  'auth-cache-key': { policy: 'externalAuth', status: 'unsupported', note: 'auth answers are not cached' },
  'auth-cache-duration': { policy: 'externalAuth', status: 'unsupported', note: 'auth answers are not cached' },
  'auth-keepalive': { policy: 'externalAuth', status: 'unsupported', note: 'connection reuse to auth-url is not tunable' },
  'auth-keepalive-share-vars': { policy: 'externalAuth', status: 'unsupported', note: 'connection reuse to auth-url is not tunable' },
  'auth-keepalive-requests': { policy: 'externalAuth', status: 'unsupported', note: 'connection reuse to auth-url is not tunable' },
  'auth-keepalive-timeout': { policy: 'externalAuth', status: 'unsupported', note: 'connection reuse to auth-url is not tunable' },
  'auth-proxy-set-headers': { policy: 'externalAuth', status: 'unsupported', note: 'headers to the auth service from a ConfigMap are not sent (only those of the original request and X-Original-*)' },
  'auth-request-redirect': { policy: 'externalAuth', status: 'unsupported', note: 'X-Auth-Request-Redirect is always the request URI' },
  'auth-always-set-cookie': { policy: 'externalAuth', status: 'unsupported', note: 'cookies of the auth answer are not passed on' },
  'enable-global-auth': { policy: 'externalAuth', status: 'unsupported', note: 'there is no global external authentication' },
  'auth-tls-secret': { status: 'unsupported', note: 'client certificate authentication is not supported' },
  'auth-tls-verify-client': { status: 'unsupported', note: 'client certificate authentication is not supported' },
  'auth-tls-verify-depth': { status: 'unsupported', note: 'client certificate authentication is not supported' },
  'auth-tls-error-page': { status: 'unsupported', note: 'client certificate authentication is not supported' },
  'auth-tls-pass-certificate-to-upstream': { status: 'unsupported', note: 'client certificate authentication is not supported' },
  'auth-tls-match-cn': { status: 'unsupported', note: 'client certificate authentication is not supported' },
  satisfy: { status: 'unsupported', note: 'every access policy set must pass' },

  // Limits and timeouts
  'proxy-body-size': {
    policy: 'limits', status: 'applied', example: '8m',
    note: 'the largest request body, else 413: bytes, or a number followed by k, m or g; 0 means no limit (without it the entry point\'s default applies, where ingress-nginx uses 1m)',
  },
  'limit-rps': {
    policy: 'limits', status: 'different', example: '10',
    note: 'requests per second per client address, burst 5x; counted per Passerelle replica (as ingress-nginx counts per controller replica), so N replicas let a client make N times as many; 0: no limit',
  },
  'limit-connections': {
    policy: 'limits', status: 'different', example: '20',
    note: 'concurrent connections per client address, counted per Passerelle replica as in ingress-nginx; 0: no limit',
  },
  'limit-rpm': { policy: 'limits', status: 'unsupported', note: 'use limit-rps' },
  'limit-burst-multiplier': { policy: 'limits', status: 'unsupported', note: 'the burst is 5 times limit-rps' },
  'limit-rate': { policy: 'limits', status: 'unsupported', note: 'response bandwidth is not limited' },
  'limit-rate-after': { policy: 'limits', status: 'unsupported', note: 'response bandwidth is not limited' },
  'limit-whitelist': { policy: 'limits', status: 'unsupported', note: 'no client is exempt from limit-rps and limit-connections' },
  'limit-allowlist': { policy: 'limits', status: 'unsupported', note: 'no client is exempt from limit-rps and limit-connections' },
  'proxy-connect-timeout': { policy: 'timeouts', status: 'applied', example: '5', note: 'seconds to connect to the backend' },
  'proxy-send-timeout': { policy: 'timeouts', status: 'applied', example: '60', note: 'seconds between two writes to the backend' },
  'proxy-read-timeout': { policy: 'timeouts', status: 'applied', example: '3600', note: 'seconds between two reads from the backend' },
  'proxy-next-upstream': { policy: 'upstream', status: 'unsupported', note: 'a request is retried on connection failures only' },
  'proxy-next-upstream-timeout': { policy: 'upstream', status: 'unsupported', note: 'retries are bounded by proxy-next-upstream-tries only' },
  'proxy-request-buffering': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'proxy-buffering': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'proxy-buffers-number': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'proxy-buffer-size': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'proxy-busy-buffers-size': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'proxy-max-temp-file-size': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'client-body-buffer-size': { status: 'unsupported', note: 'buffering is not tunable per Ingress' },
  'proxy-http-version': { status: 'unsupported', note: 'the HTTP version to the backend follows backend-protocol' },
  'proxy-cookie-domain': { status: 'unsupported', note: 'cookies of the backend are passed as they are' },
  'proxy-cookie-path': { status: 'unsupported', note: 'cookies of the backend are passed as they are' },
  'proxy-redirect-from': { status: 'unsupported', note: 'Location headers of the backend are passed as they are' },
  'proxy-redirect-to': { status: 'unsupported', note: 'Location headers of the backend are passed as they are' },

  // Upstream
  'backend-protocol': {
    policy: 'upstream', status: 'applied', example: 'HTTPS',
    note: 'HTTP, HTTPS (TLS to the pod, its certificate not verified, as ingress-nginx), GRPC (h2c) or GRPCS, in any case; gRPC clients use the TLS entry point (HTTP/2 by ALPN); AUTO_HTTP and FCGI are not supported',
  },
  'upstream-vhost': { policy: 'upstream', status: 'applied', example: 'internal.example.com', note: 'the Host header the backend receives (host or host:port)' },
  'load-balance': {
    policy: 'upstream', status: 'applied', example: 'ewma',
    note: 'round_robin or ewma (least_conn, which ingress-nginx no longer accepts, is read too); ewma picks by latency times requests in flight in native and haproxy modes and is least_conn in nginx mode; chash, chashsubset and the sticky_* values are not supported',
  },
  'proxy-next-upstream-tries': {
    policy: 'upstream', status: 'applied', example: '3',
    note: 'attempts in all, 1 to 100 (1: no retry); ingress-nginx\'s 0 (no limit) is not supported',
  },
  affinity: { policy: 'upstream', status: 'applied', example: 'cookie', note: '"cookie": sticky sessions by a cookie' },
  'affinity-mode': { policy: 'upstream', status: 'applied', example: 'balanced', note: 'balanced (the default) only; persistent is not supported' },
  'affinity-canary-behavior': { policy: 'upstream', status: 'unsupported', note: 'canaries and affinity are not combined' },
  'session-cookie-name': { policy: 'upstream', status: 'applied', example: 'route', note: 'the name of the affinity cookie (default INGRESSCOOKIE)' },
  'session-cookie-max-age': { policy: 'upstream', status: 'applied', example: '3600', note: 'Max-Age of the affinity cookie, in seconds' },
  'session-cookie-samesite': { policy: 'upstream', status: 'applied', example: 'Lax', note: 'SameSite of the affinity cookie: None, Lax or Strict, in any case' },
  'session-cookie-path': { policy: 'upstream', status: 'unsupported', note: 'the affinity cookie has the path /' },
  'session-cookie-domain': { policy: 'upstream', status: 'unsupported', note: 'the affinity cookie has no Domain attribute' },
  'session-cookie-expires': { policy: 'upstream', status: 'unsupported', note: 'use session-cookie-max-age' },
  'session-cookie-secure': { policy: 'upstream', status: 'unsupported', note: 'the Secure attribute is not configurable' },
  'session-cookie-change-on-failure': { policy: 'upstream', status: 'unsupported', note: 'not configurable' },
  'session-cookie-conditional-samesite-none': { policy: 'upstream', status: 'unsupported', note: 'SameSite=None is sent to every browser' },
  'upstream-hash-by': { policy: 'upstream', status: 'unsupported', note: 'consistent hashing is not supported: use affinity' },
  'upstream-hash-by-subset': { policy: 'upstream', status: 'unsupported', note: 'consistent hashing is not supported: use affinity' },
  'upstream-hash-by-subset-size': { policy: 'upstream', status: 'unsupported', note: 'consistent hashing is not supported: use affinity' },
  'service-upstream': { status: 'unsupported', note: 'the backends are always the endpoints of the Service' },
  'proxy-ssl-secret': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not verified and uses no client certificate' },
  'proxy-ssl-verify': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not verified' },
  'proxy-ssl-verify-depth': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not verified' },
  'proxy-ssl-ciphers': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not tunable' },
  'proxy-ssl-protocols': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not tunable' },
  'proxy-ssl-name': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not tunable' },
  'proxy-ssl-server-name': { policy: 'upstream', status: 'unsupported', note: 'TLS to the pods is not tunable' },

  // CORS
  'enable-cors': {
    policy: 'cors', status: 'applied', example: 'true',
    note: '"true": CORS answers (preflight and headers) from the cors-* annotations, or ingress-nginx\'s defaults',
  },
  'cors-allow-origin': {
    policy: 'cors', status: 'applied', example: 'https://app.example.com, https://admin.example.com',
    note: '"*" (default) or comma-separated scheme://host[:port] origins; wildcard subdomains and "null" are not accepted',
  },
  'cors-allow-methods': {
    policy: 'cors', status: 'applied', example: 'GET, POST',
    note: 'comma-separated upper-case methods (default GET, PUT, POST, DELETE, PATCH, OPTIONS)',
  },
  'cors-allow-headers': {
    policy: 'cors', status: 'applied', example: 'Authorization, Content-Type',
    note: 'comma-separated header names (default DNT, Keep-Alive, User-Agent, X-Requested-With, If-Modified-Since, Cache-Control, Content-Type, Range, Authorization)',
  },
  'cors-allow-credentials': { policy: 'cors', status: 'applied', example: 'false', note: 'Access-Control-Allow-Credentials (default true)' },
  'cors-max-age': { policy: 'cors', status: 'applied', example: '600', note: 'seconds a preflight answer may be cached (default 1728000)' },
  'cors-expose-headers': { policy: 'cors', status: 'unsupported', note: 'no Access-Control-Expose-Headers is sent' },

  // HSTS (ConfigMap keys in ingress-nginx)
  hsts: {
    policy: 'hsts', status: 'different', example: 'true',
    note: `Strict-Transport-Security on https answers: set when "true" or when another hsts-* annotation is given, off when "false"; ${CONFIGMAP}`,
  },
  'hsts-max-age': { policy: 'hsts', status: 'different', example: '63072000', note: `max-age in seconds (default 31536000); ${CONFIGMAP}` },
  'hsts-include-subdomains': { policy: 'hsts', status: 'different', example: 'false', note: `includeSubDomains (default true); ${CONFIGMAP}` },
  'hsts-preload': { policy: 'hsts', status: 'different', example: 'true', note: `preload (default false); ${CONFIGMAP}` },

  // Headers
  'custom-headers': {
    ref: 'customHeaders', policy: 'headers', status: 'applied', example: 'shop/security-headers',
    note: 'a ConfigMap (name, or namespace/name) whose keys are header names and values their values, set on every answer of the routes; no global-allowed-response-headers list is needed (each name and value passes the header grammar)',
  },

  // Canary
  canary: {
    ref: 'canary', status: 'applied', example: 'true',
    note: '"true": the backends of this Ingress are canaries for the same host and path of another Ingress; its other annotations are ignored but load-balance and the affinity ones (as ingress-nginx)',
  },
  'canary-by-header': { ref: 'canary', status: 'applied', example: 'X-Canary', note: 'this request header set to always sends to the canary, never to the main backend' },
  'canary-by-header-value': { ref: 'canary', status: 'applied', example: 'beta', note: 'with canary-by-header: this value of the header sends to the canary' },
  'canary-by-header-pattern': { ref: 'canary', status: 'unsupported', note: 'regex header matching: use canary-by-header-value' },
  'canary-by-cookie': { ref: 'canary', status: 'applied', example: 'canary', note: 'this cookie set to always sends to the canary, never to the main backend' },
  'canary-weight': { ref: 'canary', status: 'applied', example: '10', note: 'percent (0-100) of the other requests sent to the canary' },
  'canary-weight-total': { ref: 'canary', status: 'applied', example: '100', note: 'only 100, the default, is supported' },

  // Free proxy configuration text: never rendered
  'configuration-snippet': {
    status: 'refused',
    note: 'free nginx text is never rendered: use the typed annotations (headers: Traefik 1 custom-request-headers / custom-response-headers; redirects: permanent-redirect, temporal-redirect; rewrite-target; limit-rps)',
  },
  'server-snippet': {
    status: 'refused',
    note: 'free nginx text is never rendered: use the typed annotations (from-to-www-redirect, permanent-redirect, ssl-redirect, hsts)',
  },
  'stream-snippet': { status: 'refused', note: 'free nginx text is never rendered; TCP and UDP streams are outside an Ingress' },
  'modsecurity-snippet': { status: 'refused', note: 'free ModSecurity text is never rendered; Passerelle has no web application firewall' },

  // Other ingress-nginx features
  'ssl-passthrough': { status: 'unsupported', note: 'TLS is always ended by the proxy' },
  'ssl-ciphers': { status: 'unsupported', note: 'TLS settings are per entry point' },
  'ssl-prefer-server-ciphers': { status: 'unsupported', note: 'TLS settings are per entry point' },
  'server-alias': { status: 'unsupported', note: 'list every host in spec.rules' },
  'default-backend': { status: 'unsupported', note: 'use spec.defaultBackend' },
  'custom-http-errors': { status: 'unsupported', note: 'error answers of the backend are passed as they are' },
  'mirror-target': { status: 'unsupported', note: 'requests are not mirrored' },
  'mirror-host': { status: 'unsupported', note: 'requests are not mirrored' },
  'mirror-request-body': { status: 'unsupported', note: 'requests are not mirrored' },
  'enable-access-log': { status: 'unsupported', note: 'the access log is set by [accessLog]' },
  'enable-rewrite-log': { status: 'unsupported', note: 'no rewrite log' },
  'enable-opentelemetry': { status: 'unsupported', note: 'no tracing' },
  'opentelemetry-trust-incoming-span': { status: 'unsupported', note: 'no tracing' },
  'connection-proxy-header': { status: 'unsupported', note: 'the Connection header to the backend is not configurable' },
  'http2-push-preload': { status: 'unsupported', note: 'HTTP/2 push is not supported' },
  'enable-modsecurity': { status: 'unsupported', note: 'Passerelle has no web application firewall' },
  'enable-owasp-core-rules': { status: 'unsupported', note: 'Passerelle has no web application firewall' },
  'modsecurity-transaction-id': { status: 'unsupported', note: 'Passerelle has no web application firewall' },
} satisfies Record<string, CatalogueEntry>;

/** An ingress-nginx annotation name Passerelle knows (after the prefix). */
export type NginxName = keyof typeof table;

/** The ingress-nginx table, in the order of docs/annotations.md. */
export const NGINX_CATALOGUE: Catalogue<NginxName> = table;

/** The note of any other `*-snippet`. */
export const NGINX_SNIPPET_NOTE = 'free nginx text is never rendered: use the typed annotations of docs/annotations.md';

/** The note of any other name under the prefix. */
export const NGINX_UNKNOWN_NOTE = 'not an annotation Passerelle implements; it is ignored';
