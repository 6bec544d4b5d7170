/*
 * How the Kubernetes source retries a failed list or watch, and when it gives up starting. A
 * restarting apiserver refuses connections, then serves requests before its RBAC caches have synced
 * (403 for under a second) and before its watch caches are ready (429): none of this is a verdict on
 * the controller's permissions, so every failure is retried, with a backoff of its own kind, and
 * start() only gives up once the first lists have kept failing for the configured time.
 */

import { PassError } from '../../shared/errors.ts';
import { KubeApiError } from './client.ts';
import type { ResourceType } from './resources.ts';

/**
 * What a failure says about the apiserver:
 * - `unreachable`: no HTTP answer (connection refused or reset, TLS failure, request timeout);
 * - `refused`: 401 or 403, an authorization verdict, or an apiserver whose RBAC caches are not synced yet;
 * - `throttled`: 429 (priority and fairness, or a watch cache still initializing);
 * - `unavailable`: 408 or 5xx;
 * - `rejected`: any other status (400 for a bad label selector, 404 for a type the cluster does not serve).
 */
export type FailureKind = 'unreachable' | 'refused' | 'throttled' | 'unavailable' | 'rejected';

/** Classifies a failed list or watch; see {@link FailureKind}. */
export function classifyFailure(err: unknown): FailureKind {
  if (!(err instanceof KubeApiError)) return 'unavailable';
  const s = err.status;
  if (s === 0) return 'unreachable';
  if (s === 401 || s === 403) return 'refused';
  if (s === 429) return 'throttled';
  if (s === 408 || s >= 500) return 'unavailable';
  return 'rejected';
}

/**
 * Whether start() keeps retrying a failure of this kind before the first lists complete. Only
 * `rejected` fails at once: the same request will be answered the same way (a bad selector, a
 * resource the cluster does not serve), whereas the others are what a restarting apiserver answers.
 */
export function retriedBeforeSync(kind: FailureKind): boolean {
  return kind !== 'rejected';
}

/** The retry delays of an informer. */
export interface BackoffPolicy {
  /** First delay of a run of failures of one kind (doubled at each further failure). */
  readonly initialMs: number;
  /** Cap of the delay. */
  readonly maxMs: number;
  /**
   * Cap of the delay while the apiserver is unreachable: a refused connection costs it nothing, and
   * a short cap means the changes are read within about this long of its coming back.
   */
  readonly maxUnreachableMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 10_000, maxUnreachableMs: 1000 };

/** The longest Retry-After honoured: a longer one is more likely a misconfigured proxy than advice. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The delay before the next attempt, after the `attempt`-th failure in a row of `kind` (1 for the
 * first): exponential from `initialMs`, capped, with ±20 % jitter so that replicas and informers do
 * not retry in step; a Retry-After of a 429 or 503 is a floor.
 */
export function retryDelayMs(kind: FailureKind, attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs?: number, random: () => number = Math.random): number {
  const cap = kind === 'unreachable' ? Math.min(policy.maxUnreachableMs, policy.maxMs) : policy.maxMs;
  const exp = Math.min(cap, policy.initialMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  const delay = exp * (0.8 + random() * 0.4);
  if (retryAfterMs === undefined || (kind !== 'throttled' && kind !== 'unavailable')) return Math.round(delay);
  return Math.round(Math.max(delay, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) * (1 + random() * 0.2)));
}

/** `the apiserver refused (HTTP 403)`: the subject of the "retrying" log line of a failure. */
export function describeFailure(kind: FailureKind, err: unknown): string {
  const status = err instanceof KubeApiError ? err.status : 0;
  switch (kind) {
    case 'unreachable':
      return 'the apiserver is unreachable';
    case 'refused':
      return `the apiserver refused (HTTP ${status})`;
    case 'throttled':
      return `the apiserver is throttling (HTTP ${status})`;
    case 'unavailable':
      return status === 0 ? 'the request failed' : `the apiserver failed (HTTP ${status})`;
    case 'rejected':
      return `the apiserver rejected the request (HTTP ${status})`;
  }
}

/** The RBAC name of a resource type: `services`, `endpointslices.discovery.k8s.io`. */
export function rbacResource(type: ResourceType): string {
  const slash = type.apiVersion.indexOf('/');
  return slash < 0 ? type.plural : `${type.plural}.${type.apiVersion.slice(0, slash)}`;
}

/** `90 s`, `2 min`, `750 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** The failure an informer is retrying (see `Informer.failure`). */
export interface RetriedFailure {
  readonly error: Error;
  readonly kind: FailureKind;
  /** The request that failed: `list` or `watch` (the RBAC verbs). */
  readonly verb: 'list' | 'watch';
  /** Failures of this kind in a row. */
  readonly count: number;
  /** When the first of them happened (ms since the epoch). */
  readonly since: number;
}

/** An informer start() is still waiting for. */
export interface PendingSync {
  readonly type: ResourceType;
  /** Undefined: all namespaces (or a cluster-scoped type). */
  readonly namespace: string | undefined;
  readonly failure: RetriedFailure | undefined;
}

function scope(p: PendingSync): string {
  if (!p.type.namespaced) return '';
  return p.namespace === undefined ? ' in all namespaces' : ` in namespace ${p.namespace}`;
}

/**
 * The verdict of start() on the informers not synced yet, `waitedMs` after it began: undefined to
 * keep waiting; PASS_KUBE_API at once for a request the apiserver rejects; once `retryMs` has
 * passed, PASS_KUBE_FORBIDDEN when an informer is still being refused (naming the resource and the
 * verb RBAC must grant), else PASS_KUBE_SYNC.
 */
export function startupVerdict(pending: readonly PendingSync[], waitedMs: number, retryMs: number, now = Date.now()): PassError | undefined {
  if (pending.length === 0) return undefined;
  const rejected = pending.find((p) => p.failure !== undefined && !retriedBeforeSync(p.failure.kind));
  if (rejected?.failure) {
    const f = rejected.failure;
    return new PassError('PASS_KUBE_API', `the Kubernetes API rejected the ${f.verb} of ${rbacResource(rejected.type)}${scope(rejected)}: ${f.error.message}`, { cause: f.error });
  }
  if (waitedMs < retryMs) return undefined;
  const refused = pending.filter((p) => p.failure?.kind === 'refused');
  if (refused.length > 0) {
    const what = refused.map((p) => {
      const f = p.failure as RetriedFailure;
      return `${f.verb} ${rbacResource(p.type)}${scope(p)} (refused for ${formatDuration(now - f.since)}): ${f.error.message}`;
    });
    const first = refused[0] as PendingSync;
    return new PassError(
      'PASS_KUBE_FORBIDDEN',
      `the Kubernetes API kept refusing access for ${formatDuration(retryMs)} after start (kubernetes.startupRetry): ${what.join('; ')}. ` +
        `Check that the controller's ServiceAccount may ${(first.failure as RetriedFailure).verb} ${rbacResource(first.type)} (deploy/base/rbac.yaml)`,
      { field: 'kubernetes.startupRetry', cause: first.failure?.error },
    );
  }
  const what = pending.map((p) => `${p.type.kind}${scope(p)}: ${p.failure?.error.message ?? 'no answer yet'}`);
  return new PassError('PASS_KUBE_SYNC', `the Kubernetes API could not be listed within ${formatDuration(retryMs)} (kubernetes.startupRetry): ${what.join('; ')}`, {
    field: 'kubernetes.startupRetry',
  });
}
