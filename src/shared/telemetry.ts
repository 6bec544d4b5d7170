/*
 * Telemetry hooks: what the controller, the sources and ACME report as they work, for the metrics
 * of the dashboard stage (src/dashboard/metrics.ts). Lower stages only call these; they never see
 * a metrics library. Every hook must be cheap and must not throw.
 */

/**
 * How an applied configuration took effect: `reload` (haproxy/nginx loaded a new configuration
 * file, their first start included), `runtime` (HAProxy's runtime API, no reload), `swap` (native:
 * a new router swapped in), `unchanged` (nothing served changed, nothing was applied).
 */
export type ApplyVia = 'reload' | 'runtime' | 'swap' | 'unchanged';

/** The end of one sync that built a configuration. */
export interface ApplyOutcome {
  /** False when the sync failed (build, diagnostics, hash or apply): the previous configuration keeps serving. */
  readonly ok: boolean;
  /** Applied: how long the proxy took to apply it; unchanged or failed: how long the sync took. */
  readonly durationMs: number;
  /** The serving hash applied (or, on failure, the one that was being applied when known). */
  readonly hash?: string;
  /** How it took effect; absent on failure. */
  readonly via?: ApplyVia;
}

/** A Kubernetes watch event worth counting: a relist (after the first list) or a failed list/watch. */
export type WatchEvent = 'relist' | 'error';

/** How an ACME order ended. */
export type AcmeOrderResult = 'issued' | 'renewed' | 'failed';

/** Current diagnostics, by severity. */
export interface DiagnosticCounts {
  readonly error: number;
  readonly warning: number;
}

/** Hooks lower stages call; see the file comment. */
export interface Telemetry {
  /** A sync ended (applied, unchanged or failed). */
  applyFinished(outcome: ApplyOutcome): void;
  /** The diagnostics of the model just built (they replace the previous counts). */
  diagnostics(counts: DiagnosticCounts): void;
  /** A list/watch of `resource` (a Kubernetes kind) relisted or failed. */
  watch(event: WatchEvent, resource: string): void;
  /** Leadership gained (true) or lost (false); also called once with the initial state. */
  leader(isLeader: boolean): void;
  /** An ACME order ended. */
  acmeOrder(result: AcmeOrderResult): void;
}

/** Telemetry that records nothing: the default of every component. */
export const noTelemetry: Telemetry = Object.freeze({
  applyFinished(): void {},
  diagnostics(): void {},
  watch(): void {},
  leader(): void {},
  acmeOrder(): void {},
});
