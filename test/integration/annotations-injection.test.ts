/*
 * No annotation value can change a rendered proxy configuration outside its typed slot: random sets of
 * every annotation of both dialects (ingress-nginx and Traefik 1), with good values from the catalogue
 * mixed with hostile ones, are translated for haproxy and nginx mode, rendered, checked by the real
 * `haproxy -c` / `nginx -t`, and every line of the rendering must start with a directive of the
 * templates' own skeleton.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { NGINX_CATALOGUE, NGINX_PREFIX } from '../../src/model/annotations/nginx-catalogue.ts';
import { TRAEFIK_CATALOGUE, TRAEFIK_PREFIXES } from '../../src/model/annotations/traefik-catalogue.ts';
import type { Snapshot } from '../../src/model/k8s.ts';
import { compareRoutes } from '../../src/model/match.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { HostKind, Route, RouteConditions, RoutingModel, ValueCondition, VirtualHost } from '../../src/model/types.ts';
import { translate } from '../../src/model/translate/index.ts';
import type { ProxyMode } from '../../src/model/policy-support.ts';
import { renderHaproxy } from '../../src/render/haproxy/index.ts';
import { renderNginx } from '../../src/render/nginx/index.ts';
import { LUA_MODULES } from '../../src/render/nginx/view.ts';
import type { RenderedConfig } from '../../src/render/types.ts';
import { requireBinary } from './haproxy/common.ts';
import { checkRendering, workWithDefaultCert } from './rendered.ts';

requireBinary('haproxy');
requireBinary('nginx');

/** Every annotation name with a good value when the catalogue has one. */
const ANNOTATIONS: readonly { readonly name: string; readonly example: string | undefined }[] = [
  ...Object.entries(NGINX_CATALOGUE).map(([n, e]) => ({ name: `${NGINX_PREFIX}${n}`, example: e.example })),
  ...Object.entries(TRAEFIK_CATALOGUE).map(([n, e]) => ({ name: `${TRAEFIK_PREFIXES[0]}${n}`, example: e.example })),
];

const HOSTILE = [
  'a;b',
  'x\nserver evil 1.2.3.4:80',
  '"; deny all; "',
  "a'b",
  '$host',
  '${pass_dollar}',
  '#c',
  '{',
  '}',
  '\\',
  '%[src]',
  'http://evil.test/$1;return 200',
  '/a b',
  '/ok',
  'true',
  '10.0.0.0/8',
  '*',
  'GET, POST',
  '1m',
  '5',
];

const value = (example: string | undefined): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(example ?? 'true') },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', '/', ';', ' ', '\n', "'", '"', '$', '#', '{', '}', '\\', '%', '0', ':', ','), maxLength: 10 }) },
  );

// nginx resolves an auth host when it loads (the driver first looks each one up): one that resolves offline.
const AUTH_URL = 'http://localhost:9/check';
/** What the driver's lookup finds in the test's network namespace: only localhost resolves. */
const resolvesHost = (host: string): boolean => host === 'localhost';

/** A random set of annotations, each with a good or a hostile value. */
const annotationSet = fc
  .subarray([...ANNOTATIONS], { minLength: 1, maxLength: 12 })
  .chain((picked) => fc.tuple(...picked.map((a) => value(a.name.endsWith('/auth-url') ? AUTH_URL : a.example).map((v) => [a.name, v] as const))))
  .map((pairs) => Object.fromEntries(pairs));

const { dir: WORK, crt, key } = workWithDefaultCert('passerelle-annotations-');
const check = (r: RenderedConfig, dir: string, annotations: Readonly<Record<string, string>>): string => checkRendering(r, dir, { crt, key }, ` of ${JSON.stringify(annotations)}`);

function snapshotWith(annotations: Readonly<Record<string, string>>): Snapshot {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return {
    configMaps: [],
    ingressClasses: [],
    ingresses: [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'app', namespace: 'default', annotations: { 'kubernetes.io/ingress.class': 'passerelle', ...annotations } },
        spec: {
          tls: [{ hosts: ['app.example.test'], secretName: 'app-tls' }],
          rules: [{ host: 'app.example.test', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } }] } }],
        },
      },
    ],
    services: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'app', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }],
    endpointSlices: [
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'app-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'app' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['127.0.0.2'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080 }],
      },
    ],
    secrets: [
      // The basic-auth Secret the catalogue's examples name (auth-secret), in both forms.
      ...['basic-auth', 'auth', 'my-basic-auth', 'htpasswd'].map((name) => ({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: 'default' },
        type: 'Opaque',
        data: { auth: b64('alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n'), alice: b64('{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=') },
      })),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-tls', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(crt), 'tls.key': b64(key) } },
    ],
  };
}

for (const mode of ['haproxy', 'nginx'] as const satisfies readonly ProxyMode[]) {
  test(`${mode}: any annotations of both dialects, good or hostile, render a config the proxy accepts with only template directives`, () => {
    let withPolicy = 0;
    fc.assert(
      fc.property(annotationSet, (annotations) => {
        const model = translate(snapshotWith(annotations), {
          entryPoints: [
            { name: 'web', address: { host: '127.0.0.1', port: 18080 }, tls: false, middlewares: [] },
            { name: 'websecure', address: { host: '127.0.0.1', port: 18443 }, tls: true, middlewares: [] },
          ],
          ingressClass: 'passerelle',
          controllerName: 'passerelle.dev/ingress-controller',
          classAliases: [],
          watchIngressWithoutClass: false,
          mode,
        });
        if (model.virtualHosts.some((v) => v.routes.some((r) => r.policy !== undefined && Object.keys(r.policy).some((k) => k !== 'sslRedirect')))) withPolicy++;
        const dir = path.join(WORK, mode);
        check(mode === 'haproxy' ? renderHaproxy(model, { workDir: dir }) : renderNginx(model, { workDir: dir, resolvesHost }), dir, annotations);
      }),
      { numRuns: Number(process.env['INJECTION_RUNS'] ?? 60) },
    );
    // The property means something only if policies were rendered, not all refused.
    assert.ok(withPolicy > 10, `${withPolicy} of the runs rendered a policy beyond the https redirect`);
  });
}

// Route data the Gateway API brings (header, query and method conditions, suffix hosts, header add and
// remove) reach the renderers as the model holds them: hand-made models with good and hostile names and
// values must render a config the proxy accepts with only template directives (or refuse the route).
const NAMES = ['x-env', 'X_Under', 'a.b-c', 'Tier', 'x(y)', 'a b', 'x;y', "x'", 'x"', '$x', '%[src]', '#c', '{', 'host', 'content-length', ''];
const VALUES = [...HOSTILE, '-i', '--', '-m', 'or', '!', 'v[0-9]+', '(a|b)*', '.*', '^a$', 'a{2}', '\\d+', '[', 'caf\u00e9', '', ' lead', 'a\tb', '\\'];
const condition: fc.Arbitrary<ValueCondition> = fc.record({ name: fc.constantFrom(...NAMES), type: fc.constantFrom('Exact' as const, 'RegularExpression' as const), value: fc.constantFrom(...VALUES) });
const conditions: fc.Arbitrary<RouteConditions> = fc
  .record({ method: fc.option(fc.constantFrom('GET', 'POST', 'get', 'GET X', 'M;'), { nil: undefined }), headers: fc.array(condition, { maxLength: 3 }), query: fc.array(condition, { maxLength: 3 }) })
  .map((c) => ({ ...(c.method === undefined ? {} : { method: c.method }), ...(c.headers.length === 0 ? {} : { headers: c.headers }), ...(c.query.length === 0 ? {} : { query: c.query }) }));
const headerMap = fc.dictionary(fc.constantFrom(...NAMES), fc.constantFrom(...VALUES), { maxKeys: 2 });
const headerPolicy: fc.Arbitrary<RoutePolicy | undefined> = fc.option(
  fc.record({ requestAdd: headerMap, responseAdd: headerMap, requestRemove: fc.array(fc.constantFrom(...NAMES), { maxLength: 2 }), responseRemove: fc.array(fc.constantFrom(...NAMES), { maxLength: 2 }), request: headerMap }).map((headers): RoutePolicy => ({ headers })),
  { nil: undefined },
);
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'app' };
const routeData: fc.Arbitrary<Route> = fc
  .record({ path: fc.constantFrom('/', '/api', '/a/b', '/x%20y', '/r(e|x)'), type: fc.constantFrom('Exact' as const, 'Prefix' as const, 'Regex' as const), conditions: fc.option(conditions, { nil: undefined }), policy: headerPolicy })
  .map((r) => ({ path: r.path, pathType: r.type === 'Regex' || !r.path.includes('(') ? r.type : 'Prefix', backend: 'default/app:80', source: SRC, field: 'spec.rules[0]', ...(r.conditions === undefined ? {} : { conditions: r.conditions }), ...(r.policy === undefined ? {} : { policy: r.policy }) }));
const hostData: fc.Arbitrary<VirtualHost> = fc
  .record({ host: fc.constantFrom('app.example.test', '*.example.test', '*.deep.example.test', '*.a-b.test'), kind: fc.constantFrom<HostKind>('exact', 'wildcard', 'suffix'), routes: fc.array(routeData, { minLength: 1, maxLength: 5 }) })
  .map((v) => ({ host: v.host, kind: v.host.startsWith('*.') ? (v.kind === 'exact' ? 'suffix' : v.kind) : 'exact', routes: [...v.routes].sort(compareRoutes), sources: [SRC] }));

for (const mode of ['haproxy', 'nginx'] as const) {
  test(`${mode}: any route conditions, suffix hosts and header add/remove, good or hostile, render a config the proxy accepts with only template directives`, () => {
    let conditional = 0;
    fc.assert(
      fc.property(fc.array(hostData, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), (vhosts, headersMore, lua) => {
        const model: RoutingModel = {
          entryPoints: [{ name: 'web', address: { host: '127.0.0.1', port: 18080 }, tls: false, middlewares: [] }],
          virtualHosts: vhosts,
          backends: { 'default/app:80': { id: 'default/app:80', namespace: 'default', service: 'app', servicePort: 80, endpoints: [{ address: '127.0.0.2', port: 8080, weight: 1 }], protocol: 'http' } },
          certificates: [],
          diagnostics: [],
        };
        const r = mode === 'haproxy' ? renderHaproxy(model, { workDir: path.join(WORK, `${mode}-c`) }) : renderNginx(model, { workDir: path.join(WORK, `${mode}-c`), ...(headersMore ? {} : { headersMoreModule: null }), ...(lua ? { luaModules: LUA_MODULES } : {}) });
        if (mode === 'haproxy' ? r.main.content.includes('{ var(txn.vh) -m str v') : r.main.content.includes('$pass_c')) conditional++;
        checkRendering(r, path.join(WORK, `${mode}-c`), { crt, key }, ` of ${JSON.stringify(vhosts)}`);
      }),
      { numRuns: Number(process.env['INJECTION_RUNS'] ?? 60) },
    );
    // The property means something only if conditions were rendered, not all refused.
    assert.ok(conditional > 10, `${conditional} of the runs rendered route conditions`);
  });
}
