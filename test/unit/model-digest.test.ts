import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelDigest } from '../../src/model/hash.ts';

const host = (name: string, backend = 'b'): Record<string, unknown> => ({ host: name, kind: 'exact', routes: [{ path: '/', pathType: 'Prefix', backend }] });

test('modelDigest: equal values give equal digests, whatever the objects and key order', () => {
  const a = { virtualHosts: [host('a.test'), host('b.test')], backends: { b: { id: 'b', endpoints: [1, 2] } }, mode: 'x' };
  const b = { mode: 'x', backends: { b: { endpoints: [1, 2], id: 'b' } }, virtualHosts: [host('a.test'), host('b.test')] };
  assert.equal(modelDigest(a), modelDigest(b));
});

test('modelDigest: any change of a part, of the order of a list or of a record key changes it', () => {
  const parts = [host('a.test'), host('b.test')];
  const base = modelDigest({ virtualHosts: parts, backends: { b: { id: 'b' } } });
  const cases: Record<string, Record<string, unknown>> = {
    'one host changed': { virtualHosts: [parts[0], host('b.test', 'c')], backends: { b: { id: 'b' } } },
    'hosts reordered': { virtualHosts: [parts[1], parts[0]], backends: { b: { id: 'b' } } },
    'a host added': { virtualHosts: [...parts, host('c.test')], backends: { b: { id: 'b' } } },
    'a backend renamed': { virtualHosts: parts, backends: { c: { id: 'b' } } },
    'a scalar field added': { virtualHosts: parts, backends: { b: { id: 'b' } }, mode: 'x' },
  };
  for (const [name, m] of Object.entries(cases)) assert.notEqual(modelDigest(m), base, name);
  // Parts already digested are read by identity: the same objects again give the same digest.
  assert.equal(modelDigest({ virtualHosts: parts, backends: { b: { id: 'b' } } }), base);
});
