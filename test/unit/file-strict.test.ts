/*
 * Strict fields in the file source (src/sources/file/fields.ts): unknown fields of the kinds
 * translate reads and unknown kinds are diagnostics with file, line and field, and an Ingress rule
 * holding an unknown field is skipped, never widened into a catch-all.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { parseObjectsFile } from '../../src/sources/file/parse.ts';
import { FIELDS } from '../../src/sources/file/fields.ts';
import type { FieldTable } from '../../src/sources/file/fields.ts';
import { groupByKind } from '../../src/sources/snapshot.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import { brief, options, run } from './translate-helpers.ts';

const FIXTURES = new URL('../fixtures/strict/', import.meta.url);

function parseFixture(name: string): { objects: readonly KubeObject[]; diagnostics: string[]; ignored: number } {
  const parsed = parseObjectsFile(readFileSync(new URL(name, FIXTURES), 'utf8'), name);
  assert.ok(parsed.ok, `${name} parses: ${JSON.stringify(parsed.diagnostics)}`);
  return {
    objects: parsed.objects,
    ignored: parsed.ignored,
    // severity code object field (file:line): everything the issue asks a finding to name.
    diagnostics: parsed.diagnostics.map((d) => {
      const o = d.object;
      const ref = o === undefined ? '-' : `${o.kind} ${o.namespace === undefined ? '' : `${o.namespace}/`}${o.name}`;
      return `${d.severity} ${d.code} ${ref} ${d.field ?? '-'} (${d.location?.file ?? '?'}:${d.location?.line ?? '?'})`;
    }),
  };
}

const cases: {
  name: string;
  file: string;
  diagnostics: string[];
  /** `Kind name` of the objects loaded, each with its skipped parts. */
  objects: string[];
  ignored?: number;
}[] = [
  {
    name: 'a misspelled host skips its rule; a misspelled path, backend or TLS key skips that path or TLS entry; status costs nothing',
    file: 'misspelled-host.yaml',
    diagnostics: [
      'error PASS_FILE_UNKNOWN_FIELD Ingress web/shop spec.rules[0].hots (misspelled-host.yaml:11)',
      'error PASS_FILE_UNKNOWN_FIELD Ingress web/shop spec.rules[1].http.paths[0].pth (misspelled-host.yaml:21)',
      'error PASS_FILE_UNKNOWN_FIELD Ingress web/shop spec.tls[0].secretNme (misspelled-host.yaml:31)',
      'error PASS_FILE_UNKNOWN_FIELD Ingress web/shop status.loadBalancer.ingress[0].hostnme (misspelled-host.yaml:36)',
    ],
    objects: ['Ingress shop skips spec.rules[0], spec.rules[1].http.paths[0], spec.tls[0]', 'Service shop', 'Service admin'],
  },
  {
    name: 'legacy shape: serviceNme in a path backend skips that path',
    file: 'legacy.yaml',
    diagnostics: ['error PASS_FILE_UNKNOWN_FIELD Ingress default/old spec.rules[0].http.paths[0].backend.serviceNme (legacy.yaml:12)'],
    objects: ['Ingress old skips spec.rules[0].http.paths[0]'],
  },
  {
    name: 'an unknown field outside Ingress rules, paths and TLS entries refuses the object, as kubectl apply would; free maps are not checked',
    file: 'refused.yaml',
    diagnostics: [
      'error PASS_FILE_UNKNOWN_FIELD Service web/typo spec.prots (refused.yaml:5)',
      'error PASS_FILE_UNKNOWN_FIELD EndpointSlice web/shop-1 endpoints[0].condition (refused.yaml:16)',
      'error PASS_FILE_UNKNOWN_FIELD Secret web/shop-tls strinData (refused.yaml:23)',
      'error PASS_FILE_UNKNOWN_FIELD IngressClass passerelle spec.controler (refused.yaml:29)',
      'error PASS_FILE_UNKNOWN_FIELD Ingress web/wide spec.ingressClasName (refused.yaml:37)',
    ],
    objects: [],
  },
  {
    name: 'unknown kinds: an error for a misspelled built-in kind, a warning for a custom resource; built-in kinds are skipped quietly; List items keep their own lines',
    file: 'kinds.yaml',
    diagnostics: [
      'error PASS_FILE_UNKNOWN_KIND Ingres web/typo kind (kinds.yaml:6)',
      'warning PASS_FILE_UNKNOWN_KIND Certificate c kind (kinds.yaml:10)',
      'error PASS_FILE_UNKNOWN_FIELD Service web/listed spec.ports[0].targetPrt (kinds.yaml:25)',
    ],
    objects: [],
    ignored: 4,
  },
  {
    name: 'every field a cluster object may carry is accepted',
    file: 'clean.yaml',
    diagnostics: [],
    objects: ['Ingress clean', 'Service shop', 'EndpointSlice shop-1', 'Secret shop-tls', 'IngressClass passerelle'],
  },
];

for (const c of cases) {
  test(`strict fields: ${c.name}`, () => {
    const parsed = parseFixture(c.file);
    assert.deepEqual(parsed.diagnostics, c.diagnostics);
    assert.deepEqual(
      parsed.objects.map((o) => `${o.kind} ${o.metadata?.name}${o.skippedFields === undefined ? '' : ` skips ${o.skippedFields.join(', ')}`}`),
      c.objects,
    );
    if (c.ignored !== undefined) assert.equal(parsed.ignored, c.ignored);
  });
}

test('strict fields: the message names the field, suggests the known one and says what was left out', () => {
  const parsed = parseObjectsFile(readFileSync(new URL('misspelled-host.yaml', FIXTURES), 'utf8'), 'misspelled-host.yaml');
  assert.ok(parsed.ok);
  assert.equal(parsed.diagnostics[0]?.message, 'unknown field "hots" (did you mean "host"?), as kubectl apply would refuse it; rule spec.rules[0] skipped');
});

test('strict fields: the rule with `hots:` is not widened into a catch-all; the rest of the Ingress serves', () => {
  const parsed = parseObjectsFile(readFileSync(new URL('misspelled-host.yaml', FIXTURES), 'utf8'), 'misspelled-host.yaml');
  assert.ok(parsed.ok);
  const model = run(groupByKind(parsed.objects), options);
  assert.deepEqual(
    model.virtualHosts.map((v) => `${v.kind} ${v.host} ${v.routes.map((r) => `${r.pathType} ${r.path} -> ${r.backend}`).join(', ')}`),
    ['exact shop.test Prefix / -> web/shop:80'],
  );
  assert.equal(model.defaultBackend, undefined);
  // The skipped parts were reported by the source: translate adds nothing about them.
  assert.deepEqual(brief(model.diagnostics).filter((d) => d.includes('spec.rules[0]') || d.includes('paths[0]') || d.includes('spec.tls')), []);
});

test('strict fields: without the file source marks, the same Ingress would widen (what the marks prevent)', () => {
  const parsed = parseObjectsFile(readFileSync(new URL('misspelled-host.yaml', FIXTURES), 'utf8'), 'misspelled-host.yaml');
  assert.ok(parsed.ok);
  const unmarked = parsed.objects.map(({ skippedFields: _skipped, ...o }) => o);
  const model = run(groupByKind(unmarked), options);
  assert.ok(model.virtualHosts.some((v) => v.kind === 'any'), 'a rule without host is a catch-all');
});

/** The client-node models the v1 tables mirror: path → model class. */
const MODELS: Readonly<Record<string, readonly [FieldTable, Readonly<Record<string, { attributeTypeMap: readonly { baseName: string }[] }>>]>> = {
  ingress: [
    FIELDS.ingressV1,
    {
      '': k8s.V1Ingress,
      metadata: k8s.V1ObjectMeta,
      'metadata.ownerReferences[]': k8s.V1OwnerReference,
      spec: k8s.V1IngressSpec,
      'spec.defaultBackend': k8s.V1IngressBackend,
      'spec.defaultBackend.service': k8s.V1IngressServiceBackend,
      'spec.defaultBackend.service.port': k8s.V1ServiceBackendPort,
      'spec.defaultBackend.resource': k8s.V1TypedLocalObjectReference,
      'spec.rules[]': k8s.V1IngressRule,
      'spec.rules[].http': k8s.V1HTTPIngressRuleValue,
      'spec.rules[].http.paths[]': k8s.V1HTTPIngressPath,
      'spec.rules[].http.paths[].backend': k8s.V1IngressBackend,
      'spec.rules[].http.paths[].backend.service': k8s.V1IngressServiceBackend,
      'spec.rules[].http.paths[].backend.service.port': k8s.V1ServiceBackendPort,
      'spec.rules[].http.paths[].backend.resource': k8s.V1TypedLocalObjectReference,
      'spec.tls[]': k8s.V1IngressTLS,
      status: k8s.V1IngressStatus,
      'status.loadBalancer': k8s.V1IngressLoadBalancerStatus,
      'status.loadBalancer.ingress[]': k8s.V1IngressLoadBalancerIngress,
      'status.loadBalancer.ingress[].ports[]': k8s.V1IngressPortStatus,
    },
  ],
  service: [
    FIELDS.service,
    {
      '': k8s.V1Service,
      metadata: k8s.V1ObjectMeta,
      'metadata.ownerReferences[]': k8s.V1OwnerReference,
      spec: k8s.V1ServiceSpec,
      'spec.ports[]': k8s.V1ServicePort,
      status: k8s.V1ServiceStatus,
    },
  ],
  endpointSlice: [
    FIELDS.endpointSlice,
    {
      '': k8s.V1EndpointSlice,
      metadata: k8s.V1ObjectMeta,
      'metadata.ownerReferences[]': k8s.V1OwnerReference,
      'endpoints[]': k8s.V1Endpoint,
      'endpoints[].conditions': k8s.V1EndpointConditions,
      'endpoints[].targetRef': k8s.V1ObjectReference,
      'endpoints[].hints': k8s.V1EndpointHints,
      'ports[]': k8s.DiscoveryV1EndpointPort,
    },
  ],
  secret: [FIELDS.secret, { '': k8s.V1Secret, metadata: k8s.V1ObjectMeta, 'metadata.ownerReferences[]': k8s.V1OwnerReference }],
  configMap: [FIELDS.configMap, { '': k8s.V1ConfigMap, metadata: k8s.V1ObjectMeta, 'metadata.ownerReferences[]': k8s.V1OwnerReference }],
  ingressClass: [
    FIELDS.ingressClass,
    {
      '': k8s.V1IngressClass,
      metadata: k8s.V1ObjectMeta,
      'metadata.ownerReferences[]': k8s.V1OwnerReference,
      spec: k8s.V1IngressClassSpec,
      'spec.parameters': k8s.V1IngressClassParametersReference,
    },
  ],
};

for (const [name, [table, models]] of Object.entries(MODELS)) {
  test(`strict fields: the ${name} table is the Kubernetes API's (client-node models)`, () => {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(models).sort(), 'the same paths are checked');
    for (const [at, model] of Object.entries(models)) {
      assert.deepEqual([...(table[at] ?? [])].sort(), model.attributeTypeMap.map((a) => a.baseName).sort(), `${name} ${at || '(object)'}`);
    }
  });
}
