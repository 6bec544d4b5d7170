import type { Diagnostic } from '../shared/diagnostics.ts';
import { formatDiagnostic } from '../shared/diagnostics.ts';
import type { Logger } from '../shared/logger.ts';
import { SerialQueue } from '../shared/serial.ts';
import type { RoutingModel } from '../model/types.ts';
import { modelDigest } from '../model/hash.ts';
import { describeChanges } from '../model/changes.ts';
import { translate, type TranslateInput, type TranslateOptions } from '../model/translate/index.ts';
import { IncrementalTranslator } from '../model/translate/incremental.ts';
import type { Source } from '../sources/snapshot.ts';
import type { Snapshot } from '../model/k8s.ts';
import type { ProxyDriver } from '../drivers/types.ts';
import { noTelemetry } from '../shared/telemetry.ts';
import type { Telemetry } from '../shared/telemetry.ts';

/** Options of {@link Controller}. */
export interface ControllerOptions {
  readonly source: Source;
  readonly translate: TranslateOptions;
  readonly driver: ProxyDriver;
  readonly logger: Logger;
  /** Quiet time that ends a burst of changes (default 50 ms). */
  readonly debounceMs?: number;
  /** A burst never delays a build longer than this (default 500 ms). */
  readonly maxDelayMs?: number;
  /** First retry delay after a failed sync (build or apply); doubles up to 30 s (default 1 s). */
  readonly retryMs?: number;
  /** Adds what no source holds to translate's input (ACME's issued certificates: see `createAcmeStage`). */
  readonly input?: (snapshot: Snapshot) => TranslateInput;
  /** Reads the built model before it is hashed and applied, and may add diagnostics (ACME: see `createAcmeStage`). */
  readonly prepare?: (model: RoutingModel, snapshot: Snapshot) => RoutingModel;
  /** Whether each change is described in debug lines (default true; the CLI sets it from the log level: the description costs a pass over the model). */
  readonly logChanges?: boolean;
  /** The clock, ms since the epoch, for bursts and {@link ControllerState.appliedAt} (default `Date.now`; tests inject one). */
  readonly now?: () => number;
  /** Where applies and diagnostics are reported for the metrics (default {@link noTelemetry}). */
  readonly telemetry?: Telemetry;
  /**
   * Whether a failure of the first apply will not fix itself (address in use, proxy binary missing,
   * invalid template): {@link Controller.start} then rejects with it instead of retrying. By default
   * every failure is retried.
   */
  readonly isPermanentFailure?: (err: unknown) => boolean;
}

/** What the controller serves now. */
export interface ControllerState {
  readonly model: RoutingModel | undefined;
  readonly hash: string | undefined;
  readonly appliedAt: Date | undefined;
  /** Why the last sync failed; cleared by the next sync that succeeds. */
  readonly lastError: string | undefined;
  /** Models applied. */
  readonly syncs: number;
  /** Syncs that failed (build, diagnostics, hash or apply), since the start. */
  readonly failures: number;
  /** {@link Controller.stop} was called: no change is followed any more (a liveness probe fails). */
  readonly stopped: boolean;
  /** When the sync in progress started; undefined between syncs (one running too long = a wedged loop). */
  readonly syncStartedAt: Date | undefined;
  /** How long the last successful `driver.apply` took, in ms. */
  readonly applyDurationMs: number | undefined;
  /** When {@link lastError} happened. */
  readonly lastErrorAt: Date | undefined;
}

/** The step of a sync that failed, in logs and in {@link ControllerState.lastError}. */
export type SyncStage = 'build' | 'diagnostics' | 'hash' | 'apply';

/** Stable code of the log line of a failed sync. */
export const SYNC_FAILED = 'PASS_SYNC_FAILED' satisfies Diagnostic['code'];

const STAGE_FAILED: Readonly<Record<SyncStage, string>> = {
  build: 'building the model failed',
  diagnostics: 'reporting diagnostics failed',
  hash: 'comparing the model failed',
  apply: 'apply failed',
};

/** The message of a thrown value, whatever was thrown. */
function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    // e.g. an object without a prototype: String() itself throws.
    return 'a value that is not an Error was thrown';
  }
}

/**
 * Builds the model from the source with {@link translate} (or, in the running controller, with its
 * {@link IncrementalTranslator}: the same model, redoing only what changed) and adds the source's own
 * diagnostics. `input` adds what no source holds to translate's input (ACME's issued certificates).
 */
export function buildModel(source: Source, options: TranslateOptions, translator?: IncrementalTranslator, input?: (snapshot: Snapshot) => TranslateInput): RoutingModel {
  const snapshot = input === undefined ? source.snapshot() : input(source.snapshot());
  const model = translator === undefined ? translate(snapshot, options) : translator.build(snapshot);
  const extra: readonly Diagnostic[] = source.diagnostics();
  return extra.length === 0 ? model : { ...model, diagnostics: [...extra, ...model.diagnostics] };
}

/** How many of `diagnostics` are errors and warnings. */
function countBySeverity(diagnostics: readonly Diagnostic[]): { error: number; warning: number } {
  let error = 0;
  for (const d of diagnostics) if (d.severity === 'error') error++;
  return { error, warning: diagnostics.length - error };
}

/** Hash of what a driver serves: the model without its diagnostics. */
export function servingHash(model: RoutingModel): string {
  // Neither diagnostics nor the Gateway API status change what is served.
  const { diagnostics: _diagnostics, gatewayStatus: _gatewayStatus, ...serving } = model;
  return modelDigest(serving);
}

/**
 * The sync loop: coalesces change signals, builds the model, skips it when nothing served changed,
 * applies it, and keeps the last good configuration (retrying with backoff) when a sync fails,
 * whatever step failed: one bad object never stops later changes from being applied.
 */
export class Controller {
  readonly #o: ControllerOptions;
  #state: ControllerState = {
    model: undefined,
    hash: undefined,
    appliedAt: undefined,
    lastError: undefined,
    syncs: 0,
    failures: 0,
    stopped: false,
    syncStartedAt: undefined,
    applyDurationMs: undefined,
    lastErrorAt: undefined,
  };
  #timer: NodeJS.Timeout | undefined;
  #firstSignal = 0;
  readonly #queue = new SerialQueue();
  #retryDelay: number;
  #unsubscribe: (() => void) | undefined;
  #reportedDiagnostics = new Map<string, Diagnostic>();
  #stopped = false;
  /** The error of the last failed sync and its stage (cleared by a sync that succeeds). */
  #lastFailure: { readonly stage: SyncStage; readonly err: unknown } | undefined;
  /** The translation options in use: {@link ControllerOptions.translate}, then those of {@link setTranslate}. */
  #translate: TranslateOptions;
  /** Builds with {@link #translate}, reusing the previous build's work; a new one when the options change. */
  #translator: IncrementalTranslator;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#translate = options.translate;
    this.#translator = new IncrementalTranslator(options.translate);
    this.#retryDelay = options.retryMs ?? 1000;
  }

  get state(): ControllerState {
    return this.#state;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /**
   * Starts the source, applies the first model, then follows changes. The source's own start
   * rejects, and so does a first apply that fails for a cause {@link ControllerOptions.isPermanentFailure}
   * says will not fix itself (the caller then stops the controller); any other failing first sync is
   * logged and retried, like any other.
   */
  async start(): Promise<void> {
    await this.#o.source.start();
    this.#unsubscribe = this.#o.source.onChange(() => this.signal());
    await this.sync();
    const failure = this.#lastFailure;
    if (this.#state.syncs === 0 && failure?.stage === 'apply' && this.#o.isPermanentFailure?.(failure.err) === true) throw failure.err;
  }

  /** Stops following changes (the driver is stopped by its owner). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#state = { ...this.#state, stopped: true };
    this.#unsubscribe?.();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#queue.idle();
    await this.#o.source.stop();
  }

  /**
   * Uses new translation options (the configuration file reloaded) from the next sync on, and
   * schedules that sync.
   */
  setTranslate(options: TranslateOptions): void {
    this.#translate = options;
    // Options reach every unit of the build: the next one starts afresh.
    this.#translator = new IncrementalTranslator(options);
    this.signal();
  }

  /** Schedules a sync: debounced, but never later than maxDelayMs after the first signal of a burst. */
  signal(): void {
    if (this.#stopped) return;
    const now = this.#now();
    const debounce = this.#o.debounceMs ?? 50;
    const maxDelay = this.#o.maxDelayMs ?? 500;
    if (this.#timer === undefined) this.#firstSignal = now;
    else clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(debounce, this.#firstSignal + maxDelay - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.sync();
    }, wait);
  }

  /**
   * Builds and applies once (serialised with any sync in progress). Never rejects: a failure is
   * logged, counted in {@link state} and retried with backoff.
   */
  sync(): Promise<void> {
    return this.#queue.run(async () => {
      // Health reads this: a sync that never ends is a wedged loop.
      this.#state = { ...this.#state, syncStartedAt: new Date(this.#now()) };
      try {
        await this.#syncOnce();
      } finally {
        this.#state = { ...this.#state, syncStartedAt: undefined };
      }
    });
  }

  async #syncOnce(): Promise<void> {
    const log = this.#o.logger;
    let stage: SyncStage = 'build';
    const telemetry = this.#o.telemetry ?? noTelemetry;
    const syncStarted = performance.now();
    try {
      const built = buildModel(this.#o.source, this.#translate, this.#translator, this.#o.input);
      const model = this.#o.prepare === undefined ? built : this.#o.prepare(built, this.#o.source.snapshot());
      stage = 'diagnostics';
      this.#reportDiagnostics(model.diagnostics);
      this.#o.source.reportDiagnostics?.(model.diagnostics);
      this.#o.source.reportGatewayStatus?.(model.gatewayStatus);
      telemetry.diagnostics(countBySeverity(model.diagnostics));
      stage = 'hash';
      const hash = servingHash(model);
      if (hash === this.#state.hash) {
        log.debug({ hash: hash.slice(0, 12) }, 'configuration unchanged, nothing to apply');
        // What is served is what is wanted: an earlier failure (e.g. a bad object now removed) is over.
        this.#state = { ...this.#state, model, lastError: undefined, lastErrorAt: undefined };
        this.#retryDelay = this.#o.retryMs ?? 1000;
        telemetry.applyFinished({ ok: true, durationMs: performance.now() - syncStarted, hash, via: 'unchanged' });
        return;
      }
      // O(model) per change: only when someone reads debug lines.
      if (this.#o.logChanges !== false) for (const line of describeChanges(this.#state.model, model)) log.debug(line.fields, line.msg);
      stage = 'apply';
      const applyStarted = performance.now();
      await this.#o.driver.apply(model);
      const applyDurationMs = performance.now() - applyStarted;
      this.#state = { ...this.#state, model, hash, appliedAt: new Date(this.#now()), applyDurationMs, lastError: undefined, lastErrorAt: undefined, syncs: this.#state.syncs + 1 };
      this.#retryDelay = this.#o.retryMs ?? 1000;
      this.#lastFailure = undefined;
      log.info({ hash: hash.slice(0, 12), virtualHosts: model.virtualHosts.length, backends: Object.keys(model.backends).length, driver: this.#o.driver.name }, 'configuration applied');
      const via = this.#o.driver.lastApply;
      telemetry.applyFinished(via === undefined ? { ok: true, durationMs: applyDurationMs, hash } : { ok: true, durationMs: applyDurationMs, hash, via });
    } catch (err) {
      telemetry.applyFinished({ ok: false, durationMs: performance.now() - syncStarted });
      this.#failed(stage, err);
    }
  }

  /** Records a failed sync and schedules a retry; the previous configuration keeps serving. */
  #failed(stage: SyncStage, err: unknown): void {
    const message = messageOf(err);
    // An apply failure keeps its plain message (as before); other steps say which step failed.
    const lastError = stage === 'apply' ? message : `${STAGE_FAILED[stage]}: ${message}`;
    this.#state = { ...this.#state, lastError, lastErrorAt: new Date(this.#now()), failures: this.#state.failures + 1 };
    this.#lastFailure = { stage, err };
    // Before the first apply there is no previous configuration: nothing serves yet.
    const consequence = this.#state.syncs === 0 ? 'nothing is serving yet' : 'the previous configuration keeps serving';
    this.#o.logger.error({ err, code: SYNC_FAILED, stage, failures: this.#state.failures, retryInMs: this.#retryDelay }, `${STAGE_FAILED[stage]}: ${message}; ${consequence}`);
    if (!this.#stopped) {
      const t = setTimeout(() => this.signal(), this.#retryDelay);
      t.unref();
      this.#retryDelay = Math.min(this.#retryDelay * 2, 30_000);
    }
  }

  /**
   * Logs each diagnostic once, when it appears (the controller is the one place that reports them:
   * sources hand theirs over in the model), and one line when a reported one goes away.
   */
  #reportDiagnostics(diagnostics: readonly Diagnostic[]): void {
    const now = new Map<string, Diagnostic>();
    for (const d of diagnostics) {
      const line = formatDiagnostic(d);
      if (now.has(line)) continue;
      now.set(line, d);
      if (this.#reportedDiagnostics.has(line)) continue;
      const fields = { code: d.code, object: d.object, field: d.field, location: d.location };
      if (d.severity === 'error') this.#o.logger.error(fields, line);
      else this.#o.logger.warn(fields, line);
    }
    for (const [line, d] of this.#reportedDiagnostics) {
      if (now.has(line)) continue;
      this.#o.logger.info({ code: d.code, object: d.object, field: d.field, location: d.location, resolved: true }, `resolved: ${line}`);
    }
    this.#reportedDiagnostics = now;
  }
}
