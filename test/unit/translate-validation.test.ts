/*
 * Translate, hostile and invalid input: hosts, paths and objects that are rejected with a diagnostic
 * (never thrown), those accepted, and one bad Ingress never affecting another.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Snapshot } from '../../src/model/k8s.ts';
import { load, run, brief, endpointsOf, snapshotOf, v1Ingress, rule, webService } from './translate-helpers.ts';

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
