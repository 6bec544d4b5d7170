import { mkdtempSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { watch } from 'chokidar';
import type { FSWatcher } from 'chokidar';
import { execa } from 'execa';
import type { RoutingModel } from '../../model/types.ts';
import type { RenderedConfig, RenderedFile, HostPort, RequestLogTarget } from '../../render/types.ts';
import { formatDiagnostic } from '../../shared/diagnostics.ts';
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { PassError } from '../../shared/errors.ts';
import { defined } from '../../shared/optional.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { SerialQueue } from '../../shared/serial.ts';
import type { AcmeChallengeHook, ProxyDriver, RequestObserver } from '../types.ts';
import { RecordCompleter, RequestLogReceiver } from './request-log.ts';
import type { ParsedLine } from './request-log.ts';
import type { ApplyVia } from '../../shared/telemetry.ts';
import { AcmeResponder } from './acme.ts';
import { AuthResponder, usersByEntryPoint } from './auth.ts';
import { changedFiles, keepHistory, restoreAuxFiles, writeAtomic, writeAuxFiles } from './files.ts';
import { checkWorkerReadable, unreadableReason } from './readable.ts';
import type { PathMode, WorkerAccount } from './readable.ts';
import { ManagedProcess } from './process.ts';
import type { ProcessSpec } from './process.ts';
import { loadRenderState, saveRenderState } from './state.ts';
import type { RenderState } from './state.ts';
import { generateDefaultCertificate, type KeyPair } from '../default-certificate.ts';

/** Options shared by the HAProxy and nginx drivers. */
export interface ExternalDriverOptions {
  /** The proxy executable (default: `haproxy` / `nginx` on PATH). */
  readonly binary?: string;
  /** Where configuration, maps and certificates are written (default: a new temporary directory). */
  readonly workDir?: string;
  /** bundled: the driver runs the proxy; sidecar: another container does, the driver only writes and reloads. */
  readonly reload?: 'bundled' | 'sidecar';
  /** A directory of templates overriding the built-in ones; watched, a change re-renders and re-applies. */
  readonly templates?: string;
  /** Watch `templates` with chokidar (default true). */
  readonly watchTemplates?: boolean;
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** How long old workers may finish their requests after a reload, and on stop (default 10 s). */
  readonly gracePeriodMs?: number;
  readonly forwardedHeader?: boolean;
  /** Answers ACME HTTP-01 tokens: the driver serves them on loopback and routes the challenge path there. */
  readonly acmeChallenge?: AcmeChallengeHook;
  /** Where the challenge path goes when the controller answers it itself (overrides `acmeChallenge`). */
  readonly acmeChallengeAddress?: HostPort;
  /** How many rendered configurations to keep under `workDir/history` (default 5). */
  readonly keepConfigs?: number;
  /** The certificate served for unknown SNI names (default: generated, self-signed). */
  readonly defaultCertificate?: KeyPair;
  readonly logger?: Logger;
  /** Called once per finished request, from the proxy's own log lines (syslog over UDP to the controller). */
  readonly observe?: RequestObserver;
  /**
   * Receive the proxy's request log (default true): without `observe` only failed requests are
   * sent, for the warnings on upstream failures (502/503/504); false renders no log at all.
   */
  readonly requestLog?: boolean;
}

/** What the render step receives from the driver; `L` is the dialect's layout. */
export interface RenderContext<L> {
  readonly workDir: string;
  readonly acmeChallengeAddress: HostPort | undefined;
  /** The layout of the configuration in the work directory; undefined: allocate a fresh one. */
  readonly previous: L | undefined;
  /** Where the proxy sends its request log lines, or undefined for none. */
  readonly requestLog: RequestLogTarget | undefined;
  /** Work the dialect started for this rendering and that still runs: the rendering may rest on its guesses. */
  readonly early?: EarlyWork;
}

/** Work a rendering needs that runs beside it; see {@link Dialect.startRender}. */
export interface EarlyWork {
  /**
   * Waits until the work is done (this thread may take a share): true when a rendering given this
   * work as `early` is the one the dialect renders now without it (every guess held), false when it
   * must be rendered again.
   */
  settle(): Promise<boolean>;
}

/** One rendering and what the dialect keeps of it. */
export interface Rendering<S, L> {
  readonly config: RenderedConfig;
  /** The dialect's own record of the rendering (HAProxy: the view, to compute runtime API commands). */
  readonly state: S;
  /** What the next rendering starts from (HAProxy: server slots, prefix depth); saved in the work directory. */
  readonly layout: L;
}

/**
 * The proxy-specific half of an external driver. `S` is what it keeps of a rendering, `L` the layout
 * one rendering hands to the next; rendering is a pure function of (model, context with that layout).
 */
export interface Dialect<S = unknown, L = unknown> {
  readonly name: 'haproxy' | 'nginx';
  readonly defaultBinary: string;
  /**
   * The group the proxy's workers run as when they drop privileges (nginx started as root):
   * worker-readable files are given to it and the work directory is made traversable.
   */
  readonly workerGroup?: number;
  /** The account the workers run as (with {@link workerGroup}): worker-readable files are checked to be readable by it before any start or reload. */
  readonly workerAccount?: WorkerAccount;
  /** Reads and compiles the templates again (the user's template folder changed); throws when they do not compile. */
  reloadTemplates(): void;
  /** The unix socket where the controller checks passwords the proxy cannot (HAProxy: `$apr1$`). */
  authSocket?(workDir: string): string;
  render(model: RoutingModel, ctx: RenderContext<L>): Rendering<S, L>;
  /**
   * Starts work {@link render} needs for this model that can run on other threads (nginx: checking
   * many new certificate pairs). `beside`: the driver renders and writes the files meanwhile, giving
   * the work to {@link render} as `early`, and waits for it before the proxy reads them; otherwise it
   * waits for it ({@link EarlyWork.settle}) before rendering.
   */
  startRender?(model: RoutingModel, beside: boolean): EarlyWork;
  /** Reads one request log line (the log format of the dialect's template), or undefined. */
  parseRequestLine(datagram: string): ParsedLine | undefined;
  /** Reads a layout saved as JSON, or undefined when it is not one. */
  parseLayout(value: unknown): L | undefined;
  /** Files outside the rendering that the workers read for this model (paths in the work directory): checked as worker-readable files are. */
  workerFiles?(model: RoutingModel): readonly string[];
  /** Writes the default certificate files the configuration references. */
  writeDefaultCertificate(workDir: string, pair: KeyPair): Promise<void>;
  /** Arguments that validate a configuration file. */
  validateArgs(configFile: string, workDir: string): string[];
  /** How to run the proxy in bundled mode. */
  processSpec(binary: string, configFile: string, workDir: string): ProcessSpec;
  /** Signal for a graceful stop. */
  readonly stopSignal: NodeJS.Signals;
  /** Resolves once a freshly started proxy serves. */
  waitReady(proc: ManagedProcess | undefined, workDir: string): Promise<void>;
  /** Readiness: whether the running proxy answers (HAProxy: its runtime socket; nginx: an entry point port). */
  probe?(workDir: string, model: RoutingModel): Promise<boolean>;
  /** Reloads without dropping connections; resolves once the new configuration serves. */
  reload(proc: ManagedProcess | undefined, workDir: string): Promise<void>;
  /**
   * Applies a change whose structure is unchanged (endpoints, certificate contents) without a
   * reload and without the validator: only typed commands built from validated values may be sent.
   * Resolves false, before sending anything, when it cannot; the change is then validated and reloaded.
   */
  runtimeApply?(previous: Rendering<S, L>, next: Rendering<S, L>, workDir: string): Promise<boolean>;
}

/** The validator running on a candidate main file, and its result with how long it ran. */
interface Validation {
  readonly run: { kill(): boolean };
  readonly result: Promise<{ check: Awaited<ReturnType<typeof runValidator>>; ms: number }>;
}

/** Runs the proxy binary's validation of a configuration; never rejects (the result says). */
function runValidator(binary: string, args: readonly string[]) {
  return execa(binary, args, { reject: false, all: true, stdin: 'ignore' });
}

/** Where a validation error points: the line of the configuration and the section around it. */
export function locateError(message: string, config: string, configFile: string): { line?: number; text?: string; section?: string } {
  const esc = configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${esc}[:\\]]?[: ]?(\\d+)|\\[${esc}:(\\d+)\\]|${esc}:(\\d+)`).exec(message);
  const n = Number(m?.[1] ?? m?.[2] ?? m?.[3]);
  if (!Number.isInteger(n) || n <= 0) return {};
  const lines = config.split('\n');
  const text = lines[n - 1]?.trim();
  let section: string | undefined;
  for (let i = n - 1; i >= 0; i--) {
    const l = lines[i] ?? '';
    if (/^(frontend|backend|userlist|global|defaults) /.test(l) || /^\s*server_name /.test(l) || /^\s*upstream /.test(l)) {
      section = l.trim();
      break;
    }
  }
  return { line: n, ...defined({ text, section }) };
}

/** The Kubernetes object an HAProxy/nginx section belongs to, when its name tells. */
function objectOfSection(section: string | undefined): ObjectRef | undefined {
  if (section === undefined) return undefined;
  const be = /be_([a-z0-9-]+)\.([a-z0-9-]+)[:_]/.exec(section);
  if (be) return { kind: 'Service', namespace: be[1] ?? '', name: be[2] ?? '' };
  const ep = /^frontend ep_(\S+)/.exec(section);
  if (ep) return { kind: 'EntryPoint', name: ep[1] ?? '' };
  return undefined;
}

/**
 * The apply pipeline shared by the HAProxy and nginx drivers: render → write a temporary file →
 * validate with the binary → atomic rename → reload (or the runtime API); a checksum skips
 * unchanged configurations; a failed validation leaves the running configuration in place.
 */
export class ExternalDriver<S = unknown, L = unknown> implements ProxyDriver {
  readonly name: string;
  readonly workDir: string;
  readonly #dialect: Dialect<S, L>;
  readonly #options: ExternalDriverOptions;
  readonly #logger: Logger;
  readonly #binary: string;
  readonly #ownsWorkDir: boolean;
  #proc: ManagedProcess | undefined;
  #acme: AcmeResponder | undefined;
  #auth: AuthResponder | undefined;
  #acmeAddress: HostPort | undefined;
  #requestLog: RequestLogReceiver | undefined;
  #requestLogAddress: HostPort | undefined;
  /** Matches logged requests against the model served (undefined before the first apply). */
  #completer: RecordCompleter | undefined;
  /** The last applied rendering. */
  #last: Rendering<S, L> | undefined;
  /** The layout of the configuration written in the work directory (saved there too). */
  #layout: L | undefined;
  #lastModel: RoutingModel | undefined;
  #prepared = false;
  readonly #queue = new SerialQueue();
  #stopped = false;
  #watcher: FSWatcher | undefined;
  #templateTimer: NodeJS.Timeout | undefined;
  /** Times a change of the user's templates was compiled and applied. */
  templateChanges = 0;
  /** Called after a template change was applied (or failed); for tests and the dashboard. */
  onTemplatesApplied: ((err: Error | undefined) => void) | undefined;
  /** Reloads done (the first start is not one). */
  reloads = 0;
  /** Applies served through the runtime API, without a reload (and without running the validator). */
  runtimeUpdates = 0;
  /** Times the proxy binary validated a rendered configuration (`haproxy -c`, `nginx -t`). */
  validations = 0;
  /** Applies skipped because nothing changed. */
  skipped = 0;
  /** How the last successful apply took effect, for metrics (a first start loads a configuration, as a reload does). */
  lastApply: ApplyVia | undefined;

  constructor(dialect: Dialect<S, L>, options: ExternalDriverOptions = {}) {
    this.#dialect = dialect;
    this.name = dialect.name;
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ driver: dialect.name });
    this.#binary = options.binary ?? dialect.defaultBinary;
    this.#ownsWorkDir = options.workDir === undefined;
    this.workDir = path.resolve(options.workDir ?? mkdtempSync(path.join(tmpdir(), `passerelle-${dialect.name}-`)));
  }

  /** The main configuration file. */
  get configFile(): string {
    return path.join(this.workDir, this.#dialect.name === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
  }

  /** The last applied rendering. */
  get current(): RenderedConfig | undefined {
    return this.#last?.config;
  }

  /** The dialect's state of the last applied rendering (HAProxy: the build with its server slots). */
  protected get currentState(): S | undefined {
    return this.#last?.state;
  }

  /** The state saved in the work directory by the last driver that wrote a configuration there. */
  #savedState(): Promise<RenderState<L> | undefined> {
    return loadRenderState(this.workDir, this.#dialect.name, (v) => this.#dialect.parseLayout(v), (message) => this.#logger.warn({ workDir: this.workDir }, message));
  }

  /**
   * What the next {@link apply} of `model` would render, as `render --diff` shows it: with the
   * layout and the ACME responder address saved in the work directory. Writes and starts nothing.
   * (With `acmeChallenge` and no saved address, the responder's port is not known yet: the
   * challenge path is left out, as a first start picks a free port.)
   */
  async preview(model: RoutingModel): Promise<RenderedConfig> {
    const saved = this.#prepared ? { acmeChallengeAddress: this.#acmeAddress, requestLogAddress: this.#requestLogAddress, layout: this.#layout } : await this.#savedState();
    const acme = this.#options.acmeChallengeAddress ?? (this.#options.acmeChallenge === undefined ? undefined : saved?.acmeChallengeAddress);
    return this.#dialect.render(model, { workDir: this.workDir, acmeChallengeAddress: acme, previous: saved?.layout, requestLog: this.#requestLogTarget(saved?.requestLogAddress) }).config;
  }

  /** The request log target rendered for a receiver address (none when the request log is off or not bound yet). */
  #requestLogTarget(address: HostPort | undefined): RequestLogTarget | undefined {
    if (this.#options.requestLog === false || address === undefined) return undefined;
    return { address, all: this.#options.observe !== undefined };
  }

  /** What the renderings left out, as last logged: each is logged once, and a line when it goes away. */
  #renderDiagnostics = new Map<string, Diagnostic>();

  #reportRenderDiagnostics(diagnostics: readonly Diagnostic[]): void {
    const now = new Map<string, Diagnostic>();
    for (const d of diagnostics) {
      const line = formatDiagnostic(d);
      now.set(line, d);
      if (!this.#renderDiagnostics.has(line)) this.#logger.warn({ code: d.code, object: d.object, field: d.field }, line);
    }
    for (const [line, d] of this.#renderDiagnostics) if (!now.has(line)) this.#logger.info({ code: d.code, object: d.object, field: d.field, resolved: true }, `resolved: ${line}`);
    this.#renderDiagnostics = now;
  }

  /** One datagram of the proxy's request log: a record for `observe`, a warning for an upstream failure. */
  #requestLine(datagram: string): void {
    const parsed = this.#dialect.parseRequestLine(datagram);
    if (parsed === undefined) {
      this.#requestLog?.dropped(datagram);
      return;
    }
    const record = this.#completer === undefined ? parsed.record : this.#completer.complete(parsed.record);
    const status = record.status;
    if (status >= 502 && status <= 504 && parsed.failure !== undefined) {
      const route = record.route ?? record.backend ?? `${record.host}${record.path}`;
      // An upstream failure is worth a line at the default level, access log or not.
      this.#logger.warn(
        { status, upstream: record.upstream, backend: record.backend, route: record.route, cause: parsed.failure },
        `${status} for ${route}${record.upstream === undefined ? '' : `: upstream ${record.upstream}`}: ${parsed.failure}`,
      );
    }
    const observe = this.#options.observe;
    if (observe === undefined) return;
    try {
      observe(parsed.failure !== undefined && status >= 500 ? { ...record, error: parsed.failure } : record);
    } catch (err) {
      this.#logger.warn({ err }, 'the request observer failed');
    }
  }

  /** Renders, validates and applies the model; applies run one at a time. */
  apply(model: RoutingModel): Promise<void> {
    return this.#queue.run(() => this.#apply(model));
  }

  async #prepare(): Promise<void> {
    if (this.#prepared) return;
    await mkdir(path.join(this.workDir, 'tmp'), { recursive: true, mode: 0o700 });
    if (this.#dialect.workerGroup !== undefined) {
      // Unprivileged workers open the password files and their temporary files below: let them
      // traverse (not list) the work directory; keys stay 0600 and are read by the master only.
      await chmod(this.workDir, 0o711);
      await chmod(path.join(this.workDir, 'tmp'), 0o711);
    }
    const pair = this.#options.defaultCertificate ?? (await generateDefaultCertificate());
    await this.#dialect.writeDefaultCertificate(this.workDir, pair);
    // A restart continues what the work directory holds: same slots, same responder port if free.
    const saved = await this.#savedState();
    this.#layout = saved?.layout;
    if (this.#options.acmeChallengeAddress !== undefined) {
      this.#acmeAddress = this.#options.acmeChallengeAddress;
    } else if (this.#options.acmeChallenge !== undefined) {
      this.#acme = new AcmeResponder(this.#options.acmeChallenge, this.#logger);
      this.#acmeAddress = await this.#acme.start(saved?.acmeChallengeAddress);
    }
    if (this.#options.requestLog !== false) {
      this.#requestLog = new RequestLogReceiver((d) => this.#requestLine(d), this.#logger);
      this.#requestLogAddress = await this.#requestLog.start(saved?.requestLogAddress);
    }
    if (this.#options.templates !== undefined && this.#options.watchTemplates !== false) {
      this.#watcher = watch(this.#options.templates, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
      this.#watcher.on('all', () => {
        clearTimeout(this.#templateTimer);
        this.#templateTimer = setTimeout(() => void this.#templatesChanged(), 100);
      });
      this.#watcher.on('error', (err) => this.#logger.warn({ err }, 'watching the templates failed'));
      await new Promise<void>((resolve) => this.#watcher?.once('ready', () => resolve()));
    }
    if (this.#dialect.authSocket !== undefined) {
      this.#auth = new AuthResponder(this.#dialect.authSocket(this.workDir), this.#logger);
      await this.#auth.start();
    }
    this.#prepared = true;
  }

  /** The user's templates changed: compile them again and re-apply the last model with them. */
  async #templatesChanged(): Promise<void> {
    if (this.#stopped) return;
    let failure: Error | undefined;
    try {
      this.#dialect.reloadTemplates();
      this.#logger.info({ templates: this.#options.templates }, 'templates changed; rendering again');
      if (this.#lastModel !== undefined) await this.apply(this.#lastModel);
      this.templateChanges++;
    } catch (err) {
      failure = err as Error;
      this.#logger.error({ err }, `the changed templates were not applied; the previous configuration keeps serving: ${failure.message}`);
    }
    this.onTemplatesApplied?.(failure);
  }

  /** Writes the main file, the layout and the history of an applied rendering; request log lines are matched against `model` from now on. */
  async #commitRendering(rendering: Rendering<S, L>, model: RoutingModel): Promise<void> {
    await writeAtomic(this.configFile, rendering.config.main.content, 0o644);
    // The layout follows what the work directory holds, so that `render --diff` and a restart render the same.
    this.#layout = rendering.layout;
    await saveRenderState(this.workDir, this.#dialect.name, { acmeChallengeAddress: this.#acmeAddress, requestLogAddress: this.#requestLogAddress, layout: rendering.layout });
    // Lines logged from now on are matched against this model (a request in flight may be matched against the new one).
    this.#completer = new RecordCompleter(model);
    await keepHistory(this.workDir, rendering.config.main, this.#options.keepConfigs ?? 5);
  }

  /** Starts the validator on a candidate main file (`haproxy -c`, `nginx -t`). */
  #startValidation(candidate: string): Validation {
    const started = performance.now();
    const run = runValidator(this.#binary, this.#dialect.validateArgs(candidate, this.workDir));
    return { run, result: run.then((check) => ({ check, ms: performance.now() - started })) };
  }

  /**
   * Checks that the workers can read the worker-readable files among `written` (and the dialect's own
   * files); when not, puts the files of `previous` back in place of `failed`'s and throws. `created`:
   * the mode and owner of files the writes created, as they gave them (see {@link writeAuxFiles}).
   */
  async #checkReadable(written: readonly RenderedFile[], model: RoutingModel, failed: RenderedConfig, previous: RenderedConfig | undefined, created?: ReadonlyMap<string, PathMode>): Promise<void> {
    const account = this.#dialect.workerAccount;
    if (account === undefined) return;
    // Files kept from the last checked rendering were readable then: only what was written is checked again.
    const paths = [...written.filter((f) => f.workerReadable === true).map((f) => f.path), ...(this.#dialect.workerFiles?.(model) ?? [])].map((f) => path.join(this.workDir, f));
    // A file's chain is its directories, then itself: one file per directory is checked from / down
    // (which also opens directories inside the work directory), the other created files by the mode
    // and owner their writes gave (10,000 certificate files share one directory).
    const stat: string[] = [];
    const known: PathMode[] = [];
    const covered = new Set<string>();
    for (const file of paths) {
      const mode = created?.get(file);
      if (mode !== undefined && covered.has(path.dirname(file))) known.push(mode);
      else stat.push(file);
      covered.add(path.dirname(file));
    }
    try {
      await checkWorkerReadable(this.workDir, stat, account);
      const unreadable = known.filter((m) => unreadableReason(account, [m]) !== undefined).map((m) => m.path);
      // Checked again from the disk, for the error naming the file and why.
      if (unreadable.length > 0) await checkWorkerReadable(this.workDir, unreadable, account);
    } catch (err) {
      await restoreAuxFiles(this.workDir, failed, previous, this.#dialect.workerGroup);
      if (this.#lastModel !== undefined) this.#auth?.setUsers(usersByEntryPoint(this.#lastModel));
      throw err;
    }
  }

  async #apply(model: RoutingModel): Promise<void> {
    if (this.#stopped) throw new PassError('PASS_DRIVER_STOPPED', `the ${this.name} driver is stopped`);
    await this.#prepare();
    const started = performance.now();
    const bundled = (this.#options.reload ?? 'bundled') === 'bundled';
    // Before the first start nothing reads the work directory: the files can be written while the
    // dialect's early work (certificate checks) runs, and what it finds is taken out before the start.
    const beside = bundled && this.#proc === undefined;
    const early = this.#dialect.startRender?.(model, beside);
    if (early !== undefined && !beside) await early.settle();
    const renderContext: RenderContext<L> = { workDir: this.workDir, acmeChallengeAddress: this.#acmeAddress, previous: this.#layout, requestLog: this.#requestLogTarget(this.#requestLogAddress) };
    const guessed = beside ? early : undefined;
    let rendering = this.#dialect.render(model, guessed === undefined ? renderContext : { ...renderContext, early: guessed });
    let next = rendering.config;
    const renderMs = performance.now() - started;
    if (guessed === undefined) this.#reportRenderDiagnostics(next.diagnostics);
    const last = this.#last;
    const previous = last?.config;
    if (previous !== undefined && previous.checksum === next.checksum && (!bundled || this.#proc?.running === true)) {
      this.skipped++;
      this.lastApply = 'unchanged';
      this.#logger.debug({ checksum: next.checksum }, 'configuration unchanged; nothing to apply');
      return;
    }

    // The auth socket knows the new users before a configuration that relies on them serves.
    this.#auth?.setUsers(usersByEntryPoint(model));
    const group = this.#dialect.workerGroup;
    const candidate = path.join(this.workDir, `.next-${next.main.path}`);
    const writeStarted = performance.now();
    let validation: Validation | undefined;
    try {
      if (guessed !== undefined) {
        // The proxy loads the other files with its configuration: written first, the validator runs
        // on them while the files its workers read at request time (thousands of certificates) are written.
        await writeAuxFiles(this.workDir, next, previous, group, (f) => f.workerReadable !== true);
        await writeFile(candidate, next.main.content, { mode: 0o644 });
        validation = this.#startValidation(candidate);
        const created = await writeAuxFiles(this.workDir, next, previous, group, (f) => f.workerReadable === true);
        // While the other threads finish the early work.
        await this.#checkReadable(changedFiles(next, previous), model, next, previous, created);
        if (!(await guessed.settle())) {
          // A guess was wrong (a certificate pair that does not load): the rendering with the answers
          // replaces it before the proxy reads anything, its files included (the pair's file goes).
          const checked = this.#dialect.render(model, renderContext);
          await restoreAuxFiles(this.workDir, next, checked.config, group);
          await this.#checkReadable(changedFiles(checked.config, next), model, checked.config, previous);
          if (checked.config.main.content !== next.main.content) {
            validation.run.kill();
            await validation.result;
            validation = undefined;
          }
          rendering = checked;
          next = checked.config;
        }
        this.#reportRenderDiagnostics(next.diagnostics);
      } else {
        const created = await writeAuxFiles(this.workDir, next, previous, group);
        await this.#checkReadable(changedFiles(next, previous), model, next, previous, created);
      }
    } catch (err) {
      if (validation !== undefined) {
        validation.run.kill();
        await validation.result;
        await rm(candidate, { force: true });
      }
      throw err;
    }
    const writeMs = performance.now() - writeStarted;
    // A change of what the runtime API sets (same structure) is applied first, without running the
    // validator: the dialect sends typed commands built from values the rendering validated, and
    // declines (false, nothing sent) whatever it cannot build so; a reload always validates first.
    const applyStarted = performance.now();
    const runtime = this.#dialect.runtimeApply;
    if (
      validation === undefined &&
      last !== undefined &&
      last.config.structure === next.structure &&
      runtime !== undefined &&
      !(bundled && this.#proc === undefined) &&
      (await runtime(last, rendering, this.workDir))
    ) {
      // The file on disk follows what the proxy runs: a later reload or restart starts from it.
      await this.#commitRendering(rendering, model);
      this.runtimeUpdates++;
      this.lastApply = 'runtime';
      this.#last = rendering;
      this.#lastModel = model;
      this.#logger.info(
        { how: 'runtime API', checksum: next.checksum.slice(0, 12), renderMs: Math.round(renderMs), writeMs: Math.round(writeMs), validateMs: 0, applyMs: Math.round(performance.now() - applyStarted) },
        `${this.name} configuration applied (runtime API)`,
      );
      return;
    }
    // Started before the writes when they overlap it.
    const overlapped = validation !== undefined;
    if (validation === undefined) {
      await writeFile(candidate, next.main.content, { mode: 0o644 });
      validation = this.#startValidation(candidate);
    }
    this.validations++;
    const { check, ms: validateMs } = await validation.result;
    if (check.failed) {
      await restoreAuxFiles(this.workDir, next, previous, group);
      if (this.#lastModel !== undefined) this.#auth?.setUsers(usersByEntryPoint(this.#lastModel));
      await writeFile(path.join(this.workDir, `failed-${next.main.path}`), next.main.content, { mode: 0o644 });
      await rm(candidate, { force: true });
      const output = String(check.all ?? '').trim();
      if ((check as { code?: string }).code === 'ENOENT') {
        throw new PassError('PASS_PROXY_BINARY_MISSING', `${this.name}: the binary ${JSON.stringify(this.#binary)} was not found (install the Debian package "${this.#dialect.defaultBinary}" or set [proxy] binary)`);
      }
      const where = locateError(output, next.main.content, candidate);
      const object = objectOfSection(where.section);
      const lines = output.split('\n').filter((l) => /ALERT|emerg|error/i.test(l));
      const detail = `${where.line === undefined ? '' : ` at line ${where.line} (${where.text ?? ''})`}${where.section === undefined ? '' : ` in "${where.section}"`}`;
      throw new PassError(
        'PASS_PROXY_INVALID_CONFIG',
        `${this.name} refused the rendered configuration${detail}; the previous configuration keeps serving (kept as failed-${next.main.path}): ${(lines.length > 0 ? lines : [output]).join(' | ')}`,
        defined({ object }),
      );
    }
    await this.#commitRendering(rendering, model);
    await rm(candidate, { force: true });

    let how: string;
    if (bundled && this.#proc === undefined) {
      this.#proc = new ManagedProcess(this.#dialect.processSpec(this.#binary, this.configFile, this.workDir), this.#logger);
      this.#proc.onRestart = () => this.#logger.warn({ restarts: this.#proc?.restarts }, `${this.name} restarted`);
      this.#proc.start();
      await this.#dialect.waitReady(this.#proc, this.workDir);
      how = 'started';
      this.lastApply = 'reload';
    } else {
      const reason =
        previous === undefined ? 'first configuration for a running proxy' : previous.structure === next.structure ? 'runtime API could not apply the change' : 'structure changed';
      try {
        await this.#dialect.reload(this.#proc, this.workDir);
        this.reloads++;
        this.#logger.info({ reason, reloads: this.reloads }, `${this.name} reloaded: ${reason}`);
        how = 'reloaded';
        this.lastApply = 'reload';
      } catch (err) {
        // Sidecar mode: the proxy container is not up (yet); it reads these files when it starts.
        if (bundled || !(err instanceof PassError) || err.code !== 'PASS_PROXY_NOT_RUNNING') throw err;
        this.#logger.warn({ err: err.message }, `${this.name} sidecar is not running; the configuration is written for when it starts`);
        how = 'written (sidecar not running)';
        // The sidecar loads these files when it starts.
        this.lastApply = 'reload';
      }
    }
    this.#last = rendering;
    this.#lastModel = model;
    this.#logger.info(
      { how, checksum: next.checksum.slice(0, 12), renderMs: Math.round(renderMs), writeMs: Math.round(writeMs), validateMs: Math.round(validateMs), ...(overlapped ? { validateOverlapped: true } : {}), applyMs: Math.round(performance.now() - applyStarted) },
      `${this.name} configuration applied (${how})`,
    );
  }

  /**
   * Readiness: a configuration was applied, the bundled proxy process runs, and the dialect's probe
   * says the proxy answers. Never rejects.
   */
  async probe(): Promise<boolean> {
    const model = this.#lastModel;
    if (this.#stopped || this.#last === undefined || model === undefined) return false;
    const bundled = (this.#options.reload ?? 'bundled') === 'bundled';
    if (bundled && this.#proc?.running !== true) return false;
    try {
      return (await this.#dialect.probe?.(this.workDir, model)) ?? true;
    } catch {
      return false;
    }
  }

  /** Stops the proxy gracefully (bundled mode) and the ACME and auth responders. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#templateTimer);
    await this.#watcher?.close();
    await this.#queue.idle();
    await this.#proc?.stop(this.#dialect.stopSignal, graceMs);
    await this.#acme?.stop();
    await this.#auth?.stop();
    // After the proxy: its last lines (requests finished during the grace period) still arrive.
    await this.#requestLog?.stop();
    if (this.#ownsWorkDir) await rm(this.workDir, { recursive: true, force: true });
  }
}
