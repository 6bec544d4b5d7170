/*
 * The incremental model build (src/model/translate/incremental.ts) against the full one: over random
 * sequences of adds, changes and deletes of Ingresses, Services, EndpointSlices, Secrets, ConfigMaps
 * and IngressClasses, of Gateway API objects (GatewayClass, Gateway, HTTPRoute) in some sequences, and
 * of the issued (ACME) certificates of the input, with and without `[acme]`
 * settings, `IncrementalTranslator.build` must deep-equal `translate` after every step
 * (diagnostics included, same order); and what a change does not reach is kept by reference.
 * Seeded: a failure prints the seed and step (SEED=<n> SEQUENCES=1 reruns one sequence).
 */

import assert from 'node:assert/strict';
import test from 'node:test';
import type { KubeObject, Snapshot } from '../../src/model/k8s.ts';
import { DEFAULT_GATEWAY_CONTROLLER_NAME, translate } from '../../src/model/translate/index.ts';
import type { TranslateInput, TranslateOptions } from '../../src/model/translate/index.ts';
import type { IssuedCertificate } from '../../src/model/types.ts';
import { IncrementalTranslator } from '../../src/model/translate/incremental.ts';
import type { ProxyMode } from '../../src/model/policy-support.ts';

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const chance = (r: Rand, p: number): boolean => r() < p;

const NAMESPACES = ['default', 'team'];
const HOSTS = ['a.example.com', 'www.a.example.com', 'b.example.com', '*.example.com', 'c.test', 'www.c.test', ''];
const PATHS = ['/', '/api', '/api/v1', '/x'];
const REGEX_PATHS = ['/api/.*', '/x/[0-9]+', '/'];
const SERVICES = ['s1', 's2', 's3', 'nosvc'];
const SECRETS = ['tls-a', 'tls-b', 'auth', 'auth-map', 'nosecret'];
const CONFIGMAPS = ['hdrs', 'nocm'];
const TIMES = ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z', undefined];
const CERT = '-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nQUJDRA==\n-----END PRIVATE KEY-----\n';
const SHA_USER = `alice:{SHA}${'A'.repeat(27)}=`;
const CERT2 = '-----BEGIN CERTIFICATE-----\nRUZHSA==\n-----END CERTIFICATE-----\n';

function ingress(r: Rand, ns: string, name: string): KubeObject {
  const regex = chance(r, 0.15);
  const annotations: Record<string, string> = {};
  if (chance(r, 0.2)) {
    annotations['nginx.ingress.kubernetes.io/canary'] = 'true';
    annotations['nginx.ingress.kubernetes.io/canary-weight'] = String(pick(r, [10, 50]));
  }
  if (chance(r, 0.2)) annotations['nginx.ingress.kubernetes.io/from-to-www-redirect'] = 'true';
  if (chance(r, 0.3)) {
    annotations['nginx.ingress.kubernetes.io/auth-type'] = 'basic';
    // Mostly one Secret read in both forms by several Ingresses: the order of its findings is by age.
    annotations['nginx.ingress.kubernetes.io/auth-secret'] = pick(r, ['auth', 'auth', 'auth', 'auth-map', 'nosecret', 'tls-a']);
    if (chance(r, 0.6)) annotations['nginx.ingress.kubernetes.io/auth-secret-type'] = pick(r, ['auth-file', 'auth-map']);
  }
  if (chance(r, 0.2)) annotations['nginx.ingress.kubernetes.io/custom-headers'] = pick(r, CONFIGMAPS);
  if (regex) annotations['nginx.ingress.kubernetes.io/use-regex'] = 'true';
  if (chance(r, 0.2)) annotations['kubernetes.io/tls-acme'] = pick(r, ['true', 'false']);
  if (regex && chance(r, 0.3)) annotations['nginx.ingress.kubernetes.io/rewrite-target'] = '/$1';
  if (chance(r, 0.1)) annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'] = pick(r, ['30', '60s']);
  if (chance(r, 0.1)) annotations['nginx.ingress.kubernetes.io/ssl-redirect'] = pick(r, ['false', 'true']);
  // Traefik 1 priority: routes of other Ingresses of the same host taken whole are left out.
  if (chance(r, 0.25)) annotations['traefik.ingress.kubernetes.io/priority'] = String(pick(r, [1, 5, 10]));
  const traefik = chance(r, 0.1);
  if (traefik) {
    annotations['kubernetes.io/ingress.class'] = 'traefik';
    if (chance(r, 0.7)) annotations['traefik.ingress.kubernetes.io/service-weights'] = `${pick(r, SERVICES)}: ${pick(r, [10, 30, 100])}%\n`;
  }
  const backend = (): Record<string, unknown> => ({
    service: { name: pick(r, SERVICES), port: chance(r, 0.7) ? { number: pick(r, [80, 8080, 9999]) } : { name: pick(r, ['http', 'nope']) } },
  });
  const rules = Array.from({ length: 1 + Math.floor(r() * 3) }, () => {
    const host = pick(r, HOSTS);
    const paths = Array.from({ length: Math.floor(r() * 4) }, () => ({
      path: pick(r, regex ? REGEX_PATHS : PATHS),
      pathType: pick(r, ['Prefix', 'Exact', 'ImplementationSpecific']),
      backend: backend(),
    }));
    return { ...(host === '' ? {} : { host }), http: { paths } };
  });
  const tlsHosts = HOSTS.filter((h) => h !== '');
  const tls = Array.from({ length: chance(r, 0.4) ? 1 + Math.floor(r() * 2) : 0 }, () => ({
    ...(chance(r, 0.8) ? { hosts: Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, tlsHosts)) } : {}),
    secretName: pick(r, SECRETS),
  }));
  const created = pick(r, TIMES);
  const classField = traefik ? {} : chance(r, 0.85) ? { ingressClassName: 'passerelle' } : chance(r, 0.5) ? { ingressClassName: 'other' } : {};
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: ns, ...(created === undefined ? {} : { creationTimestamp: created }), annotations },
    spec: { ...classField, rules, ...(tls.length > 0 ? { tls } : {}), ...(chance(r, 0.15) ? { defaultBackend: backend() } : {}) },
  } as KubeObject;
}

function service(r: Rand, ns: string, name: string): KubeObject {
  if (chance(r, 0.1)) return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { type: 'ExternalName', externalName: 'x.test' } } as KubeObject;
  const ports: unknown[] = [{ name: 'http', port: 80, targetPort: pick(r, [8080, 'web']) }];
  if (chance(r, 0.5)) ports.push({ port: 8080 });
  if (chance(r, 0.1)) ports.push({ name: 'bad', port: 70000 });
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports } } as KubeObject;
}

function slice(r: Rand, ns: string, name: string, svc: string): KubeObject {
  const endpoints = Array.from({ length: Math.floor(r() * 3) }, (_, i) => ({
    addresses: [chance(r, 0.9) ? `10.0.${Math.floor(r() * 3)}.${i + 1}` : 'not-an-ip'],
    conditions: { ready: chance(r, 0.8) },
  }));
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
    addressType: chance(r, 0.9) ? 'IPv4' : 'FQDN',
    ports: [{ name: pick(r, ['http', '']), port: pick(r, [8080, 8081]) }],
    endpoints,
  } as KubeObject;
}

function secret(r: Rand, ns: string, name: string): KubeObject {
  const meta = { name, namespace: ns };
  if (name.startsWith('auth')) {
    if (name === 'auth-map' || chance(r, 0.2)) return { apiVersion: 'v1', kind: 'Secret', metadata: meta, stringData: { alice: `{SHA}${'A'.repeat(27)}=`, ...(chance(r, 0.5) ? { bob: 'plain' } : {}) } } as KubeObject;
    return { apiVersion: 'v1', kind: 'Secret', metadata: meta, stringData: { auth: chance(r, 0.5) ? SHA_USER : `${SHA_USER}\nbob:plain\ncarol:$1$x` } } as KubeObject;
  }
  if (chance(r, 0.2)) return { apiVersion: 'v1', kind: 'Secret', metadata: meta, type: 'kubernetes.io/tls', stringData: { 'tls.crt': CERT } } as KubeObject;
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta, type: chance(r, 0.9) ? 'kubernetes.io/tls' : 'Opaque', stringData: { 'tls.crt': CERT, 'tls.key': KEY } } as KubeObject;
}

function configMap(r: Rand, ns: string, name: string): KubeObject {
  const data: Record<string, string> = { 'X-Frame-Options': pick(r, ['DENY', 'SAMEORIGIN']) };
  if (chance(r, 0.3)) data['Bad Name'] = 'x';
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data } as KubeObject;
}

/** An issued certificate for `main` and some other names (a renewal: other PEM, maybe other names). */
function issuedCert(r: Rand, main: string): IssuedCertificate {
  const names = [main, ...HOSTS.filter((h) => h !== '' && h !== main && chance(r, 0.3))];
  return { id: `acme.passerelle/${main.replace('*', '_')}`, names, certPem: pick(r, [CERT, CERT2]), keyPem: KEY };
}

function ingressClass(r: Rand): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: pick(r, ['passerelle', 'other']), ...(chance(r, 0.5) ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    spec: { controller: pick(r, ['passerelle.dev/ingress-controller', 'k8s.io/ingress-nginx']) },
  } as KubeObject;
}

const GATEWAY_API = 'gateway.networking.k8s.io/v1';
/** The port of the test entry point `web`: a Gateway listener on it is served. */
const WEB_PORT = 8000;

function gatewayClass(r: Rand): KubeObject {
  return { apiVersion: GATEWAY_API, kind: 'GatewayClass', metadata: { name: 'pass' }, spec: { controllerName: pick(r, [DEFAULT_GATEWAY_CONTROLLER_NAME, DEFAULT_GATEWAY_CONTROLLER_NAME, DEFAULT_GATEWAY_CONTROLLER_NAME, 'example.com/other']) } } as KubeObject;
}

function gateway(r: Rand, ns: string, name: string): KubeObject {
  const hostname = pick(r, [undefined, undefined, '*.example.com', 'c.test']);
  return {
    apiVersion: GATEWAY_API,
    kind: 'Gateway',
    metadata: { name, namespace: ns, ...(pick(r, TIMES) === undefined ? {} : { creationTimestamp: pick(r, TIMES.slice(0, 4)) }) },
    spec: {
      gatewayClassName: 'pass',
      listeners: [{ name: 'http', port: pick(r, [WEB_PORT, WEB_PORT, WEB_PORT, 9999]), protocol: 'HTTP', ...(hostname === undefined ? {} : { hostname }), ...(chance(r, 0.5) ? { allowedRoutes: { namespaces: { from: 'All' } } } : {}) }],
    },
  } as KubeObject;
}

function httpRoute(r: Rand, ns: string, name: string): KubeObject {
  const host = pick(r, HOSTS);
  const backendRefs = [{ name: pick(r, SERVICES), port: 80, ...(chance(r, 0.3) ? { weight: pick(r, [0, 1, 3]) } : {}) }];
  if (chance(r, 0.3)) backendRefs.push({ name: pick(r, SERVICES), port: 80, weight: 1 });
  const rule = {
    matches: [{ path: { type: pick(r, ['PathPrefix', 'Exact']), value: pick(r, PATHS) } }],
    backendRefs,
    ...(chance(r, 0.3) ? { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Team', value: ns }] } }] } : {}),
  };
  return {
    apiVersion: GATEWAY_API,
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns, ...(pick(r, TIMES) === undefined ? {} : { creationTimestamp: pick(r, TIMES.slice(0, 4)) }) },
    spec: { parentRefs: [{ name: pick(r, ['gw', 'gw', 'missing']), ...(chance(r, 0.3) ? { namespace: 'default' } : {}) }], ...(host === '' ? {} : { hostnames: [host] }), rules: [rule] },
  } as KubeObject;
}

type ListName = keyof Snapshot | 'gatewayClasses' | 'gateways' | 'httpRoutes';

/** The objects of a cluster by kind and `namespace/name` (a change replaces the object: a new reference). */
class World {
  readonly lists: Record<ListName, Map<string, KubeObject>> = {
    ingresses: new Map(),
    ingressClasses: new Map(),
    services: new Map(),
    endpointSlices: new Map(),
    secrets: new Map(),
    configMaps: new Map(),
    gatewayClasses: new Map(),
    gateways: new Map(),
    httpRoutes: new Map(),
  };
  readonly issued = new Map<string, IssuedCertificate>();

  /** Whether this sequence also changes Gateway API objects (their builds are full ones). */
  readonly withGateway: boolean;

  constructor(withGateway: boolean) {
    this.withGateway = withGateway;
  }

  snapshot(r: Rand): TranslateInput {
    const list = (m: Map<string, KubeObject>): KubeObject[] => {
      const xs = [...m.values()];
      // The order of a list is no input of the model: sometimes shuffled.
      if (chance(r, 0.1)) xs.sort(() => r() - 0.5);
      return xs;
    };
    return {
      ingresses: list(this.lists.ingresses),
      ingressClasses: list(this.lists.ingressClasses),
      services: list(this.lists.services),
      endpointSlices: list(this.lists.endpointSlices),
      secrets: list(this.lists.secrets),
      configMaps: list(this.lists.configMaps),
      // Absent when none, now and then (a source that does not read them).
      ...(this.lists.gatewayClasses.size + this.lists.gateways.size + this.lists.httpRoutes.size === 0 && chance(r, 0.5)
        ? {}
        : { gatewayClasses: list(this.lists.gatewayClasses), gateways: list(this.lists.gateways), httpRoutes: list(this.lists.httpRoutes) }),
      // Sorted by id, as the ACME manager gives them; absent when there are none, now and then.
      ...(this.issued.size === 0 && chance(r, 0.5) ? {} : { issuedCertificates: [...this.issued.values()].sort((a, b) => (a.id < b.id ? -1 : 1)) }),
    };
  }

  /** One random change; returns what it did, for the failure message. */
  step(r: Rand): string {
    const ns = pick(r, NAMESPACES);
    const del = chance(r, 0.25);
    const put = (kind: ListName, key: string, make: () => KubeObject): string => {
      const m = this.lists[kind];
      if (del) {
        m.delete(key);
        return `delete ${kind} ${key}`;
      }
      m.set(key, make());
      return `put ${kind} ${key}`;
    };
    if (chance(r, 0.1)) {
      // An issued certificate comes, is renewed, or goes.
      const main = pick(r, HOSTS.filter((h) => h !== ''));
      if (del) {
        this.issued.delete(main);
        return `delete issued ${main}`;
      }
      this.issued.set(main, issuedCert(r, main));
      return `put issued ${main}`;
    }
    if (this.withGateway && chance(r, 0.35)) {
      const y = r();
      if (y < 0.15) return put('gatewayClasses', 'pass', () => gatewayClass(r));
      if (y < 0.4) return put('gateways', `${ns}/gw`, () => gateway(r, ns, 'gw'));
      const name = `hr${Math.floor(r() * 3)}`;
      return put('httpRoutes', `${ns}/${name}`, () => httpRoute(r, ns, name));
    }
    const x = r();
    if (x < 0.4) {
      const name = `i${Math.floor(r() * 8)}`;
      return put('ingresses', `${ns}/${name}`, () => ingress(r, ns, name));
    }
    if (x < 0.5) {
      const name = pick(r, SERVICES.slice(0, 3));
      return put('services', `${ns}/${name}`, () => service(r, ns, name));
    }
    if (x < 0.65) {
      const svc = pick(r, SERVICES.slice(0, 3));
      const name = `${svc}-${Math.floor(r() * 2)}`;
      return put('endpointSlices', `${ns}/${name}`, () => slice(r, ns, name, svc));
    }
    if (x < 0.77) {
      const name = pick(r, SECRETS.slice(0, 4));
      return put('secrets', `${ns}/${name}`, () => secret(r, ns, name));
    }
    if (x < 0.85) return put('configMaps', `${ns}/hdrs`, () => configMap(r, ns, 'hdrs'));
    if (x < 0.9) return put('ingressClasses', String(Math.floor(r() * 2)), () => ingressClass(r));
    if (x < 0.93) {
      // An object without a usable name (full build) or a name twice, now and then.
      const bad = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'Bad_Name', namespace: ns }, spec: { ingressClassName: 'passerelle' } } as KubeObject;
      return put('ingresses', 'bad', () => bad);
    }
    if (x < 0.95) {
      const twin = this.lists.services.values().next().value;
      return twin === undefined ? 'nothing' : put('services', 'twin', () => ({ ...twin }));
    }
    if (x < 0.96) {
      // One object (the same reference) twice in a list.
      const again = this.lists.ingresses.values().next().value;
      return again === undefined ? 'nothing' : put('ingresses', 'again', () => again);
    }
    return 'nothing (same objects)';
  }
}

const SEQUENCES = Number(process.env['SEQUENCES'] ?? 300);
const STEPS = Number(process.env['STEPS'] ?? 30);
const FIRST_SEED = Number(process.env['SEED'] ?? 1);
const MODES: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

function optionsFor(r: Rand): TranslateOptions {
  return {
    entryPoints: [{ name: 'web', address: { port: WEB_PORT }, tls: false, middlewares: [] }],
    ingressClass: 'passerelle',
    controllerName: 'passerelle.dev/ingress-controller',
    classAliases: ['traefik'],
    watchIngressWithoutClass: chance(r, 0.3),
    sslRedirect: chance(r, 0.8),
    mode: pick(r, MODES),
    ...(chance(r, 0.5) ? { acme: { onHostRule: chance(r, 0.5), wildcards: chance(r, 0.5) } } : {}),
  };
}

test(`incremental build equals translate after every step (${SEQUENCES} random sequences of ${STEPS} changes)`, () => {
  let incremental = 0;
  /** Builds whose model serves an HTTPRoute: the Gateway API objects took part. */
  let gatewayRouted = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEQUENCES; seed++) {
    const r = prng(seed);
    const options = optionsFor(r);
    // One sequence in five also changes Gateway API objects.
    const world = new World(seed % 5 === 0);
    const translator = new IncrementalTranslator(options);
    const done: string[] = [];
    for (let step = 0; step < STEPS; step++) {
      // Several changes between builds now and then, as one debounced burst.
      const n = chance(r, 0.2) ? 1 + Math.floor(r() * 4) : 1;
      for (let k = 0; k < n; k++) done.push(world.step(r));
      const snapshot = world.snapshot(r);
      const expected = translate(snapshot, options);
      let actual;
      try {
        actual = translator.build(snapshot);
      } catch (err) {
        assert.fail(`seed ${seed} step ${step}: build threw ${String(err)}\n${done.join('\n')}`);
      }
      assert.deepEqual(actual, expected, `seed ${seed} step ${step} (SEED=${seed} SEQUENCES=1 reruns it); changes:\n${done.join('\n')}`);
      if (expected.virtualHosts.some((vh) => vh.routes.some((route) => route.source.kind === 'HTTPRoute'))) gatewayRouted++;
    }
    incremental += translator.incrementalBuilds;
  }
  // Most builds reused the previous one (the rest: a name twice or unusable, or an IngressClass change).
  assert.ok(incremental > SEQUENCES * STEPS * 0.4, `only ${incremental} incremental builds`);
  if (SEQUENCES >= 50) assert.ok(gatewayRouted > SEQUENCES / 5, `only ${gatewayRouted} builds served an HTTPRoute`);
});

const base = (name: string, host: string, svc: string, created: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'default', creationTimestamp: created },
    spec: { ingressClassName: 'passerelle', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } }] } }], ...extra },
  }) as KubeObject;
const svcObj = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }) as KubeObject;
const sliceObj = (svc: string, ip: string): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svc}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
  }) as KubeObject;
const options: TranslateOptions = { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: false };

test('a change to one Ingress keeps the other hosts, their backends and certificates by reference', () => {
  const ings = ['a', 'b', 'c'].map((n, i) => base(n, `${n}.test`, `svc-${n}`, `2026-01-0${i + 1}T00:00:00Z`));
  const services = ['a', 'b', 'c'].map((n) => svcObj(`svc-${n}`));
  const slices = ['a', 'b', 'c'].map((n, i) => sliceObj(`svc-${n}`, `10.0.0.${i + 1}`));
  const snap = (ingresses: KubeObject[], endpointSlices = slices): Snapshot => ({ ingresses, ingressClasses: [], services, endpointSlices, secrets: [], configMaps: [] });
  const t = new IncrementalTranslator(options);
  const first = t.build(snap(ings));
  const changed = [ings[0] as KubeObject, base('b', 'b.test', 'svc-b', '2026-01-02T00:00:00Z', { tls: [{ hosts: ['b.test'], secretName: 'none' }] }), ings[2] as KubeObject];
  const second = t.build(snap(changed));
  assert.deepEqual(second, translate(snap(changed), options));
  assert.equal(t.incrementalBuilds, 1);
  assert.equal(second.virtualHosts[0], first.virtualHosts[0], 'a.test kept');
  assert.equal(second.virtualHosts[2], first.virtualHosts[2], 'c.test kept');
  assert.notEqual(second.virtualHosts[1], first.virtualHosts[1], 'b.test rebuilt');
  for (const id of Object.keys(first.backends)) assert.equal(second.backends[id], first.backends[id], `${id} kept`);

  // An EndpointSlice change: every host kept, only that backend replaced.
  const moved = [slices[0] as KubeObject, sliceObj('svc-b', '10.0.0.9'), slices[2] as KubeObject];
  const third = t.build(snap(changed, moved));
  assert.deepEqual(third, translate(snap(changed, moved), options));
  third.virtualHosts.forEach((vh, i) => assert.equal(vh, second.virtualHosts[i]));
  assert.equal(third.backends['default/svc-a:80'], second.backends['default/svc-a:80']);
  assert.equal(third.backends['default/svc-c:80'], second.backends['default/svc-c:80']);
  assert.notEqual(third.backends['default/svc-b:80'], second.backends['default/svc-b:80']);
  assert.deepEqual(third.backends['default/svc-b:80']?.endpoints.map((e) => e.address), ['10.0.0.9']);
  assert.equal(t.incrementalBuilds, 2);
});

test('a model it returned is never changed by a later build', () => {
  const t = new IncrementalTranslator(options);
  const a = base('a', 'a.test', 'svc-a', '2026-01-01T00:00:00Z');
  const s1: Snapshot = { ingresses: [a], ingressClasses: [], services: [svcObj('svc-a')], endpointSlices: [], secrets: [], configMaps: [] };
  const first = t.build(s1);
  const copy = structuredClone(first);
  t.build({ ...s1, ingresses: [a, base('b', 'b.test', 'svc-b', '2026-01-02T00:00:00Z')] });
  t.build({ ...s1, ingresses: [] });
  assert.deepEqual(first, copy);
});

test('issued certificates coming, renewed and going: only the hosts whose certificate moved are rebuilt, and the result equals translate', () => {
  const ings = ['a', 'b'].map((n, i) => base(n, `${n}.test`, `svc-${n}`, `2026-01-0${i + 1}T00:00:00Z`));
  const s0: TranslateInput = { ingresses: ings, ingressClasses: [], services: [svcObj('svc-a'), svcObj('svc-b')], endpointSlices: [], secrets: [], configMaps: [] };
  const issued = (pem: string): IssuedCertificate => ({ id: 'acme.passerelle/a.test', names: ['a.test'], certPem: pem, keyPem: KEY });
  const t = new IncrementalTranslator(options);
  const first = t.build(s0);
  const steps: TranslateInput[] = [{ ...s0, issuedCertificates: [issued(CERT)] }, { ...s0, issuedCertificates: [issued(CERT2)] }, { ...s0, issuedCertificates: [] }];
  const models = steps.map((s) => {
    const m = t.build(s);
    assert.deepEqual(m, translate(s, options));
    return m;
  });
  assert.equal(t.incrementalBuilds, 3);
  assert.equal(models[0]?.virtualHosts[0]?.certificate, 'acme.passerelle/a.test');
  assert.equal(models[0]?.virtualHosts[1], first.virtualHosts[1], 'b.test kept');
  assert.equal(models[1]?.virtualHosts[0], models[0]?.virtualHosts[0], 'a renewal keeps the host (same certificate id)');
  assert.equal(models[1]?.certificates[0]?.certPem, CERT2);
  assert.equal(models[2]?.virtualHosts[0]?.certificate, undefined);
  assert.deepEqual(models[2]?.certificates, []);
});
