/*
 * Validation and reading of one Ingress, in the `networking.k8s.io/v1` shape or the legacy
 * `extensions/v1beta1` / `networking.k8s.io/v1beta1` shape, into one neutral form.
 */

import { defined } from '../../shared/optional.ts';
import type { HostKind, PathType } from '../types.ts';
import { Codes } from './diagnostics.ts';
import type { Reporter } from './diagnostics.ts';
import { isRecord, showValue } from './object.ts';
import type { ObjectHeader, Rec } from './object.ts';
import { isDns1123Label, isDns1123Subdomain, isIanaSvcName, isPortNumber, parseHost, pathProblem, regexPathProblem } from './validate.ts';

/** A reference to a Service port, as written in the Ingress. */
export interface BackendRef {
  /** The backend field itself, e.g. `spec.defaultBackend`. */
  readonly field: string;
  readonly service: string;
  readonly port: number | string;
  /** Field of the Service name, e.g. `spec.rules[0].http.paths[0].backend.service.name`. */
  readonly serviceField: string;
  /** Field of the port. */
  readonly portField: string;
}

/** One valid path of a rule. */
export interface IngressPath {
  /** Normalised later by the assembly; here as written (or `/` when absent). */
  readonly path: string;
  readonly pathType: PathType;
  readonly backend: BackendRef;
  /** `spec.rules[i].http.paths[j]`. */
  readonly field: string;
}

/** One rule with a valid host (`*` kind `any` when it has none) and its valid paths. */
export interface IngressRule {
  readonly host: string;
  readonly kind: HostKind;
  readonly paths: readonly IngressPath[];
  readonly field: string;
}

/** A validated host of a TLS entry. */
export interface TlsHost {
  readonly host: string;
  readonly kind: Exclude<HostKind, 'any'>;
  readonly field: string;
}

/** One `spec.tls` entry that names a Secret. */
export interface IngressTls {
  /** Valid hosts only; when the entry lists none, the Ingress's own rule hosts. */
  readonly hosts: readonly TlsHost[];
  readonly secretName: string;
  /** `spec.tls[k]`. */
  readonly field: string;
}

/** One of our Ingresses, validated; the invalid parts were dropped with a diagnostic. */
export interface ParsedIngress {
  readonly header: ObjectHeader;
  readonly rules: readonly IngressRule[];
  readonly defaultBackend?: BackendRef;
  readonly tls: readonly IngressTls[];
}

/** `networking.k8s.io/v1`, or the `extensions/v1beta1` / `networking.k8s.io/v1beta1` shape. */
export type IngressShape = 'v1' | 'legacy';

const LEGACY_VERSIONS = new Set(['extensions/v1beta1', 'networking.k8s.io/v1beta1']);

function usesLegacyBackend(backend: unknown): boolean {
  return isRecord(backend) && ('serviceName' in backend || 'servicePort' in backend);
}

/**
 * The API shape of an Ingress: by apiVersion when set; list responses of the API omit it on items,
 * so otherwise by content (`serviceName` / `spec.backend` mean legacy).
 */
export function ingressShape(body: Rec): IngressShape | undefined {
  const apiVersion = body['apiVersion'];
  if (apiVersion === 'networking.k8s.io/v1') return 'v1';
  if (typeof apiVersion === 'string' && LEGACY_VERSIONS.has(apiVersion)) return 'legacy';
  if (apiVersion !== undefined) return undefined;
  const spec = body['spec'];
  if (!isRecord(spec)) return 'v1';
  if (spec['backend'] !== undefined) return 'legacy';
  const rules = Array.isArray(spec['rules']) ? (spec['rules'] as readonly unknown[]) : [];
  for (const rule of rules) {
    const paths = isRecord(rule) && isRecord(rule['http']) ? rule['http']['paths'] : undefined;
    if (Array.isArray(paths) && (paths as readonly unknown[]).some((p) => isRecord(p) && usesLegacyBackend(p['backend']))) {
      return 'legacy';
    }
  }
  return 'v1';
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** Reads a backend in either shape; undefined after a diagnostic when unusable. */
function readBackend(value: unknown, field: string, shape: IngressShape, report: Reporter): BackendRef | undefined {
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be an object, found ${describe(value)}`);
    return undefined;
  }
  if (value['resource'] !== undefined) {
    report.warning(Codes.unsupportedBackend, `${field}.resource`, 'resource backends are not supported; this backend is ignored');
    return undefined;
  }
  let service: unknown;
  let port: unknown;
  let serviceField: string;
  let portField: string;
  if (shape === 'v1') {
    const svc = value['service'];
    serviceField = `${field}.service.name`;
    if (!isRecord(svc)) {
      report.error(Codes.objectInvalid, `${field}.service`, `${field}.service must be an object with name and port`);
      return undefined;
    }
    service = svc['name'];
    const p = svc['port'];
    if (!isRecord(p)) {
      report.error(Codes.objectInvalid, `${field}.service.port`, 'service.port must be an object with number or name');
      return undefined;
    }
    const hasNumber = p['number'] !== undefined && p['number'] !== null;
    const hasName = p['name'] !== undefined && p['name'] !== null && p['name'] !== '';
    if (hasNumber === hasName) {
      report.error(Codes.objectInvalid, `${field}.service.port`, 'service.port must set exactly one of number and name');
      return undefined;
    }
    port = hasNumber ? p['number'] : p['name'];
    portField = `${field}.service.port.${hasNumber ? 'number' : 'name'}`;
  } else {
    service = value['serviceName'];
    port = value['servicePort'];
    serviceField = `${field}.serviceName`;
    portField = `${field}.servicePort`;
  }
  if (typeof service !== 'string' || !isDns1123Label(service)) {
    report.error(
      Codes.badBackend,
      serviceField,
      typeof service === 'string'
        ? 'the Service name must be a DNS-1123 label (lower-case letters, digits and "-", at most 63 characters)'
        : `the Service name must be a string, found ${describe(service)}`,
    );
    return undefined;
  }
  if (typeof port === 'number') {
    if (!isPortNumber(port)) {
      report.error(Codes.badBackend, portField, 'the Service port number must be an integer from 1 to 65535');
      return undefined;
    }
  } else if (typeof port !== 'string' || !isIanaSvcName(port)) {
    report.error(
      Codes.badBackend,
      portField,
      typeof port === 'string'
        ? 'the Service port name must be an IANA service name (at most 15 lower-case letters, digits and "-", with a letter)'
        : `the Service port must be a number or a name, found ${describe(port)}`,
    );
    return undefined;
  }
  return { field, service, port, serviceField, portField };
}

function readPathType(value: unknown, field: string, shape: IngressShape, report: Reporter): PathType | undefined {
  if (value === undefined || value === null) {
    if (shape === 'legacy') return 'Prefix'; // legacy default ImplementationSpecific, served as Prefix
    report.error(Codes.badPathType, field, 'pathType is required in networking.k8s.io/v1 (Exact, Prefix or ImplementationSpecific); path skipped');
    return undefined;
  }
  if (value === 'Exact' || value === 'Prefix') return value;
  // ImplementationSpecific is ours to define: we serve it as Prefix.
  if (value === 'ImplementationSpecific') return 'Prefix';
  report.error(Codes.badPathType, field, 'pathType must be Exact, Prefix or ImplementationSpecific; path skipped');
  return undefined;
}

function readPath(value: unknown, field: string, shape: IngressShape, report: Reporter, regex: boolean): IngressPath | undefined {
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be an object, found ${describe(value)}`);
    return undefined;
  }
  const rawType = value['pathType'];
  const declared = readPathType(rawType, `${field}.pathType`, shape, report);
  if (declared === undefined) return undefined;
  // As ingress-nginx: use-regex makes Prefix and ImplementationSpecific paths regexes; Exact stays exact.
  const pathType: PathType = regex && declared === 'Prefix' ? 'Regex' : declared;
  let path = value['path'];
  if (path === undefined || path === null || path === '') {
    // A missing path means "/" in the legacy shape and for ImplementationSpecific; Exact and Prefix need one.
    if (shape === 'v1' && rawType !== 'ImplementationSpecific') {
      report.error(Codes.badPath, `${field}.path`, `a path is required with pathType ${String(rawType)}; path skipped`);
      return undefined;
    }
    path = '/';
  }
  if (typeof path !== 'string') {
    report.error(Codes.badPath, `${field}.path`, `path must be a string, found ${describe(path)}`);
    return undefined;
  }
  const problem = pathType === 'Regex' ? regexPathProblem(path) : pathProblem(path);
  if (problem !== undefined) {
    report.error(Codes.badPath, `${field}.path`, `${problem}; path skipped`);
    return undefined;
  }
  const backend = readBackend(value['backend'], `${field}.backend`, shape, report);
  if (backend === undefined) return undefined;
  return { path, pathType, backend, field };
}

/** The parts of an Ingress its source refused (`skippedFields`, set by the file source). */
function skippedParts(body: Rec): ReadonlySet<string> {
  const v = body['skippedFields'];
  return new Set(Array.isArray(v) ? (v as readonly unknown[]).filter((s): s is string => typeof s === 'string') : []);
}

function readRule(value: unknown, field: string, shape: IngressShape, report: Reporter, skipped: ReadonlySet<string>, regex: boolean): IngressRule | undefined {
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be an object, found ${describe(value)}`);
    return undefined;
  }
  let host = '*';
  let kind: HostKind = 'any';
  const rawHost = value['host'];
  if (rawHost !== undefined && rawHost !== null && rawHost !== '') {
    if (typeof rawHost !== 'string') {
      report.error(Codes.badHost, `${field}.host`, `host must be a string, found ${describe(rawHost)}; rule skipped`);
      return undefined;
    }
    const parsed = parseHost(rawHost);
    if (!parsed.ok) {
      report.error(Codes.badHost, `${field}.host`, `${parsed.reason}; rule skipped`);
      return undefined;
    }
    host = parsed.host;
    kind = parsed.kind;
  }
  const http = value['http'];
  // A rule with a host and no http section only names a host (for TLS); it routes nothing.
  if (http === undefined || http === null) return { host, kind, paths: [], field };
  const rawPaths = isRecord(http) ? http['paths'] : undefined;
  if (!Array.isArray(rawPaths)) {
    report.error(Codes.objectInvalid, `${field}.http.paths`, 'http.paths must be a list; rule skipped');
    return undefined;
  }
  const paths: IngressPath[] = [];
  (rawPaths as readonly unknown[]).forEach((p, j) => {
    if (skipped.has(`${field}.http.paths[${j}]`)) return;
    const read = readPath(p, `${field}.http.paths[${j}]`, shape, report, regex);
    if (read !== undefined) paths.push(read);
  });
  return { host, kind, paths, field };
}

function readTls(value: unknown, field: string, ruleHosts: readonly TlsHost[], report: Reporter): IngressTls | undefined {
  if (!isRecord(value)) {
    report.error(Codes.objectInvalid, field, `${field} must be an object, found ${describe(value)}`);
    return undefined;
  }
  const secretName = value['secretName'];
  // Without a secretName the hosts are served with the default certificate: nothing to load.
  if (secretName === undefined || secretName === null || secretName === '') return undefined;
  if (typeof secretName !== 'string' || !isDns1123Subdomain(secretName)) {
    report.error(Codes.objectInvalid, `${field}.secretName`, 'secretName must be a DNS-1123 subdomain; TLS entry skipped');
    return undefined;
  }
  const rawHosts = value['hosts'];
  const hosts: TlsHost[] = [];
  if (rawHosts !== undefined && rawHosts !== null) {
    if (!Array.isArray(rawHosts)) {
      report.error(Codes.objectInvalid, `${field}.hosts`, 'hosts must be a list of host names; TLS entry skipped');
      return undefined;
    }
    (rawHosts as readonly unknown[]).forEach((h, n) => {
      const hostField = `${field}.hosts[${n}]`;
      if (typeof h !== 'string') {
        report.error(Codes.badHost, hostField, `host must be a string, found ${describe(h)}`);
        return;
      }
      const parsed = parseHost(h);
      if (!parsed.ok) report.error(Codes.badHost, hostField, `${parsed.reason}; host skipped`);
      else hosts.push({ host: parsed.host, kind: parsed.kind, field: hostField });
    });
    if ((rawHosts as readonly unknown[]).length > 0 && hosts.length === 0) return undefined;
  }
  // The API says an entry without hosts covers the controller's wildcard host: we read it as this Ingress's rule hosts.
  if (rawHosts === undefined || rawHosts === null || (rawHosts as readonly unknown[]).length === 0) {
    hosts.push(...ruleHosts.map((h) => ({ ...h, field: `${field}.hosts` })));
  }
  return { hosts, secretName, field };
}

/**
 * Validates and reads one Ingress (already known to be ours). Invalid rules, paths and TLS entries
 * are reported on the Ingress and dropped; the rest is returned. Returns undefined when the Ingress
 * as a whole is unusable (unknown apiVersion, spec not an object).
 *
 * @param regexPaths the Ingress asks for regex paths (use-regex): its Prefix and ImplementationSpecific
 *   paths are read with the regex grammar (`regexPathProblem`) and become Regex paths
 */
export function parseIngress(header: ObjectHeader, regexPaths = false): ParsedIngress | undefined {
  const report = header.reporter;
  const body = header.body;
  const shape = ingressShape(body);
  if (shape === undefined) {
    report.error(Codes.objectInvalid, 'apiVersion', `apiVersion ${showValue(body['apiVersion'])} is not an Ingress API version (networking.k8s.io/v1, networking.k8s.io/v1beta1, extensions/v1beta1)`);
    return undefined;
  }
  const spec = body['spec'];
  if (!isRecord(spec)) {
    report.error(Codes.objectInvalid, 'spec', `spec must be an object, found ${describe(spec)}`);
    return undefined;
  }

  // Parts the source refused (already reported): left out, never widened (a rule that lost its host).
  const skipped = skippedParts(body);
  const rules: IngressRule[] = [];
  const rawRules = spec['rules'];
  if (rawRules !== undefined && rawRules !== null) {
    if (!Array.isArray(rawRules)) report.error(Codes.objectInvalid, 'spec.rules', 'spec.rules must be a list');
    else {
      (rawRules as readonly unknown[]).forEach((r, i) => {
        if (skipped.has(`spec.rules[${i}]`)) return;
        const rule = readRule(r, `spec.rules[${i}]`, shape, report, skipped, regexPaths);
        if (rule !== undefined) rules.push(rule);
      });
    }
  }

  const defaultField = shape === 'v1' ? 'spec.defaultBackend' : 'spec.backend';
  const rawDefault = spec[shape === 'v1' ? 'defaultBackend' : 'backend'];
  const defaultBackend =
    rawDefault === undefined || rawDefault === null ? undefined : readBackend(rawDefault, defaultField, shape, report);
  const noRules = rawRules === undefined || rawRules === null || (Array.isArray(rawRules) && rawRules.length === 0);
  if (noRules && (rawDefault === undefined || rawDefault === null)) {
    report.error(Codes.objectInvalid, 'spec', `either ${defaultField} or spec.rules must be specified`);
  }

  const ruleHosts: TlsHost[] = [];
  for (const r of rules) {
    if (r.kind !== 'any' && !ruleHosts.some((h) => h.host === r.host)) ruleHosts.push({ host: r.host, kind: r.kind, field: '' });
  }
  const tls: IngressTls[] = [];
  const rawTls = spec['tls'];
  if (rawTls !== undefined && rawTls !== null) {
    if (!Array.isArray(rawTls)) report.error(Codes.objectInvalid, 'spec.tls', 'spec.tls must be a list');
    else {
      (rawTls as readonly unknown[]).forEach((t, k) => {
        if (skipped.has(`spec.tls[${k}]`)) return;
        const entry = readTls(t, `spec.tls[${k}]`, ruleHosts, report);
        if (entry !== undefined) tls.push(entry);
      });
    }
  }

  return { header, rules, ...defined({ defaultBackend }), tls };
}
