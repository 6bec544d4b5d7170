/*
 * The ingress-nginx corpus (test/fixtures/corpus/) served by the proxy of the mode under test: the
 * corpus is translated as a migration reads it (classAliases: ["nginx"], the mode under test), its
 * Services get one echo upstream each (so the answer names the Service), and each Ingress is asked
 * with real clients over an http and an https entry point.
 *
 * Expectations are what ingress-nginx does with the annotation, as Passerelle documents it
 * (docs/annotations.md); where the mode does not render a policy (FEATURE_MODES), what translate
 * then does: the feature is dropped, or, for an access feature, the routes answer 503. They are
 * computed from FEATURE_MODES and REGEX_ROUTE_MODES, and from translate's diagnostics for what is not
 * implemented yet (canaries), so the table stays true as modes and translate gain features.
 */

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { generate } from 'selfsigned';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, Snapshot } from '../../src/model/k8s.ts';
import { FEATURE_MODES } from '../../src/model/policy-support.ts';
import type { PolicyFeature, ProxyMode } from '../../src/model/policy-support.ts';
import { REGEX_ROUTE_MODES, translate } from '../../src/model/translate/index.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { Echo, Reply } from './harness.ts';
import { entryPoint, freePort, Harness, request } from './harness.ts';
import { mode } from './modes.ts';

const corpusDir = new URL('../fixtures/corpus/', import.meta.url);

/** The corpus as the unit test reads it (EndpointSlices are made here). */
function loadCorpus(): { ingresses: KubeObject[]; ingressClasses: KubeObject[]; services: KubeObject[]; secrets: KubeObject[]; configMaps: KubeObject[] } {
  const out = { ingresses: [] as KubeObject[], ingressClasses: [] as KubeObject[], services: [] as KubeObject[], secrets: [] as KubeObject[], configMaps: [] as KubeObject[] };
  const lists: Readonly<Record<string, KubeObject[]>> = { Ingress: out.ingresses, IngressClass: out.ingressClasses, Service: out.services, Secret: out.secrets, ConfigMap: out.configMaps };
  for (const file of readdirSync(corpusDir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(new URL(file, corpusDir), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const obj: unknown = doc.toJS();
      if (typeof obj !== 'object' || obj === null) continue;
      const list = lists[String((obj as KubeObject).kind)];
      assert.ok(list, `${file}: unexpected kind ${String((obj as KubeObject).kind)}`);
      list.push(obj as KubeObject);
    }
  }
  return out;
}

function isProxyMode(m: string): m is ProxyMode {
  return m === 'native' || m === 'haproxy' || m === 'nginx';
}
if (!isProxyMode(mode)) throw new Error(`PASSERELLE_MODE ${mode} is not a proxy mode`);
const proxyMode: ProxyMode = mode;

/** Whether the mode under test renders a policy feature (else translate drops it, or denies an access one). */
function renders(feature: PolicyFeature): boolean {
  return FEATURE_MODES[feature].includes(proxyMode);
}

// ---------------------------------------------------------------- setup

let http = 0;
let https = 0;
let h: Harness | undefined;
let translated: RoutingModel | undefined;

interface ServicePort {
  readonly name?: string;
}

before(async () => {
  h = await Harness.start();
  const corpus = loadCorpus();
  const services = corpus.services.map((s) => {
    const ports = ((s.spec as { ports?: readonly ServicePort[] } | undefined)?.ports ?? []).map((p) => p.name ?? '');
    return { namespace: s.metadata?.namespace ?? 'default', name: s.metadata?.name ?? '', ports };
  });
  const echoes = await Promise.all(services.map((s) => h!.echo(`${s.namespace}/${s.name}`)));
  const endpointSlices: KubeObject[] = services.map((s, i) => {
    const echo = echoes[i]!;
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${s.name}-corpus`, namespace: s.namespace, labels: { 'kubernetes.io/service-name': s.name } },
      addressType: 'IPv4',
      ports: s.ports.map((name) => ({ ...(name === '' ? {} : { name }), port: echo.port, protocol: 'TCP' })),
      endpoints: [{ addresses: [echo.host], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `${s.name}-0` } }],
    };
  });
  // A fresh self-signed certificate for every TLS host of the corpus, in each TLS Secret.
  const tlsHosts = [...new Set(corpus.ingresses.flatMap((i) => ((i.spec as { tls?: readonly { hosts?: readonly string[] }[] } | undefined)?.tls ?? []).flatMap((t) => t.hosts ?? [])))].sort();
  const pems = await generate([{ name: 'commonName', value: tlsHosts[0] ?? 'corpus' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: tlsHosts.map((value) => ({ type: 2 as const, value })) }],
  });
  const secrets = corpus.secrets.map((s) => (s.type === 'kubernetes.io/tls' ? { ...s, data: undefined, stringData: { 'tls.crt': pems.cert, 'tls.key': pems.private } } : s));
  const snapshot: Snapshot = { ingresses: corpus.ingresses, ingressClasses: corpus.ingressClasses, services: corpus.services, endpointSlices, secrets, configMaps: corpus.configMaps };
  [http, https] = [await freePort(), await freePort()];
  translated = translate(snapshot, {
    entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })],
    ingressClass: 'passerelle',
    controllerName: 'passerelle.dev/ingress-controller',
    classAliases: ['nginx'],
    watchIngressWithoutClass: false,
    mode: proxyMode,
  });
  await h.apply(translated);
});

after(async () => {
  await h?.close();
});

/** Whether translate applies what an Ingress asks in this mode (no PASS_POLICY_NOT_IMPLEMENTED on it, no canary left out). */
function implemented(ingress: string): boolean {
  assert.ok(translated, 'the corpus is translated');
  return !translated.diagnostics.some(
    (d) =>
      `${d.object?.namespace ?? ''}/${d.object?.name ?? ''}` === ingress &&
      (d.code === 'PASS_POLICY_NOT_IMPLEMENTED' || (d.code === 'PASS_POLICY_NOT_IN_MODE' && (d.field ?? '').includes('/canary'))),
  );
}

// ---------------------------------------------------------------- expectations

/** What a request must get. Absent fields are not checked; a header expected `undefined` must be absent. */
interface Expect {
  readonly status: number | readonly number[];
  readonly location?: string;
  /** The echo upstream (`namespace/service`) that answered. */
  readonly service?: string | readonly string[];
  /** The path and query the upstream received. */
  readonly path?: string;
  /** Headers of the answer (list values compared with ", " between items). */
  readonly headers?: Readonly<Record<string, string | RegExp | undefined>>;
  /** Headers the upstream received. */
  readonly upstream?: Readonly<Record<string, string | undefined>>;
}

interface Req {
  readonly host: string;
  readonly path: string;
  readonly method?: string;
  readonly tls?: boolean;
  readonly headers?: OutgoingHttpHeaders;
  /** A body; `chunked` sends it without Content-Length. */
  readonly body?: { readonly bytes: number; readonly chunked?: boolean };
}

interface Case {
  /** `namespace/name of the Ingress: what is asked`. */
  readonly name: string;
  readonly req: () => Req;
  readonly expect: () => Expect;
}

const served = (service: string | readonly string[], more: Omit<Expect, 'status' | 'service'> = {}): Expect => ({ status: 200, service, ...more });
const status = (s: number | readonly number[], more: Omit<Expect, 'status'> = {}): Expect => ({ status: s, ...more });
/** With the feature rendered, `yes`; else `no`. */
const when = <T>(feature: PolicyFeature, yes: T, no: T): T => (renders(feature) ? yes : no);
/** An access policy: enforced when every feature is rendered, else the route answers 503. */
const access = (features: readonly PolicyFeature[], e: Expect): Expect => (features.every(renders) ? e : status(503));
/** Plain HTTP redirected to https (308) when sslRedirect is rendered, else `otherwise`. */
const toHttps = (host: string, pathAndQuery: string, otherwise: Expect): Expect => when('sslRedirect', status(308, { location: `https://${host}:${https}${pathAndQuery}` }), otherwise);
const basic = (user: string, password: string): OutgoingHttpHeaders => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
/** The answers a proxy gives when it cannot talk to an upstream in the protocol asked (HTTPS or h2c to a plain HTTP/1.1 echo). */
const UPSTREAM_FAILURES: readonly number[] = [502, 503];

const CORS_DEFAULT_METHODS = 'GET, PUT, POST, DELETE, PATCH, OPTIONS';
const CORS_DEFAULT_HEADERS = 'DNT, Keep-Alive, User-Agent, X-Requested-With, If-Modified-Since, Cache-Control, Content-Type, Range, Authorization';

const CASES: readonly Case[] = [
  // blog: WordPress and its admin
  {
    name: 'blog/wordpress: plain HTTP (Host with its port, as browsers send it) redirects to https with 308, path and query kept',
    req: () => ({ host: `blog.example.com:${http}`, path: '/2024/05/hello-world/?replytocom=3' }),
    expect: () => toHttps('blog.example.com', '/2024/05/hello-world/?replytocom=3', served('blog/wordpress', { path: '/2024/05/hello-world/?replytocom=3' })),
  },
  {
    name: 'blog/wordpress: https is served by wordpress',
    req: () => ({ host: 'blog.example.com', path: '/?p=42', tls: true }),
    expect: () => served('blog/wordpress', { path: '/?p=42', upstream: { 'x-forwarded-proto': 'https' } }),
  },
  {
    name: 'blog/wordpress: a 1 MB upload is under proxy-body-size 64m',
    req: () => ({ host: 'blog.example.com', path: '/wp-json/wp/v2/media', method: 'POST', tls: true, body: { bytes: 1024 * 1024 } }),
    expect: () => served('blog/wordpress', { path: '/wp-json/wp/v2/media' }),
  },
  {
    name: 'blog/wordpress: from-to-www-redirect sends www.blog.example.com to blog.example.com',
    req: () => ({ host: 'www.blog.example.com', path: '/about/', tls: true }),
    // Not rendered: www.blog.example.com is routed by no Ingress.
    expect: () => when('wwwRedirect', status(308, { location: `https://blog.example.com:${https}/about/` }), status(404)),
  },
  {
    name: 'blog/wordpress-admin: /wp-admin/ from 127.0.0.1, outside whitelist-source-range, gets 403',
    req: () => ({ host: 'blog.example.com', path: '/wp-admin/', tls: true }),
    expect: () => access(['allowSourceRange'], status(403)),
  },
  {
    name: 'blog/wordpress-admin: the Exact path /wp-login.php gets 403 too',
    req: () => ({ host: 'blog.example.com', path: '/wp-login.php', method: 'POST', tls: true, body: { bytes: 40 } }),
    expect: () => access(['allowSourceRange'], status(403)),
  },
  {
    name: 'blog/wordpress-admin: /wp-login.php.bak is not its Exact path: wordpress serves it without the allowlist',
    req: () => ({ host: 'blog.example.com', path: '/wp-login.php.bak', tls: true }),
    expect: () => served('blog/wordpress', { path: '/wp-login.php.bak' }),
  },

  // www: forms, registry, redirects, app-root, TLS and HSTS
  {
    name: 'www/forms: a 1000-byte form is under proxy-body-size 16k',
    req: () => ({ host: 'forms.example.org', path: '/submit', method: 'POST', body: { bytes: 1000 } }),
    expect: () => served('www/forms', { path: '/submit' }),
  },
  {
    name: 'www/forms: a 20000-byte form gets 413',
    req: () => ({ host: 'forms.example.org', path: '/submit', method: 'POST', body: { bytes: 20000 } }),
    expect: () => when('limits.maxBodyBytes', status(413), served('www/forms', { path: '/submit' })),
  },
  {
    name: 'www/forms: a 20000-byte chunked form (no Content-Length) gets 413 too',
    req: () => ({ host: 'forms.example.org', path: '/submit', method: 'POST', body: { bytes: 20000, chunked: true } }),
    expect: () => when('limits.maxBodyBytes', status(413), served('www/forms', { path: '/submit' })),
  },
  {
    name: 'tools/registry: proxy-body-size "0" sets no limit (a 300 kB layer)',
    req: () => ({ host: 'registry.example.net', path: '/v2/app/blobs/uploads/1?digest=sha256:00', method: 'PUT', body: { bytes: 300 * 1024, chunked: true } }),
    expect: () => served('tools/registry', { path: '/v2/app/blobs/uploads/1?digest=sha256:00' }),
  },
  {
    name: 'www/old-site: permanent-redirect answers 301 to the new home, the request path not appended',
    req: () => ({ host: 'old.example.org', path: '/about?x=1' }),
    expect: () => when('redirect', status(301, { location: 'https://www.example.org/new-home' }), served('www/old-site', { path: '/about?x=1' })),
  },
  {
    name: 'www/moved-docs: permanent-redirect-code 308 on its path /v1',
    req: () => ({ host: 'docs.example.org', path: '/v1/intro', method: 'POST', body: { bytes: 10 } }),
    expect: () => when('redirect', status(308, { location: 'https://docs.example.org/v2/' }), served('www/docs', { path: '/v1/intro' })),
  },
  {
    name: 'www/moved-docs: another path of the host is routed by nobody (404)',
    req: () => ({ host: 'docs.example.org', path: '/v2/intro' }),
    expect: () => status(404),
  },
  {
    name: 'www/maintenance: temporal-redirect with temporal-redirect-code 307',
    req: () => ({ host: 'pay.example.org', path: '/checkout', method: 'POST', body: { bytes: 10 } }),
    expect: () => when('redirect', status(307, { location: 'https://status.example.org/maintenance' }), served('www/pay', { path: '/checkout' })),
  },
  {
    name: 'www/dashboard-app: app-root sends / to /dashboard with 302',
    req: () => ({ host: 'app.example.org', path: '/' }),
    expect: () => when('appRoot', status(302, { location: 'http://app.example.org/dashboard' }), served('www/dashboard', { path: '/' })),
  },
  {
    name: 'www/dashboard-app: /dashboard itself is served',
    req: () => ({ host: 'app.example.org', path: '/dashboard' }),
    expect: () => served('www/dashboard', { path: '/dashboard' }),
  },
  {
    name: 'www/landing: ssl-redirect "false": plain HTTP is served, without HSTS',
    req: () => ({ host: 'landing.example.org', path: '/promo?utm_source=mail' }),
    expect: () => served('www/landing', { path: '/promo?utm_source=mail', headers: { 'strict-transport-security': undefined, 'x-frame-options': 'SAMEORIGIN', 'referrer-policy': 'strict-origin-when-cross-origin' } }),
  },
  {
    name: 'www/landing: https carries HSTS without includeSubDomains (hsts-include-subdomains "false")',
    req: () => ({ host: 'landing.example.org', path: '/', tls: true }),
    expect: () => served('www/landing', { headers: { 'strict-transport-security': when('hsts', 'max-age=31536000', undefined) } }),
  },
  {
    name: 'www/shop-front: force-ssl-redirect redirects plain HTTP without spec.tls',
    req: () => ({ host: 'store.example.org', path: '/cart?item=3' }),
    expect: () => toHttps('store.example.org', '/cart?item=3', served('www/store', { path: '/cart?item=3' })),
  },
  {
    name: 'www/secure-site: plain HTTP redirects to https (spec.tls)',
    req: () => ({ host: 'secure.example.org', path: '/login' }),
    expect: () => toHttps('secure.example.org', '/login', served('www/secure-site', { path: '/login' })),
  },
  {
    name: 'www/secure-site: https carries HSTS with max-age 63072000, includeSubDomains and preload',
    req: () => ({ host: 'secure.example.org', path: '/login', tls: true }),
    expect: () => served('www/secure-site', { headers: { 'strict-transport-security': when('hsts', 'max-age=63072000; includeSubDomains; preload', undefined) } }),
  },
  {
    name: 'www/legacy-static: the class annotation is served; ssl-redirect without spec.tls has no effect',
    req: () => ({ host: 'static.example.org', path: '/css/site.css' }),
    expect: () => served('www/static', { path: '/css/site.css' }),
  },

  // api
  {
    name: 'api/public-api: rewrite-target "/" replaces the whole path (the query kept); CORS "*" on the answer',
    req: () => ({ host: 'public-api.example.com', path: '/api/users?page=2', headers: { origin: 'https://any.example.net' } }),
    expect: () =>
      served('api/public-api', {
        path: when('rewrite.replace-path', '/?page=2', '/api/users?page=2'),
        headers: { 'access-control-allow-origin': when('cors', '*', undefined), 'access-control-allow-credentials': when('cors', 'true', undefined) },
      }),
  },
  {
    name: 'api/public-api: a CORS preflight gets 204 with ingress-nginx\'s defaults',
    req: () => ({ host: 'public-api.example.com', path: '/api/users', method: 'OPTIONS', headers: { origin: 'https://any.example.net', 'access-control-request-method': 'DELETE' } }),
    expect: () =>
      when(
        'cors',
        status(204, {
          headers: {
            'access-control-allow-origin': '*',
            'access-control-allow-credentials': 'true',
            'access-control-allow-methods': CORS_DEFAULT_METHODS,
            'access-control-allow-headers': CORS_DEFAULT_HEADERS,
            'access-control-max-age': '1728000',
          },
        }),
        served('api/public-api', { headers: { 'access-control-allow-origin': undefined } }),
      ),
  },
  {
    name: 'api/partner-api: a preflight from a listed origin gets 204, the origin echoed with credentials',
    req: () => ({ host: 'api.example.com', path: '/v1/orders', method: 'OPTIONS', tls: true, headers: { origin: 'https://admin.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } }),
    expect: () =>
      when(
        'cors',
        status(204, {
          headers: {
            'access-control-allow-origin': 'https://admin.example.com',
            'access-control-allow-credentials': 'true',
            'access-control-allow-methods': 'GET, POST, OPTIONS',
            'access-control-allow-headers': 'Authorization, Content-Type, X-Request-ID',
            'access-control-max-age': '600',
          },
        }),
        served('api/partner-api', { headers: { 'access-control-allow-origin': undefined } }),
      ),
  },
  {
    name: 'api/partner-api: a preflight from another origin gets no CORS header',
    req: () => ({ host: 'api.example.com', path: '/v1/orders', method: 'OPTIONS', tls: true, headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' } }),
    // ingress-nginx passes it to the backend, Passerelle answers it itself: only the missing header matters.
    expect: () => ({ status: [200, 204], headers: { 'access-control-allow-origin': undefined, 'access-control-allow-credentials': undefined } }),
  },
  {
    name: 'api/partner-api: a request from a listed origin is served with the origin and credentials allowed',
    req: () => ({ host: 'api.example.com', path: '/v1/orders?status=open', tls: true, headers: { origin: 'https://app.example.com' } }),
    expect: () =>
      served('api/partner-api', {
        path: '/v1/orders?status=open',
        headers: { 'access-control-allow-origin': when('cors', 'https://app.example.com', undefined), 'access-control-allow-credentials': when('cors', 'true', undefined) },
      }),
  },
  {
    name: 'api/partner-api: plain HTTP redirects to https (spec.tls)',
    req: () => ({ host: 'api.example.com', path: '/v1/orders' }),
    expect: () => toHttps('api.example.com', '/v1/orders', served('api/partner-api', { path: '/v1/orders' })),
  },
  {
    name: 'api/grpc-gateway: backend-protocol GRPC speaks h2c to the pods (the echo only speaks HTTP/1.1)',
    req: () => ({ host: 'grpc.example.com', path: '/helloworld.Greeter/SayHello', method: 'POST', body: { bytes: 5 } }),
    expect: () => when('upstream.grpc', status(UPSTREAM_FAILURES), served('api/grpc-gateway', { path: '/helloworld.Greeter/SayHello' })),
  },
  {
    name: 'api/internal-tls: backend-protocol HTTPS with upstream-vhost',
    req: () => ({ host: 'billing.example.com', path: '/invoices/7' }),
    expect: () =>
      when('upstream.https', status(UPSTREAM_FAILURES), served('api/billing', { path: '/invoices/7', upstream: { host: when('upstream.vhost', 'billing.internal.svc', 'billing.example.com') } })),
  },
  {
    name: 'api/legacy-vhost: the backend receives the Host of upstream-vhost',
    req: () => ({ host: 'legacy-api.example.com', path: '/soap' }),
    expect: () => served('api/legacy-api', { path: '/soap', upstream: { host: when('upstream.vhost', 'legacy-backend.internal:8080', 'legacy-api.example.com') } }),
  },
  {
    name: 'api/orders: load-balance ewma, tries and timeouts leave a healthy backend serving',
    req: () => ({ host: 'orders.example.com', path: '/orders/42' }),
    expect: () => served('api/orders', { path: '/orders/42' }),
  },
  {
    name: 'api/health: a backend slower than proxy-read-timeout 2 gets 504',
    req: () => ({ host: 'status.example.com', path: '/__slow/3000' }),
    expect: () => when('timeouts.read', status(504), served('api/health', { path: '/__slow/3000' })),
  },
  {
    name: 'api/regex-rewrite: /something/new is rewritten to /new (the ingress-nginx documentation example)',
    req: () => ({ host: 'rewrite.example.com', path: '/something/new?x=1' }),
    // A mode that does not route Regex routes has none: translate skips the path and the host has no route.
    expect: () => (REGEX_ROUTE_MODES.includes(proxyMode) ? served('api/rewrite-demo', { path: when('rewrite.regex', '/new?x=1', '/something/new?x=1') }) : status(404)),
  },
  {
    name: 'api/regex-only: use-regex matches /reports/2024 with /reports/.+',
    req: () => ({ host: 'reports.example.com', path: '/reports/2024' }),
    expect: () => (REGEX_ROUTE_MODES.includes(proxyMode) ? served('api/reports', { path: '/reports/2024' }) : status(404)),
  },

  // admin panels: never served open
  {
    name: 'admin/panel: 127.0.0.1 is outside whitelist-source-range: 403, before the password is asked',
    req: () => ({ host: 'admin.example.com', path: '/', tls: true }),
    expect: () => access(['allowSourceRange', 'basicAuth'], status(403)),
  },
  {
    name: 'admin/panel: the right password does not get past the allowlist',
    req: () => ({ host: 'admin.example.com', path: '/users', tls: true, headers: basic('admin', 's3cret-admin') }),
    expect: () => access(['allowSourceRange', 'basicAuth'], status(403)),
  },
  {
    name: 'admin/panel: plain HTTP redirects to https first',
    req: () => ({ host: 'admin.example.com', path: '/users' }),
    expect: () => access(['allowSourceRange', 'basicAuth'], toHttps('admin.example.com', '/users', status(403))),
  },
  {
    name: 'monitoring/grafana: inside allowlist-source-range, no password: 401 with the realm',
    req: () => ({ host: 'grafana.example.com', path: '/d/abc', tls: true }),
    expect: () => access(['allowSourceRange', 'basicAuth'], status(401, { headers: { 'www-authenticate': 'Basic realm="Grafana"' } })),
  },
  {
    name: 'monitoring/grafana: a wrong password: 401',
    req: () => ({ host: 'grafana.example.com', path: '/d/abc', tls: true, headers: basic('ops', 'grafana') }),
    expect: () => access(['allowSourceRange', 'basicAuth'], status(401)),
  },
  {
    name: 'monitoring/grafana: ops (auth-map, bcrypt) is served; the backend does not get the password (ingress-nginx clears Authorization)',
    req: () => ({ host: 'grafana.example.com', path: '/d/abc', tls: true, headers: basic('ops', 'grafana-ops') }),
    expect: () => access(['allowSourceRange', 'basicAuth'], served('monitoring/grafana', { path: '/d/abc', upstream: { authorization: undefined } })),
  },
  {
    name: 'monitoring/grafana: viewer (auth-map, {SHA}) is served',
    req: () => ({ host: 'grafana.example.com', path: '/', tls: true, headers: basic('viewer', 'viewer-pass') }),
    expect: () => access(['allowSourceRange', 'basicAuth'], served('monitoring/grafana', { path: '/' })),
  },
  {
    name: 'logging/kibana: the Secret of another namespace; no password: 401 with the default realm',
    req: () => ({ host: 'kibana.example.com', path: '/app/discover', tls: true }),
    expect: () => access(['basicAuth'], status(401, { headers: { 'www-authenticate': 'Basic realm="Authentication Required"' } })),
  },
  {
    name: 'logging/kibana: elastic (auth-file in data) is served',
    req: () => ({ host: 'kibana.example.com', path: '/app/discover', tls: true, headers: basic('elastic', 'kibana-pass') }),
    expect: () => access(['basicAuth'], served('logging/kibana', { path: '/app/discover' })),
  },
  {
    name: 'admin/jenkins: its auth Secret is missing: 503, whatever the credentials',
    req: () => ({ host: 'ci.example.com', path: '/job/deploy/build', method: 'POST', headers: basic('admin', 's3cret-admin'), body: { bytes: 2 } }),
    expect: () => status(503),
  },
  {
    name: 'monitoring/prometheus: external auth at an unreachable oauth2-proxy is never served open',
    req: () => ({ host: 'prometheus.example.com', path: '/graph' }),
    expect: () => access(['externalAuth'], status([401, 500, 502, 503, 504])),
  },
  {
    name: 'admin/legacy-tools: an invalid whitelist-source-range (10.0.0.0/33) denies: 503',
    req: () => ({ host: 'tools.example.com', path: '/' }),
    expect: () => status(503),
  },
  {
    name: 'admin/old-wiki: digest authentication is not supported: 503 rather than open',
    req: () => ({ host: 'wiki.example.com', path: '/Main_Page' }),
    expect: () => status(503),
  },

  // shop: affinity and canaries
  {
    name: 'shop/cart: affinity cookie "route" with Max-Age and SameSite',
    req: () => ({ host: 'shop.example.com', path: '/cart/items', tls: true }),
    expect: () => served('shop/cart', { path: '/cart/items', headers: { 'set-cookie': when('upstream.affinity', /^route=[^;]+;.*Max-Age=172800.*SameSite=Lax/i, undefined) } }),
  },
  {
    name: 'shop/storefront: without canary header or cookie the main Ingress serves',
    req: () => ({ host: 'shop.example.com', path: '/products/1', tls: true }),
    expect: () => served('shop/storefront', { path: '/products/1' }),
  },
  {
    name: 'shop/storefront-canary: X-Canary: beta goes to the canary',
    req: () => ({ host: 'shop.example.com', path: '/products/1', tls: true, headers: { 'x-canary': 'beta' } }),
    expect: () => served(implemented('shop/storefront-canary') ? 'shop/storefront-v2' : 'shop/storefront', { path: '/products/1' }),
  },
  {
    name: 'shop/storefront-canary: another X-Canary value stays on the main Ingress',
    req: () => ({ host: 'shop.example.com', path: '/products/1', tls: true, headers: { 'x-canary': 'stable' } }),
    expect: () => served('shop/storefront', { path: '/products/1' }),
  },
  {
    name: 'shop/storefront-canary: the cookie canary_shop=always goes to the canary',
    req: () => ({ host: 'shop.example.com', path: '/', tls: true, headers: { cookie: 'session=1; canary_shop=always' } }),
    expect: () => served(implemented('shop/storefront-canary') ? 'shop/storefront-v2' : 'shop/storefront', { path: '/' }),
  },
  {
    name: 'shop/catalog-canary: a weighted canary: the main or the canary Service answers',
    req: () => ({ host: 'catalog.example.com', path: '/items' }),
    expect: () => served(implemented('shop/catalog-canary') ? ['shop/catalog', 'shop/catalog-next'] : 'shop/catalog', { path: '/items' }),
  },

  // mistakes
  {
    name: 'legacy/snippets: the snippets are never rendered: /healthz reaches the backend, no snippet header',
    req: () => ({ host: 'intranet.example.net', path: '/healthz' }),
    expect: () => served('legacy/intranet', { path: '/healthz', headers: { 'x-frame-options': undefined, 'x-content-type-options': undefined } }),
  },
  {
    name: 'legacy/misspelled-rewrite: rewrite-traget is not rewrite-target: the path is kept',
    req: () => ({ host: 'reports-ui.example.net', path: '/app/page' }),
    expect: () => served('legacy/reports-ui', { path: '/app/page' }),
  },
  {
    name: 'legacy/bad-values: an invalid proxy-body-size sets no limit',
    req: () => ({ host: 'uploads.example.net', path: '/upload', method: 'POST', body: { bytes: 20000 } }),
    expect: () => served('legacy/uploads', { path: '/upload' }),
  },
  {
    name: 'legacy/waf: no firewall: the request is served',
    req: () => ({ host: 'waf.example.net', path: '/search?q=1%20OR%201%3D1' }),
    expect: () => served('legacy/waf-app', { path: '/search?q=1%20OR%201%3D1' }),
  },

  // Traefik 1 leftovers and both dialects
  {
    name: 'legacy/traefik-strip: PathPrefixStrip removes /metrics-ui; custom request and response headers are set',
    req: () => ({ host: 'tools.example.net', path: '/metrics-ui/dash?x=1', headers: { 'x-env': 'forged' } }),
    expect: () =>
      served('legacy/metrics-ui', {
        path: when('rewrite.strip-prefix', '/dash?x=1', '/metrics-ui/dash?x=1'),
        upstream: { 'x-env': when('headers.request', 'prod', 'forged'), 'x-team': when('headers.request', 'web', undefined) },
        headers: { 'x-frame-options': when('headers.response', 'DENY', undefined) },
      }),
  },
  {
    name: 'legacy/traefik-auth: Traefik 1 basic auth: 401 with the realm traefik',
    req: () => ({ host: 'docs-internal.example.net', path: '/' }),
    expect: () => access(['basicAuth'], status(401, { headers: { 'www-authenticate': 'Basic realm="traefik"' } })),
  },
  {
    name: 'legacy/traefik-auth: traefik ($apr1$) is served',
    req: () => ({ host: 'docs-internal.example.net', path: '/guide', headers: basic('traefik', 'traefik-pass') }),
    expect: () => access(['basicAuth'], served('legacy/docs-internal', { path: '/guide' })),
  },
  {
    name: 'legacy/traefik-redirect: redirect-entry-point https with redirect-permanent: 308',
    req: () => ({ host: 'legacy.example.net', path: '/old/page' }),
    expect: () => toHttps('legacy.example.net', '/old/page', served('legacy/legacy-site', { path: '/old/page' })),
  },
  {
    name: 'legacy/traefik-redirect: https carries HSTS from hsts-max-age',
    req: () => ({ host: 'legacy.example.net', path: '/old/page', tls: true }),
    expect: () => served('legacy/legacy-site', { headers: { 'strict-transport-security': when('hsts', 'max-age=31536000', undefined) } }),
  },
  {
    name: 'legacy/traefik-admin: traefik.frontend.priority 10 on "/" of traefik-redirect takes /admin of a newer Ingress without one',
    req: () => ({ host: 'legacy.example.net', path: '/admin/users', tls: true }),
    expect: () => served('legacy/legacy-site', { path: '/admin/users' }),
  },
  {
    name: 'legacy/mixed: the ingress-nginx allowlist (127.0.0.1/32) and rewrite-target win over the Traefik 1 ones',
    req: () => ({ host: 'mixed.example.net', path: '/app/x?y=1' }),
    expect: () => access(['allowSourceRange'], served('legacy/mixed', { path: when('rewrite.replace-path', '/?y=1', '/app/x?y=1') })),
  },
];

// ---------------------------------------------------------------- running a case

function send(r: Req): Promise<Reply> {
  const body = r.body === undefined ? undefined : Buffer.alloc(r.body.bytes, 'x');
  return request({
    port: r.tls === true ? https : http,
    host: r.host,
    path: r.path,
    method: r.method ?? 'GET',
    tls: r.tls === true,
    headers: { ...r.headers, ...(body !== undefined && r.body?.chunked !== true ? { 'content-length': body.length } : {}) },
    ...(body === undefined ? {} : { body: r.body?.chunked === true ? Readable.from([body.subarray(0, 4096), body.subarray(4096)]) : body }),
  });
}

/** A header value as compared: a list (or repeated header) as its items joined by ", ". */
function headerText(v: string | readonly string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return (typeof v === 'string' ? [v] : v).flatMap((s) => s.split(',')).map((s) => s.trim()).join(', ');
}

function check(name: string, r: Reply, e: Expect): void {
  const what = `${name}: got ${r.status} ${r.headers.location ?? ''} ${r.text.slice(0, 200)}`;
  if (typeof e.status === 'number') assert.equal(r.status, e.status, what);
  else assert.ok(e.status.includes(r.status), `${what} (expected one of ${e.status.join(', ')})`);
  if (e.location !== undefined) assert.equal(r.headers.location, e.location, `${name}: Location`);
  for (const [header, want] of Object.entries(e.headers ?? {})) {
    const got = headerText(r.headers[header]);
    if (want instanceof RegExp) assert.match(got ?? '', want, `${name}: ${header}`);
    else assert.equal(got, headerText(want), `${name}: ${header}`);
  }
  if (e.service === undefined && e.path === undefined && e.upstream === undefined) return;
  const echo = JSON.parse(r.text) as Echo;
  if (e.service !== undefined) {
    const services = typeof e.service === 'string' ? [e.service] : e.service;
    assert.ok(services.includes(echo.id), `${name}: answered by ${echo.id}, expected ${services.join(' or ')}`);
  }
  if (e.path !== undefined) assert.equal(echo.url, e.path, `${name}: the path the backend received`);
  for (const [header, want] of Object.entries(e.upstream ?? {})) assert.equal(echo.headers[header], want, `${name}: ${header} received by the backend`);
}

for (const c of CASES) {
  test(`corpus ${c.name}`, async () => {
    const r = await send(c.req());
    check(c.name, r, c.expect());
  });
}

// ---------------------------------------------------------------- limits (several requests)

test('corpus api/search: limit-rps 2 lets a burst of 10 through, then answers 503', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) statuses.push((await send({ host: 'search.example.com', path: `/q?term=${i}` })).status);
  assert.ok(
    statuses.slice(0, 10).every((s) => s === 200),
    `the burst is served: ${statuses.join(',')}`,
  );
  if (renders('limits.rps')) assert.ok(statuses.slice(10).includes(503), `then limited: ${statuses.join(',')}`);
  else assert.ok(statuses.every((s) => s === 200), `no limit in ${proxyMode} mode: ${statuses.join(',')}`);
});

test('corpus api/exports: limit-connections 1: a second export in progress from the same client gets 503', async () => {
  const first = send({ host: 'exports.example.com', path: '/__slow/1000' });
  await new Promise((resolve) => setTimeout(resolve, 250));
  const second = await send({ host: 'exports.example.com', path: '/csv/2' });
  assert.equal(second.status, when('limits.connections', 503, 200), `second export: ${second.text.slice(0, 100)}`);
  const done = await first;
  assert.equal(done.status, 200);
  assert.equal((JSON.parse(done.text) as Echo).id, 'api/exports');
  assert.equal((await send({ host: 'exports.example.com', path: '/csv/3' })).status, 200, 'served again once the first ended');
});
