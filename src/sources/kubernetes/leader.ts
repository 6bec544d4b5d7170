/*
 * Leader election through a coordination.k8s.io/v1 Lease, the algorithm of client-go's
 * leaderelection: the holder renews every retry period; another replica takes the Lease over when it
 * has not seen it renewed for a lease duration (measured on its own clock, from when it last saw the
 * record change, so clocks of different nodes need not agree). A leader that could not renew for the
 * renew deadline (shorter than the lease duration) stops leading before anyone else can start.
 */

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { KubeApiError, type KubeClient } from './client.ts';
import { LEASE, resourcePath } from './informer.ts';

/** Who may write: the Lease holder, or everyone when leader election is off. */
export interface Leadership {
  /** True while this replica may write (status, Events, certificates). */
  isLeader(): boolean;
  /** Calls `listener` when leadership is gained or lost; returns an unsubscribe function. */
  onChange(listener: (leading: boolean) => void): () => void;
  start(): void;
  stop(): Promise<void>;
}

/** A {@link Leadership} that always leads (leader election off). */
export class AlwaysLeader implements Leadership {
  isLeader(): boolean {
    return true;
  }
  onChange(): () => void {
    return () => {};
  }
  start(): void {}
  async stop(): Promise<void> {}
}

/** Options of {@link LeaseLeaderElector}. */
export interface LeaderElectionOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  /** Lease name (default `passerelle-leader`). */
  readonly name?: string;
  /** Holder identity (default: `$POD_NAME` or the host name, plus a random suffix). */
  readonly identity?: string;
  /** Default 15 s. */
  readonly leaseDurationMs?: number;
  /** Default 10 s; must be shorter than the lease duration. */
  readonly renewDeadlineMs?: number;
  /** Default 2 s. */
  readonly retryPeriodMs?: number;
  readonly logger?: Logger;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** RFC 3339 with microseconds, the form of metav1.MicroTime. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The default holder identity: `$POD_NAME` (or the host name) and a random suffix. */
export function defaultIdentity(): string {
  return `${process.env['POD_NAME'] ?? hostname()}_${randomBytes(4).toString('hex')}`;
}

/** Leader election over a Lease; see the file comment. */
export class LeaseLeaderElector implements Leadership {
  readonly #o: LeaderElectionOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(leading: boolean) => void>();
  readonly #abort = new AbortController();
  readonly identity: string;
  readonly #name: string;
  readonly #durationMs: number;
  readonly #deadlineMs: number;
  readonly #retryMs: number;
  #leading = false;
  #lastRenew = 0;
  #observed = '';
  #observedAt = 0;
  #loop: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#o = options;
    this.identity = options.identity ?? defaultIdentity();
    this.#name = options.name ?? 'passerelle-leader';
    this.#durationMs = options.leaseDurationMs ?? 15_000;
    this.#deadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryMs = options.retryPeriodMs ?? 2_000;
    if (this.#deadlineMs >= this.#durationMs) throw new Error('leader election: the renew deadline must be shorter than the lease duration');
    this.#log = (options.logger ?? silentLogger).child({ lease: `${options.namespace}/${this.#name}`, identity: this.identity });
  }

  isLeader(): boolean {
    return this.#leading && Date.now() - this.#lastRenew < this.#deadlineMs;
  }

  onChange(listener: (leading: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops campaigning; a leader releases the Lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    if (this.#leading) {
      this.#set(false);
      await this.#release().catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'could not release the lease'));
    }
  }

  #set(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#log.info({}, leading ? 'became the leader' : 'stopped leading');
    for (const l of this.#listeners) {
      try {
        l(leading);
      } catch (err) {
        this.#log.error({ err }, 'leadership listener failed');
      }
    }
  }

  async #run(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      let renewed = false;
      try {
        renewed = await this.#tryAcquireOrRenew();
      } catch (err) {
        if (this.#abort.signal.aborted) break;
        this.#log.warn({ err: (err as Error).message }, 'lease request failed');
      }
      if (renewed) {
        this.#lastRenew = Date.now();
        this.#set(true);
      } else if (this.#leading && Date.now() - this.#lastRenew >= this.#deadlineMs) {
        this.#set(false);
      }
      const wait = this.#leading ? this.#retryMs : this.#retryMs * (1 + Math.random() * 0.2);
      try {
        // Wake up in time to step down exactly at the renew deadline.
        const untilDeadline = this.#leading ? this.#lastRenew + this.#deadlineMs - Date.now() : wait;
        await sleep(Math.max(10, Math.min(wait, untilDeadline)), undefined, { signal: this.#abort.signal });
      } catch {
        break;
      }
      if (this.#leading && Date.now() - this.#lastRenew >= this.#deadlineMs) this.#set(false);
    }
  }

  get #path(): string {
    return resourcePath(LEASE, this.#o.namespace, this.#name);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const client = this.#o.client;
    const timeoutMs = Math.max(1000, this.#retryMs);
    let lease: Lease;
    try {
      lease = await client.request<Lease>('GET', this.#path, { timeoutMs, signal: this.#abort.signal });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
      const body: Lease = {
        apiVersion: LEASE.apiVersion,
        kind: LEASE.kind,
        metadata: { name: this.#name, namespace: this.#o.namespace },
        spec: { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.#durationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      };
      try {
        await client.request('POST', resourcePath(LEASE, this.#o.namespace), { body, timeoutMs, signal: this.#abort.signal });
        return true;
      } catch (createErr) {
        if (createErr instanceof KubeApiError && createErr.status === 409) return false;
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const seen = JSON.stringify([spec.holderIdentity, spec.renewTime, lease.metadata?.resourceVersion]);
    if (seen !== this.#observed) {
      this.#observed = seen;
      this.#observedAt = now;
    }
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.#durationMs / 1000)) * 1000;
    if (holder !== '' && holder !== this.identity && this.#observedAt + durationMs > now) return false;
    const mine = holder === this.identity;
    const body: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.#durationMs / 1000),
        renewTime: microTime(now),
        acquireTime: mine && spec.acquireTime !== undefined ? spec.acquireTime : microTime(now),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      await client.request('PUT', this.#path, { body, timeoutMs, signal: this.#abort.signal });
      if (!mine) this.#log.info({ previous: holder || '(none)' }, 'acquired the lease');
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return false;
      throw err;
    }
  }

  async #release(): Promise<void> {
    const lease = await this.#o.client.request<Lease>('GET', this.#path, { timeoutMs: 2000 });
    if (lease.spec?.holderIdentity !== this.identity) return;
    const now = Date.now();
    const body: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) } };
    await this.#o.client.request('PUT', this.#path, { body, timeoutMs: 2000 });
    this.#log.info({}, 'released the lease');
  }
}
