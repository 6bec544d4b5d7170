/*
 * A routing model with a route per policy (src/model/policy.ts), shared by the HAProxy golden render
 * (test/unit/render-policies-haproxy.test.ts) and the haproxy -c check of it (policies.test.ts). Pure.
 */
import type { RoutePolicy } from '../../../src/model/policy.ts';
import type { Backend, EntryPoint, PathType, Route, RoutingModel, VirtualHost } from '../../../src/model/types.ts';

const SRC = { kind: 'Ingress', namespace: 'default', name: 'policies' };

/** bcrypt, $apr1$ and {SHA} hashes of "wonderland" (fixed: the golden file must not change), and a name a userlist cannot hold. */
export const USERS = [
  { user: 'alice', hash: '$2b$04$1AOuAMR1q.E31nm9lh10Hu9BBgNq3KB.xnBuUk1oKjcRGieY5uOL6' },
  { user: 'bob', hash: '$apr1$QfyqMM/2$iHzOXTTnD/qTplLtYTfil0' },
  { user: 'carol', hash: '{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=' },
  { user: 'bad name', hash: '{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=' },
] as const;

/** A route of the `default/policies` Ingress to `backend`. */
export function policyRoute(p: string, pathType: PathType, policy?: RoutePolicy, backend = 'default/site:80'): Route {
  return { path: p, pathType, backend, source: SRC, field: `spec.rules[0].http.paths[${p}]`, ...(policy === undefined ? {} : { policy }) };
}

function backend(name: string, endpoints: Backend['endpoints']): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints, protocol: 'http' };
}

const ROUTES: readonly Route[] = [
  policyRoute('/replace', 'Prefix', { rewrite: { kind: 'replace-path', path: '/fixed' } }),
  policyRoute('/private', 'Prefix', { basicAuth: { realm: 'Private "area" $1', users: USERS, secret: 'default/auth' } }),
  policyRoute('/headers', 'Prefix', {
    headers: { request: { 'X-Tenant': 'blue 100%', 'X-Forwarded-Proto': 'https' }, response: { 'X-Frame-Options': 'DENY', Link: '</a.css>; rel="preload"' } },
    upstream: { vhost: 'internal.svc' },
    hsts: { maxAgeSeconds: 31536000, includeSubdomains: true, preload: true },
  }),
  policyRoute('/office', 'Prefix', { allowSourceRange: ['10.0.0.0/8', '::1', 'not-a-range'] }),
  policyRoute('/office2', 'Prefix', { allowSourceRange: ['10.0.0.0/8', '::1', 'not-a-range'] }),
  policyRoute('/nobody', 'Prefix', { allowSourceRange: ['not-a-range'] }),
  policyRoute('/denied', 'Prefix', { denied: 'the basic-auth Secret default/missing is not usable' }),
  policyRoute('/secure', 'Prefix', { sslRedirect: { status: 308 }, hsts: { maxAgeSeconds: 600, includeSubdomains: false, preload: false } }),
  policyRoute('/upload', 'Prefix', { limits: { maxBodyBytes: 1024 }, upstream: { tries: 1 } }),
  policyRoute('/unlimited', 'Prefix', { limits: { maxBodyBytes: 0 } }),
  policyRoute('/moved', 'Prefix', { redirect: { url: 'https://elsewhere.test/new?a=$x%20y', status: 301 }, sslRedirect: { status: 308 } }),
  policyRoute('/strip', 'Prefix', { rewrite: { kind: 'strip-prefix' } }),
  policyRoute('/regex', 'Prefix', { rewrite: { kind: 'regex', pattern: '^/regex/(.*)', target: '/$1' } }),
  policyRoute('/bad-header', 'Prefix', { headers: { request: { 'Transfer-Encoding': 'chunked' } } }),
  policyRoute('/external', 'Prefix', { externalAuth: { url: 'https://auth.test/', responseHeaders: [] } }),
  policyRoute('/external-signin', 'Prefix', { externalAuth: { url: 'http://10.0.0.9:4180/oauth2/auth', responseHeaders: ['X-Auth-Request-User', 'X-Auth-Request-Email'], signin: 'https://login.test/oauth2/start?x=1' }, sslRedirect: { status: 308 } }),
  policyRoute('/external-bad', 'Prefix', { externalAuth: { url: "https://auth.test/'x", responseHeaders: [] } }),
  policyRoute('/cors-any', 'Prefix', { cors: { allowOrigins: ['*'], allowMethods: ['GET', 'PUT'], allowHeaders: ['X-Custom'], allowCredentials: false, maxAgeSeconds: 600 } }),
  policyRoute('/cors-app', 'Prefix', {
    cors: { allowOrigins: ['https://app.test', 'https://bad origin'], allowMethods: ['GET'], allowHeaders: [], allowCredentials: true, maxAgeSeconds: 60 },
    limits: { rps: 2, connections: 3 },
    allowSourceRange: ['10.0.0.0/8'],
  }),
  policyRoute('/slow', 'Prefix', { limits: { rps: 0.5 } }),
  policyRoute('/impatient', 'Prefix', { timeouts: { read: 500 } }),
  policyRoute('/canary', 'Prefix', { canary: { backend: 'default/down:80', header: 'X-Canary', cookie: 'canary', weight: 10 } }),
  policyRoute('/canary-value', 'Prefix', { canary: { backend: 'default/down:80', header: 'X-Canary', headerValue: "blue 'v2'" } }),
  policyRoute('/canary-odd', 'Prefix', { canary: { backend: 'default/down:80', cookie: 'odd~name', weight: 50 } }),
  // Upstream settings HAProxy sets per backend: variant backends of default/site:80.
  policyRoute('/tls', 'Prefix', { upstream: { protocol: 'https', vhost: 'internal.svc' } }),
  policyRoute('/tls-host', 'Prefix', { upstream: { protocol: 'https' } }),
  policyRoute('/grpc', 'Prefix', { upstream: { protocol: 'grpc' } }),
  policyRoute('/grpcs', 'Prefix', { upstream: { protocol: 'grpcs', loadBalance: 'ewma' } }),
  policyRoute('/least', 'Prefix', { upstream: { loadBalance: 'least_conn' } }),
  policyRoute('/least2', 'Prefix', { upstream: { loadBalance: 'least_conn' }, headers: { request: { 'X-Two': '2' } } }),
  policyRoute('/sticky', 'Prefix', { upstream: { affinity: { cookie: 'route.id', maxAgeSeconds: 60, sameSite: 'None' } } }),
  policyRoute('/retry', 'Prefix', { upstream: { tries: 3 }, timeouts: { connect: 2000 } }),
  policyRoute('/canary-tls', 'Prefix', { upstream: { protocol: 'https' }, canary: { backend: 'default/down:80', weight: 50 } }),
  // use-regex routes: after Exact, before Prefix, in order; one with a regex rewrite.
  policyRoute('/re/(v[0-9]+)/(.*)', 'Regex', { rewrite: { kind: 'regex', pattern: '/re/(v[0-9]+)/(.*)', target: '/$2/%40$1' } }),
  policyRoute('/re/[a-z]+\\.(png|jpe?g)$', 'Regex'),
  policyRoute('/api', 'Exact', { rewrite: { kind: 'prefix', target: '/v1' } }),
  policyRoute('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }),
  policyRoute('/', 'Prefix'),
];

/** The model: a plain, a TLS and a trusting entry point with its own basic auth ($apr1$, Authorization removed). */
export function policyModel(): RoutingModel {
  const entryPoints: EntryPoint[] = [
    { name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] },
    { name: 'websecure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares: [] },
    {
      name: 'internal',
      address: { host: '127.0.0.1', port: 9000 },
      tls: false,
      trustedIPs: ['127.0.0.0/8'],
      middlewares: [{ kind: 'basicAuth', realm: 'internal', users: [USERS[1]], removeHeader: true }],
    },
  ];
  const virtualHosts: VirtualHost[] = [
    { host: 'policy.test', kind: 'exact', sources: [SRC], routes: ROUTES },
    { host: 'root.test', kind: 'exact', sources: [SRC], routes: [policyRoute('/', 'Prefix', { appRoot: '/app/', rewrite: { kind: 'prefix', target: '/v3' } })] },
    // from-to-www-redirect: the route translate adds for the other name.
    { host: 'www.policy.test', kind: 'exact', sources: [SRC], routes: [policyRoute('/', 'Prefix', { wwwRedirect: { host: 'policy.test', status: 308 } })] },
  ];
  return {
    entryPoints,
    virtualHosts,
    backends: { 'default/down:80': backend('down', []), 'default/site:80': backend('site', [{ address: '10.0.0.1', port: 8080, weight: 1 }]) },
    certificates: [],
    diagnostics: [],
  };
}
