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

/** The configured source of objects: the file source (the Kubernetes source is not built yet). */
export function createSource(config: StaticConfig, watch: boolean, logger: Logger = silentLogger): Source {
  if (config.kubernetes.enabled) {
    throw new PassError('PASS_SOURCE_UNAVAILABLE', 'the Kubernetes source (--kubernetes, [kubernetes] enabled = true) is not implemented yet; use [file] directory = "..." for now', { field: 'kubernetes.enabled' });
  }
  const directory = config.file.directory;
  if (directory === undefined) {
    throw new PassError('PASS_NO_SOURCE', 'no source of Ingress objects: set [file] directory = "DIR" in the config or pass --directory DIR', { field: 'file.directory' });
  }
  return new FileSource({ directory: path.resolve(directory), watch: watch && config.file.watch, logger });
}
