/*
 * The JSON API's answers, built from the controller's state, the model it serves and the ACME
 * manager's state. Pure: the server (server.ts) gathers the inputs and serialises the results.
 * Field names are part of the interface (docs/api.md). No builder copies a private key, an htpasswd
 * hash or an ACME account key; {@link redactSecrets} guards the serialised output as well.
 */

import { X509Certificate } from 'node:crypto';
import type { Diagnostic, ObjectRef } from '../shared/diagnostics.ts';
import { defined } from '../shared/optional.ts';
import type { Certificate, EntryPoint, Middleware, RoutingModel } from '../model/types.ts';
import { describeConditions, formatAddress } from '../model/describe.ts';
import { explainRequest } from '../model/explain.ts';
import type { Explanation } from '../model/explain.ts';
import type { CertificateStatus } from '../acme/status.ts';
import type { AcmeState } from '../acme/types.ts';
import { budgetLeft } from '../acme/planner.ts';
import type { ControllerState } from '../controller/sync.ts';
import { endpointKey } from '../drivers/types.ts';
import type { EndpointLiveState } from '../drivers/types.ts';

const EMPTY_MODEL: RoutingModel = { entryPoints: [], virtualHosts: [], backends: {}, certificates: [], diagnostics: [] };

/** The model the controller serves, or an empty one before the first apply. */
export function servedModel(state: Pick<ControllerState, 'model'>): RoutingModel {
  return state.model ?? EMPTY_MODEL;
}

/** An object reference as the API shows it. */
export interface ApiRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

function ref(r: ObjectRef): ApiRef {
  return { kind: r.kind, name: r.name, ...defined({ namespace: r.namespace }) };
}

/** A middleware without its secrets: basic auth lists user names, never hashes. */
export type ApiMiddleware =
  | { readonly kind: 'redirect'; readonly entryPoint: string; readonly scheme: string; readonly port: number; readonly status: number }
  | { readonly kind: 'basicAuth'; readonly realm: string; readonly users: readonly string[]; readonly removeHeader: boolean };

function middleware(m: Middleware): ApiMiddleware {
  if (m.kind === 'redirect') return { kind: 'redirect', entryPoint: m.entryPoint, scheme: m.scheme, port: m.port, status: m.status };
  return { kind: 'basicAuth', realm: m.realm, users: m.users.map((u) => u.user), removeHeader: m.removeHeader };
}

/** An entry point as the API shows it. */
export interface ApiEntryPoint {
  readonly name: string;
  readonly address: string;
  readonly tls: boolean;
  readonly middlewares: readonly ApiMiddleware[];
}

function entryPoint(ep: EntryPoint): ApiEntryPoint {
  return { name: ep.name, address: formatAddress(ep.address), tls: ep.tls, middlewares: ep.middlewares.map(middleware) };
}

/** What /api/overview needs besides the controller state. */
export interface OverviewInput {
  readonly mode: string;
  readonly version: string;
  readonly state: ControllerState;
  /** Entry points from the config, shown before the first apply too. */
  readonly entryPoints: readonly EntryPoint[];
}

/** `/api/overview`: mode, version, entry points, counts, last apply. */
export interface Overview {
  readonly mode: string;
  readonly version: string;
  readonly entryPoints: readonly ApiEntryPoint[];
  readonly counts: {
    readonly virtualHosts: number;
    readonly routes: number;
    readonly backends: number;
    readonly endpoints: number;
    readonly certificates: number;
    readonly errors: number;
    readonly warnings: number;
  };
  readonly lastApply: {
    /** ISO time of the last successful apply, null before the first. */
    readonly at: string | null;
    /** sha256 of the served configuration (compare replicas with it). */
    readonly hash: string | null;
    readonly durationMs: number | null;
    /** Why the last sync failed (cleared by the next success). */
    readonly error: string | null;
    readonly errorAt: string | null;
    readonly applies: number;
    readonly failures: number;
  };
}

/**
 * Builds `/api/overview`.
 *
 * @param input mode, version, controller state, configured entry points
 * @returns the overview document
 */
export function overviewOf(input: OverviewInput): Overview {
  const { state } = input;
  const model = servedModel(state);
  const backends = Object.values(model.backends);
  return {
    mode: input.mode,
    version: input.version,
    entryPoints: (state.model?.entryPoints ?? input.entryPoints).map(entryPoint),
    counts: {
      virtualHosts: model.virtualHosts.length,
      routes: model.virtualHosts.reduce((n, v) => n + v.routes.length, 0),
      backends: backends.length,
      endpoints: backends.reduce((n, b) => n + b.endpoints.length, 0),
      certificates: model.certificates.length,
      errors: model.diagnostics.filter((d) => d.severity === 'error').length,
      warnings: model.diagnostics.filter((d) => d.severity === 'warning').length,
    },
    lastApply: {
      at: state.appliedAt?.toISOString() ?? null,
      hash: state.hash ?? null,
      durationMs: state.applyDurationMs === undefined ? null : Math.round(state.applyDurationMs * 10) / 10,
      error: state.lastError ?? null,
      errorAt: state.lastErrorAt?.toISOString() ?? null,
      applies: state.syncs,
      failures: state.failures,
    },
  };
}

/** `/api/routers`: the virtual hosts and their routes, with the objects they come from. */
export interface Routers {
  readonly virtualHosts: readonly {
    readonly host: string;
    readonly kind: string;
    /** The local address the host is served on (a Gateway's own, `gatewayAddressPool`); null: the entry points'. */
    readonly address: string | null;
    /** With `address`: the entry point (port) the host is served on there; null otherwise. */
    readonly entryPoint: string | null;
    /** Without `address`: the entry points the host is served on when not every one (a Gateway listener's port); null otherwise. */
    readonly entryPoints: readonly string[] | null;
    readonly certificate: string | null;
    readonly sources: readonly ApiRef[];
    /** `conditions`: what the request must also have (method, headers, query), as text; null: none. */
    readonly routes: readonly { readonly path: string; readonly pathType: string; readonly conditions: string | null; readonly backend: string; readonly source: ApiRef; readonly field: string }[];
  }[];
  readonly defaultBackend: string | null;
}

/**
 * Builds `/api/routers`; with `host`, only the virtual hosts whose name contains it.
 *
 * @param model the served model
 * @param host an optional case-insensitive substring of the host
 * @returns the routers document
 */
export function routersOf(model: RoutingModel, host?: string): Routers {
  const needle = host?.toLowerCase();
  return {
    virtualHosts: [...model.virtualHosts.map((v) => ({ v, address: null, entryPoint: null })), ...(model.addressScopes ?? []).flatMap((s) => s.virtualHosts.map((v) => ({ v, address: s.address, entryPoint: s.entryPoint })))]
      .filter(({ v }) => needle === undefined || needle === '' || v.host.includes(needle))
      .map(({ v, address, entryPoint }) => ({
        host: v.host,
        kind: v.kind,
        address,
        entryPoint,
        entryPoints: v.entryPoints ?? null,
        certificate: v.certificate ?? null,
        sources: v.sources.map(ref),
        routes: v.routes.map((r) => ({ path: r.path, pathType: r.pathType, conditions: r.conditions === undefined ? null : describeConditions(r), backend: r.backend, source: ref(r.source), field: r.field })),
      })),
    defaultBackend: model.defaultBackend ?? null,
  };
}

/** `/api/backends`: every backend, its endpoints and the routes that use it. */
export interface Backends {
  /** Whether the mode reports live endpoint states (false: every `live` is null). */
  readonly liveStates: boolean;
  readonly backends: readonly {
    readonly id: string;
    readonly namespace: string;
    readonly service: string;
    readonly servicePort: number | string;
    readonly protocol: string;
    readonly endpoints: readonly {
      readonly address: string;
      readonly port: number;
      readonly weight: number;
      readonly name: string | null;
      /** The model's state: only ready endpoints are routed to. */
      readonly state: 'ready';
      /** What the proxy saw: `up`, `down`, or null when unknown (no traffic yet, or a mode that cannot tell). */
      readonly live: EndpointLiveState | null;
    }[];
    /** `host path pathType` of each route to it (`default` for the default backend). */
    readonly usedBy: readonly string[];
  }[];
}

/**
 * Builds `/api/backends`. Endpoint `state` is `ready` for every endpoint the model holds (only ready
 * endpoints are routed to); a backend without endpoints answers 503. `live` is the driver's view.
 *
 * @param model the served model
 * @param live the driver's endpoint states (keys: `endpointKey`), undefined when the mode has none
 * @returns the backends document
 */
export function backendsOf(model: RoutingModel, live?: ReadonlyMap<string, EndpointLiveState>): Backends {
  const users = new Map<string, string[]>();
  const use = (id: string, what: string): void => {
    const list = users.get(id) ?? [];
    list.push(what);
    users.set(id, list);
  };
  for (const v of model.virtualHosts) for (const r of v.routes) use(r.backend, `${v.host} ${r.path} ${r.pathType}`);
  for (const s of model.addressScopes ?? []) for (const v of s.virtualHosts) for (const r of v.routes) use(r.backend, `${s.address} ${s.entryPoint} ${v.host} ${r.path} ${r.pathType}`);
  if (model.defaultBackend !== undefined) use(model.defaultBackend, 'default');
  return {
    liveStates: live !== undefined,
    backends: Object.values(model.backends).map((b) => ({
      id: b.id,
      namespace: b.namespace,
      service: b.service,
      servicePort: b.servicePort,
      protocol: b.protocol,
      endpoints: b.endpoints.map((e) => ({
        address: e.address,
        port: e.port,
        weight: e.weight,
        name: e.name ?? null,
        state: 'ready' as const,
        live: live?.get(endpointKey(b.id, e.address, e.port)) ?? null,
      })),
      usedBy: users.get(b.id) ?? [],
    })),
  };
}

/** What the leaf of a PEM chain says, or nulls when it does not parse. */
function leafInfo(certPem: string): { subject: string | null; issuer: string | null; notBefore: string | null; notAfter: string | null; serialNumber: string | null } {
  try {
    const x = new X509Certificate(certPem);
    const oneLine = (dn: string): string => dn.split('\n').join(', ');
    return { subject: oneLine(x.subject), issuer: oneLine(x.issuer), notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString(), serialNumber: x.serialNumber };
  } catch {
    return { subject: null, issuer: null, notBefore: null, notAfter: null, serialNumber: null };
  }
}

/** ACME's view of one certificate. */
export interface ApiAcmeState {
  readonly state: CertificateStatus['state'];
  readonly detail: string | null;
  readonly renewAt: string | null;
  readonly nextAttemptAt: string | null;
  readonly lastError: { readonly at: string; readonly detail: string; readonly cause: string; readonly type: string | null } | null;
  readonly requestedBy: readonly ApiRef[];
}

/** One certificate of `/api/certificates`. */
export interface ApiCertificate {
  readonly id: string;
  /** Where it comes from: a TLS Secret, ACME, or the default certificate for unknown names. */
  readonly source: 'secret' | 'acme' | 'default';
  readonly object: ApiRef | null;
  /** Names it is served for (SNI). */
  readonly names: readonly string[];
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly serialNumber: string | null;
  /** Seconds until notAfter (negative: expired), null when unknown. */
  readonly expiresInSeconds: number | null;
  /** Whether the proxy serves it now. */
  readonly served: boolean;
  readonly acme: ApiAcmeState | null;
}

/** The ACME inputs of {@link certificatesOf}, when `[acme]` is configured. */
export interface AcmeView {
  readonly storage: string;
  readonly caServer: string;
  /** Whether this replica orders (the leader). */
  readonly leading: boolean;
  readonly statuses: readonly CertificateStatus[];
  readonly state: AcmeState;
  /** New certificates per registered domain per window. */
  readonly perDomainBudget: number;
  readonly windowMs: number;
}

/** `/api/certificates`. */
export interface Certificates {
  readonly certificates: readonly ApiCertificate[];
  readonly acme: {
    readonly storage: string;
    readonly caServer: string;
    readonly leading: boolean;
    readonly budget: readonly { readonly domain: string; readonly used: number; readonly limit: number; readonly left: number }[];
  } | null;
}

function acmeStateOf(s: CertificateStatus): ApiAcmeState {
  return {
    state: s.state,
    detail: s.detail ?? null,
    renewAt: s.renewAt ?? null,
    nextAttemptAt: s.nextAttemptAt ?? null,
    lastError: s.lastError === undefined ? null : { at: s.lastError.at, detail: s.lastError.detail, cause: s.lastError.cause, type: s.lastError.type ?? null },
    requestedBy: s.sources.map(ref),
  };
}

/** Weekly budget left per registered domain that ACME wants or has issued for (the planner's count). */
function budgetOf(acme: AcmeView, now: Date): { domain: string; used: number; limit: number; left: number }[] {
  // Only the per-domain count is read from the budget here.
  const budget = { windowMs: acme.windowMs, perRegisteredDomain: acme.perDomainBudget, duplicate: Number.POSITIVE_INFINITY };
  return budgetLeft(budget, acme.state.issuances, acme.statuses.flatMap((s) => s.names), now).map(({ registeredDomain, remaining }) => ({
    domain: registeredDomain,
    used: acme.perDomainBudget - remaining,
    limit: acme.perDomainBudget,
    left: remaining,
  }));
}

/**
 * Builds `/api/certificates`: every certificate of the model (Secret or ACME), the ACME
 * certificates not served yet (pending, failed), and the default certificate when an entry point
 * has TLS. Never includes a key.
 *
 * @param model the served model
 * @param acme the ACME state, when `[acme]` is configured
 * @param now the clock
 * @returns the certificates document
 */
export function certificatesOf(model: RoutingModel, acme: AcmeView | undefined, now: Date): Certificates {
  const statuses = new Map((acme?.statuses ?? []).map((s) => [s.id, s]));
  const seen = new Set<string>();
  const out: ApiCertificate[] = [];
  const expiresIn = (notAfter: string | null): number | null => (notAfter === null ? null : Math.round((Date.parse(notAfter) - now.getTime()) / 1000));
  for (const c of model.certificates as readonly Certificate[]) {
    const info = leafInfo(c.certPem);
    const status = statuses.get(c.id);
    seen.add(c.id);
    out.push({
      id: c.id,
      source: c.source.kind === 'Secret' ? 'secret' : 'acme',
      object: ref(c.source),
      names: c.hosts,
      ...info,
      expiresInSeconds: expiresIn(info.notAfter),
      served: true,
      acme: status === undefined ? null : acmeStateOf(status),
    });
  }
  for (const s of acme?.statuses ?? []) {
    if (seen.has(s.id)) continue;
    const stored = acme?.state.certificates[s.id];
    const info = stored === undefined ? leafInfo('') : leafInfo(stored.certPem);
    const notAfter = info.notAfter ?? s.notAfter ?? null;
    out.push({ id: s.id, source: 'acme', object: null, names: s.names, ...info, notAfter, expiresInSeconds: expiresIn(notAfter), served: false, acme: acmeStateOf(s) });
  }
  if (model.entryPoints.some((e) => e.tls)) {
    out.push({ id: 'default', source: 'default', object: null, names: [], subject: null, issuer: null, notBefore: null, notAfter: null, serialNumber: null, expiresInSeconds: null, served: true, acme: null });
  }
  return {
    certificates: out,
    acme: acme === undefined ? null : { storage: acme.storage, caServer: acme.caServer, leading: acme.leading, budget: budgetOf(acme, now) },
  };
}

/** `/api/diagnostics`. */
export interface Diagnostics {
  readonly errors: number;
  readonly warnings: number;
  readonly diagnostics: readonly {
    readonly severity: string;
    readonly code: string;
    readonly message: string;
    readonly object: ApiRef | null;
    readonly field: string | null;
    readonly location: { readonly file: string; readonly line: number | null } | null;
  }[];
}

/**
 * Builds `/api/diagnostics`: every current diagnostic of the last built model (objects, ACME).
 *
 * @param diagnostics the model's diagnostics
 * @returns the diagnostics document
 */
export function diagnosticsOf(diagnostics: readonly Diagnostic[]): Diagnostics {
  return {
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity,
      code: d.code,
      message: d.message,
      object: d.object === undefined ? null : ref(d.object),
      field: d.field ?? null,
      location: d.location === undefined ? null : { file: d.location.file, line: d.location.line ?? null },
    })),
  };
}

/** An API answer: a status and a JSON-able body. */
export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The body of an API error. */
export function apiError(status: number, code: string, message: string): ApiAnswer {
  return { status, body: { error: { code, message } } };
}

/**
 * `/api/explain?url=URL[&method=M][&header=Name:%20value]...`: the `explain` command over HTTP.
 *
 * @param model the served model
 * @param query the request's query parameters
 * @returns 200 with the explanation, or 400 naming what is wrong
 */
export function explainOf(model: RoutingModel, query: URLSearchParams): ApiAnswer {
  const url = query.get('url');
  if (url === null || url === '') return apiError(400, 'PASS_WEB_BAD_REQUEST', 'the url parameter is required, e.g. /api/explain?url=http://example.com/path');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return apiError(400, 'PASS_WEB_BAD_REQUEST', `url ${JSON.stringify(url)} is not an absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return apiError(400, 'PASS_WEB_BAD_REQUEST', 'url must be http:// or https://');
  const headers: [string, string][] = [];
  for (const h of query.getAll('header')) {
    const colon = h.indexOf(':');
    if (colon <= 0) return apiError(400, 'PASS_WEB_BAD_REQUEST', `header ${JSON.stringify(h)} is not "Name: value"`);
    headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
  }
  const method = query.get('method') ?? undefined;
  const e: Explanation = explainRequest(model, { url: parsed.href, headers, ...defined({ method }) });
  return {
    status: 200,
    body: { status: e.status, entryPoint: e.entryPoint ?? null, virtualHost: e.virtualHost ?? null, route: e.route ?? null, backend: e.backend ?? null, lines: e.lines },
  };
}

const HTPASSWD_HASH = /^(\$apr1\$|\$2[abxy]?\$\d\d\$|\{SHA\})/;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const SECRET_KEYS = new Set(['keyPem', 'privateKey', 'accountKey', 'accountKeyPem', 'hmacKey', 'password']);

/**
 * A deep copy of a JSON-able value with every secret replaced by `"[redacted]"`: fields named like a
 * key (`keyPem`, `accountKey`, ...), PEM private keys and htpasswd hashes wherever they appear.
 * The builders above already leave them out; this is the last guard before the wire.
 *
 * @param value a JSON-able value
 * @returns the same value without secrets
 */
export function redactSecrets(value: unknown): unknown {
  if (typeof value === 'string') return HTPASSWD_HASH.test(value) || PRIVATE_KEY.test(value) ? '[redacted]' : value;
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k) ? '[redacted]' : redactSecrets(v);
    return out;
  }
  return value;
}
