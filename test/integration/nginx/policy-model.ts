/*
 * The route policy model of the nginx golden (test/unit/render-policies-nginx.test.ts), also checked
 * with `nginx -t` and served by a real nginx (policies-upstream.test.ts).
 */
import type { RoutePolicy } from '../../../src/model/policy.ts';
import type { Backend, EntryPoint, Route, RoutingModel, VirtualHost } from '../../../src/model/types.ts';

export const SRC = { kind: 'Ingress', namespace: 'default', name: 'policies' };
// bcrypt, $apr1$ and {SHA} hashes of "wonderland" (fixed: the golden file must not change).
export const USERS = [
  { user: 'alice', hash: '$2b$04$1AOuAMR1q.E31nm9lh10Hu9BBgNq3KB.xnBuUk1oKjcRGieY5uOL6' },
  { user: 'bob', hash: '$apr1$QfyqMM/2$iHzOXTTnD/qTplLtYTfil0' },
  { user: 'bad:name', hash: '{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=' },
];

export function route(p: string, pathType: 'Exact' | 'Prefix', policy?: RoutePolicy, backend = 'default/site:80'): Route {
  return { path: p, pathType, backend, source: SRC, field: `spec.rules[0].http.paths[${p}]`, ...(policy === undefined ? {} : { policy }) };
}

export function backend(name: string, endpoints: Backend['endpoints']): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints, protocol: 'http' };
}

export const ROUTES: readonly Route[] = [
  route('/replace', 'Prefix', { rewrite: { kind: 'replace-path', path: '/fixed' } }),
  route('/private', 'Prefix', { basicAuth: { realm: 'Private "area" $1', users: USERS, secret: 'default/auth' } }),
  route('/headers', 'Prefix', {
    headers: { request: { 'X-Tenant': 'blue', 'X-Forwarded-Proto': 'https' }, response: { 'X-Frame-Options': 'DENY', Link: '</a.css>; rel="preload"' } },
    upstream: { vhost: 'internal.svc' },
    hsts: { maxAgeSeconds: 31536000, includeSubdomains: true, preload: true },
  }),
  route('/office', 'Prefix', { allowSourceRange: ['10.0.0.0/8', '::1', 'not-a-range'] }),
  route('/denied', 'Prefix', { denied: 'the basic-auth Secret default/missing is not usable' }),
  route('/secure', 'Prefix', { sslRedirect: { status: 308 }, hsts: { maxAgeSeconds: 600, includeSubdomains: false, preload: false } }),
  route('/upload', 'Prefix', { limits: { maxBodyBytes: 1024 }, upstream: { tries: 1 } }),
  route('/moved', 'Prefix', { redirect: { url: 'https://elsewhere.test/new?a=$x', status: 301 } }),
  route('/strip', 'Prefix', { rewrite: { kind: 'strip-prefix' } }),
  route('/regex', 'Prefix', { rewrite: { kind: 'regex', pattern: '^/regex/(.*)', target: '/$1' } }),
  route('/down', 'Prefix', { basicAuth: { realm: 'Down', users: USERS, secret: 'default/auth' } }, 'default/down:80'),
  route('/cors-any', 'Prefix', { cors: { allowOrigins: ['*'], allowMethods: ['GET', 'PUT'], allowHeaders: ['X-Custom'], allowCredentials: false, maxAgeSeconds: 600 } }),
  route('/cors-app', 'Prefix', {
    cors: { allowOrigins: ['https://app.test', 'https://bad origin'], allowMethods: ['GET'], allowHeaders: [], allowCredentials: true, maxAgeSeconds: 60 },
    limits: { rps: 2, connections: 3 },
    allowSourceRange: ['10.0.0.0/8'],
  }),
  route('/slow', 'Prefix', { limits: { rps: 0.5 } }),
  route('/api', 'Exact', { rewrite: { kind: 'prefix', target: '/v1' } }),
  route('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }),
  // Canaries: header, cookie and weight; a header value and a rewrite; a canary without endpoints; a header nginx cannot read.
  route('/release', 'Prefix', { canary: { backend: 'default/next:80', header: 'X-Canary', cookie: 'beta.user', weight: 25 } }),
  route('/beta', 'Exact', { canary: { backend: 'default/next:80', header: 'X-Beta', headerValue: 'yes "please" $1' }, rewrite: { kind: 'prefix', target: '/b' } }),
  route('/shadow', 'Prefix', { canary: { backend: 'default/down:80', weight: 50 }, rewrite: { kind: 'strip-prefix' } }),
  route('/all-in', 'Prefix', { canary: { backend: 'default/next:80', weight: 100 } }),
  route('/odd', 'Prefix', { canary: { backend: 'default/next:80', header: 'X_Canary' } }),
  // Upstream-level policies (variant upstreams), external auth and gRPC.
  route('/least', 'Prefix', { upstream: { loadBalance: 'least_conn', tries: 2 } }, 'default/pool:80'),
  route('/ewma', 'Prefix', { upstream: { loadBalance: 'ewma' } }, 'default/pool:80'),
  route('/sticky', 'Prefix', { upstream: { affinity: { cookie: 'route', maxAgeSeconds: 60, sameSite: 'None' }, loadBalance: 'least_conn' }, rewrite: { kind: 'strip-prefix' } }, 'default/pool:80'),
  route('/sso', 'Prefix', { externalAuth: { url: 'http://10.0.0.9:9000/verify?a=1&b=2', responseHeaders: ['X-User', 'X-Email'], signin: 'https://login.test/start?x="$1"' } }),
  route('/sso-plain', 'Exact', { externalAuth: { url: 'https://auth.test/verify', responseHeaders: [] }, headers: { request: { 'X-User': 'forged-by-route' } } }),
  route('/sso-bad', 'Prefix', { externalAuth: { url: 'http://user:pw@auth.test/', responseHeaders: [] } }),
  route('/sso-dollar', 'Prefix', { externalAuth: { url: 'http://10.0.0.9/?a=$x', responseHeaders: [] } }),
  route('/sso-header', 'Prefix', { externalAuth: { url: 'http://10.0.0.9:9000/', responseHeaders: ['X_User'] } }),
  route('/grpc', 'Prefix', { upstream: { protocol: 'grpc', tries: 3 }, timeouts: { read: 5000 }, headers: { request: { 'X-Tenant': 'blue' }, response: { 'X-Frame-Options': 'DENY' } } }),
  route('/grpcs', 'Prefix', { upstream: { protocol: 'grpcs', vhost: 'pod.internal' }, rewrite: { kind: 'prefix', target: '/pkg.Svc' } }),
  route('/', 'Prefix'),
];

export function policyModel(): RoutingModel {
  const entryPoints: EntryPoint[] = [
    { name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] },
    { name: 'websecure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares: [] },
    {
      name: 'internal',
      address: { host: '127.0.0.1', port: 9000 },
      tls: false,
      trustedIPs: ['127.0.0.0/8'],
      middlewares: [{ kind: 'basicAuth', realm: 'internal', users: [USERS[1]!], removeHeader: true }],
    },
  ];
  const virtualHosts: VirtualHost[] = [
    { host: 'policy.test', kind: 'exact', sources: [SRC], routes: ROUTES },
    { host: 'root.test', kind: 'exact', sources: [SRC], routes: [route('/', 'Prefix', { appRoot: '/app/', rewrite: { kind: 'prefix', target: '/v3' } })] },
    { host: 'www.root.test', kind: 'exact', sources: [SRC], routes: [route('/', 'Prefix', { wwwRedirect: { host: 'root.test', status: 308 } })] },
  ];
  return {
    entryPoints,
    virtualHosts,
    backends: {
      'default/down:80': backend('down', []),
      'default/site:80': backend('site', [{ address: '10.0.0.1', port: 8080, weight: 1 }]),
      'default/next:80': backend('next', [{ address: '10.0.0.2', port: 8080, weight: 1 }]),
      'default/pool:80': backend('pool', [{ address: '10.0.1.1', port: 8080, weight: 1 }, { address: '10.0.1.2', port: 8080, weight: 2 }, { address: 'fd00::3', port: 8080, weight: 1 }]),
    },
    certificates: [],
    diagnostics: [],
  };
}
