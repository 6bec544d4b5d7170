import type { CliFlags } from './flags.ts';
import { describeModel, modelForJson } from '../model/describe.ts';
import type { ProxyDriver } from '../drivers/types.ts';
import { diffAgainstWorkDir } from '../drivers/external/dryrun.ts';
import { formatDiagnosticsBlock, formatDryRun } from '../render/dryrun.ts';
import type { Controller } from '../controller/sync.ts';
import type { Logger } from '../shared/logger.ts';
import { buildOnce } from './build.ts';
import type { AcmeWiring } from './acme.ts';
import { withStoredAcmeCertificates } from './acme.ts';
import { createPreviewDriver, wireController } from './wire.ts';
import type { WireOptions } from './wire.ts';
import type { WebServer } from '../dashboard/server.ts';
import type { StaticConfig } from '../config/schema.ts';
import { reloadConfig } from './reload.ts';

/** A running controller and how to stop it. */
export interface RunningController {
  readonly controller: Controller;
  readonly driver: ProxyDriver;
  /** The ACME subsystem, when `[acme]` is configured. */
  readonly acme: AcmeWiring | undefined;
  /** The web server, when `[web]` is enabled. */
  readonly web: WebServer | undefined;
  /** The configuration it started with. */
  readonly config: StaticConfig;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/** Options of {@link startController} that have no config key. */
export type StartOptions = WireOptions;

/**
 * Builds the graph of `passerelle run` (cli/wire.ts) and starts it: source, driver, sync loop, ACME.
 * Resolves once the first configuration is applied (or, for a failure that may pass, being retried);
 * rejects, with everything stopped, when it cannot be applied for a cause that will not fix itself
 * (see `isPermanentStartFailure`).
 */
export async function startController(flags: CliFlags, logger?: Logger, options: StartOptions = {}): Promise<RunningController> {
  const { config, logger: log, leadership, acme, driver: wired, controller, web, accessLog } = await wireController(flags, logger, options);
  // Log rotation (logrotate's postrotate, as with Traefik): the access log file is reopened.
  const reopenAccessLog = (): void => accessLog?.reopen();
  if (accessLog !== undefined) process.on('SIGUSR1', reopenAccessLog);
  const driver = wired.driver;
  // A new leader first reloads what the last one stored.
  const unsubscribeLeader =
    acme === undefined
      ? undefined
      : leadership?.onChange((leading) => {
          if (leading) void acme.manager.refresh();
        });
  // Probes answer from the start: /readyz says 503 until the first configuration serves.
  await web?.start();
  try {
    // Stored certificates are in the first model the driver serves; orders wait until the proxy
    // serves it (haproxy/nginx take a moment to listen: the CA's HTTP-01 requests must find them).
    await acme?.manager.start({ paused: true });
    await controller.start();
    acme?.manager.resume();
  } catch (err) {
    unsubscribeLeader?.();
    await acme?.manager.stop();
    // The source was started (a first apply failed): its watches would keep the process alive.
    await controller.stop().catch(() => undefined);
    await driver.stop(0);
    await web?.stop();
    process.off('SIGUSR1', reopenAccessLog);
    await accessLog?.close();
    throw err;
  }
  return {
    controller,
    driver,
    acme,
    web,
    config,
    logger: log,
    async stop() {
      unsubscribeLeader?.();
      await acme?.manager.stop();
      // controller.stop() turns /readyz to 503 at once; the web server goes last.
      await controller.stop();
      await driver.stop(config.proxy.gracePeriod);
      await web?.stop();
      // After the driver: requests finished during the grace period are still logged.
      process.off('SIGUSR1', reopenAccessLog);
      await accessLog?.close();
    },
  };
}

/**
 * `run --dry-run` / `render`: the route table (native, or JSON), or the files the haproxy/nginx
 * driver would write, rendered by that driver with the layout saved in the work directory; `--diff`
 * against that directory. Every diagnostic is reported in every mode.
 */
async function dryRun(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  const built = await buildOnce(flags);
  const { context, snapshot, kube } = built;
  const { config } = context;
  const model = await withStoredAcmeCertificates(config, context.translate, snapshot, built.model, kube);
  const driver = config.proxy.mode === 'native' || flags.output === 'json' ? undefined : createPreviewDriver(config);
  if (driver === undefined) {
    out.write(flags.output === 'json' ? `${JSON.stringify(modelForJson(model), null, 2)}\n` : describeModel(model));
    return 0;
  }
  const rendered = await driver.preview(model);
  // The model's diagnostics (those the native route table lists), then what the rendering left out.
  const diagnostics = [...model.diagnostics, ...rendered.diagnostics];
  if (flags.diff) {
    const diff = await diffAgainstWorkDir(rendered, driver.workDir);
    out.write(diff === '' ? `# ${config.proxy.workDir}: up to date\n` : diff);
    out.write(formatDiagnosticsBlock(diagnostics));
    return 0;
  }
  out.write(formatDryRun(rendered, diagnostics));
  return 0;
}

/** `passerelle run`: the controller, or with `--dry-run` the route table once. */
export async function runCommand(flags: CliFlags, out: NodeJS.WritableStream): Promise<number> {
  if (flags.dryRun) return dryRun(flags, out);
  // SIGHUP reloads the configuration file; reloads run one after the other. Handled from the start:
  // one that comes while the proxy already answers but the start is not over (a worker thread ready
  // before the other) is applied once it is, instead of ending the process (SIGHUP's default).
  let hangups = 0;
  let onHangup = (): void => void hangups++;
  const hangup = (): void => onHangup();
  process.on('SIGHUP', hangup);
  let running: Awaited<ReturnType<typeof startController>>;
  try {
    running = await startController(flags);
  } catch (err) {
    process.off('SIGHUP', hangup);
    throw err;
  }
  let live = running.config;
  let reloading = Promise.resolve();
  onHangup = (): void => {
    reloading = reloading
      .then(async () => {
        const outcome = await reloadConfig(flags, running.config, live, running.controller, running.logger);
        if (outcome.status === 'applied') live = outcome.config;
      })
      .catch((err: unknown) => running.logger.error({ err, signal: 'SIGHUP' }, 'SIGHUP: reloading the configuration failed; the running configuration is kept'));
  };
  if (hangups > 0) onHangup();
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', hangup);
      void running.stop().then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}
