/*
 * What the Kubernetes source keeps of objects and which ones an Ingress names
 * (src/sources/kubernetes/objects.ts): pure functions, no apiserver.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/model/k8s.ts';
import { ingressRefs, RefIndex, stripObject } from '../../src/sources/kubernetes/objects.ts';

const ingress: KubeObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    namespace: 'shop',
    name: 'web',
    annotations: {
      'nginx.ingress.kubernetes.io/auth-type': 'basic',
      'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth',
      'nginx.ingress.kubernetes.io/custom-headers': 'shared/security-headers',
    },
  },
  spec: {
    tls: [{ hosts: ['shop.test'], secretName: 'shop-tls' }],
    rules: [{ host: 'shop.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
  },
};

test('ingressRefs: the Services of the backends, the TLS Secrets, the basic-auth Secret and the custom-headers ConfigMap of the annotations', () => {
  assert.deepEqual(ingressRefs(ingress), { services: ['shop/web'], secrets: ['shop/shop-tls', 'shop/basic-auth'], configMaps: ['shared/security-headers'] });
  const plain: KubeObject = { ...ingress, metadata: { namespace: 'shop', name: 'plain' } };
  assert.deepEqual(ingressRefs(plain), { services: ['shop/web'], secrets: ['shop/shop-tls'], configMaps: [] });
});

test('RefIndex: a Secret or ConfigMap named by an annotation matters until no Ingress names it', () => {
  const index = new RefIndex();
  index.set('shop/web', ingressRefs(ingress));
  assert.equal(index.usesSecret('shop/basic-auth'), true);
  assert.equal(index.usesConfigMap('shared/security-headers'), true);
  assert.equal(index.usesConfigMap('shop/other'), false);
  index.set('shop/web', undefined);
  assert.equal(index.usesSecret('shop/basic-auth'), false);
  assert.equal(index.usesConfigMap('shared/security-headers'), false);
});

test('stripObject: an Opaque Secret keeps every key (basic-auth users), any other type only the TLS pair; a ConfigMap keeps its data', () => {
  const secret = (type: string | undefined): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'shop', name: 's' }, ...(type === undefined ? {} : { type }), data: { auth: 'YQ==', alice: 'Yg==', 'tls.crt': 'Yw==', 'tls.key': 'ZA==' } });
  assert.deepEqual(stripObject(secret('Opaque')).data, { auth: 'YQ==', alice: 'Yg==', 'tls.crt': 'Yw==', 'tls.key': 'ZA==' });
  assert.deepEqual(stripObject(secret(undefined)).data, { auth: 'YQ==', alice: 'Yg==', 'tls.crt': 'Yw==', 'tls.key': 'ZA==' });
  assert.deepEqual(stripObject(secret('kubernetes.io/tls')).data, { 'tls.crt': 'Yw==', 'tls.key': 'ZA==' });
  assert.deepEqual(stripObject(secret('helm.sh/release.v1')).data, { 'tls.crt': 'Yw==', 'tls.key': 'ZA==' });
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'shop', name: 'h', managedFields: [{}] } as NonNullable<KubeObject['metadata']>, data: { 'X-Frame-Options': 'DENY' } };
  const stripped = stripObject(cm);
  assert.deepEqual(stripped.data, { 'X-Frame-Options': 'DENY' });
  assert.equal((stripped.metadata as Record<string, unknown>)['managedFields'], undefined);
});
