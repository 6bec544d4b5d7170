/*
 * The runtime API commands of a change whose structure is unchanged, built as typed values from
 * what the rendering validated. They are sent without `haproxy -c`: each argument is checked here
 * against the grammar HAProxy's CLI reads (one word, or a payload that cannot end early), and a
 * change that does not fit is declined as a whole, before anything is sent (it is then reloaded,
 * after validation).
 */
import path from 'node:path';
import { isIntIn, isIPv4Literal, isIPv6Literal, isSafePath } from '../../render/quote.ts';
import { canName, canMapText, canMapWord, sniFilter } from '../../render/haproxy/quote.ts';
import type { HaproxyBuild } from '../../render/haproxy/index.ts';

/** One server slot change: a backend and server name, and the address, weight and state it gets. */
export interface ServerCommand {
  readonly server: string;
  readonly set: { readonly kind: 'addr'; readonly host: string; readonly port: number } | { readonly kind: 'weight'; readonly weight: number } | { readonly kind: 'state'; readonly state: 'ready' | 'maint' };
}

/** The certificate changes: crt-list entries out, certificates created or replaced, entries in. */
export interface CertificatePlan {
  readonly crtList: string;
  readonly removeEntries: readonly { readonly file: string; readonly deleteCert: boolean }[];
  readonly store: readonly { readonly file: string; readonly id: string; readonly pem: string; readonly isNew: boolean }[];
  readonly addEntries: readonly { readonly file: string; readonly snis: readonly string[] }[];
}

/** Everything a runtime apply sends, in order. */
export interface RuntimePlan {
  readonly ups: readonly ServerCommand[];
  readonly downs: readonly ServerCommand[];
  readonly certs: CertificatePlan | undefined;
}

/** Writes a server command as the CLI reads it. */
export function serverCommandText(c: ServerCommand): string {
  const s = c.set;
  if (s.kind === 'addr') return `set server ${c.server} addr ${s.host} port ${s.port}`;
  if (s.kind === 'weight') return `set weight ${c.server} ${s.weight}`;
  return `set server ${c.server} state ${s.state}`;
}

/** A PEM payload line: base64, a BEGIN/END armour line, or an RFC 1421 header; never empty (an empty line ends a CLI payload). */
const PEM_LINE = /^(?:[A-Za-z0-9+/=]{1,128}|-----(?:BEGIN|END) [A-Z0-9 ]{1,64}-----|[A-Za-z-]{1,32}: [\x21-\x7e][\x20-\x7e]{0,127})$/;

/** Whether a PEM bundle can be sent as a `set ssl cert` payload as it is. */
export function canPemPayload(pem: string): boolean {
  const lines = pem.trimEnd().split('\n');
  return lines.length >= 3 && lines.every((l) => PEM_LINE.test(l));
}

/** Whether a map file's lines can be sent as an `add map` payload (what {@link mapWord} and {@link mapText} write: `key value`). */
export function canMapPayload(content: string): boolean {
  return content
    .split('\n')
    .filter((l) => l !== '')
    .every((l) => {
      const i = l.indexOf(' ');
      return i > 0 && canMapWord(l.slice(0, i)) && (canMapWord(l.slice(i + 1)) || canMapText(l.slice(i + 1)));
    });
}

/** One entry change of a loaded map, as a CLI command: `set map`, `add map` or `del map`. */
export type MapEdit = { readonly op: 'set' | 'add'; readonly key: string; readonly value: string } | { readonly op: 'del'; readonly key: string };

/** A map file's `key value` lines as a Map, or undefined when a key repeats or a line is not two CLI words. */
function mapEntries(content: string): Map<string, string> | undefined {
  const entries = new Map<string, string>();
  for (const line of content.split('\n')) {
    if (line === '') continue;
    const i = line.indexOf(' ');
    const key = line.slice(0, i);
    const value = line.slice(i + 1);
    if (i <= 0 || entries.has(key) || !canMapWord(key) || !canMapWord(value)) return undefined;
    entries.set(key, value);
  }
  return entries;
}

/**
 * The entry edits that turn one map's contents into another's, or undefined when they are more than
 * `limit` (or not all map words): the caller replaces the whole map then. Sets and adds come before
 * deletions, and `isEntry` keys (the routing map's hosts, which lead to the other keys) are set after
 * and deleted before the rest, so that a request between two edits gets the answer of either the old
 * or the new contents: every new key exists before an entry leads to it, every old one until none does.
 */
export function mapEdits(before: string, after: string, limit: number, isEntry: (key: string) => boolean = () => false): MapEdit[] | undefined {
  const a = mapEntries(before);
  const b = mapEntries(after);
  if (a === undefined || b === undefined) return undefined;
  const writes: MapEdit[] = [];
  const dels: MapEdit[] = [];
  for (const [key, value] of b) {
    const old = a.get(key);
    if (old !== value) writes.push(old === undefined ? { op: 'add', key, value } : { op: 'set', key, value });
    if (writes.length > limit) return undefined;
  }
  for (const key of a.keys()) {
    if (!b.has(key)) dels.push({ op: 'del', key });
    if (writes.length + dels.length > limit) return undefined;
  }
  const entriesLast = (x: MapEdit, y: MapEdit): number => Number(isEntry(x.key)) - Number(isEntry(y.key));
  return [...writes.sort(entriesLast), ...dels.sort((x, y) => -entriesLast(x, y))];
}

/** A map word as one CLI argument: `;` separates commands unless escaped (a map word has no space or backslash). */
const cliWord = (word: string): string => word.replaceAll(';', '\\;');

/** The CLI command of a map edit on the map loaded from `mapFile`. */
export function mapEditText(mapFile: string, e: MapEdit): string {
  return e.op === 'del' ? `del map ${mapFile} ${cliWord(e.key)}` : `${e.op} map ${mapFile} ${cliWord(e.key)} ${cliWord(e.value)}`;
}

/** Whether an absolute file path can be one word of a CLI command. */
function canPathWord(p: string): boolean {
  return isSafePath(p) && /^[\x21-\x7e]+$/.test(p);
}

/** The sorted crt-list SNI filters, each through the grammar the crt-list file is written with, or undefined. */
function sniWords(snis: readonly string[]): string[] | undefined {
  try {
    return snis.map(sniFilter);
  } catch {
    return undefined;
  }
}

/**
 * The servers' commands between two builds: endpoints that come first, then those that go (a
 * backend never has no server in between). Undefined when a slot change cannot be sent typed
 * (slots reallocated, an address that is not an IP literal, a weight out of range).
 */
function serverPlan(a: HaproxyBuild, b: HaproxyBuild): Pick<RuntimePlan, 'ups' | 'downs'> | undefined {
  const old = new Map(a.view.backends.map((x) => [x.name, x]));
  const ups: ServerCommand[] = [];
  const downs: ServerCommand[] = [];
  for (const be of b.view.backends) {
    const prev = old.get(be.name);
    if (prev === undefined || prev.servers.length !== be.servers.length || be.compacted) return undefined;
    for (const [i, s] of be.servers.entries()) {
      const p = prev.servers[i];
      if (p !== undefined && p.host === s.host && p.port === s.port && p.weight === s.weight && p.disabled === s.disabled) continue;
      const server = `${be.name}/${s.name}`;
      if (!canName(be.name) || !canName(s.name)) return undefined;
      if (s.disabled) {
        downs.push({ server, set: { kind: 'state', state: 'maint' } });
        continue;
      }
      // `set server addr` takes an IP literal only; a host name is left to a reload (resolved at start).
      if (!(isIPv4Literal(s.host) || isIPv6Literal(s.host)) || !isIntIn(s.port, 1, 65535) || !isIntIn(s.weight, 0, 256)) return undefined;
      if (p?.host !== s.host || p.port !== s.port) ups.push({ server, set: { kind: 'addr', host: s.host, port: s.port } });
      ups.push({ server, set: { kind: 'weight', weight: s.weight } }, { server, set: { kind: 'state', state: 'ready' } });
    }
  }
  return { ups, downs };
}

/** The certificate changes between two builds, or undefined when one cannot be sent typed. */
function certificatePlan(workDir: string, a: HaproxyBuild, b: HaproxyBuild): CertificatePlan | undefined {
  const crtList = b.view.files.crtList;
  const abs = (rel: string): string => path.join(workDir, rel);
  const entry = (c: { snis: readonly string[] }): string => c.snis.join(' ');
  const before = new Map(a.crtList.map((c) => [c.file, entry(c)]));
  const after = new Map(b.crtList.map((c) => [c.file, entry(c)]));
  const oldPem = new Map(a.certs.map((c) => [c.path, c.pem]));
  if (!canPathWord(crtList)) return undefined;
  const removeEntries: { file: string; deleteCert: boolean }[] = [];
  for (const [file, snis] of before) {
    if (after.get(file) === snis) continue;
    if (!canPathWord(abs(file))) return undefined;
    removeEntries.push({ file: abs(file), deleteCert: !after.has(file) });
  }
  const store: { file: string; id: string; pem: string; isNew: boolean }[] = [];
  for (const c of b.certs) {
    const known = oldPem.get(c.path);
    if (known === c.pem) continue;
    if (!canPathWord(abs(c.path)) || !canPemPayload(c.pem)) return undefined;
    store.push({ file: abs(c.path), id: c.id, pem: c.pem.trimEnd(), isNew: known === undefined });
  }
  const addEntries: { file: string; snis: string[] }[] = [];
  for (const c of b.crtList) {
    if (before.get(c.file) === entry(c)) continue;
    const snis = sniWords(c.snis);
    if (snis === undefined || snis.length === 0 || !canPathWord(abs(c.file))) return undefined;
    addEntries.push({ file: abs(c.file), snis });
  }
  return { crtList, removeEntries, store, addEntries };
}

/**
 * What a runtime apply from build `a` to build `b` sends, or undefined when part of it cannot be
 * sent as typed commands (the change is then validated and reloaded). `maps` are the runtime maps'
 * new contents that changed; each must be lines of map words.
 */
export function planRuntime(workDir: string, a: HaproxyBuild, b: HaproxyBuild, maps: readonly string[]): RuntimePlan | undefined {
  const servers = serverPlan(a, b);
  if (servers === undefined) return undefined;
  if (!maps.every(canMapPayload)) return undefined;
  let certs: CertificatePlan | undefined;
  if (b.view.hasTls) {
    certs = certificatePlan(workDir, a, b);
    if (certs === undefined) return undefined;
  }
  return { ...servers, certs };
}
