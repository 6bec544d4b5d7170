import { formatDiagnostic } from '../shared/diagnostics.ts';
import type { CliFlags } from '../config/flags.ts';
import type { StaticConfig } from '../config/schema.ts';
import { describeModel, modelForJson } from '../model/describe.ts';
import type { AcmeChallengeHook, ProxyDriver } from '../drivers/types.ts';
import { createNativeDriver, NativeDriver } from '../drivers/native/index.ts';
import type { AcmeTlsAlpnHook } from '../drivers/native/index.ts';
import { createHaproxyDriver } from '../drivers/haproxy/index.ts';
import { createNginxDriver } from '../drivers/nginx/index.ts';
import { diffAgainstWorkDir, renderForDryRun } from '../drivers/external/dryrun.ts';
import { formatDryRun } from '../render/dryrun.ts';
import { Controller } from '../controller/sync.ts';
import { KubernetesSource } from '../sources/kubernetes/source.ts';
import type { Logger } from '../shared/logger.ts';
import { buildOnce } from './build.ts';
import { createSource, loadContext } from './context.ts';
import { createLogger } from './logger.ts';
import { createAcme } from './acme.ts';
import type { AcmeTuning, AcmeWiring } from './acme.ts';

/**
 * The driver for the configured proxy mode: native, haproxy or nginx; `acmeChallenge` answers HTTP-01
 * tokens; `onUnknownServerName` (native only) is asked during a handshake for a name without a
 * certificate (onDemand ACME); `acmeTlsAlpn` (native only) gives TLS-ALPN-01 challenge certificates.
 */
export function createDriver(
  config: StaticConfig,
  logger: Logger,
  acmeChallenge?: AcmeChallengeHook,
  onUnknownServerName?: (name: string) => Promise<boolean>,
  acmeTlsAlpn?: AcmeTlsAlpnHook,
): ProxyDriver {
  const p = config.proxy;
  const hook = acmeChallenge === undefined ? {} : { acmeChallenge };
  if (p.mode === 'native') {
    return createNativeDriver({
      ...hook,
      ...(acmeTlsAlpn === undefined ? {} : { acmeTlsAlpn }),
      ...(onUnknownServerName === undefined ? {} : { onUnknownServerName }),
      connectTimeoutMs: p.connectTimeout,
      readTimeoutMs: p.readTimeout,
      forwardedHeader: p.forwardedHeader,
      logger: logger.child({ driver: 'native' }),
    });
  }
  // haproxy and nginx share the apply pipeline (src/drivers/external); paths are already absolute.
  const external = {
    workDir: p.workDir,
    reload: p.reload,
    connectTimeoutMs: p.connectTimeout,
    readTimeoutMs: p.readTimeout,
    gracePeriodMs: p.gracePeriod,
    forwardedHeader: p.forwardedHeader,
    logger,
    ...hook,
    ...(p.binary === undefined ? {} : { binary: p.binary }),
    ...(p.templates === undefined ? {} : { templates: p.templates }),
  };
  if (p.mode === 'haproxy') return createHaproxyDriver({ ...external, ...(p.masterSocket === undefined ? {} : { masterSocket: p.masterSocket }) });
  return createNginxDriver(external);
}

/** A running controller and how to stop it. */
export interface RunningController {
  readonly controller: Controller;
  readonly driver: ProxyDriver;
  /** The ACME subsystem, when `[acme]` is configured. */
  readonly acme: AcmeWiring | undefined;
  stop(): Promise<void>;
}

/** Options of {@link startController} that have no config key. */
export interface StartOptions {
  readonly acme?: AcmeTuning;
}

/** Starts source, driver and sync loop (the composition root of `passerelle run`). */
export async function startController(flags: CliFlags, logger?: Logger, options: StartOptions = {}): Promise<RunningController> {
  const { config, translate, warnings } = await loadContext(flags);
  const log = logger ?? createLogger(config.logLevel);
  for (const w of warnings) log.warn({ code: w.code, field: w.field, location: w.location }, formatDiagnostic(w));
  if (config.web.enabled) log.warn({ field: 'web.enabled' }, 'the web dashboard (--web) is not implemented yet; ignoring');
  const source = createSource(config, true, log);
  let signal = (): void => {};
  // With the Kubernetes source only the leader orders; a new leader first reloads what the last one stored.
  const leadership = source instanceof KubernetesSource && options.acme?.isLeader === undefined ? source.leadership : undefined;
  const tuning: AcmeTuning | undefined = leadership === undefined ? options.acme : { ...options.acme, isLeader: () => leadership.isLeader() };
  const acme = await createAcme(config, translate, log, () => signal(), tuning);
  const unsubscribeLeader = acme === undefined ? undefined : leadership?.onChange((leading) => {
    if (leading) void acme.manager.refresh();
  });
  let native: NativeDriver | undefined;
  // onDemand (native mode): an unknown SNI name waits for the manager's order, then is served at once.
  const onUnknownServerName =
    acme === undefined || !config.acme?.onDemand || config.proxy.mode !== 'native'
      ? undefined
      : async (name: string): Promise<boolean> => {
          const cert = await acme.manager.obtainOnDemand(name);
          if (cert === undefined || native === undefined) return false;
          return native.addCertificate({ id: cert.id, hosts: [...cert.names].sort(), certPem: cert.certPem, keyPem: cert.keyPem, source: { kind: 'AcmeCertificate', name: cert.names[0] ?? cert.id } });
        };
  if (acme !== undefined && config.acme?.onDemand && config.proxy.mode !== 'native') {
    log.warn({ field: 'acme.onDemand', mode: config.proxy.mode }, `acme.onDemand needs the native proxy (the ${config.proxy.mode} handshake cannot wait for an order); certificates are ordered for onHostRule and [[acme.domains]] only`);
  }
  // TLS-ALPN-01 (native mode): validation handshakes get the challenge certificate.
  const tlsAlpn = acme !== undefined && config.acme?.challenge === 'tls-alpn-01' && config.proxy.mode === 'native' ? acme.challenges.tlsAlpn : undefined;
  const driver = createDriver(config, log, acme?.challenges.http01, onUnknownServerName, tlsAlpn);
  if (driver instanceof NativeDriver) native = driver;
  const controller = new Controller({ source, translate, driver, logger: log.child({ component: 'controller' }), ...(acme === undefined ? {} : { prepare: acme.stage }) });
  signal = () => controller.signal();
  try {
    // Stored certificates are in the first model the driver serves; orders wait until the proxy
    // serves it (haproxy/nginx take a moment to listen: the CA's HTTP-01 requests must find them).
    await acme?.manager.start({ paused: true });
    await controller.start();
    acme?.manager.resume();
  } catch (err) {
    unsubscribeLeader?.();
    await acme?.manager.stop();
    await driver.stop(0);
    throw err;
  }
  return {
    controller,
    driver,
    acme,
    async stop() {
      unsubscribeLeader?.();
      await acme?.manager.stop();
      await controller.stop();
      await driver.stop(config.proxy.gracePeriod);
    },
  };
}

/** `passerelle run`: the controller, or with `--dry-run` the route table once. */
export async function runCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  if (flags.dryRun) {
    const { context, model } = await buildOnce(flags);
    const mode = context.config.proxy.mode;
    if (mode === 'native' || flags.output === 'json') {
      out.write(flags.output === 'json' ? `${JSON.stringify(modelForJson(model), null, 2)}\n` : describeModel(model));
      return 0;
    }
    // haproxy/nginx: the configuration and its auxiliary files as apply would write them; --diff against the work directory.
    const rendered = renderForDryRun(mode, context.config.proxy, model);
    if (flags.diff) {
      const diff = await diffAgainstWorkDir(rendered, context.config.proxy.workDir);
      out.write(diff === '' ? `# ${context.config.proxy.workDir}: up to date\n` : diff);
      return 0;
    }
    out.write(formatDryRun(rendered));
    return 0;
  }
  const running = await startController(flags);
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void running.stop().then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}
