/*
 * Prometheus metrics (prom-client) for /metrics: the controller, Kubernetes watches, leadership and
 * ACME through the Telemetry hooks of the lower stages, certificates and the ACME budget read at
 * scrape time, and traffic from the drivers' RequestRecords (the same records in native, haproxy
 * and nginx modes, so one set of dashboard panels serves all three).
 */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApplyOutcome, AcmeOrderResult, DiagnosticCounts, Telemetry, WatchEvent } from '../shared/telemetry.ts';
import type { RoutingModel } from '../model/types.ts';
import type { RequestRecord } from '../drivers/types.ts';

/** One served certificate's expiry, as the metrics show it. */
export interface CertificateExpiry {
  /** The certificate id (`namespace/secret`, `acme.passerelle/NAME`, ...). */
  readonly id: string;
  /** Where it comes from: the model's source kind (`Secret`, `AcmeCertificate`, ...). */
  readonly source: string;
  readonly notAfter: Date;
}

/** What is left of the ACME weekly budget for one registered domain. */
export interface BudgetLeft {
  readonly registeredDomain: string;
  /** New certificates that may still be ordered in the current window. */
  readonly remaining: number;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** The proxy mode, for `passerelle_build_info`. */
  readonly mode: string;
  /** The Passerelle version, for `passerelle_build_info` (default `unknown`). */
  readonly version?: string;
  /** The certificates served now, read at each scrape. */
  readonly certificates?: () => Iterable<CertificateExpiry>;
  /** The ACME budget left per registered domain, read at each scrape (absent without `[acme]`). */
  readonly acmeBudget?: () => Iterable<BudgetLeft>;
  /** Node's process metrics (`process_*`, `nodejs_*`; default true). */
  readonly processMetrics?: boolean;
  /** Request latency buckets, in seconds. */
  readonly latencyBuckets?: readonly number[];
  /** The clock, ms since the epoch (tests inject one). */
  readonly now?: () => number;
}

/** The metrics registry, the {@link Telemetry} the lower stages report to, and the traffic observer. */
export interface Metrics extends Telemetry {
  readonly registry: Registry;
  /** Feeds one finished request into the traffic metrics (a driver's `observe` option). */
  readonly observe: (record: RequestRecord) => void;
  /** The text exposition for GET /metrics. */
  renderMetrics(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Request latency buckets (seconds): a proxy's answers range from sub-millisecond to long polls. */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** `2xx` … `5xx`; `none` when no status was sent (the connection closed first). */
export function codeClass(status: number): string {
  return status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'none';
}

/** The method as a label: the standard methods, anything else `other` (a client must not mint label values). */
export function methodLabel(method: string): string {
  const m = method.toUpperCase();
  return KNOWN_METHODS.has(m) ? m : 'other';
}

/**
 * The host label of a request: the host of its route (`"host path pathType"`), not the Host header,
 * so that wildcards and unknown hosts cannot multiply series; empty for the default backend or no route.
 */
export function routeHost(route: string | undefined): string {
  if (route === undefined) return '';
  const space = route.indexOf(' ');
  return space < 0 ? '' : route.slice(0, space);
}

/** The kind of an upstream failure, from its free-text cause: a bounded label. */
export function upstreamCause(error: string): string {
  const e = error.toLowerCase();
  if (/refused|econnrefused/.test(e)) return 'refused';
  if (/timeout|timed out|etimedout/.test(e)) return 'timeout';
  if (/reset|econnreset|closed|premature|hang ?up|broken pipe|epipe/.test(e)) return 'reset';
  if (/no (ready )?endpoint|unavailable|no server|no live upstream/.test(e)) return 'unavailable';
  return 'other';
}

/**
 * The config hash as a gauge value: its first 13 hex digits (52 bits, exact in a double), as
 * ingress-nginx exposes its config hash, so that replicas serving the same configuration agree.
 */
export function hashValue(hash: string): number {
  const n = Number.parseInt(hash.slice(0, 13), 16);
  return Number.isFinite(n) ? n : 0;
}

const notAfterCache = new Map<string, Date | undefined>();

/** The not-after date of a PEM certificate (its first block), or undefined when it does not parse; cached. */
export function certificateNotAfter(certPem: string): Date | undefined {
  if (notAfterCache.has(certPem)) return notAfterCache.get(certPem);
  let notAfter: Date | undefined;
  try {
    notAfter = new Date(new X509Certificate(certPem).validTo);
    if (Number.isNaN(notAfter.getTime())) notAfter = undefined;
  } catch {
    notAfter = undefined;
  }
  // Bounded: certificates rotate, and the cache must not grow with them for ever.
  if (notAfterCache.size >= 1000) notAfterCache.clear();
  notAfterCache.set(certPem, notAfter);
  return notAfter;
}

/** The expiry of every certificate of `model` (none when undefined). */
export function modelCertificates(model: RoutingModel | undefined): CertificateExpiry[] {
  const out: CertificateExpiry[] = [];
  for (const c of model?.certificates ?? []) {
    const notAfter = certificateNotAfter(c.certPem);
    if (notAfter !== undefined) out.push({ id: c.id, source: c.source.kind, notAfter });
  }
  return out;
}

/** Builds the registry and its metrics; see the file comment. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const now = options.now ?? Date.now;
  const registers = [registry];
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // Gauges named `_total` by prom-client break the naming conventions promtool checks.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'passerelle_build_info',
    help: 'Always 1; the version and proxy mode of this controller in labels.',
    labelNames: ['version', 'mode'],
    registers,
  }).set({ version: options.version ?? 'unknown', mode: options.mode }, 1);

  // ---- controller ----
  const applies = new Counter({ name: 'passerelle_config_applies_total', help: 'Configurations the controller tried to apply, by result (success, failure).', labelNames: ['result'], registers });
  const lastApplySuccess = new Gauge({ name: 'passerelle_config_last_apply_success', help: 'Whether the last configuration apply succeeded (1) or failed (0).', registers });
  const lastApplyTime = new Gauge({ name: 'passerelle_config_last_apply_timestamp_seconds', help: 'When the last successful configuration apply ended, seconds since the epoch.', registers });
  const lastApplyDuration = new Gauge({ name: 'passerelle_config_last_apply_duration_seconds', help: 'How long the proxy took to apply the last successful configuration, in seconds.', registers });
  const configHash = new Gauge({ name: 'passerelle_config_hash', help: 'The hash of the configuration served, as a number (replicas serving the same configuration agree).', registers });
  const updates = new Counter({
    name: 'passerelle_config_updates_total',
    help: 'Configuration changes by how they took effect: reload (haproxy/nginx), runtime (HAProxy runtime API), swap (native), unchanged (nothing to apply).',
    labelNames: ['via'],
    registers,
  });
  const diagnostics = new Gauge({ name: 'passerelle_diagnostics', help: 'Current diagnostics of the configuration, by severity.', labelNames: ['severity'], registers });
  // Zero series from the start: a rate() or an alert needs them before the first event.
  for (const result of ['success', 'failure']) applies.inc({ result }, 0);
  for (const via of ['reload', 'runtime', 'swap', 'unchanged']) updates.inc({ via }, 0);
  for (const severity of ['error', 'warning']) diagnostics.set({ severity }, 0);

  // ---- Kubernetes ----
  const relists = new Counter({ name: 'passerelle_kubernetes_watch_relists_total', help: 'Full lists of a Kubernetes resource after the first one (410 Gone, restarts).', labelNames: ['resource'], registers });
  const watchErrors = new Counter({ name: 'passerelle_kubernetes_watch_errors_total', help: 'Failed lists and watches of a Kubernetes resource (each is retried with backoff).', labelNames: ['resource'], registers });
  const leader = new Gauge({ name: 'passerelle_leader', help: 'Whether this replica leads (1): it writes status, Events and orders certificates.', registers });

  // ---- ACME and certificates ----
  const orders = new Counter({ name: 'passerelle_acme_orders_total', help: 'ACME orders that ended, by result (issued, renewed, failed).', labelNames: ['result'], registers });
  for (const result of ['issued', 'renewed', 'failed']) orders.inc({ result }, 0);
  const certificates = options.certificates;
  new Gauge({
    name: 'passerelle_certificate_expiry_timestamp_seconds',
    help: 'When each served certificate expires (not-after), seconds since the epoch.',
    labelNames: ['certificate', 'source'],
    registers,
    collect() {
      this.reset();
      if (certificates === undefined) return;
      for (const c of certificates()) this.set({ certificate: c.id, source: c.source }, c.notAfter.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'passerelle_certificate_expiry_seconds',
    help: 'Seconds until each served certificate expires (negative once expired).',
    labelNames: ['certificate', 'source'],
    registers,
    collect() {
      this.reset();
      if (certificates === undefined) return;
      const t = now();
      for (const c of certificates()) this.set({ certificate: c.id, source: c.source }, Math.round((c.notAfter.getTime() - t) / 1000));
    },
  });
  const acmeBudget = options.acmeBudget;
  new Gauge({
    name: 'passerelle_acme_budget_remaining',
    help: 'New certificates the ACME weekly budget still allows, per registered domain.',
    labelNames: ['registered_domain'],
    registers,
    collect() {
      this.reset();
      if (acmeBudget === undefined) return;
      for (const b of acmeBudget()) this.set({ registered_domain: b.registeredDomain }, b.remaining);
    },
  });

  // ---- traffic ----
  const requests = new Counter({
    name: 'passerelle_requests_total',
    help: 'Requests answered, by entry point, route host, route, status class and method.',
    labelNames: ['entrypoint', 'host', 'route', 'code_class', 'method'],
    registers,
  });
  const duration = new Histogram({
    name: 'passerelle_request_duration_seconds',
    help: 'Time from a request arriving to the end of its answer, by entry point and route.',
    labelNames: ['entrypoint', 'route'],
    buckets: [...(options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS)],
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'passerelle_upstream_errors_total',
    help: 'Requests the proxy answered itself because the upstream failed, by route, backend and cause (refused, timeout, reset, unavailable, other).',
    labelNames: ['entrypoint', 'route', 'backend', 'cause'],
    registers,
  });

  const observe = (r: RequestRecord): void => {
    // Runs on the request path: never throw into the proxy.
    try {
      const route = r.route ?? '';
      requests.inc({ entrypoint: r.entryPoint, host: routeHost(r.route), route, code_class: codeClass(r.status), method: methodLabel(r.method) });
      duration.observe({ entrypoint: r.entryPoint, route }, Math.max(0, r.durationMs) / 1000);
      if (r.error !== undefined) upstreamErrors.inc({ entrypoint: r.entryPoint, route, backend: r.backend ?? '', cause: upstreamCause(r.error) });
    } catch {
      // A metric that cannot be recorded is not worth a failed request.
    }
  };

  return {
    registry,
    observe,
    applyFinished(o: ApplyOutcome): void {
      if (o.ok && o.via === 'unchanged') {
        updates.inc({ via: 'unchanged' });
        return;
      }
      applies.inc({ result: o.ok ? 'success' : 'failure' });
      lastApplySuccess.set(o.ok ? 1 : 0);
      if (!o.ok) return;
      lastApplyTime.set(now() / 1000);
      lastApplyDuration.set(Math.max(0, o.durationMs) / 1000);
      if (o.hash !== undefined) configHash.set(hashValue(o.hash));
      if (o.via !== undefined) updates.inc({ via: o.via });
    },
    diagnostics(c: DiagnosticCounts): void {
      diagnostics.set({ severity: 'error' }, c.error);
      diagnostics.set({ severity: 'warning' }, c.warning);
    },
    watch(event: WatchEvent, resource: string): void {
      (event === 'relist' ? relists : watchErrors).inc({ resource });
    },
    leader(isLeader: boolean): void {
      leader.set(isLeader ? 1 : 0);
    },
    acmeOrder(result: AcmeOrderResult): void {
      orders.inc({ result });
    },
    async renderMetrics() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
