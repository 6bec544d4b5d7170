/*
 * SIGHUP: the TOML configuration read again. What the controller can change live (the entry points:
 * addresses, TLS, redirects, basic auth, the default set) is applied with a new sync; every other
 * section keeps its running value until a restart, and a warning names the sections that changed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Controller } from '../controller/sync.ts';
import type { StaticConfig } from '../config/schema.ts';
import { loadConfigResult } from '../config/load.ts';
import { formatDiagnostic } from '../shared/diagnostics.ts';
import { PassDiagnosticsError, PassError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { applyFlags } from './flags.ts';
import type { CliFlags } from './flags.ts';
import { translateOptions } from './wire.ts';

/** The top-level keys a reload applies live; every other one needs a restart. */
export const LIVE_SECTIONS: ReadonlySet<keyof StaticConfig> = new Set<keyof StaticConfig>(['entryPoints', 'defaultEntryPoints']);

/** The top-level sections of `next` that differ from `running` and that only a restart applies, sorted. */
export function restartSections(running: StaticConfig, next: StaticConfig): string[] {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)] as (keyof StaticConfig)[]);
  return [...keys].filter((k) => !LIVE_SECTIONS.has(k) && !isDeepStrictEqual(running[k], next[k])).sort();
}

/**
 * `next` with every section that needs a restart taken from `running`: the configuration in effect
 * after a reload of `next`.
 */
export function liveConfig(running: StaticConfig, next: StaticConfig): StaticConfig {
  return { ...running, entryPoints: next.entryPoints, defaultEntryPoints: next.defaultEntryPoints };
}

/** What {@link reloadConfig} did. */
export type ReloadOutcome =
  | { readonly status: 'invalid' | 'no-file' }
  | { readonly status: 'applied' | 'unchanged'; readonly restart: readonly string[]; readonly config: StaticConfig };

/**
 * Reads the configuration file again (validated first) and applies its live part to `controller`.
 * `running` is the configuration in effect (see {@link liveConfig}); `started` the one the process
 * started with, which the sections needing a restart still follow. An invalid file is logged, one
 * line per problem naming file:line and key, and changes nothing.
 */
export async function reloadConfig(flags: CliFlags, started: StaticConfig, running: StaticConfig, controller: Controller, logger: Logger): Promise<ReloadOutcome> {
  const file = flags.configFile;
  if (file === undefined) {
    logger.warn({ signal: 'SIGHUP' }, 'SIGHUP: no configuration file was given (--configfile); nothing to reload');
    return { status: 'no-file' };
  }
  let next: StaticConfig;
  try {
    const loaded = await loadConfigResult(file);
    for (const w of loaded.warnings) logger.warn({ code: w.code, field: w.field, location: w.location }, formatDiagnostic(w));
    next = applyFlags(loaded.config, flags);
  } catch (err) {
    if (!(err instanceof PassError)) throw err;
    const diagnostics = err instanceof PassDiagnosticsError ? err.diagnostics : [];
    for (const d of diagnostics) logger.error({ code: d.code, field: d.field, location: d.location }, formatDiagnostic(d));
    logger.error({ code: err.code, file, signal: 'SIGHUP' }, `SIGHUP: ${file} is not a valid configuration; the running configuration is kept${diagnostics.length === 0 ? `: ${err.message}` : ''}`);
    return { status: 'invalid' };
  }
  const restart = restartSections(started, next);
  if (restart.length > 0) {
    logger.warn({ sections: restart, file, signal: 'SIGHUP' }, `SIGHUP: changed section(s) ${restart.map((s) => `[${s}]`).join(', ')} need a restart; they keep their running values`);
  }
  const live = liveConfig(running, next);
  if (isDeepStrictEqual(live, running)) {
    logger.info({ file, signal: 'SIGHUP' }, 'SIGHUP: configuration reloaded; no live change');
    return { status: 'unchanged', restart, config: running };
  }
  controller.setTranslate(translateOptions(live));
  logger.info({ file, signal: 'SIGHUP', entryPoints: live.defaultEntryPoints }, 'SIGHUP: configuration reloaded; the entry points are applied');
  return { status: 'applied', restart, config: live };
}
