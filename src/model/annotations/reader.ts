/*
 * The machinery both dialects share: the shape of a catalogue entry, the policy slots an annotation
 * fills, and DialectReader, which reads values through grammars and keeps one finding per annotation.
 * Pure.
 */

import type { PassCode } from '../../shared/codes.ts';
import type { CorsPolicy, ExternalAuthPolicy, HstsPolicy, PolicyKey, RewritePolicy, SslRedirectPolicy, UpstreamPolicy, UrlRedirectPolicy } from '../policy.ts';
import { show } from './grammar.ts';
import type { Grammar } from './grammar.ts';
import type { AnnotationFinding, Dialect, FindingStatus, PolicyRefs } from './types.ts';

/** What the catalogue says of one annotation: what it feeds, its usual status, the report's note. */
export interface CatalogueEntry {
  /** The policy it feeds. */
  readonly policy?: PolicyKey;
  /** The reference of the result it feeds, when translate resolves it (a Secret, a canary, ...). */
  readonly ref?: keyof PolicyRefs;
  /** Its status when its value is good; a finding may still say otherwise (a value not supported, ...). */
  readonly status: 'applied' | 'different' | 'unsupported' | 'refused';
  /** One sentence for the migration report and docs/annotations.md. */
  readonly note: string;
  /** A value that reads well (applied and different entries), for the docs and the tests. */
  readonly example?: string;
  /** Traefik 1: the older label read when neither annotation form is set (`traefik.frontend.priority`). */
  readonly compat?: string;
}

/** A dialect's table: annotation name (after the prefix) → entry. */
export type Catalogue<N extends string> = Readonly<Record<N, CatalogueEntry>>;

/** `rewrite`: a policy, or a regex target whose pattern is each path (translate builds the policy). */
export type RewriteSlot = { readonly kind: 'policy'; readonly rewrite: RewritePolicy } | { readonly kind: 'regex'; readonly target: string };

/** One slot per value an annotation can decide; both dialects fill the same slots. */
export interface SlotTypes {
  readonly sslRedirect: SslRedirectPolicy;
  readonly redirect: UrlRedirectPolicy;
  readonly appRoot: string;
  readonly wwwRedirect: true;
  readonly rewrite: RewriteSlot;
  readonly regexPaths: true;
  readonly allowSourceRange: readonly string[];
  readonly authSecret: NonNullable<PolicyRefs['authSecret']>;
  readonly externalAuth: ExternalAuthPolicy;
  readonly maxBodyBytes: number;
  readonly rps: number;
  readonly connections: number;
  readonly connectTimeout: number;
  readonly sendTimeout: number;
  readonly readTimeout: number;
  readonly protocol: NonNullable<UpstreamPolicy['protocol']>;
  readonly vhost: string;
  readonly loadBalance: NonNullable<UpstreamPolicy['loadBalance']>;
  readonly tries: number;
  readonly affinity: NonNullable<UpstreamPolicy['affinity']>;
  readonly cors: CorsPolicy;
  readonly hsts: HstsPolicy;
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly responseHeaders: Readonly<Record<string, string>>;
  readonly canary: NonNullable<PolicyRefs['canary']>;
  readonly serviceWeights: Readonly<Record<string, number>>;
  readonly customHeaders: NonNullable<PolicyRefs['customHeaders']>;
  readonly priority: number;
}

/** A slot name. */
export type SlotKey = keyof SlotTypes;

/** A decided value: `null` is an explicit "off" (`ssl-redirect: "false"`), which also wins conflicts. */
export interface Slot<T> {
  readonly value: T | null;
  /** The annotations (full names) that decided it. */
  readonly members: readonly string[];
  /** A default (ingress-nginx's `ssl-redirect` with TLS), not an annotation: any annotation overrides it. */
  readonly fallback: boolean;
}

/** The slots one dialect decided. */
export type Slots = { -readonly [K in SlotKey]?: Slot<SlotTypes[K]> };

/** A value read from an annotation: absent, refused by its grammar (finding recorded), or read. */
export type Read<T> = { readonly state: 'absent' } | { readonly state: 'bad' } | { readonly state: 'ok'; readonly value: T };

/** An annotation of the Ingress: its full name and value. */
export interface Present {
  readonly annotation: string;
  readonly value: string;
}

/** Deep equality of plain data (strings, numbers, booleans, null, arrays, records). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ra = a as Readonly<Record<string, unknown>>;
  const rb = b as Readonly<Record<string, unknown>>;
  const ka = Object.keys(ra).sort();
  const kb = Object.keys(rb).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameValue(ra[k], rb[k]));
}

/** The finding of a catalogued annotation nothing else was said about: its catalogue status (a problem's note names the annotation). */
export function catalogueFinding(annotation: string, dialect: Dialect, entry: CatalogueEntry): AnnotationFinding {
  const code: PassCode | undefined =
    entry.status === 'unsupported' ? 'PASS_ANNOTATION_UNSUPPORTED' : entry.status === 'refused' ? 'PASS_ANNOTATION_SNIPPET' : undefined;
  const note = code === undefined ? entry.note : `${annotation}: ${entry.note}`;
  return { annotation, dialect, status: entry.status, note, ...(entry.policy === undefined ? {} : { policy: entry.policy }), ...(code === undefined ? {} : { code }) };
}

/**
 * Reads the annotations of one dialect: values through grammars, policy slots, and exactly one
 * finding per present annotation. A finding with a code (a problem) is never replaced by one without.
 */
export class DialectReader<N extends string> {
  readonly #findings = new Map<N, AnnotationFinding>();
  readonly #slots: Slots = {};
  readonly dialect: Dialect;
  readonly catalogue: Catalogue<N>;
  /** The catalogued annotations of the Ingress by name (for Traefik, the form Traefik 1 reads first). */
  readonly present: ReadonlyMap<N, Present>;

  /**
   * @param dialect the dialect read
   * @param catalogue its table
   * @param present the catalogued annotations of the Ingress by name
   */
  constructor(dialect: Dialect, catalogue: Catalogue<N>, present: ReadonlyMap<N, Present>) {
    this.dialect = dialect;
    this.catalogue = catalogue;
    this.present = present;
  }

  /** Whether the Ingress sets this annotation. */
  has(name: N): boolean {
    return this.present.has(name);
  }

  /** The value as written, when set. */
  raw(name: N): string | undefined {
    return this.present.get(name)?.value;
  }

  /** Reads a value through its grammar; a refused value gets an `invalid` finding. */
  read<T>(name: N, grammar: Grammar<T>): Read<T> {
    const p = this.present.get(name);
    if (p === undefined) return { state: 'absent' };
    const r = grammar(p.value);
    if (r.ok) return { state: 'ok', value: r.value };
    this.invalid(name, r.problem);
    return { state: 'bad' };
  }

  #put(name: N, status: FindingStatus, note: string, code?: PassCode): void {
    const p = this.present.get(name);
    const before = this.#findings.get(name);
    if (p === undefined || before?.code !== undefined) return;
    const policy = this.catalogue[name].policy;
    this.#findings.set(name, { annotation: p.annotation, dialect: this.dialect, status, note, ...(policy === undefined ? {} : { policy }), ...(code === undefined ? {} : { code }) });
  }

  /** Read and applied (or `different`), with a note other than the catalogue's. */
  noted(name: N, status: 'applied' | 'different', note: string): void {
    this.#put(name, status, note);
  }

  /** The value fails its grammar: `problem` follows the shown value. */
  invalid(name: N, problem: string): void {
    const p = this.present.get(name);
    if (p !== undefined) this.#put(name, 'invalid', `${p.annotation}: ${show(p.value)} ${problem}`, 'PASS_ANNOTATION_INVALID');
  }

  /** A good value whose policy cannot be set because a companion is missing or refused. */
  incomplete(name: N, reason: string): void {
    const p = this.present.get(name);
    if (p !== undefined) this.#put(name, 'invalid', `${p.annotation}: not applied: ${reason}`, 'PASS_ANNOTATION_INCOMPLETE');
  }

  /** A good value that has no effect here (as in its controller); nothing is set. */
  ignored(name: N, reason: string): void {
    const p = this.present.get(name);
    if (p !== undefined) this.#put(name, 'applied', `${p.annotation}: no effect: ${reason}`, 'PASS_ANNOTATION_IGNORED');
  }

  /** A name or value Passerelle does not implement. */
  unsupported(name: N, note: string): void {
    const p = this.present.get(name);
    if (p !== undefined) this.#put(name, 'unsupported', `${p.annotation}: ${note}`, 'PASS_ANNOTATION_UNSUPPORTED');
  }

  /** Another annotation decides the same value differently and is kept. */
  conflict(name: N, note: string): void {
    const p = this.present.get(name);
    if (p !== undefined) this.#put(name, 'conflict', `${p.annotation}: ${note}`, 'PASS_ANNOTATION_CONFLICT');
  }

  /**
   * Checks the values of annotations that only work together: when one was refused by its grammar,
   * every other one present gets `incomplete` naming it.
   *
   * @param reads the annotations of the group and what reading them gave
   * @returns true when none was refused
   */
  together(reads: readonly (readonly [N, Read<unknown>])[]): boolean {
    const refused = reads.find(([, read]) => read.state === 'bad');
    if (refused === undefined) return true;
    for (const [name, read] of reads) if (read.state === 'ok') this.incomplete(name, `${refused[0]} is invalid`);
    return false;
  }

  /** Gives `ignored` with this reason to each of these annotations that is present. */
  ignoreAll(names: readonly N[], reason: string): void {
    for (const name of names) this.ignored(name, reason);
  }

  /**
   * Decides a slot. When an earlier annotation of this dialect already decided it with another value,
   * the earlier one is kept and these members get a `conflict` finding.
   *
   * @param key the slot
   * @param value the value, or null for an explicit "off"
   * @param members the annotations that decided it (absent ones are left out)
   * @param fallback a default rather than an annotation
   */
  set<K extends SlotKey>(key: K, value: SlotTypes[K] | null, members: readonly N[], fallback = false): void {
    const names = members.filter((m) => this.present.has(m));
    const full = names.map((m) => this.present.get(m)?.annotation ?? m);
    const before = this.#slots[key] as Slot<SlotTypes[K]> | undefined;
    if (before !== undefined && !before.fallback) {
      if (sameValue(before.value, value)) {
        this.#slots[key] = { ...before, members: [...before.members, ...full] } as Slots[K];
        return;
      }
      for (const n of names) this.conflict(n, `decides the same as ${before.members.join(', ')} with another value; that one is kept`);
      return;
    }
    this.#slots[key] = { value, members: full, fallback } as Slots[K];
  }

  /** The slots decided. */
  slots(): Slots {
    return this.#slots;
  }

  /** One finding per present annotation: those recorded, else the catalogue's. */
  findings(): Map<string, AnnotationFinding> {
    const out = new Map<string, AnnotationFinding>();
    for (const [name, p] of this.present) out.set(p.annotation, this.#findings.get(name) ?? catalogueFinding(p.annotation, this.dialect, this.catalogue[name]));
    return out;
  }
}

/** What reading one dialect gives: its slots and one finding per annotation of its prefixes. */
export interface DialectRead {
  readonly slots: Slots;
  readonly findings: ReadonlyMap<string, AnnotationFinding>;
}

/**
 * The finding of an annotation outside the catalogue, or gated before any value is read.
 *
 * @param annotation its full name
 * @param dialect its dialect
 * @param status what became of it
 * @param note the note (without the annotation name, which is prefixed)
 * @param code the diagnostic code
 * @param policy the policy it would feed
 * @returns the finding
 */
export function directFinding(annotation: string, dialect: Dialect, status: FindingStatus, note: string, code: PassCode, policy?: PolicyKey): AnnotationFinding {
  return { annotation, dialect, status, note: `${annotation}: ${note}`, code, ...(policy === undefined ? {} : { policy }) };
}
