/*
 * `[proxy] workers = N`: the native proxy on N worker threads. Each thread runs its own NativeDriver
 * whose listeners bind with SO_REUSEPORT, so the kernel spreads connections among threads and no
 * socket crosses a thread. Threads rather than processes: the hooks cross by MessagePort (cheap,
 * structured clone, no IPC framing), the worker code is this package's own modules, and a process
 * per worker would need its own entry point and signal handling for nothing the kernel does not do.
 *
 * The primary thread holds what is shared: ACME HTTP-01 answers (asked for per request, with a
 * timeout), TLS-ALPN-01 challenge certificates (asked for per `acme-tls/1` handshake), onDemand
 * issuance (asked for by the handshake of an unknown SNI name; the certificate obtained is then added
 * to every worker's table before the asking handshake goes on), request records (batched by each
 * worker) and the apply queue. An apply reaches every worker and resolves once each one swapped its
 * router; when one fails, those that switched go back to the previous model, so every worker serves
 * the same configuration.
 */

import { Worker } from 'node:worker_threads';
import { serialize } from 'node:v8';
import type { Certificate, RoutingModel } from '../../model/types.ts';
import { PassError } from '../../shared/errors.ts';
import type { PassCode } from '../../shared/codes.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import { SerialQueue } from '../../shared/serial.ts';
import type { AcmeChallengeHook, EndpointLiveState, ProxyDriver, RequestObserver, RequestRecord } from '../types.ts';
import { generateDefaultCertificate } from './tls.ts';
import type { KeyPair } from './tls.ts';
import type { NativeDriverOptions } from './index.ts';
import { LimitTable } from './limit-table.ts';

/** What a worker thread is started with (structured-cloned: data only). */
export interface WorkerInit {
  readonly index: number;
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly upstreamKeepAliveMs?: number;
  readonly connectionsPerEndpoint?: number;
  readonly authTimeoutMs?: number;
  readonly forwardedHeader?: boolean;
  readonly removedListenerGraceMs?: number;
  readonly defaultCertificate: KeyPair;
  /** The route limits' table, shared by every thread. */
  readonly limitTable: SharedArrayBuffer;
  /** Whether HTTP-01 tokens are asked of the primary. */
  readonly acme: boolean;
  /** Whether request records are sent to the primary. */
  readonly observe: boolean;
  /** How long a worker waits for the primary's HTTP-01 answer before a 404 (and for a TLS-ALPN-01 certificate). */
  readonly acmeTimeoutMs: number;
  /** Whether TLS-ALPN-01 challenge certificates are asked of the primary (`acme-tls/1` handshakes). */
  readonly tlsAlpn: boolean;
  /** Whether a handshake for an SNI name no certificate covers asks the primary (onDemand ACME). */
  readonly onDemand: boolean;
  readonly unknownServerNameTimeoutMs?: number;
}

/** Primary → worker requests; each is answered by a {@link WorkerReply} with the same id. */
export type WorkerRequest =
  /** The model as `v8.serialize` writes it: serialized once for every worker rather than once per postMessage. */
  | { readonly type: 'apply'; readonly id: number; readonly model: Uint8Array }
  | { readonly type: 'probe'; readonly id: number }
  | { readonly type: 'states'; readonly id: number }
  | { readonly type: 'count'; readonly id: number }
  | { readonly type: 'stop'; readonly id: number; readonly graceMs: number }
  | { readonly type: 'add-certificate'; readonly id: number; readonly cert: Certificate }
  | { readonly type: 'acme-answer'; readonly id: number; readonly answer: string | undefined }
  | { readonly type: 'tls-alpn-answer'; readonly id: number; readonly pair: KeyPair | undefined }
  | { readonly type: 'server-name-answer'; readonly id: number; readonly served: boolean };

/** Worker → primary messages. */
export type WorkerMessage =
  | { readonly type: 'reply'; readonly id: number; readonly value?: unknown; readonly error?: { readonly code: string; readonly message: string; readonly field?: string } }
  | { readonly type: 'acme'; readonly id: number; readonly token: string }
  | { readonly type: 'tls-alpn'; readonly id: number; readonly serverName: string }
  | { readonly type: 'server-name'; readonly id: number; readonly serverName: string }
  | { readonly type: 'records'; readonly records: readonly RequestRecord[] }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly obj: object; readonly msg?: string };

/** Options of the worker pool: the native driver's data options plus the hooks served by the primary. */
export interface NativeWorkerPoolOptions
  extends Pick<
    NativeDriverOptions,
    'connectTimeoutMs' | 'readTimeoutMs' | 'upstreamKeepAliveMs' | 'connectionsPerEndpoint' | 'authTimeoutMs' | 'forwardedHeader' | 'removedListenerGraceMs' | 'logger' | 'acmeTlsAlpn' | 'unknownServerNameTimeoutMs'
  > {
  /** Number of worker threads (at least 1). */
  readonly workers: number;
  /** Told of every request of every worker (records arrive in batches, within ~100 ms). */
  readonly observe?: RequestObserver;
  /** Asked by the workers for each `/.well-known/acme-challenge/TOKEN` request. */
  readonly acmeChallenge?: AcmeChallengeHook;
  /** How long a worker waits for an HTTP-01 answer (default 5 s), then answers 404. */
  readonly acmeTimeoutMs?: number;
  /** Certificate for unknown SNI names, the same in every worker; generated when absent. */
  readonly defaultCertificate?: KeyPair;
  /**
   * onDemand ACME, run on the primary thread for a worker's handshake whose SNI name only the default
   * certificate would serve: it obtains the certificate and hands it to {@link NativeWorkerPool.addCertificate}
   * (every worker then serves it), resolving true once it did. The handshake waits for it, as in
   * {@link NativeDriverOptions.onUnknownServerName}.
   */
  readonly onUnknownServerName?: (name: string) => Promise<boolean>;
}

/** The worker entry point beside this module (.ts from the sources, .js in the built package). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js', import.meta.url);

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** One worker thread and its outstanding requests. */
class WorkerHandle {
  readonly worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  exited = false;

  constructor(worker: Worker) {
    this.worker = worker;
  }

  request<T>(message: DistributiveOmit<WorkerRequest, 'id'>): Promise<T> {
    if (this.exited) return Promise.reject(new PassError('PASS_DRIVER_STOPPED', 'a native proxy worker thread has exited'));
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  settle(id: number, value: unknown, error: Error | undefined): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    if (error === undefined) p.resolve(value);
    else p.reject(error);
  }

  fail(err: Error): void {
    this.exited = true;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

/** `Omit` applied to each member of a union (a message without its id). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The native driver on several worker threads; see the file comment. */
export class NativeWorkerPool implements ProxyDriver {
  readonly name = 'native';
  readonly lastApply = 'swap' as const;
  readonly #options: NativeWorkerPoolOptions;
  readonly #logger: Logger;
  /** Where the workers' lines go: their drivers already bind { driver: 'native' }. */
  readonly #workerLogger: Logger;
  readonly #queue = new SerialQueue();
  #handles: Promise<WorkerHandle[]> | undefined;
  #current: RoutingModel | undefined;
  #stopped = false;

  constructor(options: NativeWorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new PassError('PASS_CONFIG_BAD_VALUE', `proxy.workers must be a whole number of at least 1, got ${options.workers}`, { field: 'proxy.workers' });
    this.#options = options;
    this.#workerLogger = options.logger ?? silentLogger;
    this.#logger = this.#workerLogger.child({ driver: 'native' });
  }

  /** Number of worker threads. */
  get workers(): number {
    return this.#options.workers;
  }

  /** Starts the threads (once), with one default certificate for all of them. */
  #start(): Promise<WorkerHandle[]> {
    this.#handles ??= (async () => {
      const o = this.#options;
      const defaultCertificate = o.defaultCertificate ?? (await generateDefaultCertificate());
      // One table of route limits for all threads: a limit holds for the process, not per thread.
      const limitTable = new LimitTable().buffer;
      const handles: WorkerHandle[] = [];
      for (let index = 0; index < o.workers; index++) {
        const init: WorkerInit = {
          index,
          defaultCertificate,
          limitTable,
          acme: o.acmeChallenge !== undefined,
          observe: o.observe !== undefined,
          acmeTimeoutMs: o.acmeTimeoutMs ?? 5000,
          tlsAlpn: o.acmeTlsAlpn !== undefined,
          onDemand: o.onUnknownServerName !== undefined,
          ...defined({
            unknownServerNameTimeoutMs: o.unknownServerNameTimeoutMs,
            connectTimeoutMs: o.connectTimeoutMs,
            readTimeoutMs: o.readTimeoutMs,
            upstreamKeepAliveMs: o.upstreamKeepAliveMs,
            connectionsPerEndpoint: o.connectionsPerEndpoint,
            authTimeoutMs: o.authTimeoutMs,
            forwardedHeader: o.forwardedHeader,
            removedListenerGraceMs: o.removedListenerGraceMs,
          }),
        };
        // execArgv empty: the parent's --import/--require (test hooks, ...) are not the worker's business.
        const worker = new Worker(WORKER_URL, { workerData: init, execArgv: [] });
        const handle = new WorkerHandle(worker);
        worker.on('message', (m: WorkerMessage) => this.#onMessage(handle, m));
        worker.on('error', (err) => this.#logger.error({ err, worker: index }, 'native proxy worker thread failed'));
        worker.on('exit', (code) => {
          handle.fail(new PassError('PASS_DRIVER_STOPPED', `native proxy worker ${index} exited (code ${code})`));
          if (!this.#stopped) this.#logger.error({ worker: index, code }, 'native proxy worker thread exited');
        });
        handles.push(handle);
      }
      return handles;
    })();
    return this.#handles;
  }

  #onMessage(handle: WorkerHandle, m: WorkerMessage): void {
    switch (m.type) {
      case 'reply':
        handle.settle(m.id, m.value, m.error === undefined ? undefined : new PassError(m.error.code as PassCode, m.error.message, defined({ field: m.error.field })));
        return;
      case 'acme': {
        let answer: string | undefined;
        try {
          answer = this.#options.acmeChallenge?.(m.token);
        } catch (err) {
          this.#logger.warn({ err }, 'acme challenge hook failed');
        }
        handle.worker.postMessage({ type: 'acme-answer', id: m.id, answer } satisfies WorkerRequest);
        return;
      }
      case 'tls-alpn':
        void this.#challengeCertificate(m.serverName).then((pair) => {
          if (!handle.exited) handle.worker.postMessage({ type: 'tls-alpn-answer', id: m.id, pair } satisfies WorkerRequest);
        });
        return;
      case 'server-name':
        void this.#unknownServerName(m.serverName).then((served) => {
          if (!handle.exited) handle.worker.postMessage({ type: 'server-name-answer', id: m.id, served } satisfies WorkerRequest);
        });
        return;
      case 'records': {
        const observe = this.#options.observe;
        if (observe === undefined) return;
        for (const r of m.records) {
          try {
            observe(r);
          } catch (err) {
            this.#logger.warn({ err }, 'the request observer failed');
          }
        }
        return;
      }
      case 'log':
        this.#workerLogger[m.level](m.obj, m.msg);
        return;
    }
  }

  /** The TLS-ALPN-01 certificate for a worker's `acme-tls/1` handshake (data only: it crosses to the worker). */
  async #challengeCertificate(serverName: string): Promise<KeyPair | undefined> {
    try {
      const pair = await this.#options.acmeTlsAlpn?.(serverName);
      return pair === undefined ? undefined : { certPem: pair.certPem, keyPem: pair.keyPem };
    } catch (err) {
      this.#logger.warn({ err, serverName }, 'the TLS-ALPN-01 hook failed');
      return undefined;
    }
  }

  /** onDemand for a worker's handshake: whether a certificate for the name was added to every worker. */
  async #unknownServerName(serverName: string): Promise<boolean> {
    const hook = this.#options.onUnknownServerName;
    if (hook === undefined || this.#stopped) return false;
    try {
      return await hook(serverName);
    } catch (err) {
      this.#logger.warn({ err, serverName }, 'onUnknownServerName failed; serving the default certificate');
      return false;
    }
  }

  /**
   * Serves `cert` in every worker from now on, without waiting for the next {@link apply} (see
   * `NativeDriver.addCertificate`); resolves true once every running worker added it. A
   * worker answers the handshake that asked for it only after this (one port, messages in order).
   */
  async addCertificate(cert: Certificate): Promise<boolean> {
    if (this.#handles === undefined || this.#stopped) return false;
    const handles = (await this.#handles).filter((h) => !h.exited);
    const added = await Promise.allSettled(handles.map((h) => h.request<boolean>({ type: 'add-certificate', cert })));
    return handles.length > 0 && added.every((r) => r.status === 'fulfilled' && r.value);
  }

  /**
   * Applies `model` in every worker; resolves once every worker serves it. When a worker refuses it,
   * the workers that switched go back to the previous model and the first error is thrown.
   */
  apply(model: RoutingModel): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#stopped) throw new PassError('PASS_DRIVER_STOPPED', 'the native driver is stopped');
      const handles = await this.#start();
      const payload = serialize(model);
      const results = await Promise.allSettled(handles.map((h) => h.request<void>({ type: 'apply', model: payload })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed === undefined) {
        this.#current = model;
        return;
      }
      const previous = this.#current;
      if (previous !== undefined) {
        const back = serialize(previous);
        await Promise.allSettled(handles.filter((_, i) => results[i]?.status === 'fulfilled').map((h) => h.request<void>({ type: 'apply', model: back })));
      }
      throw failed.reason;
    });
  }

  /** Readiness: every worker applied a configuration and listens on every entry point. */
  async probe(): Promise<boolean> {
    if (this.#stopped || this.#handles === undefined) return false;
    try {
      const handles = await this.#handles;
      const all = await Promise.all(handles.map((h) => h.request<boolean>({ type: 'probe' })));
      return all.every(Boolean);
    } catch {
      return false;
    }
  }

  /** The workers' endpoint views merged: `up` when any worker got an answer from it, else `down`. */
  async endpointStates(): Promise<ReadonlyMap<string, EndpointLiveState>> {
    const merged = new Map<string, EndpointLiveState>();
    if (this.#handles === undefined) return merged;
    const handles = await this.#handles;
    const views = await Promise.allSettled(handles.map((h) => h.request<[string, EndpointLiveState][]>({ type: 'states' })));
    for (const v of views) {
      if (v.status !== 'fulfilled') continue;
      for (const [key, state] of v.value) if (merged.get(key) !== 'up') merged.set(key, state);
    }
    return merged;
  }

  /** Worker threads started and not exited (0 before the first apply and after {@link stop}). */
  async running(): Promise<number> {
    if (this.#handles === undefined) return 0;
    return (await this.#handles).filter((h) => !h.exited).length;
  }

  /** Requests received by each worker, by worker index (debugging and tests: which thread served). */
  async requestCounts(): Promise<number[]> {
    if (this.#handles === undefined) return [];
    const handles = await this.#handles;
    return Promise.all(handles.map((h) => h.request<number>({ type: 'count' }).catch(() => 0)));
  }

  /** Stops every worker (each drains its requests for up to `graceMs`) and ends the threads. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    await this.#queue.idle();
    if (this.#handles === undefined) return;
    const handles = await this.#handles;
    await Promise.all(
      handles.map(async (h) => {
        const exited = new Promise<void>((resolve) => {
          if (h.exited) resolve();
          else h.worker.once('exit', () => resolve());
        });
        // The worker flushes its last records, answers, then leaves its event loop.
        await h.request<void>({ type: 'stop', graceMs }).catch(() => undefined);
        const timer = setTimeout(() => void h.worker.terminate(), 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** Creates the native driver on `options.workers` worker threads; nothing starts until the first `apply`. */
export function createNativeWorkerPool(options: NativeWorkerPoolOptions): NativeWorkerPool {
  return new NativeWorkerPool(options);
}
