/*
 * The Gateway API side of the Kubernetes source: whether the cluster serves the Gateway API's
 * resources (its CRDs may not be installed: then only Ingresses are read, and discovery is asked again
 * later), and which Services and Secrets the Gateway API objects name (so that a change to one of
 * them rebuilds the model).
 */

import { GATEWAY_GROUP } from '../../model/gateway-api.ts';
import type { KubeObject } from '../../model/k8s.ts';
import { KubeApiError, type KubeClient } from './client.ts';
import type { IngressRefs } from './objects.ts';
import { nsName } from './objects.ts';
import { GATEWAY, GATEWAY_CLASS, HTTP_ROUTE, REFERENCE_GRANT, type ResourceType } from './resources.ts';

type Rec = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The Gateway API resource types the cluster serves, or undefined when it does not serve them. */
export interface GatewayApiTypes {
  readonly gatewayClass: ResourceType;
  readonly gateway: ResourceType;
  readonly httpRoute: ResourceType;
  /** Absent when the cluster serves no ReferenceGrant (cross-namespace references are then refused). */
  readonly referenceGrant?: ResourceType;
}

interface ResourceList {
  readonly resources?: readonly { readonly name?: unknown }[];
}

/** The plural resource names a group version serves; an empty set when the apiserver answers 404. */
async function servedResources(client: KubeClient, version: string, signal?: AbortSignal): Promise<Set<string>> {
  try {
    const list = await client.request<ResourceList>('GET', `/apis/${GATEWAY_GROUP}/${version}`, { timeoutMs: 10_000, ...(signal === undefined ? {} : { signal }) });
    return new Set((list.resources ?? []).map((r) => r.name).filter((n): n is string => typeof n === 'string'));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return new Set();
    throw err;
  }
}

/**
 * Asks discovery which Gateway API resources are served: GatewayClass, Gateway and HTTPRoute in `v1`
 * (all three are needed), ReferenceGrant in `v1` or else `v1beta1`. Resolves to undefined when they
 * are not (the CRDs are not installed); throws when the apiserver does not answer.
 */
export async function discoverGatewayApi(client: KubeClient, signal?: AbortSignal): Promise<GatewayApiTypes | undefined> {
  const v1 = await servedResources(client, 'v1', signal);
  if (!v1.has(GATEWAY_CLASS.plural) || !v1.has(GATEWAY.plural) || !v1.has(HTTP_ROUTE.plural)) return undefined;
  const types = { gatewayClass: GATEWAY_CLASS, gateway: GATEWAY, httpRoute: HTTP_ROUTE };
  if (v1.has(REFERENCE_GRANT.plural)) return { ...types, referenceGrant: REFERENCE_GRANT };
  const beta = await servedResources(client, 'v1beta1', signal);
  return beta.has(REFERENCE_GRANT.plural) ? { ...types, referenceGrant: { ...REFERENCE_GRANT, apiVersion: `${GATEWAY_GROUP}/v1beta1` } } : types;
}

/** A backendRef (or mirror backendRef) that names a core Service: `namespace/name`. */
function backendService(ref: unknown, ns: string, out: Set<string>): void {
  if (!isRecord(ref) || typeof ref['name'] !== 'string') return;
  const group = typeof ref['group'] === 'string' ? ref['group'] : '';
  const kind = typeof ref['kind'] === 'string' ? ref['kind'] : 'Service';
  if (group !== '' || kind !== 'Service') return;
  out.add(nsName(typeof ref['namespace'] === 'string' ? ref['namespace'] : ns, ref['name']));
}

function filterServices(filters: unknown, ns: string, out: Set<string>): void {
  if (!Array.isArray(filters)) return;
  for (const f of filters as unknown[]) {
    const mirror = isRecord(f) ? f['requestMirror'] : undefined;
    if (isRecord(mirror)) backendService(mirror['backendRef'], ns, out);
  }
}

/** The Services an HTTPRoute, or the Secrets a Gateway, refers to (other kinds name none). */
export function gatewayRefs(obj: KubeObject): IngressRefs {
  const ns = obj.metadata?.namespace ?? 'default';
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const services = new Set<string>();
  const secrets = new Set<string>();
  if (obj.kind === 'HTTPRoute') {
    for (const rule of Array.isArray(spec['rules']) ? (spec['rules'] as unknown[]) : []) {
      if (!isRecord(rule)) continue;
      filterServices(rule['filters'], ns, services);
      for (const b of Array.isArray(rule['backendRefs']) ? (rule['backendRefs'] as unknown[]) : []) {
        backendService(b, ns, services);
        if (isRecord(b)) filterServices(b['filters'], ns, services);
      }
    }
  } else if (obj.kind === 'Gateway') {
    for (const l of Array.isArray(spec['listeners']) ? (spec['listeners'] as unknown[]) : []) {
      const tls = isRecord(l) ? l['tls'] : undefined;
      const refs = isRecord(tls) && Array.isArray(tls['certificateRefs']) ? (tls['certificateRefs'] as unknown[]) : [];
      for (const r of refs) {
        if (!isRecord(r) || typeof r['name'] !== 'string') continue;
        if ((r['group'] ?? '') !== '' || (r['kind'] ?? 'Secret') !== 'Secret') continue;
        secrets.add(nsName(typeof r['namespace'] === 'string' ? r['namespace'] : ns, r['name']));
      }
    }
  }
  return { services: [...services], secrets: [...secrets], configMaps: [] };
}
