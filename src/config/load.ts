import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { PassDiagnosticsError, PassError } from '../shared/errors.ts';
import { crossCheck } from './checks.ts';
import { locateKeys } from './locate.ts';
import { issueDiagnostics } from './messages.ts';
import { resolvePaths } from './paths.ts';
import type { StaticConfig } from './schema.ts';
import { configSchema } from './schema.ts';

/** A parsed configuration and the warnings found while reading it. */
export interface ConfigResult {
  readonly config: StaticConfig;
  readonly warnings: readonly Diagnostic[];
}

/** Freezes a value and everything it holds. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Parses and validates a TOML configuration text, keeping the warnings.
 * `file` names the text in diagnostics and is the folder relative paths are resolved against.
 * @throws PassDiagnosticsError PASS_CONFIG_INVALID with one diagnostic per problem.
 */
export function parseConfigResult(text: string, file: string): ConfigResult {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const message = (err.message.split('\n')[0] ?? err.message).replace(/^Invalid TOML document: /, '');
      const diag: Diagnostic = {
        severity: 'error',
        code: 'PASS_CONFIG_PARSE',
        message: `${message} (column ${err.column})`,
        location: { file, line: err.line },
      };
      throw new PassDiagnosticsError('PASS_CONFIG_INVALID', `${file}: invalid configuration`, [diag]);
    }
    throw err;
  }
  const locator = locateKeys(text);
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new PassDiagnosticsError('PASS_CONFIG_INVALID', `${file}: invalid configuration`, issueDiagnostics(result.error.issues, file, locator));
  }
  const checked = crossCheck(result.data, file, locator);
  if (checked.errors.length > 0) throw new PassDiagnosticsError('PASS_CONFIG_INVALID', `${file}: invalid configuration`, checked.errors);
  return { config: deepFreeze(resolvePaths(checked.config, dirname(resolve(file)))), warnings: checked.warnings };
}

/**
 * Parses and validates a TOML configuration text (see {@link parseConfigResult}).
 * @throws PassDiagnosticsError PASS_CONFIG_INVALID with one diagnostic per problem.
 */
export function parseConfig(text: string, file: string): StaticConfig {
  return parseConfigResult(text, file).config;
}

/** Reads, parses and validates a configuration file, keeping the warnings. */
export async function loadConfigResult(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new PassError('PASS_CONFIG_READ', `cannot read configuration file ${path}: ${reason}`, { location: { file: path }, cause: err });
  }
  return parseConfigResult(text, path);
}

/**
 * Reads, parses and validates a configuration file.
 * @throws PassError PASS_CONFIG_READ when unreadable, PassDiagnosticsError PASS_CONFIG_INVALID when invalid.
 */
export async function loadConfigFile(path: string): Promise<StaticConfig> {
  return (await loadConfigResult(path)).config;
}

/**
 * The configuration of an empty file: every default. Relative default paths
 * (proxy.workDir) are resolved against `baseDir`, the current directory by default.
 */
export function defaultConfig(baseDir: string = process.cwd()): StaticConfig {
  return parseConfig('', resolve(baseDir, 'passerelle.toml'));
}
