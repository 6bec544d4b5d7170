/*
 * ConfigMaps an Ingress annotation names: ingress-nginx `custom-headers` (response headers). Each
 * key and value passes the same header grammar as the annotations, so nothing reaches a rendered
 * config that is not a header name or a visible-ASCII value.
 */

import { headerName, headerValue } from '../annotations/grammar.ts';
import { Codes } from './diagnostics.ts';
import type { DiagnosticList } from './diagnostics.ts';
import { readHeader, showValue } from './object.ts';
import type { ObjectHeader } from './object.ts';

/** The headers of a ConfigMap, or why there are none. */
export type ConfigMapHeaders = { readonly ok: true; readonly headers: Readonly<Record<string, string>> } | { readonly ok: false; readonly message: string };

/** Reads ConfigMaps of a snapshot by `namespace/name`. */
export interface ConfigMapReader {
  /** The entries of a ConfigMap as headers; a bad entry is a warning on the ConfigMap and is left out. */
  readHeaders(namespace: string, name: string): ConfigMapHeaders;
}

/** Indexes the ConfigMaps of a snapshot (reporting malformed metadata). */
export function createConfigMapReader(configMaps: readonly unknown[], diags: DiagnosticList): ConfigMapReader {
  const index = new Map<string, ObjectHeader>();
  configMaps.forEach((c, i) => {
    const h = readHeader(c, 'ConfigMap', true, `configMaps[${i}]`, diags);
    if (h !== undefined && !index.has(`${h.namespace}/${h.name}`)) index.set(`${h.namespace}/${h.name}`, h);
  });
  const cache = new Map<string, ConfigMapHeaders>();
  return {
    readHeaders(namespace, name) {
      const key = `${namespace}/${name}`;
      let r = cache.get(key);
      if (r === undefined) {
        r = readConfigMapHeaders(index.get(key), namespace, name);
        cache.set(key, r);
      }
      return r;
    },
  };
}

/** Reads a ConfigMap's entries as headers (`h`: its header, undefined when it does not exist). */
export function readConfigMapHeaders(h: ObjectHeader | undefined, namespace: string, name: string): ConfigMapHeaders {
  if (h === undefined) return { ok: false, message: `ConfigMap ${namespace}/${name} does not exist` };
  const data = h.body['data'];
  const headers: Record<string, string> = {};
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    h.reporter.error(Codes.badConfigMapHeader, 'data', `data must be a map of header names to values, found ${showValue(data)}`);
    return { ok: false, message: `ConfigMap ${namespace}/${name} has no usable data` };
  }
  for (const [key, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    const field = `data['${key}']`;
    const n = headerName(key);
    if (!n.ok) {
      h.reporter.warning(Codes.badConfigMapHeader, field, `the key ${n.problem}; it is not set`);
      continue;
    }
    const v = typeof value === 'string' ? headerValue(value) : undefined;
    if (v === undefined || !v.ok) {
      h.reporter.warning(Codes.badConfigMapHeader, field, `the value ${v === undefined ? `must be a string, found ${showValue(value)}` : v.problem}; it is not set`);
      continue;
    }
    headers[n.value] = v.value;
  }
  return { ok: true, headers };
}
