/*
 * Translate, ingress class: which Ingresses are ours (IngressClass, annotation, aliases, default
 * class, watchIngressWithoutClass), and why (isOurIngress).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOurIngress } from '../../src/model/translate/index.ts';
import { load, run, snapshotOf, options } from './translate-helpers.ts';

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

test('isOurIngress: classAliases = ["nginx"] takes over ingress-nginx\'s Ingresses side by side, leaving their status to it', () => {
  const aliased = { ...options, classAliases: ['nginx'] };
  const byName = isOurIngress({ spec: { ingressClassName: 'nginx' } }, ingressClasses, aliased);
  assert.equal(byName.ours, true);
  assert.equal(byName.takenOver, true);
  assert.match(byName.reason, /classAliases.*k8s.io\/ingress-nginx/);
  const byAnnotation = isOurIngress({ metadata: { annotations: { 'kubernetes.io/ingress.class': 'nginx' } } }, ingressClasses, aliased);
  assert.equal(byAnnotation.ours, true);
  assert.equal(byAnnotation.takenOver, true, 'the IngressClass nginx of ingress-nginx exists: it serves the annotation too');
  assert.equal(isOurIngress({ metadata: { annotations: { 'kubernetes.io/ingress.class': 'traefik' } } }, ingressClasses, { ...options, classAliases: ['traefik'] }).takenOver, undefined, 'no IngressClass traefik: status written as before');
  assert.equal(isOurIngress({ spec: { ingressClassName: 'passerelle-class' } }, ingressClasses, aliased).takenOver, undefined, 'our own class is not taken over');
});

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
