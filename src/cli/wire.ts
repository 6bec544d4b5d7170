/*
 * The composition root: the one place that turns the configuration into concrete objects. Each
 * config section is mapped to its component's options by one function here ([kubernetes] and the
 * entry points → translate and source options, [file] → the file source, [proxy] → the driver,
 * [acme] in cli/acme.ts), and every command builds through them: `run` the whole graph, `render` /
 * `run --dry-run` the same driver (to preview), `check` and `explain` the same source.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { formatDiagnostic } from '../shared/diagnostics.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { PassError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { silentLogger } from '../shared/logger.ts';
import { defined } from '../shared/optional.ts';
import type { StaticConfig } from '../config/schema.ts';
import { defaultConfig, loadConfigResult } from '../config/load.ts';
import { entryPointsFromConfig } from '../model/entrypoints.ts';
import type { TranslateOptions } from '../model/translate/index.ts';
import type { Certificate } from '../model/types.ts';
import type { Source } from '../sources/snapshot.ts';
import { FileSource } from '../sources/file/source.ts';
import type { FileSourceOptions } from '../sources/file/source.ts';
import { KubeClient, loadKubeConfig } from '../sources/kubernetes/client.ts';
import { KubernetesSource } from '../sources/kubernetes/source.ts';
import type { KubernetesSourceOptions } from '../sources/kubernetes/source.ts';
import type { Leadership } from '../sources/kubernetes/leader.ts';
import type { AcmeChallengeHook } from '../drivers/types.ts';
import { createNativeDriver } from '../drivers/native/index.ts';
import type { AcmeTlsAlpnHook, NativeDriver } from '../drivers/native/index.ts';
import { createNativeWorkerPool } from '../drivers/native/workers.ts';
import type { NativeWorkerPool } from '../drivers/native/workers.ts';
import { createHaproxyDriver } from '../drivers/haproxy/index.ts';
import type { HaproxyDriver } from '../drivers/haproxy/index.ts';
import { createNginxDriver } from '../drivers/nginx/index.ts';
import type { NginxDriver } from '../drivers/nginx/index.ts';
import type { ExternalDriverOptions } from '../drivers/external/apply.ts';
import { Controller } from '../controller/sync.ts';
import { createMetrics, modelCertificates } from '../dashboard/metrics.ts';
import type { BudgetLeft, CertificateExpiry, Metrics } from '../dashboard/metrics.ts';
import type { Telemetry } from '../shared/telemetry.ts';
import type { ProxyDriver, RequestObserver } from '../drivers/types.ts';
import { WebServer } from '../dashboard/server.ts';
import type { ApiHandler, RenderMetrics } from '../dashboard/server.ts';
import type { AcmeView } from '../dashboard/api.ts';
import { LETS_ENCRYPT_BUDGET } from '../acme/types.ts';
import { parseListenAddress } from '../config/schema.ts';
import { applyFlags } from './flags.ts';
import type { CliFlags } from './flags.ts';
import { acmeIssuance, createAcme } from './acme.ts';
import type { AcmeTuning, AcmeWiring } from './acme.ts';
import { createLogger, defaultLogFormat } from './logger.ts';
import { AccessLog } from '../drivers/access-log.ts';

/** The loaded configuration and the pieces every command derives from it. */
export interface Context {
  readonly config: StaticConfig;
  readonly translate: TranslateOptions;
  /** Warnings about the config file (it loaded, but something deserves a look). */
  readonly warnings: readonly Diagnostic[];
}

/** How translation selects and reads objects: `[kubernetes]` class selection, the entry points, and what `[acme]` certifies. */
export function translateOptions(config: StaticConfig): TranslateOptions {
  const k = config.kubernetes;
  return {
    entryPoints: entryPointsFromConfig(config),
    ingressClass: k.ingressClass,
    controllerName: k.controllerName,
    gatewayControllerName: k.gatewayControllerName,
    gatewayAddressPool: k.gatewayAddressPool,
    classAliases: k.classAliases,
    watchIngressWithoutClass: k.watchIngressWithoutClass,
    sslRedirect: k.sslRedirect,
    mode: config.proxy.mode,
    ...defined({ acme: acmeIssuance(config.acme) }),
  };
}

/** Loads the config file (if any), applies the command-line flags over it, and derives the translation options once. */
export async function loadContext(flags: CliFlags): Promise<Context> {
  const loaded = flags.configFile === undefined ? { config: defaultConfig(), warnings: [] } : await loadConfigResult(flags.configFile);
  const config = applyFlags(loaded.config, flags);
  return { config, translate: translateOptions(config), warnings: loaded.warnings };
}

/** The process's one Kubernetes client when `[kubernetes] enabled` (the source and the ACME Secret store share it). */
export function createKubeClient(config: StaticConfig): KubeClient | undefined {
  if (!config.kubernetes.enabled) return undefined;
  return new KubeClient(loadKubeConfig(defined({ kubeconfig: config.kubernetes.kubeconfig })));
}

/** `[kubernetes]` as source options; without `watch` (check, render, dry run) it reads the cluster and never writes to it. */
export function kubernetesSourceOptions(context: Context, client: KubeClient, watch: boolean, logger: Logger, telemetry?: Telemetry): KubernetesSourceOptions {
  const k = context.config.kubernetes;
  return {
    client,
    translate: context.translate,
    namespaces: k.namespaces,
    leaderElection: k.leaderElection,
    leaseName: k.leaseName,
    // client-go's proportions: renew deadline 2/3 of the lease, retry period 2/15 of it (15 s → 10 s, 2 s).
    leaseDurationMs: k.leaseDuration,
    renewDeadlineMs: Math.round((k.leaseDuration * 2) / 3),
    retryPeriodMs: Math.max(200, Math.round((k.leaseDuration * 2) / 15)),
    recordEvents: k.recordEvents,
    startupRetryMs: k.startupRetry,
    readOnly: !watch,
    logger,
    ...defined({ labelSelector: k.labelSelector, publishService: k.publishService, publishAddress: k.publishAddress, gatewayAddresses: k.gatewayAddresses, leaseNamespace: k.leaseNamespace, telemetry }),
  };
}

/** `[file]` as source options. */
export function fileSourceOptions(config: StaticConfig, watch: boolean, logger: Logger): FileSourceOptions {
  const directory = config.file.directory;
  if (directory === undefined) {
    throw new PassError('PASS_NO_SOURCE', 'no source of Ingress objects: set [file] directory = "DIR" in the config or pass --directory DIR', { field: 'file.directory' });
  }
  return { directory: path.resolve(directory), watch: watch && config.file.watch, logger };
}

/** The configured source, and the same object typed when it is the Kubernetes one (its leadership). */
export interface SourceWiring {
  readonly source: Source;
  readonly kubernetes: KubernetesSource | undefined;
}

/** The Kubernetes source when `kube` is given (`[kubernetes] enabled`), else the file source. */
export function wireSource(context: Context, watch: boolean, logger: Logger, kube: KubeClient | undefined, telemetry?: Telemetry): SourceWiring {
  if (kube !== undefined) {
    const kubernetes = new KubernetesSource(kubernetesSourceOptions(context, kube, watch, logger, telemetry));
    return { source: kubernetes, kubernetes };
  }
  return { source: new FileSource(fileSourceOptions(context.config, watch, logger)), kubernetes: undefined };
}

/** The configured source of objects: the Kubernetes API when `[kubernetes] enabled`, else the file source. */
export function createSource(context: Context, watch: boolean, logger: Logger = silentLogger): Source {
  return wireSource(context, watch, logger, createKubeClient(context.config)).source;
}

/** What the rest of the graph gives the driver; each is absent when its feature is off. */
export interface DriverHooks {
  /** Answers HTTP-01 tokens. */
  readonly acmeChallenge?: AcmeChallengeHook;
  /** Native only: TLS-ALPN-01 challenge certificates. */
  readonly acmeTlsAlpn?: AcmeTlsAlpnHook;
  /** Native only (onDemand ACME): a certificate for a server name no certificate covers, or undefined. */
  readonly obtainCertificate?: (name: string) => Promise<Certificate | undefined>;
  /** Every finished request (metrics, access log); haproxy/nginx send theirs from their logs. */
  readonly observe?: RequestObserver;
}

/** The driver of the configured mode, typed by mode. */
export type DriverWiring =
  | { readonly mode: 'native'; readonly driver: NativeDriver | NativeWorkerPool }
  | { readonly mode: 'haproxy'; readonly driver: HaproxyDriver }
  | { readonly mode: 'nginx'; readonly driver: NginxDriver };

/**
 * `[proxy]` as driver options, and the driver of its mode: the one mapping of that section, used by
 * `run` and by the dry run alike (so `render --diff` renders with exactly what `run` applies).
 */
export function createDriver(config: StaticConfig, logger: Logger, hooks: DriverHooks): DriverWiring {
  const p = config.proxy;
  const common = { connectTimeoutMs: p.connectTimeout, readTimeoutMs: p.readTimeout, forwardedHeader: p.forwardedHeader, ...defined({ acmeChallenge: hooks.acmeChallenge, observe: hooks.observe }) };
  const workers = p.workers ?? availableParallelism();
  if (p.mode === 'native' && workers > 1) {
    const obtain = hooks.obtainCertificate;
    // onDemand: a worker's handshake asks this thread, which adds the certificate to every worker.
    const onUnknownServerName =
      obtain === undefined
        ? undefined
        : async (name: string): Promise<boolean> => {
            const cert = await obtain(name);
            return cert !== undefined && (await pool.addCertificate(cert));
          };
    const pool: NativeWorkerPool = createNativeWorkerPool({ ...common, workers, logger, ...defined({ acmeTlsAlpn: hooks.acmeTlsAlpn, onUnknownServerName }) });
    return { mode: 'native', driver: pool };
  }
  if (p.mode === 'native') {
    const obtain = hooks.obtainCertificate;
    // onDemand: an unknown SNI name waits for the certificate, which this driver then serves at once.
    const onUnknownServerName =
      obtain === undefined
        ? undefined
        : async (name: string): Promise<boolean> => {
            const cert = await obtain(name);
            return cert !== undefined && driver.addCertificate(cert);
          };
    // The driver names itself in its lines ({ driver: 'native' }): a child here would repeat the key.
    const driver: NativeDriver = createNativeDriver({ ...common, logger, ...defined({ acmeTlsAlpn: hooks.acmeTlsAlpn, onUnknownServerName }) });
    return { mode: 'native', driver };
  }
  // haproxy and nginx share the apply pipeline (src/drivers/external); paths are already absolute.
  const external: ExternalDriverOptions = { ...common, workDir: p.workDir, reload: p.reload, gracePeriodMs: p.gracePeriod, logger, ...defined({ binary: p.binary, templates: p.templates }) };
  if (p.mode === 'haproxy') return { mode: 'haproxy', driver: createHaproxyDriver({ ...external, answerPlainHttpOnTls: p.answerPlainHttpOnTls, ...defined({ masterSocket: p.masterSocket }) }) };
  // The stock nginx image of the sidecar pair has none of Debian's dynamic modules.
  return { mode: 'nginx', driver: createNginxDriver({ ...external, ...(p.reload === 'sidecar' ? { headersMoreModule: false } : {}) }) };
}

/** A dry run answers no ACME token: with `[acme]`, the hook only tells the driver that the challenge path is forwarded. */
const NO_TOKENS: AcmeChallengeHook = () => undefined;

/**
 * The driver `render` / `run --dry-run` previews with: the one `run` builds from the same config,
 * with nothing started (undefined in native mode, which has no files to render).
 */
export function createPreviewDriver(config: StaticConfig): HaproxyDriver | NginxDriver | undefined {
  const wired = createDriver(
    config,
    silentLogger,
    defined({
      acmeChallenge: config.acme === undefined ? undefined : NO_TOKENS,
      // Whether run logs every request (access log, metrics) changes what haproxy/nginx are told to log.
      observe: config.accessLog !== undefined || config.web.enabled ? NO_RECORDS : undefined,
    }),
  );
  return wired.mode === 'native' ? undefined : wired.driver;
}

/** A dry run serves no request: the observer only tells the driver that requests are observed. */
const NO_RECORDS: RequestObserver = () => {};

/** `[accessLog]` as its writer (stdout or the file), or undefined when the section is absent. */
export function createAccessLog(config: StaticConfig, logger: Logger): AccessLog | undefined {
  const a = config.accessLog;
  return a === undefined ? undefined : new AccessLog({ format: a.format, logger, ...defined({ filePath: a.filePath }) });
}

/** Options of {@link wireController} that have no config key. */
export interface WireOptions {
  readonly acme?: AcmeTuning;
  /** `[web]`: a sync running longer than this fails /healthz (default 120 s). */
  readonly wedgedAfterMs?: number;
}

/** Everything `passerelle run` runs, built and connected, nothing started. */
export interface ControllerGraph {
  readonly config: StaticConfig;
  readonly logger: Logger;
  readonly source: Source;
  /** With the Kubernetes source and leader election: who may write (and order certificates). */
  readonly leadership: Leadership | undefined;
  /** The ACME subsystem, when `[acme]` is configured. */
  readonly acme: AcmeWiring | undefined;
  readonly driver: DriverWiring;
  readonly controller: Controller;
  /** The web server (`[web] enabled` or `--web`); started before the controller so /readyz answers 503 until the first apply. */
  readonly web: WebServer | undefined;
  /** The Prometheus metrics behind the web server's /metrics (with `[web]`). */
  readonly metrics: Metrics | undefined;
  /** The `[accessLog]` writer, fed by the driver's `observe`; closed after the driver stops. */
  readonly accessLog: AccessLog | undefined;
}

/**
 * Builds the object graph of `passerelle run` from the flags: config, source (and the one
 * Kubernetes client), ACME, driver and controller, each built once, in dependency order.
 */
export async function wireController(flags: CliFlags, logger?: Logger, options: WireOptions = {}): Promise<ControllerGraph> {
  const context = await loadContext(flags);
  const { config, translate } = context;
  const log = logger ?? createLogger(config.logLevel, config.log.format ?? defaultLogFormat());
  for (const w of context.warnings) log.warn({ code: w.code, field: w.field, location: w.location }, formatDiagnostic(w));

  const kube = createKubeClient(config);
  // With [web], /metrics: built first, the lower stages report to it. Certificates and the ACME
  // budget are read at scrape time from what the controller and the manager hold then.
  const metrics: Metrics | undefined = config.web.enabled
    ? createMetrics({
        mode: config.proxy.mode,
        version: passerelleVersion(),
        certificates: (): CertificateExpiry[] => modelCertificates(controller.state.model),
        acmeBudget: (): BudgetLeft[] => acme?.manager.budgetLeft() ?? [],
      })
    : undefined;
  const { source, kubernetes } = wireSource(context, true, log, kube, metrics);
  // Without a Kubernetes source there is no election: this replica leads.
  if (kubernetes === undefined) metrics?.leader(true);
  // With the Kubernetes source only the leader orders (unless the tuning says who leads).
  const leadership = kubernetes !== undefined && options.acme?.isLeader === undefined ? kubernetes.leadership : undefined;
  const led: AcmeTuning | undefined = leadership === undefined ? options.acme : { ...options.acme, isLeader: () => leadership.isLeader() };
  const tuning: AcmeTuning | undefined = metrics === undefined ? led : { ...led, telemetry: metrics };
  // ACME is built before the controller it re-syncs (the controller runs ACME's stage): its changes
  // go through this relay, connected once the controller exists.
  const acmeChanged = new Relay();
  const acme = await createAcme(config, translate, log, acmeChanged.fire, tuning, kube);

  const mode = config.proxy.mode;
  if (acme !== undefined && config.acme?.onDemand && mode !== 'native') {
    log.warn({ field: 'acme.onDemand', mode }, `acme.onDemand needs the native proxy (the ${mode} handshake cannot wait for an order); certificates are ordered for onHostRule and [[acme.domains]] only`);
  }
  const accessLog = createAccessLog(config, log.child({ component: 'accessLog' }));
  const driver = createDriver(config, log, defined({
    acmeChallenge: acme?.challenges.http01,
    // TLS-ALPN-01 (native mode): validation handshakes get the challenge certificate.
    acmeTlsAlpn: acme !== undefined && config.acme?.challenge === 'tls-alpn-01' && mode === 'native' ? acme.challenges.tlsAlpn : undefined,
    obtainCertificate: acme !== undefined && config.acme?.onDemand && mode === 'native' ? onDemandCertificates(acme) : undefined,
    observe: allObservers([metrics?.observe, accessLog?.observe]),
  }));

  const controller = new Controller({
    source,
    translate,
    driver: driver.driver,
    logger: log.child({ component: 'controller' }),
    isPermanentFailure: isPermanentStartFailure,
    // An injected logger (tests) decides for itself; pino's level decides otherwise.
    logChanges: logger !== undefined || config.logLevel.toLowerCase() === 'debug',
    ...defined({ input: acme?.stage.input, prepare: acme?.stage.prepare, telemetry: metrics }),
  });
  acmeChanged.connect(() => controller.signal());
  const web = config.web.enabled ? createWebServer({ config, logger: log, acme, driver, controller, ...defined({ wedgedAfterMs: options.wedgedAfterMs, metrics: metrics?.renderMetrics }) }) : undefined;
  return { config, logger: log, source, leadership, acme, driver, controller, web, metrics, accessLog };
}

/**
 * Failures of a first apply that will not fix themselves, so that `run` exits instead of retrying
 * forever with nothing serving: an address that cannot be bound (in use, not on this host, no
 * permission), a proxy binary missing or exiting at start, templates that do not render or that the
 * proxy refuses, files its workers cannot read.
 */
const PERMANENT_START_FAILURES: ReadonlySet<string> = new Set([
  'PASS_NATIVE_LISTEN',
  'PASS_PROXY_BINARY_MISSING',
  'PASS_PROXY_START',
  'PASS_PROXY_INVALID_CONFIG',
  'PASS_TEMPLATE_ERROR',
  'PASS_TEMPLATES_MISSING',
  'PASS_PROXY_UNREADABLE',
]);

/** Whether a failure of the first apply ends `run` (see {@link PERMANENT_START_FAILURES}). */
export function isPermanentStartFailure(err: unknown): boolean {
  return err instanceof PassError && PERMANENT_START_FAILURES.has(err.code);
}

/** The version in package.json, for the API and metrics. */
export function passerelleVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What {@link createWebServer} reads from the graph. */
export interface WebWiring {
  readonly config: StaticConfig;
  readonly logger: Logger;
  readonly acme: AcmeWiring | undefined;
  readonly driver: DriverWiring;
  readonly controller: Controller;
  readonly metrics?: RenderMetrics;
  readonly api?: Readonly<Record<string, ApiHandler>>;
  readonly wedgedAfterMs?: number;
}

/** `[web]` as the web server: address, basic auth, and what it reads (controller, driver probe, ACME). */
export function createWebServer(w: WebWiring): WebServer {
  const { config, acme, driver, controller } = w;
  const basic = config.web.auth?.basic;
  const a = config.acme;
  const acmeView =
    acme === undefined || a === undefined
      ? undefined
      : (): AcmeView => ({
          storage: a.storage,
          caServer: a.caServer,
          leading: acme.manager.leading,
          statuses: acme.manager.statuses(),
          state: acme.manager.state,
          perDomainBudget: a.weeklyBudget,
          windowMs: LETS_ENCRYPT_BUDGET.windowMs,
        });
  const proxy: ProxyDriver = driver.driver;
  const probe = proxy.probe?.bind(proxy);
  // Native and haproxy report live endpoint states; nginx (without its commercial API) cannot.
  const endpointStates = proxy.endpointStates?.bind(proxy);
  return new WebServer({
    address: parseListenAddress(config.web.address),
    mode: driver.mode,
    version: passerelleVersion(),
    controller,
    entryPoints: entryPointsFromConfig(config),
    logger: w.logger.child({ component: 'web' }),
    ...defined({ users: basic?.users, realm: basic?.realm, probe, endpointStates, acme: acmeView, metrics: w.metrics, api: w.api, wedgedAfterMs: w.wedgedAfterMs }),
  });
}

/** One observer calling each of `observers` (metrics, access log); undefined when none is given. */
export function allObservers(observers: readonly (RequestObserver | undefined)[]): RequestObserver | undefined {
  const all = observers.filter((o): o is RequestObserver => o !== undefined);
  if (all.length <= 1) return all[0];
  return (record) => {
    for (const o of all) o(record);
  };
}

/** onDemand: the manager's order for a name, as a model certificate. */
function onDemandCertificates(acme: AcmeWiring): (name: string) => Promise<Certificate | undefined> {
  return async (name) => {
    const cert = await acme.manager.obtainOnDemand(name);
    if (cert === undefined) return undefined;
    return { id: cert.id, hosts: [...cert.names].sort(), certPem: cert.certPem, keyPem: cert.keyPem, source: { kind: 'AcmeCertificate', name: cert.names[0] ?? cert.id } };
  };
}

/** A notification raised by a part built before its listener; dropped until {@link connect}. */
class Relay {
  #listener: (() => void) | undefined;

  /** Raises the notification (a bound function, to hand out as a callback). */
  readonly fire = (): void => {
    this.#listener?.();
  };

  /** Sets who is told from now on. */
  connect(listener: () => void): void {
    this.#listener = listener;
  }
}
