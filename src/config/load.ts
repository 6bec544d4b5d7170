import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import type { Diagnostic } from '../shared/diagnostics.ts';
import { PassDiagnosticsError, PassError } from '../shared/errors.ts';
import type { ListenAddressConfig, StaticConfig } from './schema.ts';
import { configSchema, knownKeysAt, parseAcmeStorage, tryParseListenAddress } from './schema.ts';

/** Path of a key inside the document: table keys and array indexes. */
export type KeyPath = readonly (string | number)[];

const SEP = '\u0000';

/** Maps key paths to the 1-based line where each key (or table header, or array element) is written. */
export interface KeyLocator {
  /** The line of `path`, or of its nearest written ancestor; undefined if none is written. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/**
 * Builds a {@link KeyLocator} for a TOML text: `[table]` and `[[array]]` headers, dotted
 * and quoted keys, inline tables and multi-line arrays. smol-toml gives no positions.
 * Best effort: it never throws, and a text it cannot follow simply yields fewer lines.
 */
export function locateKeys(text: string): KeyLocator {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let i = 0;
  let line = 1;
  const n = text.length;
  const peek = (k = 0): string => text[i + k] ?? '';
  const advance = (): void => {
    if (text[i] === '\n') line++;
    i++;
  };
  const record = (p: KeyPath, at: number): void => {
    const k = p.join(SEP);
    if (!lines.has(k)) lines.set(k, at);
  };
  const skipSpaces = (): void => {
    while (peek() === ' ' || peek() === '\t') advance();
  };
  const skipComment = (): void => {
    if (peek() === '#') while (i < n && peek() !== '\n') advance();
  };
  // Inside arrays and inline tables, newlines and comments are white space.
  const skipBlank = (): void => {
    for (;;) {
      const c = peek();
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') advance();
      else if (c === '#') skipComment();
      else return;
    }
  };
  const readString = (): string => {
    const q = peek();
    const multi = peek(1) === q && peek(2) === q;
    let out = '';
    if (multi) {
      advance();
      advance();
      advance();
      while (i < n && !(peek() === q && peek(1) === q && peek(2) === q)) {
        if (q === '"' && peek() === '\\') {
          advance();
        }
        out += peek();
        advance();
      }
      advance();
      advance();
      advance();
      while (peek() === q) advance();
      return out;
    }
    advance();
    while (i < n && peek() !== q && peek() !== '\n') {
      if (q === '"' && peek() === '\\') {
        advance();
        const e = peek();
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        advance();
        continue;
      }
      out += peek();
      advance();
    }
    advance();
    return out;
  };
  const readKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipSpaces();
      const c = peek();
      if (c === '"' || c === "'") parts.push(readString());
      else {
        let bare = '';
        while (/[A-Za-z0-9_-]/.test(peek())) {
          bare += peek();
          advance();
        }
        if (bare === '') return parts;
        parts.push(bare);
      }
      skipSpaces();
      if (peek() !== '.') return parts;
      advance();
    }
  };
  // Header keys name tables; a segment that is an array of tables means its latest element.
  const resolveHeader = (key: readonly string[]): (string | number)[] => {
    const out: (string | number)[] = [];
    for (const seg of key) {
      out.push(seg);
      const count = arrayCounts.get(out.join(SEP));
      if (count !== undefined) out.push(count - 1);
    }
    return out;
  };
  const readValue = (p: KeyPath): void => {
    skipSpaces();
    const c = peek();
    if (c === '"' || c === "'") {
      readString();
    } else if (c === '[') {
      advance();
      let index = 0;
      for (;;) {
        skipBlank();
        if (i >= n) return;
        if (peek() === ']') {
          advance();
          return;
        }
        record([...p, index], line);
        readValue([...p, index]);
        index++;
        skipBlank();
        if (peek() === ',') advance();
      }
    } else if (c === '{') {
      advance();
      for (;;) {
        skipBlank();
        if (i >= n) return;
        if (peek() === '}') {
          advance();
          return;
        }
        const at = line;
        const key = readKey();
        if (key.length === 0) return;
        const full = [...p, ...key];
        for (let k = p.length + 1; k <= full.length; k++) record(full.slice(0, k), at);
        skipSpaces();
        if (peek() === '=') advance();
        readValue(full);
        skipBlank();
        if (peek() === ',') advance();
      }
    } else {
      while (i < n && !/[,\]}\n#]/.test(peek())) advance();
    }
  };

  try {
    let table: (string | number)[] = [];
    while (i < n) {
      skipBlank();
      if (i >= n) break;
      const at = line;
      if (peek() === '[') {
        const isArray = peek(1) === '[';
        advance();
        if (isArray) advance();
        const key = readKey();
        if (isArray) {
          const prefix = resolveHeader(key.slice(0, -1));
          const base = [...prefix, key[key.length - 1] ?? ''];
          const b = base.join(SEP);
          const count = (arrayCounts.get(b) ?? 0) + 1;
          arrayCounts.set(b, count);
          record(base, at);
          table = [...base, count - 1];
        } else {
          table = resolveHeader(key);
        }
        for (let k = 1; k <= table.length; k++) record(table.slice(0, k), at);
        while (i < n && peek() !== '\n') advance();
        continue;
      }
      const key = readKey();
      if (key.length === 0) {
        while (i < n && peek() !== '\n') advance();
        continue;
      }
      const full = [...table, ...key];
      for (let k = table.length + 1; k <= full.length; k++) record(full.slice(0, k), at);
      skipSpaces();
      if (peek() === '=') advance();
      readValue(full);
      skipSpaces();
      skipComment();
    }
  } catch {
    // Best effort only: the lines found so far are still useful.
  }

  return {
    lineOf(path: readonly PropertyKey[]): number | undefined {
      for (let k = path.length; k > 0; k--) {
        const found = lines.get(path.slice(0, k).map(String).join(SEP));
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}

/** Formats a key path as `entryPoints.https.auth.basic.users[0]` (quoting keys that are not bare). */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      const k = /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s);
      out += out === '' ? k : `.${k}`;
    }
  }
  return out;
}

/** The TOML name of a value's type, for messages. */
function tomlType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number' || typeof value === 'bigint') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (value instanceof Date) return 'a date-time';
  if (typeof value === 'object') return 'a table';
  return typeof value;
}

function expectedName(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'array':
      return 'an array';
    case 'object':
    case 'record':
      return 'a table';
    default:
      return expected;
  }
}

/** The closest known key, for a "did you mean" hint. */
function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    if (k.toLowerCase() === lower) return k;
    const d = distance(lower, k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let x = 1; x <= a.length; x++) {
    const cur = [x];
    for (let y = 1; y <= b.length; y++) {
      const cost = a[x - 1] === b[y - 1] ? 0 : 1;
      cur.push(Math.min((prev[y] ?? 0) + 1, (cur[y - 1] ?? 0) + 1, (prev[y - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** One diagnostic per problem zod found, with the file, line and key. */
function issueDiagnostics(issues: readonly z.core.$ZodIssue[], file: string, locator: KeyLocator): Diagnostic[] {
  const out: Diagnostic[] = [];
  const push = (code: string, message: string, path: readonly PropertyKey[]): void => {
    const line = locator.lineOf(path);
    out.push({
      severity: 'error',
      code,
      message,
      field: formatKeyPath(path),
      location: line === undefined ? { file } : { file, line },
    });
  };
  for (const issue of issues) {
    const path = issue.path;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const hint = suggest(key, knownKeysAt(path));
          push('PASS_CONFIG_UNKNOWN_KEY', `unknown key "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`, [...path, key]);
        }
        break;
      case 'invalid_type':
        if (issue.input === undefined) push('PASS_CONFIG_MISSING_KEY', `missing required key (${expectedName(issue.expected)})`, path);
        else push('PASS_CONFIG_BAD_TYPE', `expected ${expectedName(issue.expected)}, got ${tomlType(issue.input)}`, path);
        break;
      case 'invalid_value': {
        const got = typeof issue.input === 'string' ? `, got "${issue.input}"` : '';
        push('PASS_CONFIG_BAD_VALUE', `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`, path);
        break;
      }
      case 'invalid_union':
        push('PASS_CONFIG_BAD_TYPE', issue.message, path);
        break;
      case 'custom': {
        const passCode: unknown = issue.params?.['passCode'];
        push(typeof passCode === 'string' ? passCode : 'PASS_CONFIG_BAD_VALUE', issue.message, path);
        break;
      }
      default:
        push('PASS_CONFIG_BAD_VALUE', issue.message, path);
    }
  }
  // In file order, as a reader fixes them top to bottom (sort is stable).
  return out.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
}

/** A parsed configuration and the warnings found while reading it. */
export interface ConfigResult {
  readonly config: StaticConfig;
  readonly warnings: readonly Diagnostic[];
}

/** Retired ACME v1 directories and their v2 successors: the seed's file names the v1 staging one. */
const ACME_V1: Readonly<Record<string, string>> = {
  'https://acme-staging.api.letsencrypt.org/directory': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  'https://acme-v01.api.letsencrypt.org/directory': 'https://acme-v02.api.letsencrypt.org/directory',
};

type Mutable<T> = T extends readonly (infer E)[] ? Mutable<E>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
type MutableConfig = Mutable<StaticConfig>;

function overlaps(a: ListenAddressConfig, b: ListenAddressConfig): boolean {
  return a.port === b.port && (a.host === undefined || b.host === undefined || a.host === b.host);
}

/** Checks between keys (entry point references, ports) that the schema cannot see key by key. */
function crossCheck(config: MutableConfig, file: string, locator: KeyLocator): { errors: Diagnostic[]; warnings: Diagnostic[] } {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const at = (severity: 'error' | 'warning', code: string, message: string, path: readonly PropertyKey[]): void => {
    const line = locator.lineOf(path);
    (severity === 'error' ? errors : warnings).push({
      severity,
      code,
      message,
      field: formatKeyPath(path),
      location: line === undefined ? { file } : { file, line },
    });
  };
  const eps = config.entryPoints;
  const served = new Set(config.defaultEntryPoints);
  if (served.size === 0) at('error', 'PASS_CONFIG_NO_ENTRYPOINT', 'defaultEntryPoints is empty: nothing would be served', ['defaultEntryPoints']);
  config.defaultEntryPoints.forEach((name, i) => {
    if (!(name in eps)) at('error', 'PASS_CONFIG_UNKNOWN_ENTRYPOINT', `entry point "${name}" is not defined under [entryPoints]`, ['defaultEntryPoints', i]);
  });
  const listening: { name: string; address: ListenAddressConfig }[] = [];
  for (const name of Object.keys(eps).sort()) {
    const ep = eps[name];
    if (!ep) continue;
    if (!served.has(name)) {
      at('warning', 'PASS_CONFIG_UNUSED_ENTRYPOINT', `entry point "${name}" is not in defaultEntryPoints: it is not served`, ['entryPoints', name]);
      continue;
    }
    const address = tryParseListenAddress(ep.address);
    if (typeof address !== 'string') {
      const clash = listening.find((l) => overlaps(l.address, address));
      if (clash) {
        at('error', 'PASS_CONFIG_BAD_ADDRESS', `port ${address.port} is already used by entry point "${clash.name}"`, ['entryPoints', name, 'address']);
      }
      listening.push({ name, address });
    }
    if (ep.redirect) {
      const target = ep.redirect.entryPoint;
      const where = ['entryPoints', name, 'redirect', 'entryPoint'];
      if (target === name) at('error', 'PASS_CONFIG_BAD_REDIRECT', `entry point "${name}" redirects to itself`, where);
      else if (!(target in eps)) at('error', 'PASS_CONFIG_BAD_REDIRECT', `redirect to entry point "${target}", which is not defined`, where);
      else if (!served.has(target)) at('error', 'PASS_CONFIG_BAD_REDIRECT', `redirect to entry point "${target}", which is not in defaultEntryPoints`, where);
    }
  }
  if (config.web.enabled) {
    const address = tryParseListenAddress(config.web.address);
    if (typeof address !== 'string') {
      const clash = listening.find((l) => overlaps(l.address, address));
      if (clash) at('error', 'PASS_CONFIG_BAD_ADDRESS', `port ${address.port} is already used by entry point "${clash.name}"`, ['web', 'address']);
    }
  }
  const acme = config.acme;
  if (acme) {
    const ep = eps[acme.entryPoint];
    if (!ep || !served.has(acme.entryPoint)) {
      at('error', 'PASS_CONFIG_BAD_ACME', `acme.entryPoint "${acme.entryPoint}" is not a served entry point`, ['acme', 'entryPoint']);
    } else if (!ep.tls) {
      at('error', 'PASS_CONFIG_BAD_ACME', `acme.entryPoint "${acme.entryPoint}" has no [entryPoints.${acme.entryPoint}.tls]`, ['acme', 'entryPoint']);
    }
    if (acme.onDemand && config.proxy.mode !== 'native') {
      at('warning', 'PASS_CONFIG_ACME_ON_DEMAND', `acme.onDemand needs proxy.mode = "native" (a ${config.proxy.mode} handshake cannot wait for an order): it is ignored`, ['acme', 'onDemand']);
    }
    if (acme.challenge === 'tls-alpn-01' && config.proxy.mode !== 'native') {
      at('error', 'PASS_CONFIG_BAD_ACME', `acme.challenge = "tls-alpn-01" needs proxy.mode = "native" (the ${config.proxy.mode} proxy terminates TLS and cannot answer acme-tls/1 handshakes): use "http-01"`, ['acme', 'challenge']);
    }
    if (!acme.onDemand && acme.onDemandAsk !== undefined) {
      at('warning', 'PASS_CONFIG_ACME_ON_DEMAND', 'acme.onDemandAsk has no effect while acme.onDemand is false', ['acme', 'onDemandAsk']);
    }
    const v2 = ACME_V1[acme.caServer];
    if (v2 !== undefined) {
      at('warning', 'PASS_CONFIG_ACME_V1', `caServer is a retired ACME v1 directory; using its v2 successor ${v2}`, ['acme', 'caServer']);
      acme.caServer = v2;
    }
  }
  return { errors, warnings };
}

/** Resolves a path written in the file against the file's folder. */
function under(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

// Paths in the file are relative to the file, not to wherever the process was started.
function resolvePaths(config: MutableConfig, base: string): void {
  const { proxy, kubernetes, file, acme } = config;
  // A bare command name ("haproxy") is looked up on PATH; only something with a slash is a path.
  if (proxy.binary !== undefined && proxy.binary.includes('/')) proxy.binary = under(base, proxy.binary);
  proxy.workDir = under(base, proxy.workDir);
  if (proxy.templates !== undefined) proxy.templates = under(base, proxy.templates);
  if (proxy.masterSocket !== undefined) proxy.masterSocket = under(base, proxy.masterSocket);
  if (kubernetes.kubeconfig !== undefined) kubernetes.kubeconfig = under(base, kubernetes.kubeconfig);
  if (file.directory !== undefined) file.directory = under(base, file.directory);
  if (acme) {
    const storage = parseAcmeStorage(acme.storage);
    if (typeof storage !== 'string' && storage.kind === 'file') acme.storage = under(base, acme.storage);
    if (acme.caBundle !== undefined) acme.caBundle = under(base, acme.caBundle);
  }
  for (const ep of Object.values(config.entryPoints)) {
    for (const cert of ep.tls?.certificates ?? []) {
      cert.certFile = under(base, cert.certFile);
      cert.keyFile = under(base, cert.keyFile);
    }
  }
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
  const config = result.data as MutableConfig;
  const { errors, warnings } = crossCheck(config, file, locator);
  if (errors.length > 0) throw new PassDiagnosticsError('PASS_CONFIG_INVALID', `${file}: invalid configuration`, errors);
  resolvePaths(config, dirname(resolve(file)));
  return { config: deepFreeze(config as StaticConfig), warnings };
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
