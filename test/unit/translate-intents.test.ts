/*
 * Certificate intents (src/model/translate/intents.ts): what translate says each of our Ingresses
 * asks a certificate for, which ACME reads instead of parsing Ingresses itself.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/model/k8s.ts';
import { options, run, snapshotOf } from './translate-helpers.ts';

const backend = { service: { name: 'web', port: { number: 80 } } };
const rule = (host: string): Record<string, unknown> => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend }] } });

function ingress(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}, created = '2026-01-01T00:00:00Z'): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'shop', creationTimestamp: created, annotations }, spec: { ingressClassName: 'passerelle', ...spec } };
}

test('intents: one per TLS entry (with or without a Secret; no hosts: the rule hosts), then each rule host outside TLS; invalid hosts make an entry incomplete; oldest Ingress first', () => {
  const model = run(
    snapshotOf({
      ingresses: [
        ingress('young', { rules: [rule('y.test')] }, { 'kubernetes.io/tls-acme': 'false' }, '2026-02-01T00:00:00Z'),
        ingress('old', {
          tls: [{ hosts: ['A.test', '*.w.test'], secretName: 'a-tls' }, { hosts: ['bad host', 'b.test'] }, {}],
          rules: [rule('a.test'), rule('b.test'), rule('c.test'), { host: 'empty.test' }],
        }, { 'kubernetes.io/tls-acme': 'true' }),
      ],
    }),
    options,
  );
  assert.deepEqual(
    (model.certificateIntents ?? []).map((i) => `${i.source.name} ${i.field} ${i.kind} ${i.hosts.map((h) => `${h.host}:${h.kind}`).join(',')}${i.incomplete ? ' incomplete' : ''} acme=${String(i.acme)}`),
    [
      'old spec.tls[0] tls a.test:exact,*.w.test:wildcard acme=true',
      'old spec.tls[1] tls b.test:exact incomplete acme=true',
      'old spec.tls[2] tls a.test:exact,b.test:exact,c.test:exact acme=true',
      'young spec.rules[0] rule y.test:exact acme=false',
    ],
  );
});

test('intents: none for another class\'s Ingress, and none in a model without Ingresses', () => {
  const other = { ...ingress('other', { tls: [{ hosts: ['o.test'] }], rules: [rule('o.test')] }), spec: { ingressClassName: 'nginx', tls: [{ hosts: ['o.test'] }], rules: [rule('o.test')] } };
  assert.deepEqual(run(snapshotOf({ ingresses: [other] }), options).certificateIntents, []);
  assert.deepEqual(run(snapshotOf({}), options).certificateIntents, []);
});
