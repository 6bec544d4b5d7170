/*
 * What the Kubernetes source keeps of each object, and which changes matter. Objects are stripped
 * before they are cached (managedFields, last-applied annotations, the data of Secrets other than
 * Opaque ones beyond the TLS keys, unused spec fields), and an event whose stripped, status-less form
 * is unchanged, or that touches a Service, EndpointSlice, Secret or ConfigMap that no Ingress names
 * (in its spec or, for basic auth and custom headers, its annotations), does not rebuild the model.
 */

import { defined } from '../../shared/optional.ts';
import type { KubeObject, ObjectMeta } from '../../model/k8s.ts';
import { readAnnotations } from '../../model/annotations/index.ts';

type Rec = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DROPPED_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);
const SECRET_KEYS = ['tls.crt', 'tls.key'];
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function pick(from: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  if (!isRecord(from)) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

function stripMeta(meta: ObjectMeta | undefined): ObjectMeta {
  const m = (meta ?? {}) as Rec;
  const out: Record<string, unknown> = {};
  for (const k of ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'labels'] as const) {
    if (m[k] !== undefined) out[k] = m[k];
  }
  if (isRecord(m['annotations'])) {
    const annotations: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(m['annotations'])) if (!DROPPED_ANNOTATIONS.has(k)) annotations[k] = v;
    if (Object.keys(annotations).length > 0) out['annotations'] = annotations;
  }
  return out as ObjectMeta;
}

/** The cached form of an object: only the fields translate, the status writer and the filters read. */
export function stripObject(obj: KubeObject): KubeObject {
  const head = {
    ...defined({ apiVersion: obj.apiVersion, kind: obj.kind }),
    metadata: stripMeta(obj.metadata),
  };
  const raw = obj as Rec;
  switch (obj.kind) {
    case 'Ingress':
      return { ...head, ...defined({ spec: obj.spec, status: pick(obj.status, ['loadBalancer']) }) };
    case 'IngressClass':
      return { ...head, ...defined({ spec: obj.spec }) };
    case 'Service':
      return {
        ...head,
        ...defined({
          spec: pick(obj.spec, ['type', 'ports', 'clusterIP', 'externalName', 'externalIPs']),
          status: pick(obj.status, ['loadBalancer']),
        }),
      };
    case 'EndpointSlice':
      return { ...head, ...defined({ addressType: obj.addressType, endpoints: obj.endpoints, ports: obj.ports }) };
    case 'Secret':
      // Opaque ones may be basic-auth Secrets (htpasswd under `auth`, or one key per user): kept whole.
      return { ...head, ...defined({ type: obj.type }), data: (obj.type === 'Opaque' || obj.type === undefined ? pick(obj.data, Object.keys(isRecord(obj.data) ? obj.data : {})) : pick(obj.data, SECRET_KEYS)) ?? {} };
    case 'ConfigMap':
      return { ...head, ...defined({ data: raw['data'] }) };
    case 'Namespace':
      // Its labels select route namespaces for Gateway listeners: nothing else is read.
      return head;
    case 'GatewayClass':
    case 'Gateway':
    case 'HTTPRoute':
      // The status is kept for the status writer (compared before writing); modelView leaves it out.
      return { ...head, ...defined({ spec: raw['spec'], status: raw['status'] }) };
    default:
      return { ...head, ...defined({ spec: raw['spec'] }) };
  }
}

/** What the model reads of a (stripped) object, as a string to compare: no resourceVersion, no status. */
export function modelView(obj: KubeObject | undefined): string {
  if (obj === undefined) return '';
  const { resourceVersion: _rv, generation: _g, ...meta } = (obj.metadata ?? {}) as Rec;
  const { status: _status, ...rest } = obj as Rec;
  return JSON.stringify({ ...rest, metadata: meta });
}

/** `namespace/name`. */
export function nsName(namespace: string | undefined, name: string): string {
  return `${namespace ?? 'default'}/${name}`;
}

/** The Services, Secrets and ConfigMaps one Ingress names, as `namespace/name`. */
export interface IngressRefs {
  readonly services: readonly string[];
  readonly secrets: readonly string[];
  readonly configMaps: readonly string[];
}

function backendService(backend: unknown, ns: string, out: Set<string>): void {
  if (!isRecord(backend)) return;
  const svc = backend['service'];
  if (isRecord(svc) && typeof svc['name'] === 'string') out.add(nsName(ns, svc['name']));
  // The pre-v1 shape, when read from a file or an old object.
  if (typeof backend['serviceName'] === 'string') out.add(nsName(ns, backend['serviceName']));
}

/** The Services (backends) and Secrets (TLS) an Ingress refers to. */
export function ingressRefs(ing: KubeObject): IngressRefs {
  const ns = ing.metadata?.namespace ?? 'default';
  const services = new Set<string>();
  const secrets = new Set<string>();
  const spec = ing.spec;
  if (isRecord(spec)) {
    backendService(spec['defaultBackend'], ns, services);
    backendService(spec['backend'], ns, services);
    for (const rule of Array.isArray(spec['rules']) ? (spec['rules'] as unknown[]) : []) {
      const http = isRecord(rule) ? rule['http'] : undefined;
      const paths = isRecord(http) && Array.isArray(http['paths']) ? (http['paths'] as unknown[]) : [];
      for (const p of paths) if (isRecord(p)) backendService(p['backend'], ns, services);
    }
    for (const tls of Array.isArray(spec['tls']) ? (spec['tls'] as unknown[]) : []) {
      if (isRecord(tls) && typeof tls['secretName'] === 'string') secrets.add(nsName(ns, tls['secretName']));
    }
  }
  // Annotations name a basic-auth Secret and a custom-headers ConfigMap.
  const annotations = Object.fromEntries(Object.entries(ing.metadata?.annotations ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const { refs } = readAnnotations(annotations, { namespace: ns, hasTls: false });
  if (refs.authSecret !== undefined) secrets.add(nsName(refs.authSecret.namespace, refs.authSecret.name));
  const configMaps = refs.customHeaders === undefined ? [] : [nsName(refs.customHeaders.namespace, refs.customHeaders.name)];
  return { services: [...services], secrets: [...secrets], configMaps };
}

/** The Service an EndpointSlice belongs to (`namespace/name`), from its label. */
export function sliceService(slice: KubeObject): string | undefined {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return name === undefined ? undefined : nsName(slice.metadata?.namespace, name);
}

/** Counts how many Ingresses name each Service and Secret. */
export class RefIndex {
  readonly #byIngress = new Map<string, IngressRefs>();
  readonly #services = new Map<string, number>();
  readonly #secrets = new Map<string, number>();
  readonly #configMaps = new Map<string, number>();

  /** Replaces the references of one Ingress (`refs` undefined: it was deleted). */
  set(ingressKey: string, refs: IngressRefs | undefined): void {
    const old = this.#byIngress.get(ingressKey);
    if (old) {
      for (const s of old.services) this.#dec(this.#services, s);
      for (const s of old.secrets) this.#dec(this.#secrets, s);
      for (const s of old.configMaps) this.#dec(this.#configMaps, s);
      this.#byIngress.delete(ingressKey);
    }
    if (refs) {
      this.#byIngress.set(ingressKey, refs);
      for (const s of refs.services) this.#services.set(s, (this.#services.get(s) ?? 0) + 1);
      for (const s of refs.secrets) this.#secrets.set(s, (this.#secrets.get(s) ?? 0) + 1);
      for (const s of refs.configMaps) this.#configMaps.set(s, (this.#configMaps.get(s) ?? 0) + 1);
    }
  }

  usesService(key: string): boolean {
    return this.#services.has(key);
  }

  usesSecret(key: string): boolean {
    return this.#secrets.has(key);
  }

  usesConfigMap(key: string): boolean {
    return this.#configMaps.has(key);
  }

  #dec(map: Map<string, number>, key: string): void {
    const n = (map.get(key) ?? 0) - 1;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  }
}
