import path from 'node:path';
import { PassError } from '../shared/errors.ts';
import type { Diagnostic } from '../shared/diagnostics.ts';
import type { Logger } from '../shared/logger.ts';
import { silentLogger } from '../shared/logger.ts';
import type { StaticConfig } from '../config/schema.ts';
import { applyFlags, type CliFlags } from '../config/flags.ts';
import { defaultConfig, loadConfigResult } from '../config/load.ts';
import { entryPointsFromConfig } from '../model/entrypoints.ts';
import type { TranslateOptions } from '../model/translate/index.ts';
import type { Source } from '../sources/snapshot.ts';
import { FileSource } from '../sources/file/source.ts';
import { KubeClient, loadKubeConfig } from '../sources/kubernetes/client.ts';
import { KubernetesSource } from '../sources/kubernetes/source.ts';

/** The loaded configuration and the pieces built from it. */
export interface Context {
  readonly config: StaticConfig;
  readonly translate: TranslateOptions;
  /** Warnings about the config file (it loaded, but something deserves a look). */
  readonly warnings: readonly Diagnostic[];
}

/** Loads the config file (if any) and applies the command-line flags over it. */
export async function loadContext(flags: CliFlags): Promise<Context> {
  const loaded = flags.configFile === undefined ? { config: defaultConfig(), warnings: [] } : await loadConfigResult(flags.configFile);
  const config = applyFlags(loaded.config, flags);
  const translate: TranslateOptions = {
    entryPoints: entryPointsFromConfig(config),
    ingressClass: config.kubernetes.ingressClass,
    controllerName: config.kubernetes.controllerName,
    classAliases: config.kubernetes.classAliases,
    watchIngressWithoutClass: config.kubernetes.watchIngressWithoutClass,
  };
  return { config, translate, warnings: loaded.warnings };
}

/** The configured source of objects: the Kubernetes API when `[kubernetes] enabled`, else the file source. */
export function createSource(config: StaticConfig, watch: boolean, logger: Logger = silentLogger): Source {
  if (config.kubernetes.enabled) {
    const k = config.kubernetes;
    const client = new KubeClient(loadKubeConfig(k.kubeconfig === undefined ? {} : { kubeconfig: k.kubeconfig }));
    return new KubernetesSource({
      client,
      translate: {
        entryPoints: entryPointsFromConfig(config),
        ingressClass: k.ingressClass,
        controllerName: k.controllerName,
        classAliases: k.classAliases,
        watchIngressWithoutClass: k.watchIngressWithoutClass,
      },
      namespaces: k.namespaces,
      ...(k.labelSelector === undefined ? {} : { labelSelector: k.labelSelector }),
      ...(k.publishService === undefined ? {} : { publishService: k.publishService }),
      ...(k.publishAddress === undefined ? {} : { publishAddress: k.publishAddress }),
      leaderElection: k.leaderElection,
      leaseName: k.leaseName,
      ...(k.leaseNamespace === undefined ? {} : { leaseNamespace: k.leaseNamespace }),
      // client-go's proportions: renew deadline 2/3 of the lease, retry period 2/15 of it (15 s → 10 s, 2 s).
      leaseDurationMs: k.leaseDuration,
      renewDeadlineMs: Math.round((k.leaseDuration * 2) / 3),
      retryPeriodMs: Math.max(200, Math.round((k.leaseDuration * 2) / 15)),
      recordEvents: k.recordEvents,
      // check / render / run --dry-run read the cluster but never write to it.
      readOnly: !watch,
      logger,
    });
  }
  const directory = config.file.directory;
  if (directory === undefined) {
    throw new PassError('PASS_NO_SOURCE', 'no source of Ingress objects: set [file] directory = "DIR" in the config or pass --directory DIR', { field: 'file.directory' });
  }
  return new FileSource({ directory: path.resolve(directory), watch: watch && config.file.watch, logger });
}
