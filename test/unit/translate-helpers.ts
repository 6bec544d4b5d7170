/*
 * What the translate tests share (test/unit/translate-*.test.ts): fixtures of
 * test/fixtures/translate/ read like the file source reads them, the translate options, a translate
 * that proves the input is not mutated, and builders of small snapshots.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject, Snapshot } from '../../src/model/k8s.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import { translate } from '../../src/model/translate/index.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';

const fixtures = new URL('../fixtures/translate/', import.meta.url);

const LIST_OF_KIND: Readonly<Record<string, keyof Snapshot>> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  ConfigMap: 'configMaps',
};

/** Reads fixture files into a snapshot, each object with its `source` like the file source sets it. */
export function load(...files: string[]): Snapshot {
  const lists: Record<keyof Snapshot, unknown[]> = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [] };
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

/** The translate options of these tests: our class `passerelle`, with the seed's `traefik` as an alias. */
export const options: TranslateOptions = {
  entryPoints: [],
  ingressClass: 'passerelle',
  controllerName: 'passerelle.dev/ingress-controller',
  classAliases: ['traefik'],
  watchIngressWithoutClass: false,
};

/** Freezes `value` and everything it holds. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Translates a frozen snapshot, so any mutation of the input throws. */
export function run(snapshot: Snapshot, opts: TranslateOptions = options): RoutingModel {
  return translate(deepFreeze(snapshot), opts);
}

/** code + object + field of each diagnostic: what the tests compare. */
export function brief(diags: readonly Diagnostic[]): string[] {
  return diags.map((d) => {
    const o = d.object;
    const ref = o === undefined ? '' : `${o.kind} ${o.namespace === undefined ? '' : `${o.namespace}/`}${o.name}`;
    return `${d.severity} ${d.code} ${ref} ${d.field ?? ''}`.trimEnd();
  });
}

/** The endpoints of backend `id` as `address:port name`, asserting the backend exists. */
export function endpointsOf(model: RoutingModel, id: string): string[] {
  const b = model.backends[id];
  assert.ok(b, `backend ${id} missing`);
  return b.endpoints.map((e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}${e.name === undefined ? '' : ` ${e.name}`}`);
}

/** A snapshot of these lists (the others empty). */
export function snapshotOf(parts: Partial<Record<keyof Snapshot, readonly unknown[]>>): Snapshot {
  return { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [], ...parts } as Snapshot;
}

/** A networking.k8s.io/v1 Ingress of our class in namespace default. */
export function v1Ingress(name: string, spec: Record<string, unknown>, extraMeta: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default', ...extraMeta }, spec: { ingressClassName: 'passerelle', ...spec } };
}

/** A rule for `host` (none: any host) with one path to Service web:80. */
export function rule(host: string | undefined, path: unknown, pathType: unknown = 'Prefix'): Record<string, unknown> {
  return {
    ...(host === undefined ? {} : { host }),
    http: { paths: [{ path, pathType, backend: { service: { name: 'web', port: { number: 80 } } } }] },
  };
}

/** Service default/web with port 80. */
export const webService: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80 }] } };
