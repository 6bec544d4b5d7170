import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject, Snapshot } from '../../src/model/k8s.ts';
import { resolveRequest } from '../../src/model/match.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import { isOurIngress, translate } from '../../src/model/translate/index.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';

const fixtures = new URL('../fixtures/translate/', import.meta.url);

const LIST_OF_KIND: Readonly<Record<string, keyof Snapshot>> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
};

/** Reads fixture files into a snapshot, each object with its `source` like the file source sets it. */
function load(...files: string[]): Snapshot {
  const lists: Record<keyof Snapshot, unknown[]> = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [] };
  for (const file of files) {
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(readFileSync(new URL(file, fixtures), 'utf8'), { lineCounter });
    for (const doc of docs) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const obj: unknown = doc.toJS();
      if (typeof obj !== 'object' || obj === null) continue;
      const kind = (obj as { kind?: unknown }).kind;
      const list = typeof kind === 'string' ? LIST_OF_KIND[kind] : undefined;
      assert.ok(list, `${file}: unexpected kind ${String(kind)}`);
      const line = lineCounter.linePos(doc.contents?.range[0] ?? 0).line;
      lists[list].push({ ...obj, source: { file, line } });
    }
  }
  return lists as unknown as Snapshot;
}

const options: TranslateOptions = {
  entryPoints: [],
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: ['traefik'],
  watchIngressWithoutClass: false,
};

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Translates a frozen snapshot, so any mutation of the input throws. */
function run(snapshot: Snapshot, opts: TranslateOptions = options): RoutingModel {
  return translate(deepFreeze(snapshot), opts);
}

/** code + object + field of each diagnostic: what the tests compare. */
function brief(diags: readonly Diagnostic[]): string[] {
  return diags.map((d) => {
    const o = d.object;
    const ref = o === undefined ? '' : `${o.kind} ${o.namespace === undefined ? '' : `${o.namespace}/`}${o.name}`;
    return `${d.severity} ${d.code} ${ref} ${d.field ?? ''}`.trimEnd();
  });
}

function endpointsOf(model: RoutingModel, id: string): string[] {
  const b = model.backends[id];
  assert.ok(b, `backend ${id} missing`);
  return b.endpoints.map((e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}${e.name === undefined ? '' : ` ${e.name}`}`);
}

function snapshotOf(parts: Partial<Record<keyof Snapshot, readonly unknown[]>>): Snapshot {
  return { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], ...parts } as Snapshot;
}

function v1Ingress(name: string, spec: Record<string, unknown>, extraMeta: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default', ...extraMeta }, spec: { ingressClassName: 'passerelle', ...spec } };
}

function rule(host: string | undefined, path: unknown, pathType: unknown = 'Prefix'): Record<string, unknown> {
  return {
    ...(host === undefined ? {} : { host }),
    http: { paths: [{ path, pathType, backend: { service: { name: 'web', port: { number: 80 } } } }] },
  };
}

const webService: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80 }] } };

// ---------------------------------------------------------------------------------------------

test('seed: the legacy extensions/v1beta1 Ingress (class "traefik" alias, paths without path) gives 4 virtual hosts', () => {
  const model = run(load('seed-ingress.yml', 'seed-services.yaml'));
  assert.deepEqual(model.diagnostics, []);
  const expected: [string, string, string[]][] = [
    ['movies.archifleks.net', 'default/couchpotato:5050', ['10.1.0.14:5050 couchpotato-0', '10.1.0.15:5050 couchpotato-1']],
    ['seedbox.archifleks.net', 'default/h5ai:80', ['10.1.0.11:80 h5ai-7d9f-1']],
    ['torrents.archifleks.net', 'default/rtorrent-internal:80', ['10.1.0.13:8080 rtorrent-0']],
    ['tv.archifleks.net', 'default/sickrage:8081', ['10.1.0.12:8081 sickrage-0']],
  ];
  assert.deepEqual(model.virtualHosts.map((v) => v.host), expected.map(([h]) => h));
  for (const [host, backend, endpoints] of expected) {
    const vh = model.virtualHosts.find((v) => v.host === host);
    assert.ok(vh);
    assert.equal(vh.kind, 'exact');
    assert.deepEqual(vh.routes.map((r) => [r.path, r.pathType, r.backend]), [['/', 'Prefix', backend]]);
    assert.deepEqual(vh.sources, [{ kind: 'Ingress', namespace: 'default', name: 'bobox' }]);
    assert.equal(vh.certificate, undefined);
    assert.deepEqual(endpointsOf(model, backend), endpoints);
    const res = resolveRequest(model, `${host}:80`, '/some/page');
    assert.equal(res.outcome, 'route');
  }
  assert.deepEqual(Object.keys(model.backends), ['default/couchpotato:5050', 'default/h5ai:80', 'default/rtorrent-internal:80', 'default/sickrage:8081']);
  assert.equal(model.defaultBackend, undefined);
});

test('entry points are copied from the options into the model', () => {
  const entryPoints = [{ name: 'http', address: { port: 80 }, tls: false, middlewares: [] }];
  const model = run(load('seed-ingress.yml', 'seed-services.yaml'), { ...options, entryPoints });
  assert.deepEqual(model.entryPoints, entryPoints);
});

// ---------------------------------------------------------------------------------------------

const endpointCases: { name: string; path: string; backend: string; endpoints: string[] }[] = [
  {
    name: 'port by name: ready endpoints of every slice, not-ready and terminating excluded, duplicates merged, IPv6 kept',
    path: '/by-name',
    backend: 'shop/web:http',
    endpoints: ['10.0.0.1:8080 web-a', '10.0.0.2:8080 web-b', '10.0.0.5:8080 web-e', '[fd00::5]:8080'],
  },
  {
    name: 'port by number resolves the same Service port',
    path: '/by-number',
    backend: 'shop/web:80',
    endpoints: ['10.0.0.1:8080 web-a', '10.0.0.2:8080 web-b', '10.0.0.5:8080 web-e', '[fd00::5]:8080'],
  },
  {
    name: 'second named port; a slice without that port falls back to the numeric targetPort',
    path: '/metrics',
    backend: 'shop/web:metrics',
    endpoints: ['10.0.0.1:9100 web-a', '10.0.0.2:9100 web-b', '10.0.0.5:9100 web-e', '[fd00::5]:9100'],
  },
  { name: 'numeric targetPort used when the slice lists no ports', path: '/target', backend: 'shop/legacy-target:80', endpoints: ['10.0.1.1:9090'] },
  { name: 'named targetPort with no matching slice port gives no endpoints', path: '/named-target', backend: 'shop/named-target:80', endpoints: [] },
];

for (const c of endpointCases) {
  test(`backends: ${c.name}`, () => {
    const model = run(load('endpoints.yaml'));
    const res = resolveRequest(model, 'api.example.com', c.path);
    assert.equal(res.outcome, 'route');
    assert.equal(res.backend?.id, c.backend);
    assert.deepEqual(endpointsOf(model, c.backend), c.endpoints);
    assert.equal(res.backend?.servicePort, c.backend.slice(c.backend.indexOf(':') + 1).match(/^\d+$/) ? Number(c.backend.split(':')[1]) : c.backend.split(':')[1]);
  });
}

test('backends: an FQDN EndpointSlice is skipped with a warning on the slice; nothing else is reported', () => {
  const model = run(load('endpoints.yaml'));
  assert.deepEqual(brief(model.diagnostics), ['warning PASS_ENDPOINTSLICE_FQDN EndpointSlice shop/web-fqdn addressType']);
  assert.deepEqual(model.diagnostics[0]?.location, { file: 'endpoints.yaml', line: 79 });
});

test('backends: slices of the same Service name in another namespace are not used', () => {
  const model = run(load('endpoints.yaml'));
  for (const b of Object.values(model.backends)) assert.ok(!b.endpoints.some((e) => e.address === '10.9.9.9'));
});

// ---------------------------------------------------------------------------------------------

test('missing Service, unknown port number and name, ExternalName, missing Secret: diagnostics on the Ingress fields', () => {
  const model = run(load('missing.yaml'));
  assert.deepEqual(brief(model.diagnostics), [
    'error PASS_INGRESS_MISSING_SERVICE Ingress default/gaps spec.rules[0].http.paths[0].backend.service.name',
    'error PASS_INGRESS_UNKNOWN_PORT Ingress default/gaps spec.rules[0].http.paths[1].backend.service.port.number',
    'error PASS_INGRESS_UNKNOWN_PORT Ingress default/gaps spec.rules[0].http.paths[2].backend.service.port.name',
    'warning PASS_INGRESS_EXTERNAL_NAME Ingress default/gaps spec.rules[0].http.paths[3].backend.service.name',
    'error PASS_INGRESS_MISSING_SECRET Ingress default/gaps spec.tls[0].secretName',
  ]);
  for (const d of model.diagnostics) assert.equal(d.location?.file, 'missing.yaml');
});

const keptRoutes: [string, string][] = [
  ['/nosvc', 'default/ghost:80'],
  ['/noport', 'default/web:81'],
  ['/noportname', 'default/web:grpc'],
  ['/ext', 'default/external:80'],
];
for (const [path, backend] of keptRoutes) {
  test(`missing references keep the route with an empty backend (503): ${path}`, () => {
    const model = run(load('missing.yaml'));
    const res = resolveRequest(model, 'gaps.example.com', `${path}/x`);
    assert.equal(res.outcome, 'route');
    assert.equal(res.backend?.id, backend);
    assert.deepEqual(res.backend?.endpoints, []);
  });
}

test('missing Secret: the TLS entry is skipped, the host is still routed, with no certificate', () => {
  const model = run(load('missing.yaml'));
  assert.deepEqual(model.certificates, []);
  const vh = model.virtualHosts.find((v) => v.host === 'gaps.example.com');
  assert.equal(vh?.certificate, undefined);
  assert.deepEqual(endpointsOf(model, 'default/web:80'), ['10.0.0.1:80']);
});

// ---------------------------------------------------------------------------------------------

test('bad input: bad hosts, bad paths, missing pathType, hostile Service name are reported; the rest is built', () => {
  const model = run(load('bad-input.yaml'));
  assert.deepEqual(brief(model.diagnostics), [
    'error PASS_INGRESS_BAD_HOST Ingress default/bad spec.rules[0].host',
    'error PASS_INGRESS_BAD_HOST Ingress default/bad spec.rules[1].host',
    'error PASS_INGRESS_BAD_HOST Ingress default/bad spec.rules[2].host',
    'error PASS_INGRESS_BAD_PATH Ingress default/bad spec.rules[3].http.paths[0].path',
    'error PASS_INGRESS_BAD_PATH Ingress default/bad spec.rules[3].http.paths[1].path',
    'error PASS_INGRESS_BAD_PATH Ingress default/bad spec.rules[3].http.paths[2].path',
    'error PASS_INGRESS_BAD_PATH Ingress default/bad spec.rules[3].http.paths[3].path',
    'error PASS_INGRESS_BAD_PATH_TYPE Ingress default/bad spec.rules[3].http.paths[4].pathType',
    'error PASS_INGRESS_BAD_BACKEND Ingress default/bad spec.rules[3].http.paths[5].backend.service.name',
    'error PASS_OBJECT_INVALID Ingress default/no-spec spec',
  ]);
  assert.deepEqual(
    model.virtualHosts.map((v) => [v.host, v.routes.map((r) => `${r.pathType} ${r.path}`)]),
    [
      ['good.example.com', ['Prefix /']],
      ['mixed.example.com', ['Exact /ok']],
    ],
  );
  assert.deepEqual(Object.keys(model.backends), ['default/web:80']);
});

test('one bad Ingress does not affect another: the good Ingress alone gives the same virtual host', () => {
  const all = run(load('bad-input.yaml'));
  const snapshot = load('bad-input.yaml');
  const goodOnly = run({ ...snapshot, ingresses: snapshot.ingresses.filter((i) => i.metadata?.name === 'good') });
  assert.deepEqual(
    all.virtualHosts.find((v) => v.host === 'good.example.com'),
    goodOnly.virtualHosts.find((v) => v.host === 'good.example.com'),
  );
  assert.deepEqual(goodOnly.diagnostics, []);
});

const rejectedPaths: [string, string][] = [
  ['semicolon', '/a;b'],
  ['space', '/a b'],
  ['newline with a directive', '/x\n  return 200'],
  ['tab', '/a\tb'],
  ['NUL', '/a\u0000b'],
  ['DEL', '/a\u007fb'],
  ['double quote', '/a"b'],
  ['single quote', "/a'b"],
  ['opening brace', '/a{b'],
  ['closing brace', '/a}b'],
  ['backslash', '/a\\b'],
  ['hash', '/a#b'],
  ['question mark', '/a?b'],
  ['backquote', '/a`b'],
  ['less than', '/a<b'],
  ['greater than', '/a>b'],
  ['caret', '/a^b'],
  ['pipe', '/a|b'],
  ['dollar (proxy variables)', '/a$host'],
  ['bracket', '/a[0]'],
  ['non-ASCII', '/café'],
  ['bad percent escape', '/a%zz'],
  ['encoded newline', '/a%0a'],
  ['encoded slash', '/a%2Fb'],
  ['double slash', '/a//b'],
  ['dot segment', '/a/./b'],
  ['dot-dot segment', '/a/../b'],
  ['trailing dot-dot', '/a/..'],
  ['relative path', 'a/b'],
  ['empty path with Prefix', ''],
  ['too long', `/${'a'.repeat(1024)}`],
];
for (const [name, path] of rejectedPaths) {
  test(`path rejected: ${name} (${JSON.stringify(path)})`, () => {
    const model = run(snapshotOf({ ingresses: [v1Ingress('p', { rules: [rule('p.example.com', path)] })], services: [webService] }));
    assert.deepEqual(brief(model.diagnostics), ['error PASS_INGRESS_BAD_PATH Ingress default/p spec.rules[0].http.paths[0].path']);
    assert.deepEqual(model.virtualHosts, []);
  });
}

const acceptedPaths: [string, string, string][] = [
  ['root', '/', '/'],
  ['unreserved characters', '/a-b_c.d~e', '/a-b_c.d~e'],
  ['percent escapes', '/caf%C3%A9', '/caf%C3%A9'],
  ['sub-delims and colon, at', "/a:b@c!&()*+,=", "/a:b@c!&()*+,="],
  ['trailing slash trimmed for Prefix', '/api/v1/', '/api/v1'],
  ['dots inside a segment', '/a..b/.well-known', '/a..b/.well-known'],
];
for (const [name, path, normalised] of acceptedPaths) {
  test(`path accepted: ${name} (${path})`, () => {
    const model = run(snapshotOf({ ingresses: [v1Ingress('p', { rules: [rule('p.example.com', path)] })], services: [webService] }));
    assert.deepEqual(model.diagnostics, []);
    assert.deepEqual(model.virtualHosts[0]?.routes.map((r) => r.path), [normalised]);
  });
}

const rejectedHosts: [string, string][] = [
  ['semicolon', 'evil.com;'],
  ['brace', 'a{'],
  ['space', 'a b.com'],
  ['newline with a directive', 'evil.com\n  return 200'],
  ['IPv4 address', '192.168.1.1'],
  ['IPv6 address', '::1'],
  ['bracketed IPv6', '[::1]'],
  ['port', 'host.com:80'],
  ['wildcard not the whole first label', 'foo*.com'],
  ['wildcard in the middle', 'foo.*.com'],
  ['bare star', '*'],
  ['star dot', '*.'],
  ['empty label', 'a..b'],
  ['leading hyphen', '-a.com'],
  ['trailing hyphen in a label', 'a-.com'],
  ['underscore', 'a_b.com'],
  ['trailing dot', 'foo.com.'],
  ['label over 63 characters', `${'a'.repeat(64)}.com`],
  ['name over 253 characters', `${'abcdefghi.'.repeat(26)}com`],
  ['non-ASCII', 'café.com'],
  ['quote', 'a".com'],
];
for (const [name, host] of rejectedHosts) {
  test(`host rejected: ${name} (${JSON.stringify(host)})`, () => {
    const model = run(snapshotOf({ ingresses: [v1Ingress('h', { rules: [rule(host, '/'), rule('ok.example.com', '/')] })], services: [webService] }));
    assert.deepEqual(brief(model.diagnostics), ['error PASS_INGRESS_BAD_HOST Ingress default/h spec.rules[0].host']);
    assert.deepEqual(model.virtualHosts.map((v) => v.host), ['ok.example.com']);
  });
}

const acceptedHosts: [string, string, string, string][] = [
  ['exact', 'foo.bar.com', 'foo.bar.com', 'exact'],
  ['upper case is lower-cased', 'Foo.Bar.COM', 'foo.bar.com', 'exact'],
  ['wildcard', '*.foo.com', '*.foo.com', 'wildcard'],
  ['single label', 'localhost', 'localhost', 'exact'],
  ['digits and hyphens', '1-2.x9.example', '1-2.x9.example', 'exact'],
];
for (const [name, host, expected, kind] of acceptedHosts) {
  test(`host accepted: ${name} (${host})`, () => {
    const model = run(snapshotOf({ ingresses: [v1Ingress('h', { rules: [rule(host, '/')] })], services: [webService] }));
    assert.deepEqual(model.diagnostics, []);
    assert.deepEqual(model.virtualHosts.map((v) => [v.host, v.kind]), [[expected, kind]]);
  });
}

test('a rule without host becomes the virtual host "*" of kind any', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('h', { rules: [rule(undefined, '/')] })], services: [webService] }));
  assert.deepEqual(model.virtualHosts.map((v) => [v.host, v.kind]), [['*', 'any']]);
});

// ---------------------------------------------------------------------------------------------

const invalidObjects: { name: string; snapshot: Snapshot; expected: string[] }[] = [
  { name: 'an Ingress that is not an object', snapshot: snapshotOf({ ingresses: [42] }), expected: ['error PASS_OBJECT_INVALID Ingress <ingresses[0]>'] },
  {
    name: 'an Ingress of ours without metadata.name',
    snapshot: snapshotOf({ ingresses: [{ metadata: { annotations: { 'kubernetes.io/ingress.class': 'passerelle' } }, spec: {} }] }),
    expected: ['error PASS_OBJECT_INVALID Ingress <ingresses[0]> metadata.name'],
  },
  {
    name: 'an Ingress with a hostile name',
    snapshot: snapshotOf({ ingresses: [v1Ingress('bad name;', { rules: [rule('x.example.com', '/')] })] }),
    expected: ['error PASS_OBJECT_INVALID Ingress <ingresses[0]> metadata.name'],
  },
  {
    name: 'spec.rules not a list',
    snapshot: snapshotOf({ ingresses: [v1Ingress('r', { rules: 'everything' })] }),
    expected: ['error PASS_OBJECT_INVALID Ingress default/r spec.rules'],
  },
  {
    name: 'a rule that is not an object',
    snapshot: snapshotOf({ ingresses: [v1Ingress('r', { rules: [7] })] }),
    expected: ['error PASS_OBJECT_INVALID Ingress default/r spec.rules[0]'],
  },
  {
    name: 'an unknown apiVersion',
    snapshot: snapshotOf({ ingresses: [{ ...v1Ingress('r', {}), apiVersion: 'example.com/v9' }] }),
    expected: ['error PASS_OBJECT_INVALID Ingress default/r apiVersion'],
  },
  {
    name: 'annotations that are not strings',
    snapshot: snapshotOf({ ingresses: [v1Ingress('r', { rules: [rule('x.example.com', '/')] }, { annotations: { a: 1 } })] }),
    expected: ["error PASS_OBJECT_INVALID Ingress default/r metadata.annotations['a']"],
  },
  {
    name: 'a v1 backend with both port number and name',
    snapshot: snapshotOf({
      ingresses: [v1Ingress('r', { rules: [{ host: 'x.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80, name: 'http' } } } }] } }] })],
      services: [webService],
    }),
    expected: ['error PASS_OBJECT_INVALID Ingress default/r spec.rules[0].http.paths[0].backend.service.port'],
  },
  {
    name: 'a port number out of range',
    snapshot: snapshotOf({
      ingresses: [v1Ingress('r', { rules: [{ host: 'x.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 70000 } } } }] } }] })],
    }),
    expected: ['error PASS_INGRESS_BAD_BACKEND Ingress default/r spec.rules[0].http.paths[0].backend.service.port.number'],
  },
  {
    name: 'a resource backend (unsupported)',
    snapshot: snapshotOf({
      ingresses: [v1Ingress('r', { rules: [{ host: 'x.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { resource: { kind: 'Bucket', name: 'b' } } }] } }] })],
    }),
    expected: ['warning PASS_INGRESS_UNSUPPORTED_BACKEND Ingress default/r spec.rules[0].http.paths[0].backend.resource'],
  },
  {
    name: 'an unknown pathType',
    snapshot: snapshotOf({ ingresses: [v1Ingress('r', { rules: [rule('x.example.com', '/', 'Regex')] })], services: [webService] }),
    expected: ['error PASS_INGRESS_BAD_PATH_TYPE Ingress default/r spec.rules[0].http.paths[0].pathType'],
  },
  {
    name: 'Services, Secrets, EndpointSlices that are not objects or are badly named',
    snapshot: snapshotOf({
      services: ['x', { kind: 'Service', metadata: { name: 'UPPER' } }],
      secrets: [null],
      endpointSlices: [{ kind: 'EndpointSlice', metadata: { name: 'ok', namespace: 'Bad_NS' } }],
    }),
    expected: [
      'error PASS_OBJECT_INVALID EndpointSlice ok metadata.namespace',
      'error PASS_OBJECT_INVALID Secret <secrets[0]>',
      'error PASS_OBJECT_INVALID Service <services[0]>',
      'error PASS_OBJECT_INVALID Service <services[1]> metadata.name',
    ],
  },
  {
    name: 'a referenced Service with malformed ports',
    snapshot: snapshotOf({
      ingresses: [v1Ingress('r', { rules: [rule('x.example.com', '/')] })],
      services: [{ kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 'eighty' }, { port: 80, name: 'Bad Name' }] } }],
    }),
    expected: [
      'error PASS_INGRESS_UNKNOWN_PORT Ingress default/r spec.rules[0].http.paths[0].backend.service.port.number',
      'error PASS_OBJECT_INVALID Service default/web spec.ports[0].port',
      'error PASS_OBJECT_INVALID Service default/web spec.ports[1].name',
    ],
  },
  {
    name: 'an EndpointSlice with a hostile address',
    snapshot: snapshotOf({
      ingresses: [v1Ingress('r', { rules: [rule('x.example.com', '/')] })],
      services: [webService],
      endpointSlices: [
        {
          kind: 'EndpointSlice',
          metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
          addressType: 'IPv4',
          ports: [{ port: 80 }],
          endpoints: [{ addresses: ['10.0.0.1;\n  server evil'] }, { addresses: ['10.0.0.2'] }],
        },
      ],
    }),
    expected: ['error PASS_OBJECT_INVALID EndpointSlice default/web-1 endpoints[0].addresses[0]'],
  },
];
for (const c of invalidObjects) {
  test(`invalid objects are reported, never thrown: ${c.name}`, () => {
    const model = run(c.snapshot);
    assert.deepEqual(brief(model.diagnostics), c.expected);
  });
}

test('invalid objects: a hostile endpoint address never reaches the model', () => {
  const c = invalidObjects.find((x) => x.name === 'an EndpointSlice with a hostile address');
  assert.ok(c);
  const model = run(c.snapshot);
  assert.deepEqual(endpointsOf(model, 'default/web:80'), ['10.0.0.2:80']);
});

// ---------------------------------------------------------------------------------------------

test('legacy shape: networking.k8s.io/v1beta1 with spec.backend, servicePort by name, explicit pathType', () => {
  const ingress = {
    apiVersion: 'networking.k8s.io/v1beta1',
    kind: 'Ingress',
    metadata: { name: 'old', namespace: 'default', annotations: { 'kubernetes.io/ingress.class': 'passerelle' } },
    spec: {
      backend: { serviceName: 'web', servicePort: 'http' },
      rules: [{ host: 'old.example.com', http: { paths: [{ path: '/exact', pathType: 'Exact', backend: { serviceName: 'web', servicePort: 80 } }] } }],
    },
  };
  const service = { kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } };
  const model = run(snapshotOf({ ingresses: [ingress], services: [service] }));
  assert.deepEqual(model.diagnostics, []);
  assert.equal(model.defaultBackend, 'default/web:http');
  assert.deepEqual(model.virtualHosts[0]?.routes.map((r) => [r.path, r.pathType, r.backend]), [['/exact', 'Exact', 'default/web:80']]);
  assert.equal(resolveRequest(model, 'other.example.com', '/').outcome, 'default');
});

test('legacy shape without apiVersion (API list items) is recognised by serviceName', () => {
  const ingress = {
    metadata: { name: 'bare', annotations: { 'kubernetes.io/ingress.class': 'passerelle' } },
    spec: { rules: [{ http: { paths: [{ backend: { serviceName: 'web', servicePort: 80 } }] } }] },
  };
  const model = run(snapshotOf({ ingresses: [ingress], services: [webService] }));
  assert.deepEqual(model.diagnostics, []);
  assert.deepEqual(model.virtualHosts.map((v) => [v.host, v.routes[0]?.path, v.routes[0]?.pathType]), [['*', '/', 'Prefix']]);
});

test('v1: ImplementationSpecific without path means "/" served as Prefix', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('i', { rules: [rule('i.example.com', undefined, 'ImplementationSpecific')] })], services: [webService] }));
  assert.deepEqual(model.diagnostics, []);
  assert.deepEqual(model.virtualHosts[0]?.routes.map((r) => [r.path, r.pathType]), [['/', 'Prefix']]);
});

test('v1: spec.defaultBackend becomes the model default backend', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('d', { defaultBackend: { service: { name: 'web', port: { number: 80 } } } })], services: [webService] }));
  assert.deepEqual(model.diagnostics, []);
  assert.equal(model.defaultBackend, 'default/web:80');
  assert.deepEqual(model.virtualHosts, []);
});

for (const [name, spec] of [['absent', {}], ['empty', { rules: [] }]] as const) {
  test(`an Ingress with neither rules (${name}) nor default backend is reported`, () => {
    const model = run(snapshotOf({ ingresses: [v1Ingress('e', spec)] }));
    assert.deepEqual(brief(model.diagnostics), ['error PASS_OBJECT_INVALID Ingress default/e spec']);
  });
}

// ---------------------------------------------------------------------------------------------

const classCases: { name: string; withClasses: boolean; watchIngressWithoutClass: boolean; hosts: string[] }[] = [
  {
    name: 'IngressClasses present: our class by name, our own class name, legacy annotation, alias, default class',
    withClasses: true,
    watchIngressWithoutClass: false,
    hosts: ['alias.example.com', 'by-class.example.com', 'legacy.example.com', 'no-class.example.com', 'own-name.example.com'],
  },
  {
    name: 'no IngressClass objects: only our own class name and annotations; no class means not ours',
    withClasses: false,
    watchIngressWithoutClass: false,
    hosts: ['alias.example.com', 'legacy.example.com', 'own-name.example.com'],
  },
  {
    name: 'no IngressClass objects and watchIngressWithoutClass: Ingresses without class are ours',
    withClasses: false,
    watchIngressWithoutClass: true,
    hosts: ['alias.example.com', 'legacy.example.com', 'no-class.example.com', 'own-name.example.com'],
  },
];
for (const c of classCases) {
  test(`class selection: ${c.name}`, () => {
    const snapshot = load('class.yaml');
    const model = run(c.withClasses ? snapshot : { ...snapshot, ingressClasses: [] }, { ...options, watchIngressWithoutClass: c.watchIngressWithoutClass });
    assert.deepEqual(model.virtualHosts.map((v) => v.host), c.hosts);
    assert.deepEqual(model.diagnostics, []);
  });
}

const ingressClasses = load('class.yaml').ingressClasses;
const decisionCases: { name: string; ingress: unknown; ours: boolean; reason: RegExp }[] = [
  { name: 'ingressClassName of an IngressClass of our controller', ingress: { spec: { ingressClassName: 'passerelle-class' } }, ours: true, reason: /IngressClass of controller/ },
  { name: 'ingressClassName of another controller', ingress: { spec: { ingressClassName: 'nginx' } }, ours: false, reason: /k8s.io\/ingress-nginx/ },
  { name: 'ingressClassName naming our class without an object', ingress: { spec: { ingressClassName: 'passerelle' } }, ours: true, reason: /ingressClassName is "passerelle"/ },
  { name: 'ingressClassName wins over the annotation', ingress: { metadata: { annotations: { 'kubernetes.io/ingress.class': 'passerelle' } }, spec: { ingressClassName: 'nginx' } }, ours: false, reason: /belongs to controller/ },
  { name: 'legacy annotation of our class', ingress: { metadata: { annotations: { 'kubernetes.io/ingress.class': 'passerelle' } } }, ours: true, reason: /annotation/ },
  { name: 'legacy annotation with an alias', ingress: { metadata: { annotations: { 'kubernetes.io/ingress.class': 'traefik' } } }, ours: true, reason: /alias/ },
  { name: 'legacy annotation of another class, even with a default class of ours', ingress: { metadata: { annotations: { 'kubernetes.io/ingress.class': 'nginx' } } }, ours: false, reason: /another class/ },
  { name: 'no class with our default IngressClass', ingress: { spec: {} }, ours: true, reason: /default/ },
  { name: 'not an object', ingress: 'Ingress', ours: false, reason: /not an object/ },
];
for (const c of decisionCases) {
  test(`isOurIngress: ${c.name}`, () => {
    const d = isOurIngress(c.ingress, ingressClasses, options);
    assert.equal(d.ours, c.ours);
    assert.match(d.reason, c.reason);
  });
}

test('isOurIngress: no class, no default IngressClass, watchIngressWithoutClass decides', () => {
  assert.equal(isOurIngress({ spec: {} }, [], options).ours, false);
  assert.equal(isOurIngress({ spec: {} }, [], { ...options, watchIngressWithoutClass: true }).ours, true);
});

test('class selection: a malformed Ingress of another class is ignored silently', () => {
  const other = { metadata: { name: 'x', annotations: { 'kubernetes.io/ingress.class': 'nginx' } }, spec: { rules: 'garbage' } };
  const model = run(snapshotOf({ ingresses: [other] }));
  assert.deepEqual(model.diagnostics, []);
  assert.deepEqual(model.virtualHosts, []);
});

// ---------------------------------------------------------------------------------------------

test('conflicts: the oldest Ingress keeps a (host, path, pathType); newer ones get warnings; hosts merge', () => {
  const model = run(load('conflicts.yaml'));
  const shared = model.virtualHosts.find((v) => v.host === 'shared.example.com');
  assert.ok(shared);
  assert.deepEqual(
    shared.routes.map((r) => `${r.pathType} ${r.path} ${r.backend}`),
    ['Exact /exact a/svc-a:80', 'Prefix /exact b/svc-b:80', 'Prefix /other b/svc-b:80', 'Prefix /app a/svc-a:80', 'Prefix /dup a/svc-a:80', 'Prefix / a/svc-a:80'],
  );
  assert.deepEqual(shared.sources, [
    { kind: 'Ingress', namespace: 'a', name: 'older' },
    { kind: 'Ingress', namespace: 'b', name: 'newer' },
  ]);
  assert.deepEqual(brief(model.diagnostics), [
    'warning PASS_INGRESS_CONFLICT Ingress a/older spec.rules[0].http.paths[4].path',
    'warning PASS_INGRESS_CONFLICT Ingress b/newer spec.rules[0].http.paths[0].path',
    'warning PASS_INGRESS_CONFLICT Ingress b/newer spec.rules[0].http.paths[3].path',
    'warning PASS_INGRESS_CONFLICT Ingress b/newer spec.defaultBackend',
    'warning PASS_INGRESS_CONFLICT Ingress b/tie spec.rules[0].http.paths[0].path',
  ]);
});

test('conflicts: the oldest default backend wins', () => {
  assert.equal(run(load('conflicts.yaml')).defaultBackend, 'a/svc-a:80');
});

test('conflicts: same creationTimestamp, namespace/name decides', () => {
  const tie = run(load('conflicts.yaml')).virtualHosts.find((v) => v.host === 'tie.example.com');
  assert.deepEqual(tie?.routes.map((r) => r.backend), ['a/svc-a:80']);
});

test('determinism: the input order of objects does not change the model', () => {
  const snapshot = load('conflicts.yaml');
  const reversed: Snapshot = { ...snapshot, ingresses: [...snapshot.ingresses].reverse(), services: [...snapshot.services].reverse() };
  assert.deepEqual(run(reversed), run(load('conflicts.yaml')));
});

// ---------------------------------------------------------------------------------------------

const certCases: [string, string | undefined][] = [
  ['www.example.com', 'default/www-tls'],
  ['shop.example.com', 'default/wild-tls'],
  ['api.example.com', 'default/wild-tls'],
  ['*.example.com', 'default/wild-tls'],
  ['a.b.example.com', undefined],
  // Their own Secrets are unusable: they fall back to the wildcard certificate that covers them.
  ['bad.example.com', 'default/wild-tls'],
  ['notpem.example.com', 'default/wild-tls'],
  ['nohosts.example.org', 'default/www-tls'],
  ['*', undefined],
];
for (const [host, cert] of certCases) {
  test(`TLS: certificate for ${host} is ${cert ?? 'none'}`, () => {
    const model = run(load('tls.yaml'));
    const vh = model.virtualHosts.find((v) => v.host === host);
    assert.ok(vh, `no virtual host ${host}`);
    assert.equal(vh.certificate, cert);
  });
}

test('TLS: certificates deduplicated by Secret with hosts merged and sorted; PEM from data and stringData', () => {
  const model = run(load('tls.yaml'));
  assert.deepEqual(
    model.certificates.map((c) => [c.id, c.hosts, c.source]),
    [
      ['default/wild-tls', ['*.example.com', 'api.example.com'], { kind: 'Secret', namespace: 'default', name: 'wild-tls' }],
      ['default/www-tls', ['nohosts.example.org', 'www.example.com'], { kind: 'Secret', namespace: 'default', name: 'www-tls' }],
    ],
  );
  for (const c of model.certificates) {
    assert.match(c.certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    assert.match(c.keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
  }
});

test('TLS: wrong Secret type, non-PEM data, bad TLS host, host already taken are reported', () => {
  const model = run(load('tls.yaml'));
  assert.deepEqual(brief(model.diagnostics), [
    'error PASS_INGRESS_BAD_HOST Ingress default/site spec.tls[3].hosts[1]',
    'error PASS_SECRET_BAD_TLS Ingress default/site spec.tls[2].secretName',
    'error PASS_SECRET_BAD_TLS Ingress default/site spec.tls[3].secretName',
    'warning PASS_INGRESS_CONFLICT Ingress default/site2 spec.tls[0].hosts[0]',
    "error PASS_SECRET_BAD_TLS Secret default/notpem data['tls.crt']",
    'error PASS_SECRET_BAD_TLS Secret default/opaque type',
  ]);
});

test('TLS: a Secret name that is not a DNS-1123 subdomain is rejected before lookup', () => {
  const model = run(snapshotOf({ ingresses: [v1Ingress('t', { tls: [{ hosts: ['t.example.com'], secretName: '../etc' }], rules: [rule('t.example.com', '/')] })], services: [webService] }));
  assert.deepEqual(brief(model.diagnostics), ['error PASS_OBJECT_INVALID Ingress default/t spec.tls[0].secretName']);
  assert.deepEqual(model.virtualHosts.map((v) => v.host), ['t.example.com']);
});

// ---------------------------------------------------------------------------------------------

test('virtual hosts sorted: exact by name, then wildcards by name, then "*"', () => {
  const model = run(
    snapshotOf({
      ingresses: [v1Ingress('s', { rules: [rule(undefined, '/'), rule('*.b.com', '/'), rule('z.com', '/'), rule('*.a.com', '/'), rule('a.com', '/')] })],
      services: [webService],
    }),
  );
  assert.deepEqual(model.virtualHosts.map((v) => v.host), ['a.com', 'z.com', '*.a.com', '*.b.com', '*']);
});
