import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapEdits, mapEditText } from '../../src/drivers/haproxy/runtime.ts';
import type { MapEdit } from '../../src/drivers/haproxy/runtime.ts';
import { buildHaproxyView, parseHaproxyLayout } from '../../src/render/haproxy/index.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';

const isHost = (k: string): boolean => /^[hws]:/.test(k) || k === 'any';
const show = (edits: readonly MapEdit[] | undefined): string[] | undefined => edits?.map((e) => (e.op === 'del' ? `del ${e.key}` : `${e.op} ${e.key} ${e.value}`));

const cases: readonly { name: string; before: string; after: string; limit?: number; want: string[] | undefined }[] = [
  { name: 'unchanged', before: 'h:a v0\nv0/ b1\n', after: 'h:a v0\nv0/ b1\n', want: [] },
  // A new host: its paths first, the host entry that leads to them last.
  { name: 'new-host-paths-before-entry', before: 'h:a v0\nv0/ b1\n', after: 'h:a v0\nv0/ b1\nh:b v1\nv1/ b2\nv1/api/ b3\n', want: ['add v1/ b2', 'add v1/api/ b3', 'add h:b v1'] },
  // A host gone: its entry first, then what it led to.
  { name: 'gone-host-entry-before-paths', before: 'h:a v0\nv0/ b1\nh:b v1\nv1/ b2\n', after: 'h:a v0\nv0/ b1\n', want: ['del h:b', 'del v1/'] },
  // A host moved to a new id: the new id's paths, then the entry, then the old paths.
  { name: 'host-moves', before: 'h:a v0\nv0/ b1\n', after: 'h:a v3\nv3/ b1\n', want: ['add v3/ b1', 'set h:a v3', 'del v0/'] },
  { name: 'value-with-policy', before: 'h:a v0\nv0/ b1\n', after: 'h:a v0\nv0/ b1;p2;308\n', want: ['set v0/ b1;p2;308'] },
  { name: 'over-the-limit', before: '', after: 'h:a v0\nv0/ b1\nv0/x/ b2\n', limit: 2, want: undefined },
  { name: 'repeated-key', before: 'h:a v0\nh:a v1\n', after: 'h:a v0\n', want: undefined },
  { name: 'value-with-space', before: 'k a b\n', after: 'k c\n', want: undefined },
];

for (const c of cases) {
  test(`mapEdits: ${c.name}`, () => assert.deepEqual(show(mapEdits(c.before, c.after, c.limit ?? 500, isHost)), c.want));
}

test('mapEditText: one CLI argument per word, ";" escaped', () => {
  assert.equal(mapEditText('/w/maps/routes.map', { op: 'set', key: 'v0/', value: 'b1;p2;308' }), 'set map /w/maps/routes.map v0/ b1\\;p2\\;308');
  assert.equal(mapEditText('/w/maps/routes.map', { op: 'del', key: 'h:a' }), 'del map /w/maps/routes.map h:a');
});

test('hosts keep their ids across renderings (and a saved layout): a new host changes only its own routing map entries', () => {
  const ep = [entryPoint('http', 8080)];
  const backends = [backend('web', [{ address: '192.0.2.10', port: 80, weight: 1 }])];
  const hosts = (names: readonly string[]): ReturnType<typeof model> => model({ entryPoints: ep, virtualHosts: names.map((n) => vhost(n, [route('/', 'Prefix', 'web')])), backends });
  const routesOf = (b: ReturnType<typeof buildHaproxyView>): string => (b.maps.find((m) => m.path === 'maps/routes.map')?.entries ?? []).map(([k, v]) => `${k} ${v}\n`).join('');
  const first = buildHaproxyView(hosts(['b.test', 'd.test']), { workDir: '/w' });
  // Through JSON, as the driver saves the layout beside the configuration.
  const saved = parseHaproxyLayout(JSON.parse(JSON.stringify(first.layout)));
  assert.ok(saved !== undefined);
  // a.test sorts first: with ids by position every host would move.
  const second = buildHaproxyView(hosts(['a.test', 'b.test', 'd.test']), { workDir: '/w' }, saved);
  assert.deepEqual(show(mapEdits(routesOf(first), routesOf(second), 500, isHost)), ['add v2/ be_default.web:80', 'add h:a.test v2']);
  // A removed host's id is not given to a host added in the same change.
  const third = buildHaproxyView(hosts(['a.test', 'c.test', 'd.test']), { workDir: '/w' }, second.layout);
  assert.deepEqual(show(mapEdits(routesOf(second), routesOf(third), 500, isHost)), ['add v3/ be_default.web:80', 'add h:c.test v3', 'del h:b.test', 'del v0/']);
});
