/*
 * The health decisions behind /healthz (liveness) and /readyz (readiness). Pure: they read the
 * controller's state, the clock and what the driver's probe said.
 */

import type { ControllerState } from '../controller/sync.ts';

/** One named check of a health report. */
export interface HealthCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What /healthz and /readyz answer: 200 when every check passes, else 503. */
export interface HealthReport {
  readonly ok: boolean;
  readonly status: 200 | 503;
  readonly checks: readonly HealthCheck[];
}

/** A sync running longer than this is taken for a wedged loop (default of {@link liveness}). */
export const DEFAULT_WEDGED_AFTER_MS = 120_000;

/** The controller fields health reads. */
export type HealthState = Pick<ControllerState, 'stopped' | 'syncStartedAt' | 'appliedAt' | 'hash' | 'lastError'>;

function report(checks: readonly HealthCheck[]): HealthReport {
  const ok = checks.every((c) => c.ok);
  return { ok, status: ok ? 200 : 503, checks };
}

/**
 * Liveness: the sync loop runs (not stopped) and no sync has been running for longer than
 * `wedgedAfterMs`. A failing apply is not a liveness failure: the loop retries it, and a restart
 * would not fix a bad object.
 */
export function liveness(state: HealthState, now: Date, wedgedAfterMs = DEFAULT_WEDGED_AFTER_MS): HealthReport {
  const loop: HealthCheck = state.stopped ? { name: 'sync-loop', ok: false, detail: 'the sync loop is stopped' } : { name: 'sync-loop', ok: true, detail: 'running' };
  const started = state.syncStartedAt;
  const runningMs = started === undefined ? 0 : now.getTime() - started.getTime();
  const wedged: HealthCheck =
    started !== undefined && runningMs > wedgedAfterMs
      ? { name: 'sync-progress', ok: false, detail: `a sync has been running for ${(runningMs / 1000).toFixed(1)} s (limit ${(wedgedAfterMs / 1000).toFixed(1)} s) since ${started.toISOString()}` }
      : { name: 'sync-progress', ok: true, detail: started === undefined ? 'idle' : `a sync is running for ${Math.round(runningMs)} ms` };
  return report([loop, wedged]);
}

/**
 * Readiness: a first configuration has been applied, the loop is not stopped, and the proxy serves
 * it (`proxyAnswers`: the driver's probe; undefined when the driver has none).
 */
export function readiness(state: HealthState, proxyAnswers: boolean | undefined): HealthReport {
  const applied: HealthCheck =
    state.appliedAt === undefined
      ? { name: 'configuration', ok: false, detail: state.lastError === undefined ? 'no configuration applied yet' : `no configuration applied yet: ${state.lastError}` }
      : { name: 'configuration', ok: true, detail: `applied ${state.appliedAt.toISOString()}${state.hash === undefined ? '' : ` (hash ${state.hash.slice(0, 12)})`}` };
  const checks: HealthCheck[] = [applied];
  if (state.stopped) checks.push({ name: 'sync-loop', ok: false, detail: 'stopping' });
  if (proxyAnswers !== undefined) checks.push({ name: 'proxy', ok: proxyAnswers, detail: proxyAnswers ? 'the proxy answers' : 'the proxy does not answer' });
  return report(checks);
}

/** The plain-text body of a health answer: `ok`, or one line per failed check (as Kubernetes' own /healthz). */
export function healthText(r: HealthReport, verbose: boolean): string {
  if (!verbose) return r.ok ? 'ok\n' : `${r.checks.filter((c) => !c.ok).map((c) => `[-] ${c.name}: ${c.detail}`).join('\n')}\n`;
  return `${r.checks.map((c) => `[${c.ok ? '+' : '-'}] ${c.name}: ${c.detail}`).join('\n')}\n${r.ok ? 'ok' : 'failed'}\n`;
}
