/*
 * The Kubernetes source: informers for Ingress, IngressClass, Service, EndpointSlice and Secret (in
 * all namespaces or the configured ones) feed one snapshot; a change signal is sent only when
 * something the model reads changed. The leader (Lease) also writes Ingress status and records
 * Events for diagnostics. Coalescing of change bursts is the controller's job.
 */

import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { PassError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import type { Telemetry } from '../../shared/telemetry.ts';
import { SerialQueue } from '../../shared/serial.ts';
import type { KubeObject, Snapshot } from '../../model/k8s.ts';
import { isOurIngress, translate, type TranslateOptions } from '../../model/translate/index.ts';
import type { Source } from '../snapshot.ts';
import type { KubeClient } from './client.ts';
import { EventRecorder } from './events.ts';
import {
  ENDPOINT_SLICE,
  INGRESS,
  INGRESS_CLASS,
  Informer,
  SECRET,
  CONFIG_MAP,
  SERVICE,
  objectKey,
  type InformerEvent,
  type ResourceType,
} from './informer.ts';
import { AlwaysLeader, LeaseLeaderElector, defaultIdentity, type Leadership } from './leader.ts';
import { RefIndex, ingressRefs, modelView, nsName, sliceService, stripObject } from './objects.ts';
import { startupVerdict } from './retry.ts';
import { StatusWriter, addressesOfService, addressesOfText, type LoadBalancerIngress } from './status.ts';

/** Options of {@link KubernetesSource}. */
export interface KubernetesSourceOptions {
  readonly client: KubeClient;
  /** Class selection (status, Events) and the translation used for Events. */
  readonly translate: TranslateOptions;
  /** Namespaces to watch; empty or absent: all. */
  readonly namespaces?: readonly string[];
  /** Only Ingresses with these labels. */
  readonly labelSelector?: string;
  /** `namespace/name` of the Service whose address goes into Ingress status. */
  readonly publishService?: string;
  /** Address(es) written into Ingress status (comma-separated IPs or host names); wins over publishService. */
  readonly publishAddress?: string;
  /** Elect a leader through a Lease (default true); off: every replica writes. */
  readonly leaderElection?: boolean;
  /** Default: $POD_NAMESPACE, else the namespace of the kubeconfig context, else `default`. */
  readonly leaseNamespace?: string;
  /** Default `passerelle-leader`. */
  readonly leaseName?: string;
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** No status, Events or Lease: for `passerelle check` / `render` (default false). */
  readonly readOnly?: boolean;
  /** Record Events for diagnostics (default true). */
  readonly recordEvents?: boolean;
  /** See {@link InformerOptions.watchdogMs}. */
  readonly watchdogMs?: number;
  /**
   * How long start() retries before the first lists complete: an unreachable apiserver, 401/403
   * (a restarting apiserver refuses until its RBAC caches have synced), 429 and 5xx are retried until
   * then, and only then fail (PASS_KUBE_FORBIDDEN when still refused, else PASS_KUBE_SYNC); default
   * 120 s, `[kubernetes] startupRetry`.
   */
  readonly startupRetryMs?: number;
  /** Delay that gathers changes before a status/Event pass (default 250 ms). */
  readonly writeDelayMs?: number;
  readonly logger?: Logger;
  /** Watch relists and failures are reported here, for the metrics. */
  readonly telemetry?: Telemetry;
}

type Group = keyof Snapshot;

const GROUP_OF_KIND: Readonly<Record<string, Group | undefined>> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  ConfigMap: 'configMaps',
};

/** The Kubernetes API as a {@link Source}; see the file comment. */
export class KubernetesSource implements Source {
  readonly #o: KubernetesSourceOptions;
  readonly #log: Logger;
  readonly #informers: { readonly group: Group; readonly informer: Informer }[] = [];
  readonly #publish: Informer | undefined;
  readonly #listeners = new Set<() => void>();
  readonly #refs = new RefIndex();
  readonly #leader: Leadership;
  readonly #status: StatusWriter;
  readonly #events: EventRecorder;
  #snapshot: Snapshot | undefined;
  #started = false;
  #stopped = false;
  #writeTimer: NodeJS.Timeout | undefined;
  readonly #writing = new SerialQueue();
  #unsubscribeLeader: (() => void) | undefined;
  /** The controller's model diagnostics (see {@link reportDiagnostics}) and their identity. */
  #reported: readonly Diagnostic[] | undefined;
  #reportedKey = '';
  /** Counters, for logs and tests. */
  readonly stats = { signals: 0, ignored: 0, writePasses: 0 };

  constructor(options: KubernetesSourceOptions) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child({ source: 'kubernetes' });
    const namespaces = options.namespaces !== undefined && options.namespaces.length > 0 ? [...new Set(options.namespaces)] : [undefined];
    const add = (group: Group, type: ResourceType, extra: { labelSelector?: string } = {}): void => {
      for (const ns of type.namespaced ? namespaces : [undefined]) {
        const informer: Informer = new Informer({
          client: options.client,
          type,
          ...defined({ namespace: ns }),
          ...extra,
          transform: stripObject,
          onEvent: (e) => this.#onEvent(group, e),
          logger: this.#log,
          ...defined({ watchdogMs: options.watchdogMs, telemetry: options.telemetry }),
        });
        this.#informers.push({ group, informer });
      }
    };
    add('ingresses', INGRESS, defined({ labelSelector: options.labelSelector }));
    add('ingressClasses', INGRESS_CLASS);
    add('services', SERVICE);
    add('endpointSlices', ENDPOINT_SLICE);
    add('secrets', SECRET);
    add('configMaps', CONFIG_MAP);

    if (options.publishAddress === undefined && options.publishService !== undefined) {
      const [ns, name] = options.publishService.split('/');
      if (ns === undefined || name === undefined || ns === '' || name === '') {
        throw new PassError('PASS_CONFIG_BAD_VALUE', `publishService "${options.publishService}" is not "namespace/name"`, { field: 'kubernetes.publishService' });
      }
      this.#publish = new Informer({
        client: options.client,
        type: SERVICE,
        namespace: ns,
        fieldSelector: `metadata.name=${name}`,
        transform: stripObject,
        onEvent: () => this.#scheduleWrites(),
        logger: this.#log.child({ publishService: options.publishService }),
        ...defined({ watchdogMs: options.watchdogMs, telemetry: options.telemetry }),
      });
    }

    const identity = options.identity ?? defaultIdentity();
    this.#leader =
      options.readOnly === true || options.leaderElection === false
        ? new AlwaysLeader()
        : new LeaseLeaderElector({
            client: options.client,
            namespace: options.leaseNamespace ?? process.env['POD_NAMESPACE'] ?? options.client.namespace ?? 'default',
            identity,
            logger: this.#log,
            ...defined({
              name: options.leaseName,
              leaseDurationMs: options.leaseDurationMs,
              renewDeadlineMs: options.renewDeadlineMs,
              retryPeriodMs: options.retryPeriodMs,
            }),
          });
    const telemetry = options.telemetry;
    if (telemetry !== undefined) {
      // The gauge starts at the initial state (a follower until the Lease is won) and follows changes.
      telemetry.leader(this.#leader.isLeader());
      this.#leader.onChange((leading) => telemetry.leader(leading));
    }
    this.#status = new StatusWriter(options.client, this.#log);
    this.#events = new EventRecorder({ client: options.client, controller: options.translate.controllerName, instance: identity, logger: this.#log });
  }

  /** Who writes; exposed for the dashboard and tests. */
  get leadership(): Leadership {
    return this.#leader;
  }

  /** The informers (for tests and diagnostics). */
  get informers(): readonly Informer[] {
    return [...this.#informers.map((i) => i.informer), ...(this.#publish ? [this.#publish] : [])];
  }

  /**
   * Lists everything once, then follows changes. Failures are retried for `startupRetryMs` (see
   * {@link startupVerdict}): only then, or at once for a request the apiserver rejects, start() fails.
   */
  async start(): Promise<void> {
    const all = this.informers;
    for (const i of all) i.start();
    const retryMs = this.#o.startupRetryMs ?? 120_000;
    const startedAt = Date.now();
    for (;;) {
      const pending = all.filter((i) => !i.hasSynced);
      if (pending.length === 0) break;
      const now = Date.now();
      const verdict = startupVerdict(
        pending.map((i) => ({ type: i.type, namespace: i.namespace, failure: i.failure })),
        now - startedAt,
        retryMs,
        now,
      );
      if (verdict) {
        await Promise.all(all.map((i) => i.stop()));
        throw verdict;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#started = true;
    this.#log.info({ objects: this.#counts(), namespaces: this.#o.namespaces?.length ? this.#o.namespaces : 'all' }, 'Kubernetes objects listed');
    if (this.#o.readOnly !== true) {
      this.#unsubscribeLeader = this.#leader.onChange((leading) => {
        if (leading) this.#scheduleWrites();
      });
      this.#leader.start();
      this.#scheduleWrites();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    this.#unsubscribeLeader?.();
    await this.#writing.idle();
    await this.#leader.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  snapshot(): Snapshot {
    if (this.#snapshot === undefined) {
      const groups: Record<Group, KubeObject[]> = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [] };
      // References to the cached objects (no copies); a loop, as push(...list) overflows the stack on big lists.
      for (const { group, informer } of this.#informers) {
        const list = groups[group];
        for (const obj of informer.values()) list.push(obj);
      }
      this.#snapshot = groups;
    }
    return this.#snapshot;
  }

  diagnostics(): readonly Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const i of this.informers) {
      if (i.lastError === undefined) continue;
      out.push({
        severity: 'error',
        code: 'PASS_KUBE_WATCH',
        message: `${i.type.kind}${i.namespace === undefined ? '' : ` (namespace ${i.namespace})`}: ${i.lastError.message}; serving the last known objects`,
      });
    }
    return out;
  }

  /**
   * The diagnostics of the model the controller built (translation plus ACME, with the Secrets ACME
   * replaces no longer errors): Events are recorded from these instead of a translation of our own.
   */
  reportDiagnostics(diagnostics: readonly Diagnostic[]): void {
    const key = JSON.stringify(diagnostics.map((d) => [d.code, d.object, d.field, d.message]));
    this.#reported = diagnostics;
    if (key === this.#reportedKey) return;
    this.#reportedKey = key;
    this.#scheduleWrites();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #counts(): Record<string, number> {
    const s = this.snapshot();
    return { ingresses: s.ingresses.length, ingressClasses: s.ingressClasses.length, services: s.services.length, endpointSlices: s.endpointSlices.length, secrets: s.secrets.length, configMaps: s.configMaps.length };
  }

  #classes(): KubeObject[] {
    return this.#informers.filter((i) => i.group === 'ingressClasses').flatMap((i) => i.informer.list());
  }

  #isOurs(ing: KubeObject | undefined): boolean {
    return ing !== undefined && isOurIngress(ing, this.#classes(), this.#o.translate).ours;
  }

  /** Whether an informer event changes what translate reads. */
  #matters(group: Group, e: InformerEvent): boolean {
    const previous = e.type === 'modified' ? e.previous : e.type === 'deleted' ? e.object : undefined;
    const current = e.type === 'deleted' ? undefined : e.object;
    if (modelView(previous) === modelView(current)) return false;
    switch (group) {
      case 'ingresses':
        return this.#isOurs(previous) || this.#isOurs(current);
      case 'ingressClasses':
        return true;
      case 'services':
        return this.#refs.usesService(objectKey(e.object));
      case 'secrets':
        return this.#refs.usesSecret(objectKey(e.object));
      case 'configMaps':
        return this.#refs.usesConfigMap(objectKey(e.object));
      case 'endpointSlices': {
        const svc = sliceService(e.object) ?? (previous ? sliceService(previous) : undefined);
        return svc !== undefined && this.#refs.usesService(svc);
      }
    }
  }

  #onEvent(group: Group, e: InformerEvent): void {
    if (group === 'ingresses') this.#refs.set(objectKey(e.object), e.type === 'deleted' ? undefined : ingressRefs(e.object));
    // Decide with the snapshot as it was (for "was it ours"), then drop it.
    const matters = this.#matters(group, e);
    this.#snapshot = undefined;
    if (group === 'ingresses' || group === 'ingressClasses' || matters) this.#scheduleWrites();
    if (!this.#started) return;
    if (!matters) {
      this.stats.ignored++;
      return;
    }
    this.stats.signals++;
    for (const l of this.#listeners) l();
  }

  /** The addresses for Ingress status, or undefined when nothing is configured (status is left alone). */
  #addresses(): LoadBalancerIngress[] | undefined {
    if (this.#o.publishAddress !== undefined) return addressesOfText(this.#o.publishAddress);
    if (this.#publish) {
      const [ns, name] = (this.#o.publishService ?? '').split('/');
      return addressesOfService(this.#publish.get(nsName(ns, name ?? '')));
    }
    return undefined;
  }

  #scheduleWrites(): void {
    if (!this.#started || this.#stopped || this.#o.readOnly === true || this.#writeTimer !== undefined) return;
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = undefined;
      // #writePass logs its own failures; the catch only keeps an unexpected one from going unhandled.
      this.#writing.run(() => this.#writePass()).catch((err: unknown) => this.#log.error({ err }, 'status/Event pass failed'));
    }, this.#o.writeDelayMs ?? 250);
  }

  /** Status and Events, by the leader only. */
  async #writePass(): Promise<void> {
    if (this.#stopped || !this.#leader.isLeader()) return;
    this.stats.writePasses++;
    try {
      const snap = this.snapshot();
      const addresses = this.#addresses();
      if (addresses !== undefined) {
        const classes = snap.ingressClasses;
        await this.#status.reconcile(
          snap.ingresses,
          (ing) => {
            // A class taken over through classAliases keeps the status its own controller writes.
            const d = isOurIngress(ing, classes, this.#o.translate);
            return d.ours && d.takenOver !== true;
          },
          addresses,
        );
      }
      if (this.#o.recordEvents !== false && this.#leader.isLeader()) {
        const diagnostics = this.#reported ?? translate(snap, this.#o.translate).diagnostics;
        await this.#events.record(diagnostics, (ref) => this.#lookup(ref));
      }
    } catch (err) {
      this.#log.error({ err }, 'status/Event pass failed');
    }
  }

  #lookup(ref: ObjectRef): KubeObject | undefined {
    const group = GROUP_OF_KIND[ref.kind];
    if (group === undefined) return undefined;
    const key = ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
    for (const i of this.#informers) {
      if (i.group !== group) continue;
      const obj = i.informer.get(key);
      if (obj) return obj;
    }
    return undefined;
  }
}
