/* Resolution of an Ingress backend (Service + port) to a model Backend through EndpointSlices. */

import type { PassCode } from '../../shared/codes.ts';
import type { Backend, Endpoint } from '../types.ts';
import { Codes } from './diagnostics.ts';
import type { DiagnosticList, Reporter } from './diagnostics.ts';
import { compareText, isRecord, readHeader } from './object.ts';
import type { ObjectHeader } from './object.ts';
import { isDns1123Label, isDns1123Subdomain, isIanaSvcName, isIPv4, isIPv6, isPortNumber } from './validate.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** A problem found while resolving, reported by the caller on the Ingress field that named the backend. */
export interface BackendProblem {
  readonly code: PassCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** Which field of the backend reference it concerns. */
  readonly on: 'service' | 'port';
}

/** The backend for a reference, and what is wrong with the reference if anything. */
export interface BackendResolution {
  /** Always present: a backend with no endpoints answers 503. */
  readonly backend: Backend;
  readonly problem?: BackendProblem;
}

interface ServicePort {
  /** `''` when unnamed. */
  readonly name: string;
  readonly port: number;
  readonly targetPort: number | string;
}

/** What a Service says about its ports (read once per Service object). */
export interface ServiceInfo {
  readonly externalName: boolean;
  readonly ports: readonly ServicePort[];
}

/** The backend id of the model: `namespace/service:port`, the port as the Ingress wrote it. */
export function backendId(namespace: string, service: string, port: number | string): string {
  return `${namespace}/${service}:${port}`;
}

/** Reads a Service's type and TCP ports, reporting malformed ports on the Service. */
export function readService(h: ObjectHeader): ServiceInfo {
  const r = h.reporter;
  const spec = h.body['spec'];
  if (!isRecord(spec)) {
    r.error(Codes.objectInvalid, 'spec', 'spec must be an object');
    return { externalName: false, ports: [] };
  }
  if (spec['type'] === 'ExternalName') return { externalName: true, ports: [] };
  const raw = spec['ports'];
  const ports: ServicePort[] = [];
  if (raw === undefined || raw === null) return { externalName: false, ports };
  if (!Array.isArray(raw)) {
    r.error(Codes.objectInvalid, 'spec.ports', 'spec.ports must be a list');
    return { externalName: false, ports };
  }
  (raw as readonly unknown[]).forEach((p, n) => {
    const field = `spec.ports[${n}]`;
    if (!isRecord(p)) return r.error(Codes.objectInvalid, field, `${field} must be an object`);
    const { name, port, targetPort, protocol } = p;
    // UDP and SCTP ports cannot carry HTTP.
    if (protocol !== undefined && protocol !== null && protocol !== 'TCP') return;
    if (!isPortNumber(port)) return r.error(Codes.objectInvalid, `${field}.port`, 'port must be an integer from 1 to 65535');
    if (name !== undefined && name !== null && name !== '' && (typeof name !== 'string' || !isDns1123Label(name))) {
      return r.error(Codes.objectInvalid, `${field}.name`, 'a Service port name must be a DNS-1123 label');
    }
    let target: number | string = port;
    if (typeof targetPort === 'number') {
      if (!isPortNumber(targetPort)) return r.error(Codes.objectInvalid, `${field}.targetPort`, 'targetPort must be an integer from 1 to 65535');
      target = targetPort;
    } else if (typeof targetPort === 'string' && targetPort !== '') {
      if (!isIanaSvcName(targetPort)) return r.error(Codes.objectInvalid, `${field}.targetPort`, 'a named targetPort must be an IANA service name');
      target = targetPort;
    }
    ports.push({ name: typeof name === 'string' ? name : '', port, targetPort: target });
  });
  return { externalName: false, ports };
}

/**
 * Whether an EndpointSlice endpoint receives traffic. The API says a nil `ready` means true and that
 * an endpoint is ready when serving and not terminating; so `ready: false` is out, and so is an
 * endpoint that only says `terminating: true`.
 */
function isReady(conditions: unknown): boolean {
  if (!isRecord(conditions)) return true;
  const { ready, terminating } = conditions;
  if (ready === false) return false;
  if (ready === undefined || ready === null) return terminating !== true;
  return true;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return compareText(a.address, b.address) || a.port - b.port || compareText(a.name ?? '', b.name ?? '');
}

/** The endpoints of one slice for a Service port, reporting malformed parts on the slice. */
function sliceEndpoints(h: ObjectHeader, sp: ServicePort): Endpoint[] {
  const r = h.reporter;
  const body = h.body;
  const addressType = body['addressType'];
  if (addressType === 'FQDN') {
    r.warning(Codes.endpointFqdn, 'addressType', 'FQDN EndpointSlices are not supported; its endpoints are ignored');
    return [];
  }
  if (addressType !== 'IPv4' && addressType !== 'IPv6') {
    r.error(Codes.objectInvalid, 'addressType', 'addressType must be IPv4, IPv6 or FQDN');
    return [];
  }
  let port: number | undefined;
  const rawPorts = body['ports'];
  if (rawPorts !== undefined && rawPorts !== null && !Array.isArray(rawPorts)) {
    r.error(Codes.objectInvalid, 'ports', 'ports must be a list');
    return [];
  }
  const ports = Array.isArray(rawPorts) ? (rawPorts as readonly unknown[]) : [];
  for (const p of ports) {
    if (!isRecord(p)) continue;
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    const protocol = p['protocol'];
    if (name === sp.name && (protocol === undefined || protocol === null || protocol === 'TCP') && isPortNumber(p['port'])) {
      port = p['port'];
      break;
    }
  }
  // No matching slice port: a numeric targetPort is the port the pods listen on.
  port ??= typeof sp.targetPort === 'number' ? sp.targetPort : undefined;
  if (port === undefined) return [];

  const rawEndpoints = body['endpoints'];
  if (rawEndpoints === undefined || rawEndpoints === null) return [];
  if (!Array.isArray(rawEndpoints)) {
    r.error(Codes.objectInvalid, 'endpoints', 'endpoints must be a list');
    return [];
  }
  const valid = addressType === 'IPv4' ? isIPv4 : isIPv6;
  const out: Endpoint[] = [];
  (rawEndpoints as readonly unknown[]).forEach((e, n) => {
    const field = `endpoints[${n}]`;
    if (!isRecord(e)) return r.error(Codes.objectInvalid, field, `${field} must be an object`);
    const addresses = e['addresses'];
    // The API calls the addresses fungible and lets consumers use only the first.
    const address: unknown = Array.isArray(addresses) ? (addresses as readonly unknown[])[0] : undefined;
    if (typeof address !== 'string' || !valid(address)) {
      return r.error(Codes.objectInvalid, `${field}.addresses[0]`, `addresses[0] must be an ${addressType} address`);
    }
    if (!isReady(e['conditions'])) return;
    const targetRef = e['targetRef'];
    const refName = isRecord(targetRef) ? targetRef['name'] : undefined;
    const hostname = e['hostname'];
    const name = typeof refName === 'string' ? refName : typeof hostname === 'string' ? hostname : undefined;
    // IPv6 addresses are lower-cased so that duplicates across slices compare equal.
    const endpoint: Endpoint = { address: addressType === 'IPv6' ? address.toLowerCase() : address, port, weight: 1 };
    out.push(name !== undefined && isDns1123Subdomain(name) ? { ...endpoint, name } : endpoint);
  });
  return out;
}

/** Resolves backend references; Service and EndpointSlice findings are reported once, on those objects. */
export interface BackendResolver {
  resolve(namespace: string, service: string, port: number | string): BackendResolution;
}

/** Indexes the Services and EndpointSlices of a snapshot (reporting malformed metadata) for resolution. */
export function createBackendResolver(
  services: readonly unknown[],
  endpointSlices: readonly unknown[],
  diags: DiagnosticList,
): BackendResolver {
  const serviceIndex = new Map<string, ObjectHeader>();
  services.forEach((s, i) => {
    const h = readHeader(s, 'Service', true, `services[${i}]`, diags, true);
    const key = h && `${h.namespace}/${h.name}`;
    if (h && key !== undefined && !serviceIndex.has(key)) serviceIndex.set(key, h);
  });
  const sliceIndex = new Map<string, ObjectHeader[]>();
  endpointSlices.forEach((s, i) => {
    const h = readHeader(s, 'EndpointSlice', true, `endpointSlices[${i}]`, diags);
    const svc = h?.labels[SERVICE_NAME_LABEL];
    if (h === undefined || svc === undefined) return;
    const key = `${h.namespace}/${svc}`;
    const list = sliceIndex.get(key) ?? [];
    list.push(h);
    sliceIndex.set(key, list);
  });
  for (const list of sliceIndex.values()) list.sort((a, b) => compareText(a.name, b.name));

  const serviceCache = new Map<string, ServiceInfo>();
  const cache = new Map<string, BackendResolution>();

  function serviceInfo(key: string, header: ObjectHeader): ServiceInfo {
    let info = serviceCache.get(key);
    if (info === undefined) {
      info = readService(header);
      serviceCache.set(key, info);
    }
    return info;
  }

  return {
    resolve(namespace, service, port) {
      const id = backendId(namespace, service, port);
      let res = cache.get(id);
      if (res === undefined) {
        const key = `${namespace}/${service}`;
        const header = serviceIndex.get(key);
        res = resolveBackend(namespace, service, port, header && (() => serviceInfo(key, header)), sliceIndex.get(key) ?? []);
        cache.set(id, res);
      }
      return res;
    },
  };
}

/**
 * Resolves one backend reference against its Service (`info` reads it; undefined: no such Service) and
 * the EndpointSlices of that Service, sorted by name.
 */
export function resolveBackend(namespace: string, service: string, port: number | string, info: (() => ServiceInfo) | undefined, slices: readonly ObjectHeader[]): BackendResolution {
  const id = backendId(namespace, service, port);
  const empty: Backend = { id, namespace, service, servicePort: port, endpoints: [], protocol: 'http' };
  const key = `${namespace}/${service}`;
  if (info === undefined) {
    return {
      backend: { ...empty, unresolved: 'service' },
      problem: { code: Codes.missingService, severity: 'error', on: 'service', message: `Service ${key} does not exist; the route answers 503 until it does` },
    };
  }
  const svc = info();
  if (svc.externalName) {
    return {
      backend: { ...empty, unresolved: 'externalName' },
      problem: { code: Codes.externalName, severity: 'warning', on: 'service', message: `Service ${key} is of type ExternalName, which is not supported yet; the route answers 503` },
    };
  }
  const sp = svc.ports.find((p) => (typeof port === 'number' ? p.port === port : p.name === port));
  if (sp === undefined) {
    return {
      backend: { ...empty, unresolved: 'port' },
      problem: { code: Codes.unknownPort, severity: 'error', on: 'port', message: `Service ${key} has no TCP port ${typeof port === 'number' ? port : `named "${port}"`}; the route answers 503` },
    };
  }
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  for (const slice of slices) {
    for (const e of sliceEndpoints(slice, sp)) {
      const k = `${e.address}|${e.port}`;
      if (seen.has(k)) continue;
      seen.add(k);
      endpoints.push(e);
    }
  }
  endpoints.sort(compareEndpoints);
  return { backend: { ...empty, endpoints } };
}

/** Reports a resolution problem on the Ingress field that named the backend. */
export function reportBackendProblem(report: Reporter, problem: BackendProblem, serviceField: string, portField: string): void {
  const field = problem.on === 'service' ? serviceField : portField;
  if (problem.severity === 'error') report.error(problem.code, field, problem.message);
  else report.warning(problem.code, field, problem.message);
}
