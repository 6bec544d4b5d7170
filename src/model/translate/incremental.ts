/*
 * The incremental model build: `IncrementalTranslator.build(snapshot)` returns exactly what
 * `translate(snapshot, options)` returns (diagnostics included, same order) but, from the second
 * build on, redoes only what a change reaches. Objects are compared by reference (the sources hand
 * the same object, in the same place of its list, until it changes). Units, each with the
 * diagnostics it reported (tagged with their place in translate's walk, so that each object's list
 * comes out in translate's order):
 *   - one per Ingress object: read (class, header, spec) and, depending on its auth Secret, its
 *     custom-headers ConfigMap and its TLS Secrets, its policy and TLS entries;
 *   - one per host: the routes of the Ingresses that name it (oldest first), canaries, www redirects;
 *   - one per TLS host name: which certificate serves it;
 *   - the issued (ACME) certificates of the input: redone when their list (by reference) or the names
 *     Secrets serve change;
 *   - one per backend: its Service and EndpointSlices;
 *   - one per Secret/ConfigMap read; the default backend (global, small) is redone each build.
 * Unchanged VirtualHost, Backend and Certificate objects are kept by reference. A snapshot that
 * holds two objects of one name (or one object twice), or an object without a usable name, is left
 * to `translate` (such objects' diagnostics depend on their places in the lists), and so is a snapshot
 * holding Gateway API objects (their translation is merged into the Ingresses' whole); an IngressClass
 * change starts afresh (every Ingress's class may change), and new options need a new translator.
 */

import type { Diagnostic } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';
import type { Snapshot } from '../k8s.ts';
import type { ProxyMode } from '../policy-support.ts';
import type { Backend, Certificate, CertificateIntent, IssuedCertificate, RoutingModel, VirtualHost } from '../types.ts';
import {
  addCanaryRule,
  addWwwRule,
  applyPriorities,
  canaryInMode,
  certificateOf,
  chooseDefaultBackend,
  claimTlsHost,
  compareIngressAge,
  compareVhosts,
  finishVhost,
  readIngressObject,
  readTlsEntry,
  refKey,
  reportPriority,
  routeRule,
  serveIssued,
  toCertificate,
  useBackend,
  wildcardOf,
  wwwInMode,
  wwwTarget,
} from './assemble.ts';
import type { BackendOf, HostCert, IngressPolicy, IngressRead, IssuedServing, VhostBuild } from './assemble.ts';
import { backendId, readService, resolveBackend, SERVICE_NAME_LABEL } from './backends.ts';
import type { BackendResolution, BackendResolver, ServiceInfo } from './backends.ts';
import { readIngressClasses } from './class.ts';
import type { IngressClasses } from './class.ts';
import { readConfigMapHeaders } from './config-maps.ts';
import type { ConfigMapHeaders, ConfigMapReader } from './config-maps.ts';
import { diagnosticKey, diagnosticSortKey, DiagnosticList } from './diagnostics.ts';
import type { ParsedIngress } from './ingress.ts';
import { compareText, readHeader } from './object.ts';
import type { ObjectHeader } from './object.ts';
import { certificateIntents } from './intents.ts';
import { policyOf } from './policies.ts';
import { readAuthSecret, readTlsSecret } from './tls.ts';
import type { AuthSecret, SecretReader, TlsSecret } from './tls.ts';
import { hasGatewayObjects, translate } from './index.ts';
import type { TranslateInput, TranslateOptions } from './index.ts';

/** A diagnostic and where the full build's walk would have reported it (see {@link tag}). */
interface Entry {
  readonly tag: number;
  readonly key: string;
  readonly d: Diagnostic;
}

/** Something that reported diagnostics: they count while it is registered. */
interface Source {
  entries: Entry[];
  /** Orders sources whose entries share a tag (the auth reads of one Secret): by their oldest reader. */
  rank?: () => ParsedIngress | undefined;
}

/**
 * The position of a diagnostic in translate's walk over one object: phase (0 read, 1 routes, 2
 * canaries, 3 www redirects, 4 default backend, 5 TLS), then rule/entry and host index.
 */
function tag(phase: number, a = -1, b = -1): number {
  return phase * 2 ** 40 + (a + 1) * 2 ** 20 + (b + 1);
}

/** A DiagnosticList that hands each diagnostic to the unit running now, with its walk position. */
class Recorder extends DiagnosticList {
  target: Entry[] = [];
  tag = 0;

  override add(d: Diagnostic): void {
    this.target.push({ tag: this.tag, key: diagnosticSortKey(d), d });
  }

  /** Runs `fn` with its diagnostics going to `target` at position `at`. */
  run<T>(target: Entry[], at: number, fn: () => T): T {
    const t = this.target;
    const g = this.tag;
    this.target = target;
    this.tag = at;
    try {
      return fn();
    } finally {
      this.target = t;
      this.tag = g;
    }
  }
}

/** One object of a Service, EndpointSlice, Secret or ConfigMap list. */
interface Obj {
  readonly header: ObjectHeader | undefined;
  /** `namespace/name`, or undefined when the header is unusable. */
  readonly key: string | undefined;
  /** Services: the ports, read once. */
  info?: { readonly value: ServiceInfo; readonly entries: Entry[] };
}

/** One Ingress object. */
interface IngUnit {
  readonly read: IngressRead;
  readonly parsed: ParsedIngress | undefined;
  readonly parse: Source;
  /** What depends on Secrets and ConfigMaps (undefined while not computed). */
  derived: Derived | undefined;
}

interface Derived {
  readonly info: IngressPolicy;
  readonly source: Source;
  readonly canaryActive: boolean;
  readonly wwwActive: boolean;
  /** Hosts whose assembly reads this Ingress. */
  readonly hosts: ReadonlySet<string>;
  /** TLS host names this Ingress names with a usable Secret. */
  readonly tlsHosts: ReadonlySet<string>;
  /** TLS entries with a usable Secret: entry index and certificate id. */
  readonly tlsOk: readonly { readonly entry: number; readonly id: string }[];
  /** Reader units it used (Secret auth/TLS reads, ConfigMap reads). */
  readonly reads: ReadonlySet<ReadUnit>;
}

/** A read of a Secret (TLS or auth) or ConfigMap by key, shared by the Ingresses that ask. */
interface ReadUnit extends Source {
  readonly id: string;
  /** The object key read (Secret or ConfigMap `namespace/name`). */
  readonly objectKey: string;
  readonly kind: 'tls' | 'auth' | 'cm';
  readonly value: TlsSecret | AuthSecret | ConfigMapHeaders;
  readonly readers: Set<IngUnit>;
}

interface HostUnit extends Source {
  readonly host: string;
  /** The kind of the host when it has a virtual host (its routes are in the model's VirtualHost). */
  kind: VirtualHost['kind'] | undefined;
  used: ReadonlySet<string>;
}

interface BackendUnit extends Source {
  readonly res: BackendResolution;
  readonly users: Set<object>;
  readonly service: string;
}

interface TlsHostUnit extends Source {
  readonly winner: HostCert | undefined;
}

/** The parts of the model kept between builds (the "B layer"), dropped on a fresh start. */
interface Assembly {
  readonly groups: Map<string, Set<Source>>;
  readonly groupLists: Map<string, Diagnostic[]>;
  readonly reads: Map<string, ReadUnit>;
  readonly hostIndex: Map<string, Set<IngUnit>>;
  readonly hosts: Map<string, HostUnit>;
  readonly tlsIndex: Map<string, Set<IngUnit>>;
  readonly tlsHosts: Map<string, TlsHostUnit>;
  readonly certHosts: Map<string, Set<string>>;
  readonly backends: Map<string, BackendUnit>;
  readonly byService: Map<string, Set<string>>;
  readonly vhosts: Map<string, VirtualHost>;
  /** Exact hosts by their wildcard name (`*.example.com`), for certificate changes. */
  readonly wildcards: Map<string, Set<string>>;
  readonly defaults: Set<IngUnit>;
  readonly ingresses: Set<IngUnit>;
  defaultUnit: { source: Source; used: ReadonlySet<string>; value: string | undefined } | undefined;
  virtualHosts: VirtualHost[];
  backendRecord: Record<string, Backend>;
  backendIds: { readonly id: string }[];
  /** The Secret certificates, by id. */
  certificates: Certificate[];
  /** The issued certificates of the last build (a copy of the list) and what they serve. */
  issuedList: readonly IssuedCertificate[];
  issued: IssuedServing;
  diagnostics: Diagnostic[];
  /** Certificate intents of every Ingress, oldest first: rebuilt when an Ingress comes or goes. */
  intents: CertificateIntent[];
}

/** The intents of an Ingress unit, read once: they depend on nothing but the Ingress. */
const intentsOf = new WeakMap<IngUnit, readonly CertificateIntent[]>();

function newAssembly(): Assembly {
  return {
    groups: new Map(),
    groupLists: new Map(),
    reads: new Map(),
    hostIndex: new Map(),
    hosts: new Map(),
    tlsIndex: new Map(),
    tlsHosts: new Map(),
    certHosts: new Map(),
    backends: new Map(),
    byService: new Map(),
    vhosts: new Map(),
    wildcards: new Map(),
    defaults: new Set(),
    ingresses: new Set(),
    defaultUnit: undefined,
    virtualHosts: [],
    backendRecord: {},
    backendIds: [],
    certificates: [],
    issuedList: [],
    issued: { certificates: [], byHost: new Map() },
    diagnostics: [],
    intents: [],
  };
}

/** Adds to a Set held in a Map. */
function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** What changed in one snapshot list since the previous build, by object reference. */
interface ListDiff<T> {
  readonly removed: [unknown, T][];
  readonly added: [unknown, number][];
  /** The list holds one object (reference) twice. */
  readonly repeated: boolean;
}

/**
 * The changes of one snapshot list, by object reference. `prev` is a copy of the previous list: the
 * sources keep each object in its place when it changes, so comparing place by place finds the few
 * changed ones without a Set of the whole list; a list of another length is compared as a set.
 */
function diffList<T>(list: readonly unknown[], prev: readonly unknown[] | undefined, cache: Map<unknown, T>): ListDiff<T> {
  if (prev !== undefined && prev.length === list.length) {
    const gone = new Set<unknown>();
    const fresh: [unknown, number][] = [];
    for (let i = 0; i < list.length; i++) {
      const obj = list[i];
      const was = prev[i];
      if (obj === was) continue;
      gone.add(was);
      fresh.push([obj, i]);
    }
    if (fresh.length === 0) return { removed: [], added: [], repeated: false };
    const kept = new Set(fresh.map(([obj]) => obj));
    const added = fresh.filter(([obj]) => !gone.has(obj));
    // An added object that is already cached (and not moved from elsewhere) is there twice.
    if (added.every(([obj]) => !cache.has(obj)) && kept.size === fresh.length) {
      const removed: [unknown, T][] = [];
      for (const obj of gone) {
        const v = cache.get(obj);
        if (!kept.has(obj) && v !== undefined) removed.push([obj, v]);
      }
      return { removed, added, repeated: false };
    }
  }
  const now = new Set(list);
  const removed: [unknown, T][] = [];
  for (const [obj, v] of cache) if (!now.has(obj)) removed.push([obj, v]);
  const added: [unknown, number][] = [];
  list.forEach((obj, i) => {
    if (!cache.has(obj)) added.push([obj, i]);
  });
  return { removed, added, repeated: now.size !== list.length };
}

type SecondaryKind = 'services' | 'endpointSlices' | 'secrets' | 'configMaps';
const KIND_OF: Readonly<Record<SecondaryKind, string>> = { services: 'Service', endpointSlices: 'EndpointSlice', secrets: 'Secret', configMaps: 'ConfigMap' };

/**
 * Builds the routing model again and again from successive snapshots, redoing only what changed
 * (see the file comment). `build(s)` deep-equals `translate(s, options)`. Not thread-safe, not
 * reentrant: one per controller. Never mutates its inputs nor a model it returned.
 */
export class IncrementalTranslator {
  readonly #options: TranslateOptions;
  readonly #mode: ProxyMode;
  readonly #rec = new Recorder();
  #classes: readonly unknown[] | undefined;
  #classInfo: IngressClasses = [];
  readonly #lists = new Map<SecondaryKind, Map<unknown, Obj>>();
  readonly #ingresses = new Map<unknown, IngUnit>();
  /** How many objects of each `kind\0namespace/name` are in the snapshot (a name twice: full build). */
  readonly #names = new Map<string, number>();
  #duplicates = 0;
  /** Objects whose header is unusable (named by their position): full build. */
  #unnamed = 0;
  /** A copy of each list of the previous snapshot (the sources may reuse an array). */
  readonly #prev = new Map<string, readonly unknown[]>();
  /** Lists that hold one object twice: full build. */
  readonly #repeated = new Map<string, boolean>();
  /** Ingresses of ours whose header is unusable. */
  #unnamedIngresses = 0;
  /** By `namespace/name`: every object of that name (more than one only while a full build is used). */
  readonly #serviceIndex = new Map<string, Obj[]>();
  readonly #sliceIndex = new Map<string, Obj[]>();
  readonly #secretIndex = new Map<string, Obj[]>();
  readonly #cmIndex = new Map<string, Obj[]>();
  #asm: Assembly | undefined;
  /** Builds that reused the previous one (for tests and the benchmark). */
  incrementalBuilds = 0;
  /** Builds that started afresh or were left to translate. */
  fullBuilds = 0;

  constructor(options: TranslateOptions) {
    this.#options = options;
    this.#mode = options.mode ?? 'native';
    for (const k of Object.keys(KIND_OF) as SecondaryKind[]) this.#lists.set(k, new Map());
  }

  /** The options this translator builds with (a new options object needs a new translator). */
  get options(): TranslateOptions {
    return this.#options;
  }

  /** The model of `snapshot`, equal to `translate(snapshot, options)`. Never throws on bad input. */
  build(snapshot: TranslateInput): RoutingModel {
    try {
      return this.#build(snapshot);
    } catch {
      // A bug here must not cost more than speed: forget everything, build in full.
      this.#forget();
      this.fullBuilds++;
      return translate(snapshot, this.#options);
    }
  }

  #forget(): void {
    this.#classes = undefined;
    for (const m of this.#lists.values()) m.clear();
    this.#ingresses.clear();
    this.#prev.clear();
    this.#repeated.clear();
    this.#names.clear();
    this.#duplicates = 0;
    this.#unnamed = 0;
    this.#unnamedIngresses = 0;
    for (const index of [this.#serviceIndex, this.#sliceIndex, this.#secretIndex, this.#cmIndex]) index.clear();
    this.#asm = undefined;
  }

  #build(snapshot: TranslateInput): RoutingModel {
    const classes = snapshot.ingressClasses;
    const prevClasses = this.#classes;
    if (prevClasses === undefined || prevClasses.length !== classes.length || classes.some((c, i) => c !== prevClasses[i])) {
      // Every Ingress's class may have changed: read them all again.
      this.#classes = [...classes];
      this.#classInfo = readIngressClasses(classes);
      this.#ingresses.clear();
      this.#prev.delete('ingresses');
      for (const [k, n] of this.#names) if (k.startsWith('Ingress\u0000')) this.#count(k, -n);
      this.#unnamedIngresses = 0;
      this.#asm = undefined;
    }
    const changed = this.#diffObjects(snapshot);
    // Gateway API objects: their translation is not incremental yet, so the whole model is (until none are left).
    if (this.#duplicates > 0 || this.#unnamed + this.#unnamedIngresses > 0 || [...this.#repeated.values()].includes(true) || hasGatewayObjects(snapshot)) {
      this.#asm = undefined;
      this.fullBuilds++;
      return translate(snapshot, this.#options);
    }
    let asm = this.#asm;
    if (asm === undefined) {
      asm = newAssembly();
      this.#asm = asm;
      for (const u of this.#ingresses.values()) u.derived = undefined;
      this.fullBuilds++;
      return this.#assemble(asm, [...this.#ingresses.values()].filter((u) => u.read.ours), [], { services: new Set(), secrets: new Set(), configMaps: new Set() }, snapshot.issuedCertificates ?? []);
    }
    this.incrementalBuilds++;
    return this.#assemble(asm, changed.addedIngresses, changed.removedIngresses, changed.keys, snapshot.issuedCertificates ?? []);
  }

  #count(name: string, by: number): void {
    const before = this.#names.get(name) ?? 0;
    const after = before + by;
    if (after === 0) this.#names.delete(name);
    else this.#names.set(name, after);
    this.#duplicates += (after > 1 ? after - 1 : 0) - (before > 1 ? before - 1 : 0);
  }

  /** Brings the object caches and indexes up to the snapshot; returns what changed. */
  #diffObjects(snapshot: Snapshot): { addedIngresses: IngUnit[]; removedIngresses: IngUnit[]; keys: { services: Set<string>; secrets: Set<string>; configMaps: Set<string> } } {
    const keys = { services: new Set<string>(), secrets: new Set<string>(), configMaps: new Set<string>() };
    for (const kind of Object.keys(KIND_OF) as SecondaryKind[]) {
      const list = snapshot[kind];
      const cache = this.#lists.get(kind) ?? new Map<unknown, Obj>();
      const { removed, added, repeated } = diffList(list, this.#repeated.get(kind) === true ? undefined : this.#prev.get(kind), cache);
      this.#prev.set(kind, [...list]);
      this.#repeated.set(kind, repeated);
      for (const [obj, o] of removed) {
        cache.delete(obj);
        this.#index(kind, o, -1, keys);
      }
      for (const [obj, i] of added) {
        const header = this.#rec.run([], 0, () => readHeader(obj, KIND_OF[kind], true, `${kind}[${i}]`, this.#rec, kind === 'services'));
        const o: Obj = { header, key: header && `${header.namespace}/${header.name}` };
        cache.set(obj, o);
        this.#index(kind, o, 1, keys);
      }
    }
    const addedIngresses: IngUnit[] = [];
    const removedIngresses: IngUnit[] = [];
    {
      const { removed, added, repeated } = diffList(snapshot.ingresses, this.#repeated.get('ingresses') === true ? undefined : this.#prev.get('ingresses'), this.#ingresses);
      this.#prev.set('ingresses', [...snapshot.ingresses]);
      this.#repeated.set('ingresses', repeated);
      for (const [obj, u] of removed) {
        this.#ingresses.delete(obj);
        this.#ingressCounts(u, -1);
        if (u.read.ours) removedIngresses.push(u);
      }
      for (const [obj, i] of added) {
        const parse: Source = { entries: [] };
        const read = this.#rec.run(parse.entries, tag(0), () => readIngressObject(obj, i, this.#classInfo, this.#options, this.#rec));
        const parsed = read.ours ? read.parsed : undefined;
        parse.entries = settle(parse.entries);
        const u: IngUnit = { read, parsed, parse, derived: undefined };
        this.#ingresses.set(obj, u);
        this.#ingressCounts(u, 1);
        if (read.ours) addedIngresses.push(u);
      }
    }
    return { addedIngresses, removedIngresses, keys };
  }

  #ingressCounts(u: IngUnit, by: number): void {
    if (!u.read.ours) return;
    if (u.read.failed) this.#unnamedIngresses += by;
    // The name as read by the header, or by the spec-less header when the spec is unusable.
    const name = u.parsed === undefined ? undefined : `Ingress\u0000${u.parsed.header.namespace}/${u.parsed.header.name}`;
    if (name !== undefined) this.#count(name, by);
    else if (!u.read.failed) {
      // Ours, named, but an unusable spec: its name still counts for duplicates.
      const d = u.parse.entries[0]?.d.object;
      if (d !== undefined) this.#count(`Ingress\u0000${d.namespace ?? ''}/${d.name}`, by);
    }
  }

  #index(kind: SecondaryKind, o: Obj, by: number, keys: { services: Set<string>; secrets: Set<string>; configMaps: Set<string> }): void {
    const h = o.header;
    if (h === undefined || o.key === undefined) {
      this.#unnamed += by;
      return;
    }
    this.#count(`${KIND_OF[kind]}\u0000${o.key}`, by);
    if (kind === 'services') {
      keys.services.add(o.key);
      indexObj(this.#serviceIndex, o.key, o, by);
    } else if (kind === 'endpointSlices') {
      const svc = h.labels[SERVICE_NAME_LABEL];
      if (svc === undefined) return;
      const key = `${h.namespace}/${svc}`;
      keys.services.add(key);
      const list = (this.#sliceIndex.get(key) ?? []).filter((x) => x !== o);
      if (by > 0) list.push(o);
      list.sort((a, b) => compareText(a.header?.name ?? '', b.header?.name ?? ''));
      if (list.length === 0) this.#sliceIndex.delete(key);
      else this.#sliceIndex.set(key, list);
    } else {
      (kind === 'secrets' ? keys.secrets : keys.configMaps).add(o.key);
      indexObj(kind === 'secrets' ? this.#secretIndex : this.#cmIndex, o.key, o, by);
    }
  }

  // ---- the assembly ----

  #register(asm: Assembly, s: Source, dirty: Set<string>): void {
    for (const e of s.entries) {
      addTo(asm.groups, e.key, s);
      dirty.add(e.key);
    }
  }

  #unregister(asm: Assembly, s: Source, dirty: Set<string>): void {
    for (const e of s.entries) {
      removeFrom(asm.groups, e.key, s);
      dirty.add(e.key);
    }
  }

  #assemble(asm: Assembly, added: readonly IngUnit[], removed: readonly IngUnit[], keys: { services: Set<string>; secrets: Set<string>; configMaps: Set<string> }, issued: readonly IssuedCertificate[]): RoutingModel {
    const dirtyKeys = new Set<string>();
    const dirtyHosts = new Set<string>();
    const dirtyTls = new Set<string>();
    const dirtyCerts = new Set<string>();
    const certDirtyHosts = new Set<string>();
    let backendsChanged = false;
    const changedIds = new Set<string>();
    const rederive = new Set<IngUnit>();
    const opts = this.#options;
    const mode = this.#mode;
    const rec = this.#rec;

    const retract = (u: IngUnit): void => {
      const d = u.derived;
      if (d === undefined) return;
      u.derived = undefined;
      this.#unregister(asm, d.source, dirtyKeys);
      for (const h of d.hosts) {
        removeFrom(asm.hostIndex, h, u);
        dirtyHosts.add(h);
      }
      for (const t of d.tlsHosts) {
        removeFrom(asm.tlsIndex, t, u);
        dirtyTls.add(t);
      }
      for (const c of d.tlsOk) dirtyCerts.add(c.id);
      for (const r of d.reads) {
        r.readers.delete(u);
        for (const e of r.entries) dirtyKeys.add(e.key);
        if (r.readers.size === 0 && asm.reads.get(r.id) === r) {
          asm.reads.delete(r.id);
          this.#unregister(asm, r, dirtyKeys);
        }
      }
    };

    // 1. Ingresses gone (or changed: a changed object is a new reference).
    for (const u of removed) {
      retract(u);
      this.#unregister(asm, u.parse, dirtyKeys);
      asm.ingresses.delete(u);
      asm.defaults.delete(u);
    }

    // 2. Secrets and ConfigMaps changed: their reads are redone by the Ingresses that made them.
    for (const r of [...asm.reads.values()]) {
      const changedKey = r.kind === 'cm' ? keys.configMaps.has(r.objectKey) : keys.secrets.has(r.objectKey);
      if (!changedKey) continue;
      asm.reads.delete(r.id);
      this.#unregister(asm, r, dirtyKeys);
      for (const u of r.readers) rederive.add(u);
    }

    // 3. Services and EndpointSlices changed: their backends are resolved again.
    const resolveUnit = (ns: string, svc: string, port: number | string, users: Set<object>): BackendUnit => {
      const key = `${ns}/${svc}`;
      const entries: Entry[] = [];
      const o = this.#serviceIndex.get(key)?.[0];
      const header = o?.header;
      const info =
        o === undefined || header === undefined
          ? undefined
          : (): ServiceInfo => {
              o.info ??= ((): { value: ServiceInfo; entries: Entry[] } => {
                const entries: Entry[] = [];
                return { value: rec.run(entries, 0, () => readService(header)), entries };
              })();
              entries.push(...o.info.entries);
              return o.info.value;
            };
      const slices = (this.#sliceIndex.get(key) ?? []).map((s) => s.header).filter((h): h is ObjectHeader => h !== undefined);
      const res = rec.run(entries, 0, () => resolveBackend(ns, svc, port, info, slices));
      return { entries: settle(entries), res, users, service: key };
    };
    for (const svc of keys.services) {
      for (const id of asm.byService.get(svc) ?? []) {
        const old = asm.backends.get(id);
        if (old === undefined) continue;
        const b = old.res.backend;
        const next = resolveUnit(b.namespace, b.service, b.servicePort, old.users);
        this.#unregister(asm, old, dirtyKeys);
        this.#register(asm, next, dirtyKeys);
        asm.backends.set(id, next);
        backendsChanged = true;
        const p = old.res.problem;
        const q = next.res.problem;
        if (p?.code !== q?.code || p?.message !== q?.message || p?.on !== q?.on || p?.severity !== q?.severity) {
          // The problem is reported on the Ingresses that use the backend: their hosts again.
          for (const user of old.users) if (isHostUnit(user)) dirtyHosts.add(user.host);
        }
      }
    }

    const resolver = (user: object): BackendResolver => ({
      resolve: (ns, svc, port) => {
        const id = backendId(ns, svc, port);
        let unit = asm.backends.get(id);
        if (unit === undefined) {
          unit = resolveUnit(ns, svc, port, new Set());
          asm.backends.set(id, unit);
          addTo(asm.byService, unit.service, id);
          changedIds.add(id);
          this.#register(asm, unit, dirtyKeys);
          backendsChanged = true;
        }
        unit.users.add(user);
        return unit.res;
      },
    });
    const release = (user: object, ids: Iterable<string>): void => {
      for (const id of ids) asm.backends.get(id)?.users.delete(user);
    };

    // 4. New Ingresses, and those whose Secrets or ConfigMaps changed: policy and TLS entries.
    const readUnit = (u: IngUnit, reads: Set<ReadUnit>, kind: ReadUnit['kind'], objectKey: string, id: string, read: (entries: Entry[]) => ReadUnit['value'], rank: boolean): ReadUnit['value'] => {
      let r = asm.reads.get(id);
      if (r === undefined) {
        const entries: Entry[] = [];
        const value = read(entries);
        const readers = new Set<IngUnit>();
        const unit: ReadUnit = { id, objectKey, kind, value, readers, entries: settle(entries) };
        if (rank) unit.rank = () => oldestOf(readers);
        r = unit;
        asm.reads.set(id, r);
        this.#register(asm, r, dirtyKeys);
      }
      if (!r.readers.has(u)) {
        r.readers.add(u);
        // The order of a Secret's auth reads follows their oldest reader.
        if (rank) for (const e of r.entries) dirtyKeys.add(e.key);
      }
      reads.add(r);
      return r.value;
    };
    const derive = (u: IngUnit, ing: ParsedIngress): void => {
      const source: Source = { entries: [] };
      const reads = new Set<ReadUnit>();
      const secrets: SecretReader = {
        read: (ns, name) => readUnit(u, reads, 'tls', `${ns}/${name}`, `tls\u0000${ns}/${name}`, (e) => rec.run(e, tag(6), () => readTlsSecret(this.#secretIndex.get(`${ns}/${name}`)?.[0]?.header, ns, name)), false) as TlsSecret,
        readAuth: (ns, name, form) => readUnit(u, reads, 'auth', `${ns}/${name}`, `${form}\u0000${ns}/${name}`, (e) => rec.run(e, tag(1), () => readAuthSecret(this.#secretIndex.get(`${ns}/${name}`)?.[0]?.header, ns, name, form)), true) as AuthSecret,
      };
      const configMaps: ConfigMapReader = {
        readHeaders: (ns, name) => readUnit(u, reads, 'cm', `${ns}/${name}`, `cm\u0000${ns}/${name}`, (e) => rec.run(e, tag(1), () => readConfigMapHeaders(this.#cmIndex.get(`${ns}/${name}`)?.[0]?.header, ns, name)), false) as ConfigMapHeaders,
      };
      const info = rec.run(source.entries, tag(1), () => policyOf(ing, secrets, configMaps, opts.sslRedirect ?? true, mode));
      const canaryActive = info.canary !== undefined && rec.run(source.entries, tag(2), () => canaryInMode(ing, mode));
      const wwwActive = info.wwwRedirect && rec.run(source.entries, tag(3), () => wwwInMode(ing, mode));
      const hosts = new Set<string>();
      ing.rules.forEach((rule) => {
        if (rule.paths.length === 0) return;
        if (info.canary === undefined || canaryActive) hosts.add(rule.host);
        const target = wwwActive ? wwwTarget(rule) : undefined;
        if (target !== undefined) hosts.add(target);
      });
      const tlsHosts = new Set<string>();
      const tlsOk: { entry: number; id: string }[] = [];
      ing.tls.forEach((entry, k) => {
        const secret = rec.run(source.entries, tag(6, k), () => readTlsEntry(ing, entry, secrets, opts.acme));
        if (secret === undefined) return;
        tlsOk.push({ entry: k, id: `${ing.header.namespace}/${entry.secretName}` });
        for (const h of entry.hosts) tlsHosts.add(h.host);
      });
      source.entries = settle(source.entries);
      u.derived = { info, source, canaryActive, wwwActive, hosts: settleSet(hosts), tlsHosts: settleSet(tlsHosts), tlsOk: tlsOk.length === 0 ? NONE : tlsOk, reads: settleSet(reads) };
      this.#register(asm, source, dirtyKeys);
      for (const h of hosts) {
        addTo(asm.hostIndex, h, u);
        dirtyHosts.add(h);
      }
      for (const t of tlsHosts) {
        addTo(asm.tlsIndex, t, u);
        dirtyTls.add(t);
      }
      for (const c of tlsOk) dirtyCerts.add(c.id);
    };
    for (const u of added) {
      asm.ingresses.add(u);
      this.#register(asm, u.parse, dirtyKeys);
      if (u.parsed?.defaultBackend !== undefined) asm.defaults.add(u);
      if (u.parsed !== undefined) rederive.add(u);
    }
    for (const u of rederive) {
      if (!asm.ingresses.has(u) || u.parsed === undefined) continue;
      retract(u);
      derive(u, u.parsed);
    }

    // 5. Hosts: the routes of the Ingresses that name them, oldest first.
    const builds = new Map<string, VhostBuild>();
    for (const h of dirtyHosts) {
      const old = asm.hosts.get(h);
      const contributors = [...(asm.hostIndex.get(h) ?? [])].sort((a, b) => compareIngressAge(a.parsed as ParsedIngress, b.parsed as ParsedIngress));
      const unit: HostUnit = { host: h, entries: [], kind: undefined, used: NOTHING };
      const used = new Map<string, Backend>();
      const res = resolver(unit);
      const backendOf: BackendOf = (ing, ref) => useBackend(ing, ref, res, used).id;
      const vhosts = new Map<string, VhostBuild>();
      const units = contributors.flatMap((u) => (u.parsed !== undefined && u.derived !== undefined ? [{ ing: u.parsed, d: u.derived }] : []));
      for (const { ing, d } of units) {
        if (d.info.canary !== undefined) continue;
        ing.rules.forEach((rule, r) => {
          if (rule.host === h && rule.paths.length > 0) rec.run(unit.entries, tag(1, r), () => routeRule(ing, rule, d.info, vhosts, mode, backendOf));
        });
      }
      for (const { ing, d } of units) {
        const canary = d.info.canary;
        if (canary === undefined || !d.canaryActive) continue;
        ing.rules.forEach((rule, r) => {
          if (rule.host === h) rec.run(unit.entries, tag(2, r), () => addCanaryRule(ing, rule, canary, vhosts, backendOf));
        });
      }
      for (const { ing, d } of units) {
        if (!d.wwwActive) continue;
        ing.rules.forEach((rule, r) => {
          if (wwwTarget(rule) === h) rec.run(unit.entries, tag(3, r), () => addWwwRule(ing, rule, vhosts, backendOf));
        });
      }
      const build = vhosts.get(h);
      if (build !== undefined) {
        const byRef = new Map(units.map(({ ing }) => [refKey(ing.header.ref), ing]));
        for (const f of applyPriorities(build)) rec.run(unit.entries, tag(4, f.rule, f.path), () => reportPriority(f, byRef.get(refKey(f.route.source))));
        builds.set(h, build);
      }
      unit.kind = build?.kind;
      unit.used = used.size === 0 ? NOTHING : new Set(used.keys());
      unit.entries = settle(unit.entries);
      if (old !== undefined) {
        this.#unregister(asm, old, dirtyKeys);
        release(old, old.used);
      }
      this.#register(asm, unit, dirtyKeys);
      if (build === undefined && unit.entries.length === 0 && contributors.length === 0) asm.hosts.delete(h);
      else asm.hosts.set(h, unit);
      certDirtyHosts.add(h);
    }

    // 6. The default backend: the oldest Ingress with one (few Ingresses have one: redone each build).
    {
      const old = asm.defaultUnit;
      const unit = { source: { entries: [] as Entry[] }, used: new Set<string>(), value: undefined as string | undefined };
      const used = new Map<string, Backend>();
      const res = resolver(unit);
      const list = [...asm.defaults].flatMap((u) => (u.parsed === undefined ? [] : [u.parsed])).sort(compareIngressAge);
      unit.value = rec.run(unit.source.entries, tag(5), () => chooseDefaultBackend(list, (ing, ref) => useBackend(ing, ref, res, used).id));
      for (const id of used.keys()) unit.used.add(id);
      unit.source.entries = settle(unit.source.entries);
      if (old !== undefined) {
        this.#unregister(asm, old.source, dirtyKeys);
        release(old, old.used);
      }
      this.#register(asm, unit.source, dirtyKeys);
      asm.defaultUnit = unit;
    }

    // 7. TLS host names: the oldest Ingress naming one, with a usable Secret, decides its certificate.
    let secretHostsChanged = false;
    for (const t of dirtyTls) {
      const old = asm.tlsHosts.get(t);
      const unit = { entries: [] as Entry[], winner: undefined as HostCert | undefined };
      const hostCert = new Map<string, HostCert>();
      const contributors = [...(asm.tlsIndex.get(t) ?? [])].sort((a, b) => compareIngressAge(a.parsed as ParsedIngress, b.parsed as ParsedIngress));
      for (const u of contributors) {
        const ing = u.parsed;
        if (ing === undefined || u.derived === undefined) continue;
        for (const { entry, id } of u.derived.tlsOk) {
          ing.tls[entry]?.hosts.forEach((h, i) => {
            if (h.host === t) rec.run(unit.entries, tag(6, entry, i), () => claimTlsHost(ing, h, id, hostCert));
          });
        }
      }
      unit.winner = hostCert.get(t);
      unit.entries = settle(unit.entries);
      if (old !== undefined) this.#unregister(asm, old, dirtyKeys);
      this.#register(asm, unit, dirtyKeys);
      if (contributors.length === 0) asm.tlsHosts.delete(t);
      else asm.tlsHosts.set(t, unit);
      if (old?.winner?.id !== unit.winner?.id) {
        secretHostsChanged = true;
        if (old?.winner !== undefined) {
          removeFrom(asm.certHosts, old.winner.id, t);
          dirtyCerts.add(old.winner.id);
        }
        if (unit.winner !== undefined) {
          addTo(asm.certHosts, unit.winner.id, t);
          dirtyCerts.add(unit.winner.id);
        }
        certDirtyHosts.add(t);
        if (t.startsWith('*.')) for (const h of asm.wildcards.get(t) ?? []) certDirtyHosts.add(h);
      }
    }

    // 7b. Issued certificates, for the TLS names no Secret serves: redone (a few per host at most) when
    // they or the names Secrets serve changed; the hosts whose certificate moved are looked at again.
    if (secretHostsChanged || issued.length !== asm.issuedList.length || issued.some((c, i) => c !== asm.issuedList[i])) {
      const next = serveIssued(issued, (name) => asm.tlsHosts.get(name)?.winner !== undefined);
      const before = asm.issued;
      const moved = (h: string): void => {
        certDirtyHosts.add(h);
        if (h.startsWith('*.')) for (const x of asm.wildcards.get(h) ?? []) certDirtyHosts.add(x);
      };
      for (const [h, id] of next.byHost) if (before.byHost.get(h) !== id) moved(h);
      for (const h of before.byHost.keys()) if (!next.byHost.has(h)) moved(h);
      // An unchanged certificate keeps its object.
      const kept = new Map(before.certificates.map((c) => [c.id, c]));
      const certificates = next.certificates.map((c) => {
        const k = kept.get(c.id);
        return k !== undefined && k.certPem === c.certPem && k.keyPem === c.keyPem && k.source.name === c.source.name && k.hosts.join('\n') === c.hosts.join('\n') ? k : c;
      });
      asm.issued = { certificates, byHost: next.byHost };
      asm.issuedList = [...issued];
    }

    // 8. Virtual hosts: the ones rebuilt, or whose certificate changed; the others are kept as they are.
    const lookupCert = (host: string): string | undefined => asm.tlsHosts.get(host)?.winner?.id ?? asm.issued.byHost.get(host);
    let hostsChanged = false;
    const changedHosts: { host: string; kind: VirtualHost['kind'] }[] = [];
    for (const h of certDirtyHosts) {
      const kind = asm.hosts.get(h)?.kind;
      const prev = asm.vhosts.get(h);
      if (kind === undefined) {
        if (prev !== undefined) {
          asm.vhosts.delete(h);
          if (prev.kind === 'exact' && h.includes('.')) removeFrom(asm.wildcards, wildcardOf(h), h);
          changedHosts.push(prev);
          hostsChanged = true;
        }
        continue;
      }
      const certificate = certificateOf({ host: h, kind }, lookupCert);
      const build = builds.get(h);
      if (build === undefined) {
        // Not rebuilt: only its certificate may have changed.
        if (prev === undefined || prev.certificate === certificate) continue;
        asm.vhosts.set(h, { host: prev.host, kind: prev.kind, routes: prev.routes, ...defined({ certificate }), sources: prev.sources });
      } else {
        asm.vhosts.set(h, finishVhost(build, certificate));
        if (prev === undefined && kind === 'exact' && h.includes('.')) addTo(asm.wildcards, wildcardOf(h), h);
      }
      changedHosts.push({ host: h, kind });
      hostsChanged = true;
    }
    if (hostsChanged) asm.virtualHosts = patchSorted(asm.virtualHosts, changedHosts, (x) => asm.vhosts.get(x.host), compareVhosts, () => [...asm.vhosts.values()]);

    // 9. Backends: those some unit uses, each object kept until its Service or slices change.
    for (const [id, unit] of asm.backends) {
      if (unit.users.size > 0) continue;
      asm.backends.delete(id);
      changedIds.add(id);
      removeFrom(asm.byService, unit.service, id);
      this.#unregister(asm, unit, dirtyKeys);
      backendsChanged = true;
    }
    if (backendsChanged) {
      const record: Record<string, Backend> = {};
      asm.backendIds = patchSorted(asm.backendIds, [...changedIds].map((id) => ({ id })), (x) => (asm.backends.has(x.id) ? x : undefined), (a, b) => compareText(a.id, b.id), () => [...asm.backends.keys()].map((id) => ({ id })));
      for (const { id } of asm.backendIds) {
        const b = asm.backends.get(id);
        if (b !== undefined) record[id] = b.res.backend;
      }
      asm.backendRecord = record;
    }

    // 10. Certificates.
    if (dirtyCerts.size > 0) {
      const previous = new Map(asm.certificates.map((c) => [c.id, c]));
      for (const id of dirtyCerts) previous.delete(id);
      for (const id of dirtyCerts) {
        const hosts = asm.certHosts.get(id);
        const secret = asm.reads.get(`tls\u0000${id}`)?.value;
        if (hosts === undefined || hosts.size === 0 || secret === undefined || !('certPem' in secret)) continue;
        previous.set(id, toCertificate(id, hosts, { certPem: secret.certPem, keyPem: secret.keyPem, source: secret.ref }));
      }
      asm.certificates = [...previous.values()].sort((a, b) => compareText(a.id, b.id));
    }

    // 11. Diagnostics: each object's, in the order translate's walk finds them.
    if (dirtyKeys.size > 0) {
      for (const key of dirtyKeys) {
        const sources = [...(asm.groups.get(key) ?? [])];
        if (sources.length === 0) {
          asm.groupLists.delete(key);
          continue;
        }
        const ranked = sources.map((s) => ({ s, r: s.rank?.() }));
        ranked.sort((a, b) => (a.r !== undefined && b.r !== undefined ? compareIngressAge(a.r, b.r) : a.r !== undefined ? -1 : b.r !== undefined ? 1 : 0));
        const entries = ranked.flatMap(({ s }) => s.entries.filter((e) => e.key === key));
        entries.sort((a, b) => a.tag - b.tag);
        const seen = new Set<string>();
        const list: Diagnostic[] = [];
        for (const e of entries) {
          const k = diagnosticKey(e.d);
          if (seen.has(k)) continue;
          seen.add(k);
          list.push(e.d);
        }
        if (list.length === 0) asm.groupLists.delete(key);
        else asm.groupLists.set(key, list);
      }
      asm.diagnostics = [...asm.groupLists.keys()].sort(compareText).flatMap((k) => asm.groupLists.get(k) ?? []);
    }

    if (added.length > 0 || removed.length > 0) {
      const list = [...asm.ingresses].flatMap((u) => (u.parsed === undefined ? [] : [{ u, ing: u.parsed }])).sort((a, b) => compareIngressAge(a.ing, b.ing));
      asm.intents = list.flatMap(({ u, ing }) => {
        let intents = intentsOf.get(u);
        if (intents === undefined) {
          intents = certificateIntents(ing);
          intentsOf.set(u, intents);
        }
        return intents;
      });
    }

    const defaultBackend = asm.defaultUnit?.value;
    // Copies of the lists (cheap: the objects in them are shared), so that no holder of a model can
    // change the next one; the backends record is replaced, never changed, once returned.
    return {
      entryPoints: [...opts.entryPoints],
      virtualHosts: [...asm.virtualHosts],
      backends: asm.backendRecord,
      ...defined({ defaultBackend }),
      certificates: [...asm.certificates, ...asm.issued.certificates],
      diagnostics: [...asm.diagnostics],
      certificateIntents: [...asm.intents],
    };
  }
}

/** Adds (by 1) or removes (by -1) an object under its key. */
function indexObj(index: Map<string, Obj[]>, key: string, o: Obj, by: number): void {
  const list = (index.get(key) ?? []).filter((x) => x !== o);
  if (by > 0) list.push(o);
  if (list.length === 0) index.delete(key);
  else index.set(key, list);
}

function isHostUnit(user: object): user is HostUnit {
  return 'host' in user && 'kind' in user;
}

// Frozen: a unit that wrongly reported into it would throw (and build falls back to translate).
const NO_ENTRIES: Entry[] = Object.freeze([]) as unknown as Entry[];
const NOTHING: ReadonlySet<never> = new Set();
const NONE: readonly never[] = Object.freeze([]);

/** A unit's entries once it ran: one shared empty list for the many units that report nothing. */
function settle(entries: Entry[]): Entry[] {
  return entries.length === 0 ? NO_ENTRIES : entries;
}

/** A set, or the shared empty one (a translator keeps a few per Ingress). */
function settleSet<T>(set: Set<T>): ReadonlySet<T> {
  return set.size === 0 ? NOTHING : set;
}

/** The oldest of a set of Ingress units. */
function oldestOf(units: ReadonlySet<IngUnit>): ParsedIngress | undefined {
  let best: ParsedIngress | undefined;
  for (const u of units) if (u.parsed !== undefined && (best === undefined || compareIngressAge(u.parsed, best) < 0)) best = u.parsed;
  return best;
}

/**
 * A sorted array with the items of `changed` put in place: each is looked up by `current` (undefined:
 * gone) and inserted, replaced or removed by binary search. A new array (the old one is a model's).
 */
function patchSorted<T, K>(sorted: readonly T[], changed: readonly K[], current: (k: K) => T | undefined, compare: (a: T | K, b: T | K) => number, all: () => T[]): T[] {
  // Many changes (a first build): one sort beats many splices.
  if (changed.length > 64 && changed.length * 8 > sorted.length) return all().sort(compare);
  const out = [...sorted];
  for (const k of changed) {
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(out[mid] as T, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    const found = lo < out.length && compare(out[lo] as T, k) === 0;
    const value = current(k);
    if (value === undefined) {
      if (found) out.splice(lo, 1);
    } else if (found) out[lo] = value;
    else out.splice(lo, 0, value);
  }
  return out;
}
