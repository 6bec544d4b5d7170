/*
 * A list + watch informer for one resource type in one namespace (or all). Unlike the informer of
 * @kubernetes/client-node it never stops for good: every failure is retried with a capped, jittered
 * backoff (see retry.ts), which an accepted watch resets, so that after an outage a single dropped
 * connection is retried at once; it pages its lists, resumes watches from the last resourceVersion
 * (bookmarks included), relists after 410 Gone, and a watchdog ends a watch that has been silent
 * for too long.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import type { Telemetry } from '../../shared/telemetry.ts';
import type { KubeObject } from '../../model/k8s.ts';
import { KubeApiError, type KubeClient, type Query, type WatchEvent } from './client.ts';
import type { ResourceType } from './resources.ts';
import { DEFAULT_BACKOFF, classifyFailure, describeFailure, retryDelayMs, type RetriedFailure } from './retry.ts';

export { CONFIG_MAP, ENDPOINT_SLICE, EVENT, INGRESS, INGRESS_CLASS, LEASE, SECRET, SERVICE } from './resources.ts';
export type { ResourceType } from './resources.ts';

/**
 * The API path of a collection or an object: `/apis/networking.k8s.io/v1/namespaces/ns/ingresses/name/status`.
 * `namespace` undefined means all namespaces (for a namespaced type).
 */
export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const root = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  const sub = subresource === undefined ? '' : `/${subresource}`;
  return `${root}${ns}/${type.plural}${obj}${sub}`;
}

/** `namespace/name`, or `name` for a cluster-scoped object. */
export function objectKey(obj: KubeObject): string {
  const m = obj.metadata;
  return m?.namespace === undefined ? (m?.name ?? '') : `${m.namespace}/${m.name ?? ''}`;
}

/** A change of the informer's cache. */
export type InformerEvent =
  | { readonly type: 'added'; readonly object: KubeObject }
  | { readonly type: 'modified'; readonly object: KubeObject; readonly previous: KubeObject }
  | { readonly type: 'deleted'; readonly object: KubeObject };

/** Options of {@link Informer}. */
export interface InformerOptions {
  readonly client: KubeClient;
  readonly type: ResourceType;
  /** One namespace; undefined: all namespaces (or a cluster-scoped type). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Turns an API object into what is cached (strip unused fields); undefined drops it. */
  readonly transform?: (obj: KubeObject) => KubeObject | undefined;
  /** Called for every cache change (after the cache was updated). */
  readonly onEvent?: (event: InformerEvent) => void;
  readonly logger?: Logger;
  /** Items per list page (default 500). */
  readonly pageSize?: number;
  /** A watch that receives nothing (not even a bookmark) for this long is restarted (default 150 s). */
  readonly watchdogMs?: number;
  /** Server-side watch timeout range in seconds, picked at random per watch (default 300..600). */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /** First retry delay after a failure; doubles up to `maxBackoffMs` (defaults 250 ms, 10 s). */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Cap of the retry delay while the apiserver is unreachable (default 1 s). */
  readonly maxUnreachableBackoffMs?: number;
  /** Relists and failures are reported here, for the metrics. */
  readonly telemetry?: Telemetry;
}

/** Counters, for logs and tests. */
export interface InformerStats {
  lists: number;
  watches: number;
  /** Relists caused by 410 Gone (an expired resourceVersion). */
  expired: number;
  /** Watches ended by the watchdog. */
  silent: number;
  bookmarks: number;
  failures: number;
  /** Watches accepted (HTTP 200) after one or more failures. */
  recoveries: number;
}

interface ListBody {
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items?: readonly KubeObject[];
}

function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

/** A watch accepted and then ended within this long, with no event, did not prove the apiserver healthy. */
const FLAP_MS = 1000;
/** While a failure lasts, its warning is repeated at most this often (the others are debug). */
const WARN_EVERY_MS = 10_000;

/** The list + watch loop of one resource type; see the file comment. */
export class Informer {
  readonly #o: InformerOptions;
  readonly #log: Logger;
  readonly #cache = new Map<string, KubeObject>();
  readonly #abort = new AbortController();
  readonly #stats: InformerStats = { lists: 0, watches: 0, expired: 0, silent: 0, bookmarks: 0, failures: 0, recoveries: 0 };
  #resourceVersion = '';
  #synced = false;
  #resolveSynced: () => void = () => {};
  readonly #syncedPromise: Promise<void>;
  #loop: Promise<void> | undefined;
  #lastError: Error | undefined;
  /** Aborts the current watch only. */
  #watchAbort: AbortController | undefined;
  #restartRequested = false;
  /** Watches in a row ended by the watchdog without any event. */
  #silences = 0;
  /** The failures in a row of one kind being retried; undefined once a watch was accepted. */
  #failure: RetriedFailure | undefined;
  /** The request in flight, for the RBAC verb of a failure. */
  #verb: 'list' | 'watch' = 'list';
  #warnedAt = 0;

  constructor(options: InformerOptions) {
    this.#o = options;
    const scope = options.namespace ?? (options.type.namespaced ? '*' : undefined);
    this.#log = (options.logger ?? silentLogger).child({ informer: options.type.kind, ...defined({ namespace: scope }) });
    this.#syncedPromise = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
  }

  /** Starts the loop in the background. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop and waits for it to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  /**
   * Ends the current watch; the next one starts from `resourceVersion` (default: the last one seen).
   * For operations and tests: an old resourceVersion makes the apiserver answer 410 Gone.
   */
  restartWatch(resourceVersion?: string): void {
    if (resourceVersion !== undefined) this.#resourceVersion = resourceVersion;
    this.#restartRequested = true;
    this.#watchAbort?.abort();
  }

  /** Resolves after the first complete list. */
  get synced(): Promise<void> {
    return this.#syncedPromise;
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** The last failure, cleared by the next successful list or watch event. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** The failure being retried (kind, verb, how many in a row, since when); cleared by an accepted watch. */
  get failure(): RetriedFailure | undefined {
    return this.#failure;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  get stats(): Readonly<InformerStats> {
    return this.#stats;
  }

  get type(): ResourceType {
    return this.#o.type;
  }

  get namespace(): string | undefined {
    return this.#o.namespace;
  }

  /** The cached objects. */
  list(): KubeObject[] {
    return [...this.#cache.values()];
  }

  /** The cached objects, without a copy of the list. */
  values(): IterableIterator<KubeObject> {
    return this.#cache.values();
  }

  /** One cached object by `namespace/name` (or `name`). */
  get(key: string): KubeObject | undefined {
    return this.#cache.get(key);
  }

  get #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  #selectors(): Query {
    return { labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector };
  }

  #prepare(raw: KubeObject): KubeObject | undefined {
    const typed: KubeObject = { ...raw, kind: this.#o.type.kind, apiVersion: this.#o.type.apiVersion };
    return this.#o.transform ? this.#o.transform(typed) : typed;
  }

  #emit(event: InformerEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch (err) {
      this.#log.error({ err }, 'informer event handler failed');
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#resourceVersion === '') await this.#relist();
        const started = Date.now();
        const events = await this.#watch();
        this.#failure = undefined;
        // A watch the server ends at once, with nothing in it: do not spin.
        if (events === 0 && Date.now() - started < 1000) await sleep(1000, undefined, { signal: this.#abort.signal }).catch(() => {});
      } catch (err) {
        if (this.#stopped) break;
        if (this.#restartRequested) {
          this.#restartRequested = false;
          continue;
        }
        if (isGone(err)) {
          this.#stats.expired++;
          this.#log.info({ resourceVersion: this.#resourceVersion }, 'resourceVersion expired (410 Gone): relisting');
          this.#resourceVersion = '';
          continue;
        }
        if (err instanceof KubeApiError && err.reason === 'Timeout') {
          // Each attempt already waited watchdogMs: reconnect at once. The apiserver sends a bookmark
          // every minute, so silence twice in a row is worth a diagnostic (cleared by the next event).
          this.#stats.silent++;
          this.#silences++;
          if (this.#silences >= 2) this.#lastError = err;
          this.#log.warn({ watchdogMs: this.#watchdogMs, silences: this.#silences }, 'watch silent for too long: reconnecting');
          continue;
        }
        const delay = this.#failed(err);
        try {
          await sleep(delay, undefined, { signal: this.#abort.signal });
        } catch {
          break;
        }
      }
    }
  }

  /** Records a failure (a run of failures of one kind backs off exponentially); returns the delay before the next attempt. */
  #failed(err: unknown): number {
    const error = err instanceof Error ? err : new Error(String(err));
    const kind = classifyFailure(error);
    const now = Date.now();
    const previous = this.#failure;
    // A new kind starts a new run: the connection-refused phase of a restart does not lengthen the
    // backoff of the 403s that follow it while the new apiserver syncs its RBAC caches.
    const count = previous?.kind === kind ? previous.count + 1 : 1;
    this.#failure = { error, kind, verb: this.#verb, count, since: previous?.kind === kind ? previous.since : now };
    this.#stats.failures++;
    this.#o.telemetry?.watch('error', this.#o.type.kind);
    this.#lastError = error;
    const delay = retryDelayMs(
      kind,
      count,
      {
        initialMs: this.#o.initialBackoffMs ?? DEFAULT_BACKOFF.initialMs,
        maxMs: this.#o.maxBackoffMs ?? DEFAULT_BACKOFF.maxMs,
        maxUnreachableMs: this.#o.maxUnreachableBackoffMs ?? DEFAULT_BACKOFF.maxUnreachableMs,
      },
      error instanceof KubeApiError ? error.retryAfterMs : undefined,
    );
    const fields = { err: error.message, verb: this.#verb, retryInMs: delay, failures: count };
    // The first failure of a run and then one every WARN_EVERY_MS: an outage is not a warning a second.
    if (count === 1 || now - this.#warnedAt >= WARN_EVERY_MS) {
      this.#warnedAt = now;
      this.#log.warn(fields, `${describeFailure(kind, error)}; retrying`);
    } else {
      this.#log.debug(fields, `${describeFailure(kind, error)}; retrying`);
    }
    return delay;
  }

  get #watchdogMs(): number {
    return this.#o.watchdogMs ?? 150_000;
  }

  async #relist(): Promise<void> {
    // Each page is stripped as it arrives: the raw objects (managedFields, full specs) of one page
    // at most are alive at a time, not those of the whole list.
    const fresh = new Map<string, KubeObject>();
    let resourceVersion = '';
    let cont: string | undefined;
    this.#verb = 'list';
    do {
      const page = await this.#o.client.request<ListBody>('GET', resourcePath(this.#o.type, this.#o.namespace), {
        query: { ...this.#selectors(), limit: this.#o.pageSize ?? 500, continue: cont },
        signal: this.#abort.signal,
        timeoutMs: 60_000,
      });
      if (resourceVersion === '') resourceVersion = page.metadata?.resourceVersion ?? '';
      for (const raw of page.items ?? []) {
        const obj = this.#prepare(raw);
        if (obj) fresh.set(objectKey(obj), obj);
      }
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined && !this.#stopped);
    if (this.#stopped) return;
    this.#stats.lists++;
    // The first list is the start, not a relist.
    if (this.#stats.lists > 1) this.#o.telemetry?.watch('relist', this.#o.type.kind);

    const events: InformerEvent[] = [];
    for (const [key, old] of this.#cache) if (!fresh.has(key)) events.push({ type: 'deleted', object: old });
    for (const [key, obj] of fresh) {
      const old = this.#cache.get(key);
      if (old === undefined) events.push({ type: 'added', object: obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) events.push({ type: 'modified', object: obj, previous: old });
    }
    this.#cache.clear();
    for (const [key, obj] of fresh) this.#cache.set(key, obj);
    this.#resourceVersion = resourceVersion;
    this.#lastError = undefined;
    this.#log.debug({ items: fresh.size, resourceVersion, changes: events.length }, 'listed');
    for (const e of events) this.#emit(e);
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSynced();
    }
  }

  /** One watch request; resolves to the number of events it carried when the server ends it. */
  async #watch(): Promise<number> {
    const [lo, hi] = this.#o.watchTimeoutSeconds ?? [300, 600];
    let failure: Error | undefined;
    let events = 0;
    this.#stats.watches++;
    this.#restartRequested = false;
    const abort = new AbortController();
    this.#watchAbort = abort;
    this.#verb = 'watch';
    let accepted: { readonly at: number; readonly before: RetriedFailure | undefined } | undefined;
    try {
      await this.#o.client.watch(
        resourcePath(this.#o.type, this.#o.namespace),
        (event) => {
          events++;
          if (failure === undefined) failure = this.#handle(event);
        },
        {
          query: {
            ...this.#selectors(),
            resourceVersion: this.#resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: Math.round(lo + Math.random() * (hi - lo)),
          },
          idleTimeoutMs: this.#watchdogMs,
          signal: AbortSignal.any([this.#abort.signal, abort.signal]),
          // A quiet resource may send nothing for a minute: an accepted watch already ends a connection
          // error (not a silent-watch one, which only an event clears).
          onOpen: () => {
            if (!(this.#lastError instanceof KubeApiError && this.#lastError.reason === 'Timeout')) this.#lastError = undefined;
            // The apiserver answers again: the next failure is a new one, retried after the shortest delay.
            accepted = { at: Date.now(), before: this.#failure };
            if (this.#failure !== undefined) {
              this.#stats.recoveries++;
              const f = this.#failure;
              this.#log.info({ failures: f.count, downMs: accepted.at - f.since }, 'watch accepted again: the apiserver answers');
            }
            this.#failure = undefined;
          },
        },
      );
    } catch (err) {
      // Accepted and dropped at once with nothing in it (a flapping proxy): the run of failures goes on.
      const ours = this.#stopped || this.#restartRequested;
      if (!ours && accepted !== undefined && events === 0 && Date.now() - accepted.at < FLAP_MS) this.#failure = accepted.before;
      throw err;
    }
    if (failure) throw failure;
    return events;
  }

  /** Applies one watch event; returns the error an ERROR event carries. */
  #handle(event: WatchEvent): Error | undefined {
    const raw = event.object as KubeObject;
    if (event.type === 'ERROR') {
      const status = event.object as { code?: unknown; reason?: unknown; message?: unknown };
      const code = typeof status.code === 'number' ? status.code : 500;
      const reason = typeof status.reason === 'string' ? status.reason : undefined;
      return new KubeApiError(code, `watch ${this.#o.type.kind}: ${typeof status.message === 'string' ? status.message : 'error event'}`, reason);
    }
    const rv = raw.metadata?.resourceVersion;
    if (rv !== undefined) this.#resourceVersion = rv;
    this.#lastError = undefined;
    this.#silences = 0;
    if (event.type === 'BOOKMARK') {
      this.#stats.bookmarks++;
      return undefined;
    }
    const obj = this.#prepare(raw);
    if (obj === undefined) return undefined;
    const key = objectKey(obj);
    const old = this.#cache.get(key);
    if (event.type === 'DELETED') {
      this.#cache.delete(key);
      this.#emit({ type: 'deleted', object: old ?? obj });
    } else if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      this.#cache.set(key, obj);
      this.#emit(old === undefined ? { type: 'added', object: obj } : { type: 'modified', object: obj, previous: old });
    }
    return undefined;
  }
}
