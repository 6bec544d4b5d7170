/*
 * Strict fields for the file source: the field names the Kubernetes API defines for the kinds
 * translate reads, so that a misspelled field (`hots:` for `host:`) is reported with its file and
 * line, as `kubectl apply` refuses it in a cluster, instead of being silently ignored.
 */

import { isMap, isScalar, isSeq } from 'yaml';
import type { LineCounter } from 'yaml';
import { suggest } from '../../config/messages.ts';
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { ingressShape } from '../../model/translate/ingress.ts';

/**
 * Allowed field names per object path: `''` is the object itself, `spec.rules[]` every element of
 * `spec.rules`. Paths not listed are not checked: free maps (labels, annotations, data, selector)
 * and parts nothing reads (managedFields, Service status conditions, endpoint hints' lists).
 * The v1 names are those of the API (release 1.36); a unit test compares them with the
 * `@kubernetes/client-node` models.
 */
export type FieldTable = Readonly<Record<string, readonly string[]>>;

const OBJECT_META = [
  'annotations',
  'creationTimestamp',
  'deletionGracePeriodSeconds',
  'deletionTimestamp',
  'finalizers',
  'generateName',
  'generation',
  'labels',
  'managedFields',
  'name',
  'namespace',
  'ownerReferences',
  'resourceVersion',
  'selfLink',
  'uid',
] as const;
const OWNER_REFERENCE = ['apiVersion', 'blockOwnerDeletion', 'controller', 'kind', 'name', 'uid'] as const;
const OBJECT_REFERENCE = ['apiVersion', 'fieldPath', 'kind', 'name', 'namespace', 'resourceVersion', 'uid'] as const;
const TYPED_LOCAL_REFERENCE = ['apiGroup', 'kind', 'name'] as const;

const META: FieldTable = { metadata: OBJECT_META, 'metadata.ownerReferences[]': OWNER_REFERENCE };

/** The fields of an Ingress backend at `at`, in the v1 or the legacy shape. */
function ingressBackend(at: string, shape: 'v1' | 'legacy'): FieldTable {
  return shape === 'v1'
    ? { [at]: ['resource', 'service'], [`${at}.service`]: ['name', 'port'], [`${at}.service.port`]: ['name', 'number'], [`${at}.resource`]: TYPED_LOCAL_REFERENCE }
    : { [at]: ['resource', 'serviceName', 'servicePort'], [`${at}.resource`]: TYPED_LOCAL_REFERENCE };
}

function ingressTable(shape: 'v1' | 'legacy'): FieldTable {
  const defaultBackend = shape === 'v1' ? 'defaultBackend' : 'backend';
  return {
    '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
    ...META,
    spec: [defaultBackend, 'ingressClassName', 'rules', 'tls'],
    ...ingressBackend(`spec.${defaultBackend}`, shape),
    'spec.rules[]': ['host', 'http'],
    'spec.rules[].http': ['paths'],
    'spec.rules[].http.paths[]': ['backend', 'path', 'pathType'],
    ...ingressBackend('spec.rules[].http.paths[].backend', shape),
    'spec.tls[]': ['hosts', 'secretName'],
    status: ['loadBalancer'],
    'status.loadBalancer': ['ingress'],
    'status.loadBalancer.ingress[]': ['hostname', 'ip', 'ports'],
    'status.loadBalancer.ingress[].ports[]': ['error', 'port', 'protocol'],
  };
}

/** An HTTPRoute filter's fields at `at` (a rule's filters and a backendRef's). */
function httpFilter(at: string): FieldTable {
  const modifier = ['add', 'remove', 'set'];
  const header = ['name', 'value'];
  const pathModifier = ['replaceFullPath', 'replacePrefixMatch', 'type'];
  return {
    [at]: ['cors', 'extensionRef', 'externalAuth', 'requestHeaderModifier', 'requestMirror', 'requestRedirect', 'responseHeaderModifier', 'type', 'urlRewrite'],
    [`${at}.requestHeaderModifier`]: modifier,
    [`${at}.requestHeaderModifier.set[]`]: header,
    [`${at}.requestHeaderModifier.add[]`]: header,
    [`${at}.responseHeaderModifier`]: modifier,
    [`${at}.responseHeaderModifier.set[]`]: header,
    [`${at}.responseHeaderModifier.add[]`]: header,
    [`${at}.requestRedirect`]: ['hostname', 'path', 'port', 'scheme', 'statusCode'],
    [`${at}.requestRedirect.path`]: pathModifier,
    [`${at}.urlRewrite`]: ['hostname', 'path'],
    [`${at}.urlRewrite.path`]: pathModifier,
    [`${at}.requestMirror`]: ['backendRef', 'fraction', 'percent'],
    [`${at}.requestMirror.backendRef`]: ['group', 'kind', 'name', 'namespace', 'port'],
    [`${at}.extensionRef`]: ['group', 'kind', 'name'],
  };
}

/**
 * The Gateway API kinds (`gateway.networking.k8s.io`, v1; ReferenceGrant v1beta1 has the same
 * fields), standard and experimental channel (an experimental field is valid where that CRD is
 * installed). The contents of parts nothing reads (CORS, external auth, retry, session persistence,
 * TLS options, status) are not checked. From the upstream Go types (apis/v1/*_types.go).
 */
const GATEWAY_FIELDS = {
  gatewayClass: {
    '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
    ...META,
    spec: ['controllerName', 'description', 'parametersRef'],
    'spec.parametersRef': ['group', 'kind', 'name', 'namespace'],
  },
  gateway: {
    '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
    ...META,
    spec: ['addresses', 'allowedListeners', 'backendTLS', 'defaultScope', 'gatewayClassName', 'infrastructure', 'listeners', 'tls'],
    'spec.addresses[]': ['type', 'value'],
    'spec.infrastructure': ['annotations', 'labels', 'parametersRef'],
    'spec.infrastructure.parametersRef': ['group', 'kind', 'name'],
    'spec.listeners[]': ['allowedRoutes', 'hostname', 'name', 'port', 'protocol', 'tls'],
    'spec.listeners[].tls': ['certificateRefs', 'frontendValidation', 'mode', 'options'],
    'spec.listeners[].tls.certificateRefs[]': ['group', 'kind', 'name', 'namespace'],
    'spec.listeners[].allowedRoutes': ['kinds', 'namespaces'],
    'spec.listeners[].allowedRoutes.kinds[]': ['group', 'kind'],
    'spec.listeners[].allowedRoutes.namespaces': ['from', 'selector'],
    'spec.listeners[].allowedRoutes.namespaces.selector': ['matchExpressions', 'matchLabels'],
    'spec.listeners[].allowedRoutes.namespaces.selector.matchExpressions[]': ['key', 'operator', 'values'],
  },
  httpRoute: {
    '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
    ...META,
    spec: ['hostnames', 'parentRefs', 'rules', 'useDefaultGateways'],
    'spec.parentRefs[]': ['group', 'kind', 'name', 'namespace', 'port', 'sectionName'],
    'spec.rules[]': ['backendRefs', 'filters', 'matches', 'name', 'retry', 'sessionPersistence', 'timeouts'],
    'spec.rules[].matches[]': ['headers', 'method', 'path', 'queryParams'],
    'spec.rules[].matches[].path': ['type', 'value'],
    'spec.rules[].matches[].headers[]': ['name', 'type', 'value'],
    'spec.rules[].matches[].queryParams[]': ['name', 'type', 'value'],
    'spec.rules[].timeouts': ['backendRequest', 'request'],
    ...httpFilter('spec.rules[].filters[]'),
    'spec.rules[].backendRefs[]': ['filters', 'group', 'kind', 'name', 'namespace', 'port', 'weight'],
    ...httpFilter('spec.rules[].backendRefs[].filters[]'),
  },
  referenceGrant: {
    '': ['apiVersion', 'kind', 'metadata', 'spec'],
    ...META,
    spec: ['from', 'to'],
    'spec.from[]': ['group', 'kind', 'namespace'],
    'spec.to[]': ['group', 'kind', 'name'],
  },
} as const satisfies Readonly<Record<string, FieldTable>>;

/** The allowed fields of the kinds translate reads (Ingress by shape). */
export const FIELDS = {
  ingressV1: ingressTable('v1'),
  ingressLegacy: ingressTable('legacy'),
  service: {
    '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
    ...META,
    spec: [
      'allocateLoadBalancerNodePorts',
      'clusterIP',
      'clusterIPs',
      'externalIPs',
      'externalName',
      'externalTrafficPolicy',
      'healthCheckNodePort',
      'internalTrafficPolicy',
      'ipFamilies',
      'ipFamilyPolicy',
      'loadBalancerClass',
      'loadBalancerIP',
      'loadBalancerSourceRanges',
      'ports',
      'publishNotReadyAddresses',
      'selector',
      'sessionAffinity',
      'sessionAffinityConfig',
      'trafficDistribution',
      'type',
    ],
    'spec.ports[]': ['appProtocol', 'name', 'nodePort', 'port', 'protocol', 'targetPort'],
    status: ['conditions', 'loadBalancer'],
  },
  endpointSlice: {
    '': ['addressType', 'apiVersion', 'endpoints', 'kind', 'metadata', 'ports'],
    ...META,
    'endpoints[]': ['addresses', 'conditions', 'deprecatedTopology', 'hints', 'hostname', 'nodeName', 'targetRef', 'zone'],
    'endpoints[].conditions': ['ready', 'serving', 'terminating'],
    'endpoints[].targetRef': OBJECT_REFERENCE,
    'endpoints[].hints': ['forNodes', 'forZones'],
    'ports[]': ['appProtocol', 'name', 'port', 'protocol'],
  },
  secret: { '': ['apiVersion', 'data', 'immutable', 'kind', 'metadata', 'stringData', 'type'], ...META },
  configMap: { '': ['apiVersion', 'binaryData', 'data', 'immutable', 'kind', 'metadata'], ...META },
  ingressClass: {
    '': ['apiVersion', 'kind', 'metadata', 'spec'],
    ...META,
    spec: ['controller', 'parameters'],
    'spec.parameters': ['apiGroup', 'kind', 'name', 'namespace', 'scope'],
  },
  ...GATEWAY_FIELDS,
} as const satisfies Readonly<Record<string, FieldTable>>;

/** The table for an object of a kind translate reads, or undefined when its fields are not checked. */
export function fieldTableOf(kind: string, object: Readonly<Record<string, unknown>>): FieldTable | undefined {
  switch (kind) {
    case 'Ingress': {
      // An unknown apiVersion is translate's to report (the Ingress is left out there).
      const shape = ingressShape(object);
      return shape === undefined ? undefined : shape === 'v1' ? FIELDS.ingressV1 : FIELDS.ingressLegacy;
    }
    case 'Service':
      return FIELDS.service;
    case 'EndpointSlice':
      return FIELDS.endpointSlice;
    case 'Secret':
      return FIELDS.secret;
    case 'ConfigMap':
      return FIELDS.configMap;
    case 'IngressClass':
      return FIELDS.ingressClass;
    case 'GatewayClass':
      return FIELDS.gatewayClass;
    case 'Gateway':
      return FIELDS.gateway;
    case 'HTTPRoute':
      return FIELDS.httpRoute;
    case 'ReferenceGrant':
      return FIELDS.referenceGrant;
    default:
      return undefined;
  }
}

type Segment = string | number;

/** `spec.rules[]` for `['spec', 'rules', 0]`. */
function patternOf(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) out += typeof s === 'number' ? '[]' : out === '' ? s : `.${s}`;
  return out;
}

/** `spec.rules[0].hots` for `['spec', 'rules', 0, 'hots']`. */
export function fieldOf(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

/** Every pattern that is a table key or leads to one: where the walk descends. */
function prefixesOf(table: FieldTable): ReadonlySet<string> {
  const out = new Set<string>();
  for (const key of Object.keys(table)) {
    out.add(key);
    for (let i = 0; i < key.length; i++) if (key[i] === '.' || key[i] === '[') out.add(key.slice(0, i));
  }
  return out;
}

const prefixCache = new WeakMap<FieldTable, ReadonlySet<string>>();

/** One field the API does not define. */
export interface UnknownField {
  /** Path of the field, e.g. `['spec', 'rules', 0, 'hots']`. */
  readonly path: readonly Segment[];
  /** The line of the field's key in the file, when known. */
  readonly line: number | undefined;
  /** The names allowed where it is. */
  readonly known: readonly string[];
}

/** The fields of a YAML object node (as parsed with `lineCounter`) that `table` does not allow, in file order. */
export function unknownFieldsIn(node: unknown, table: FieldTable, lineCounter: LineCounter): UnknownField[] {
  let prefixes = prefixCache.get(table);
  if (prefixes === undefined) {
    prefixes = prefixesOf(table);
    prefixCache.set(table, prefixes);
  }
  const found: UnknownField[] = [];
  const walk = (n: unknown, path: Segment[]): void => {
    if (!prefixes.has(patternOf(path))) return;
    if (isMap(n)) {
      const known = table[patternOf(path)];
      for (const pair of n.items) {
        // Only plain scalar keys name fields; anything else is not a Kubernetes object field either.
        const key = isScalar(pair.key) ? pair.key.value : undefined;
        if (typeof key !== 'string') continue;
        if (known !== undefined && !known.includes(key)) {
          const start = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
          found.push({ path: [...path, key], line: start === undefined ? undefined : lineCounter.linePos(start).line, known });
          continue;
        }
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(node, []);
  return found;
}

/**
 * What an unknown field costs its object: the Ingress rule, path or TLS entry holding it is skipped
 * (a rule that lost its `host:` must not become a catch-all); one under `status` (never read) costs
 * nothing; anywhere else the object is not loaded, as the API server would refuse it.
 */
export type Disposition = { readonly skip: string; readonly what: string } | 'object' | 'none';

export function dispositionOf(kind: string, path: readonly Segment[]): Disposition {
  if (path[0] === 'status' && path.length > 1) return 'none';
  if (kind === 'Ingress' && path[0] === 'spec') {
    const [, list, i, http, paths, j] = path;
    if (list === 'rules' && typeof i === 'number' && path.length > 3) {
      if (http === 'http' && paths === 'paths' && typeof j === 'number' && path.length > 6) return { skip: fieldOf(path.slice(0, 6)), what: 'path' };
      return { skip: fieldOf(path.slice(0, 3)), what: 'rule' };
    }
    if (list === 'tls' && typeof i === 'number' && path.length > 3) return { skip: fieldOf(path.slice(0, 3)), what: 'TLS entry' };
  }
  return 'object';
}

/** The diagnostic of an unknown field: file, line, field, and what was left out. */
export function unknownFieldDiagnostic(u: UnknownField, d: Disposition, object: ObjectRef, file: string): Diagnostic {
  const key = String(u.path[u.path.length - 1]);
  const hint = suggest(key, u.known);
  const consequence = d === 'none' ? 'ignored (status is not read)' : d === 'object' ? `the ${object.kind} is not loaded` : `${d.what} ${d.skip} skipped`;
  return {
    severity: 'error',
    code: 'PASS_FILE_UNKNOWN_FIELD',
    message: `unknown field "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}, as kubectl apply would refuse it; ${consequence}`,
    object,
    field: fieldOf(u.path),
    location: u.line === undefined ? { file } : { file, line: u.line },
  };
}

/** API groups built into Kubernetes (`''` is the core group). */
const BUILTIN_GROUPS: ReadonlySet<string> = new Set([
  '',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'apiregistration.k8s.io',
  'apps',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'extensions',
  'flowcontrol.apiserver.k8s.io',
  'internal.apiserver.k8s.io',
  'networking.k8s.io',
  'node.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'resource.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'storagemigration.k8s.io',
]);

/** Kinds of the built-in groups that translate does not read: a folder may hold them (they are skipped). */
export const BUILTIN_KINDS: readonly string[] = [
  'APIService',
  'Binding',
  'CertificateSigningRequest',
  'ClusterRole',
  'ClusterRoleBinding',
  'ClusterTrustBundle',
  'ComponentStatus',
  'ConfigMap',
  'ControllerRevision',
  'CronJob',
  'CSIDriver',
  'CSINode',
  'CSIStorageCapacity',
  'CustomResourceDefinition',
  'DaemonSet',
  'Deployment',
  'DeviceClass',
  'Endpoints',
  'Event',
  'FlowSchema',
  'HorizontalPodAutoscaler',
  'IPAddress',
  'Job',
  'Lease',
  'LimitRange',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
  'MutatingWebhookConfiguration',
  'Namespace',
  'NetworkPolicy',
  'Node',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Pod',
  'PodDisruptionBudget',
  'PodTemplate',
  'PriorityClass',
  'PriorityLevelConfiguration',
  'ReplicaSet',
  'ReplicationController',
  'ResourceClaim',
  'ResourceClaimTemplate',
  'ResourceQuota',
  'ResourceSlice',
  'Role',
  'RoleBinding',
  'RuntimeClass',
  'ServiceAccount',
  'ServiceCIDR',
  'StatefulSet',
  'StorageClass',
  'StorageVersionMigration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ValidatingWebhookConfiguration',
  'VolumeAttachment',
  'VolumeAttributesClass',
];
const builtinKinds: ReadonlySet<string> = new Set(BUILTIN_KINDS);

/** The kinds translate reads, for "did you mean". */
const MODEL_KINDS = ['EndpointSlice', 'Gateway', 'GatewayClass', 'HTTPRoute', 'Ingress', 'IngressClass', 'ReferenceGrant', 'Secret', 'Service'] as const;

/**
 * The diagnostic of a kind translate does not read, or undefined for a built-in kind (skipped
 * quietly, as before). A kind of a group that is not built in is a custom resource: a warning
 * (kubectl accepts it where its CRD is installed); any other is an error (`Ingres`).
 */
export function unknownKindDiagnostic(kind: string, apiVersion: unknown, file: string, line: number | undefined, object?: ObjectRef): Diagnostic | undefined {
  if (builtinKinds.has(kind)) return undefined;
  const group = typeof apiVersion === 'string' && apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '';
  const custom = !BUILTIN_GROUPS.has(group);
  const hint = custom ? undefined : suggest(kind, [...MODEL_KINDS, ...BUILTIN_KINDS]);
  return {
    severity: custom ? 'warning' : 'error',
    code: 'PASS_FILE_UNKNOWN_KIND',
    message: custom
      ? `kind ${JSON.stringify(kind)} of ${JSON.stringify(group)} is a custom resource Passerelle does not read; not loaded`
      : `unknown kind ${JSON.stringify(kind)}${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; not loaded`,
    ...(object === undefined ? {} : { object }),
    field: 'kind',
    location: line === undefined ? { file } : { file, line },
  };
}
