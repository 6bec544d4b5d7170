import { resolve } from 'node:path';
import { closest as closestWord } from '../shared/closest.ts';
import { PassError } from '../shared/errors.ts';
import { defined } from '../shared/optional.ts';
import { deepFreeze } from '../config/load.ts';
import type { LogLevel, ProxyMode, StaticConfig } from '../config/schema.ts';
import { LOG_LEVELS, PROXY_MODES } from '../config/schema.ts';

/** Every command-line option, parsed; the CLI only dispatches on `command`. */
export interface CliFlags {
  /** First positional argument (`run`, `check`, `render`, `explain`); undefined when none. */
  readonly command: string | undefined;
  /** Positional arguments after the command (e.g. the URL of `explain`). */
  readonly positionals: readonly string[];
  /** `--configfile=PATH` / `--config PATH`. */
  readonly configFile?: string;
  /** `--kubernetes`: sets kubernetes.enabled. */
  readonly kubernetes?: true;
  /** `--web`: sets web.enabled. */
  readonly web?: true;
  /** `--logLevel=DEBUG` (case-insensitive). */
  readonly logLevel?: LogLevel;
  /** `--log.format=text|json`: sets log.format. */
  readonly logFormat?: 'text' | 'json';
  /** `--proxy native|haproxy|nginx`: sets proxy.mode. */
  readonly proxy?: ProxyMode;
  /** `--file.directory=DIR` / `--directory DIR`: sets file.directory. */
  readonly fileDirectory?: string;
  readonly dryRun: boolean;
  readonly output: 'text' | 'json';
  /** `--method GET` for `explain`. */
  readonly method?: string;
  /** `--header K:V` (repeatable) for `explain`, in order. */
  readonly headers: readonly (readonly [string, string])[];
  readonly diff: boolean;
  readonly help: boolean;
  readonly version: boolean;
  /** `--entrypoint NAME` for `explain`: the entry point the request arrives on. */
  readonly entryPoint?: string;
}

type Kind = 'boolean' | 'value';

/** Option spellings → canonical name; Traefik 1.x spellings of the seed's Deployment included. */
const OPTIONS: Readonly<Record<string, { name: string; kind: Kind }>> = {
  '--configfile': { name: 'configFile', kind: 'value' },
  '--configFile': { name: 'configFile', kind: 'value' },
  '--config': { name: 'configFile', kind: 'value' },
  '--kubernetes': { name: 'kubernetes', kind: 'boolean' },
  '--web': { name: 'web', kind: 'boolean' },
  '--logLevel': { name: 'logLevel', kind: 'value' },
  '--loglevel': { name: 'logLevel', kind: 'value' },
  '--log-level': { name: 'logLevel', kind: 'value' },
  '--log.format': { name: 'logFormat', kind: 'value' },
  '--proxy': { name: 'proxy', kind: 'value' },
  '--file.directory': { name: 'fileDirectory', kind: 'value' },
  '--directory': { name: 'fileDirectory', kind: 'value' },
  '--dry-run': { name: 'dryRun', kind: 'boolean' },
  '--output': { name: 'output', kind: 'value' },
  '-o': { name: 'output', kind: 'value' },
  '--method': { name: 'method', kind: 'value' },
  '-X': { name: 'method', kind: 'value' },
  '--header': { name: 'header', kind: 'value' },
  '-H': { name: 'header', kind: 'value' },
  '--diff': { name: 'diff', kind: 'boolean' },
  '--help': { name: 'help', kind: 'boolean' },
  '-h': { name: 'help', kind: 'boolean' },
  '--version': { name: 'version', kind: 'boolean' },
  '-v': { name: 'version', kind: 'boolean' },
  '--entrypoint': { name: 'entryPoint', kind: 'value' },
  '--entryPoint': { name: 'entryPoint', kind: 'value' },
};

/** Every option spelling, for `--help` and the "did you mean" of an unknown one. */
export const OPTION_NAMES: readonly string[] = Object.keys(OPTIONS);

/** The known word closest to `word` (case-insensitive, at most 2 edits or a prefix of it), for a "did you mean" hint. */
export function closest(word: string, known: readonly string[]): string | undefined {
  return closestWord(word, known, { prefix: true });
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const v = value.toLowerCase();
  const found = allowed.find((a) => a === v);
  if (found === undefined) {
    throw new PassError('PASS_FLAG_BAD_VALUE', `${flag}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, { field: flag });
  }
  return found;
}

/**
 * Parses the command line (without `node` and the script): options in `--k=v` or
 * `--k v` form, anywhere among positionals; `--` ends the options.
 * @throws PassError PASS_FLAG_UNKNOWN, PASS_FLAG_MISSING_VALUE, PASS_FLAG_BAD_VALUE.
 */
export function parseFlags(argv: readonly string[]): CliFlags {
  const positionals: string[] = [];
  const headers: [string, string][] = [];
  let configFile: string | undefined;
  let kubernetes: true | undefined;
  let web: true | undefined;
  let logLevel: LogLevel | undefined;
  let logFormat: 'text' | 'json' | undefined;
  let proxy: ProxyMode | undefined;
  let fileDirectory: string | undefined;
  let method: string | undefined;
  let output: 'text' | 'json' = 'text';
  let dryRun = false;
  let diff = false;
  let help = false;
  let version = false;
  let entryPoint: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const option = OPTIONS[flag];
    if (option === undefined) {
      const hint = flag.startsWith('--') || flag.length === 2 ? closest(flag, OPTION_NAMES) : undefined;
      throw new PassError('PASS_FLAG_UNKNOWN', `unknown option ${flag}${hint === undefined ? '' : `; did you mean ${hint}?`} (passerelle --help lists the options)`, { field: flag });
    }
    let value: string | undefined;
    if (option.kind === 'boolean') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1).toLowerCase();
        // `--web=true` is accepted for Traefik compatibility; turning a default off is done in the file.
        if (v !== 'true') throw new PassError('PASS_FLAG_BAD_VALUE', `${flag} takes no value (or "=true"), got ${JSON.stringify(arg.slice(eq + 1))}`, { field: flag });
      }
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) {
        throw new PassError('PASS_FLAG_MISSING_VALUE', `${flag} needs a value`, { field: flag });
      }
      value = next;
      i++;
    }
    const v = value ?? '';
    if (option.kind === 'value' && v === '') throw new PassError('PASS_FLAG_MISSING_VALUE', `${flag} needs a value`, { field: flag });
    switch (option.name) {
      case 'configFile':
        configFile = v;
        break;
      case 'kubernetes':
        kubernetes = true;
        break;
      case 'web':
        web = true;
        break;
      case 'logLevel':
        logLevel = oneOf(flag, v.toLowerCase() === 'warning' ? 'warn' : v, LOG_LEVELS);
        break;
      case 'logFormat':
        logFormat = oneOf(flag, v, ['text', 'json'] as const);
        break;
      case 'proxy':
        proxy = oneOf(flag, v, PROXY_MODES);
        break;
      case 'fileDirectory':
        fileDirectory = v;
        break;
      case 'dryRun':
        dryRun = true;
        break;
      case 'output':
        output = oneOf(flag, v, ['text', 'json'] as const);
        break;
      case 'method':
        if (!/^[A-Za-z]+$/.test(v)) throw new PassError('PASS_FLAG_BAD_VALUE', `${flag}: ${JSON.stringify(v)} is not an HTTP method`, { field: flag });
        method = v.toUpperCase();
        break;
      case 'header': {
        const colon = v.indexOf(':');
        const name = colon < 0 ? '' : v.slice(0, colon).trim();
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
          throw new PassError('PASS_FLAG_BAD_VALUE', `${flag}: expected "Name: value", got ${JSON.stringify(v)}`, { field: flag });
        }
        headers.push([name, v.slice(colon + 1).trim()]);
        break;
      }
      case 'diff':
        diff = true;
        break;
      case 'help':
        help = true;
        break;
      case 'version':
        version = true;
        break;
      case 'entryPoint':
        entryPoint = v;
        break;
    }
  }

  const [command, ...rest] = positionals;
  return {
    command,
    positionals: rest,
    ...defined({ configFile, kubernetes, web, logLevel, logFormat, proxy, fileDirectory, method, entryPoint }),
    dryRun,
    output,
    headers,
    diff,
    help,
    version,
  };
}

/**
 * Returns a new frozen config with the flags applied: flags override the file.
 * `--directory` is resolved against the current directory (it was typed in a shell).
 */
export function applyFlags(config: StaticConfig, flags: CliFlags): StaticConfig {
  return deepFreeze({
    ...config,
    ...defined({ logLevel: flags.logLevel }),
    log: flags.logFormat === undefined ? config.log : { ...config.log, format: flags.logFormat },
    kubernetes: flags.kubernetes ? { ...config.kubernetes, enabled: true } : config.kubernetes,
    web: flags.web ? { ...config.web, enabled: true } : config.web,
    proxy: flags.proxy === undefined ? config.proxy : { ...config.proxy, mode: flags.proxy },
    file: flags.fileDirectory === undefined ? config.file : { ...config.file, directory: resolve(flags.fileDirectory) },
  });
}
