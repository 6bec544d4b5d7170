import { formatDiagnostic } from '../shared/diagnostics.ts';
import type { CliFlags } from '../config/flags.ts';
import type { StaticConfig } from '../config/schema.ts';
import { describeModel, modelForJson } from '../model/describe.ts';
import type { AcmeChallengeHook, ProxyDriver } from '../drivers/types.ts';
import { createNativeDriver } from '../drivers/native/index.ts';
import { createHaproxyDriver } from '../drivers/haproxy/index.ts';
import { createNginxDriver } from '../drivers/nginx/index.ts';
import { diffAgainstWorkDir, renderForDryRun } from '../drivers/external/dryrun.ts';
import { formatDryRun } from '../render/dryrun.ts';
import { Controller } from '../controller/sync.ts';
import type { Logger } from '../shared/logger.ts';
import { buildOnce } from './build.ts';
import { createSource, loadContext } from './context.ts';
import { createLogger } from './logger.ts';
import { createAcme } from './acme.ts';
import type { AcmeTuning, AcmeWiring } from './acme.ts';

/** The driver for the configured proxy mode: native, haproxy or nginx; `acmeChallenge` answers HTTP-01 tokens. */
export function createDriver(config: StaticConfig, logger: Logger, acmeChallenge?: AcmeChallengeHook): ProxyDriver {
  const p = config.proxy;
  const hook = acmeChallenge === undefined ? {} : { acmeChallenge };
  if (p.mode === 'native') {
    return createNativeDriver({
      ...hook,
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
  const acme = await createAcme(config, translate, log, () => signal(), options.acme);
  const driver = createDriver(config, log, acme?.tokens.hook);
  const controller = new Controller({ source, translate, driver, logger: log.child({ component: 'controller' }), ...(acme === undefined ? {} : { prepare: acme.stage }) });
  signal = () => controller.signal();
  try {
    // Stored certificates are in the first model the driver serves.
    await acme?.manager.start();
    await controller.start();
  } catch (err) {
    await acme?.manager.stop();
    await driver.stop(0);
    throw err;
  }
  return {
    controller,
    driver,
    acme,
    async stop() {
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
