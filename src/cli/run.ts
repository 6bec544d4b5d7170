import { formatDiagnostic } from '../shared/diagnostics.ts';
import { PassError } from '../shared/errors.ts';
import type { CliFlags } from '../config/flags.ts';
import type { StaticConfig } from '../config/schema.ts';
import { describeModel, modelForJson } from '../model/describe.ts';
import type { ProxyDriver } from '../drivers/types.ts';
import { createNativeDriver } from '../drivers/native/index.ts';
import { Controller } from '../controller/sync.ts';
import type { Logger } from '../shared/logger.ts';
import { buildOnce } from './build.ts';
import { createSource, loadContext } from './context.ts';
import { createLogger } from './logger.ts';

/** The driver for the configured proxy mode (only `native` exists so far). */
export function createDriver(config: StaticConfig, logger: Logger): ProxyDriver {
  if (config.proxy.mode !== 'native') {
    throw new PassError('PASS_PROXY_MODE_UNAVAILABLE', `proxy mode ${JSON.stringify(config.proxy.mode)} is not implemented yet; use mode = "native"`, { field: 'proxy.mode' });
  }
  return createNativeDriver({
    connectTimeoutMs: config.proxy.connectTimeout,
    readTimeoutMs: config.proxy.readTimeout,
    forwardedHeader: config.proxy.forwardedHeader,
    logger: logger.child({ driver: 'native' }),
  });
}

/** A running controller and how to stop it. */
export interface RunningController {
  readonly controller: Controller;
  readonly driver: ProxyDriver;
  stop(): Promise<void>;
}

/** Starts source, driver and sync loop (the composition root of `passerelle run`). */
export async function startController(flags: CliFlags, logger?: Logger): Promise<RunningController> {
  const { config, translate, warnings } = await loadContext(flags);
  const log = logger ?? createLogger(config.logLevel);
  for (const w of warnings) log.warn({ code: w.code, field: w.field, location: w.location }, formatDiagnostic(w));
  if (config.web.enabled) log.warn({ field: 'web.enabled' }, 'the web dashboard (--web) is not implemented yet; ignoring');
  const source = createSource(config, true, log);
  const driver = createDriver(config, log);
  const controller = new Controller({ source, translate, driver, logger: log.child({ component: 'controller' }) });
  try {
    await controller.start();
  } catch (err) {
    await driver.stop(0);
    throw err;
  }
  return {
    controller,
    driver,
    async stop() {
      await controller.stop();
      await driver.stop(config.proxy.gracePeriod);
    },
  };
}

/** `passerelle run`: the controller, or with `--dry-run` the route table once. */
export async function runCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  if (flags.dryRun) {
    const { model } = await buildOnce(flags);
    out.write(flags.output === 'json' ? `${JSON.stringify(modelForJson(model), null, 2)}\n` : describeModel(model));
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
