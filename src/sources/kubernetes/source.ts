/*
 * The Kubernetes source: informers for Ingress, IngressClass, Service, EndpointSlice and Secret (in
 * all namespaces or the configured ones) feed one snapshot; a change signal is sent only when
 * something the model reads changed. When the cluster serves the Gateway API (its CRDs are
 * installed; discovery is asked again every minute while they are not), GatewayClasses, Gateways,
 * HTTPRoutes, ReferenceGrants and Namespaces join the snapshot. The leader (Lease) also writes
 * Ingress and Gateway API status and records Events for diagnostics. Coalescing of change bursts is
 * the controller's job.
 */

import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { PassError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import type { Telemetry } from '../../shared/telemetry.ts';
import { SerialQueue } from '../../shared/serial.ts';
import type { GatewayObjects, KubeObject, Snapshot, SourceSnapshot } from '../../model/k8s.ts';
import { DEFAULT_GATEWAY_CONTROLLER_NAME, hasGatewayObjects, isOurIngress, translate, type TranslateOptions } from '../../model/translate/index.ts';
import { translateGateway, type GatewayStatuses } from '../../model/translate/gateway/index.ts';
import type { Source } from '../snapshot.ts';
import { KubeApiError, type KubeClient } from './client.ts';
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
import { discoverGatewayApi, gatewayRefs, type GatewayApiTypes } from './gateway.ts';
import { GatewayStatusWriter, gatewayAddresses, type GatewayAddress } from './gateway-status.ts';
import { NAMESPACE, REFERENCE_GRANT } from './resources.ts';
import { classifyFailure, retriedBeforeSync, startupVerdict } from './retry.ts';
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
  /**
   * The addresses (IPs or host names) written to the `status.addresses` of our Gateways; absent or
   * empty: those of Ingress status (publishAddress, else the publishService's).
   */
  readonly gatewayAddresses?: readonly string[];
  /** How often discovery is asked again while the Gateway API is not served (default 60 s). */
  readonly gatewayDiscoveryMs?: number;
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

type Group = keyof Snapshot | keyof GatewayObjects;

const GATEWAY_GROUPS: ReadonlySet<Group> = new Set(['gatewayClasses', 'gateways', 'httpRoutes', 'referenceGrants', 'namespaces']);

const GROUP_OF_KIND: Readonly<Record<string, Group | undefined>> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  ConfigMap: 'configMaps',
  GatewayClass: 'gatewayClasses',
  Gateway: 'gateways',
  HTTPRoute: 'httpRoutes',
  ReferenceGrant: 'referenceGrants',
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
  #snapshot: SourceSnapshot | undefined;
  /** The Gateway API types served, once discovery found them (their informers are then in #informers). */
  #gatewayTypes: GatewayApiTypes | undefined;
  #gatewayStatus: GatewayStatusWriter | undefined;
  #discoveryTimer: NodeJS.Timeout | undefined;
  #discovering: Promise<void> | undefined;
  /** The Gateway API status of the controller's last model (see {@link reportGatewayStatus}) and its identity. */
  #reportedGateway: GatewayStatuses | undefined;
  #reportedGatewayKey = '';
  /** Whether "the Gateway API is not served" was logged (once, until it is served). */
  #toldNoGateway = false;
  readonly #abort = new AbortController();
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
    const add = (group: Group, type: ResourceType, extra: { labelSelector?: string } = {}): void => {
      this.#add(group, type, extra);
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

  /** Adds the informers of one resource type (one per watched namespace); they start with start() or at once after it. */
  #add(group: Group, type: ResourceType, extra: { labelSelector?: string } = {}): Informer[] {
    const o = this.#o;
    const namespaces = o.namespaces !== undefined && o.namespaces.length > 0 ? [...new Set(o.namespaces)] : [undefined];
    const added: Informer[] = [];
    for (const ns of type.namespaced ? namespaces : [undefined]) {
      const informer: Informer = new Informer({
        client: o.client,
        type,
        ...defined({ namespace: ns }),
        ...extra,
        transform: stripObject,
        onEvent: (e) => this.#onEvent(group, e),
        logger: this.#log,
        ...defined({ watchdogMs: o.watchdogMs, telemetry: o.telemetry }),
      });
      this.#informers.push({ group, informer });
      added.push(informer);
    }
    return added;
  }

  /** The Gateway API types the cluster serves (undefined while it serves none); for tests and logs. */
  get gatewayApi(): GatewayApiTypes | undefined {
    return this.#gatewayTypes;
  }

  /**
   * Asks discovery whether the Gateway API is served; when it newly is, adds its informers (and the
   * Namespaces'), started at once when the source runs. A cluster without the CRDs is told once at
   * info, and asked again every `gatewayDiscoveryMs`. Never throws: a failure is asked again later.
   */
  async #discoverGateway(): Promise<void> {
    if (this.#stopped) return;
    const known = this.#gatewayTypes;
    // Served and read in v1: discovery is asked again only when a list or watch says the kinds are gone (404).
    if (known?.referenceGrant?.apiVersion === REFERENCE_GRANT.apiVersion && !this.#gatewayGone()) {
      this.#armDiscovery();
      return;
    }
    let types: GatewayApiTypes | undefined;
    try {
      types = await discoverGatewayApi(this.#o.client, this.#abort.signal);
    } catch (err) {
      if (this.#stopped || this.#abort.signal.aborted) return;
      this.#log.warn({ err: (err as Error).message, recheckMs: this.#discoveryMs }, 'Gateway API discovery failed; asking again later');
      this.#armDiscovery();
      return;
    }
    if (known !== undefined && types === undefined) this.#dropGateway();
    else this.#adoptGateway(types);
  }

  /** Whether a Gateway API informer fails with 404: the CRDs may have been removed. */
  #gatewayGone(): boolean {
    return this.#informers.some(({ group, informer }) => GATEWAY_GROUPS.has(group) && group !== 'namespaces' && informer.failure?.error instanceof KubeApiError && informer.failure.error.status === 404);
  }

  /** The CRDs were removed: the Gateway API informers go, the model loses their objects, discovery is asked again later. */
  #dropGateway(): void {
    const gone = this.#informers.filter(({ group }) => GATEWAY_GROUPS.has(group));
    for (const g of gone) this.#informers.splice(this.#informers.indexOf(g), 1);
    void Promise.all(gone.map((g) => g.informer.stop())).catch(() => undefined);
    this.#gatewayTypes = undefined;
    this.#gatewayStatus = undefined;
    this.#toldNoGateway = true;
    this.#log.info({ recheckMs: this.#discoveryMs }, 'the cluster no longer serves the Gateway API (its CRDs were removed): reading Ingresses only');
    this.#snapshot = undefined;
    if (this.#started) {
      this.stats.signals++;
      for (const l of this.#listeners) l();
    }
    this.#armDiscovery();
  }

  /** Adds the Gateway API informers when `types` says the cluster serves it; else tells it once and asks again later. */
  #adoptGateway(types: GatewayApiTypes | undefined): void {
    if (this.#stopped) return;
    const known = this.#gatewayTypes;
    if (known !== undefined) {
      // CRDs applied one by one: ReferenceGrant may be served a moment after the others, discovery may list
      // its v1beta1 before its v1, and its CRD may be removed or replaced alone: read the version served now.
      const grant = types?.referenceGrant;
      if (grant?.apiVersion !== known.referenceGrant?.apiVersion) this.#readReferenceGrants(known, grant);
      this.#armDiscovery();
      return;
    }
    if (types === undefined) {
      if (!this.#toldNoGateway) this.#log.info({ recheckMs: this.#discoveryMs }, 'the cluster does not serve the Gateway API (its CRDs are not installed): reading Ingresses only');
      this.#toldNoGateway = true;
      this.#armDiscovery();
      return;
    }
    this.#gatewayTypes = types;
    this.#log.info({ referenceGrant: types.referenceGrant?.apiVersion ?? 'not served' }, 'the cluster serves the Gateway API: reading GatewayClasses, Gateways and HTTPRoutes');
    const added = [
      ...this.#add('gatewayClasses', types.gatewayClass),
      ...this.#add('gateways', types.gateway),
      ...this.#add('httpRoutes', types.httpRoute),
      ...(types.referenceGrant === undefined ? [] : this.#add('referenceGrants', types.referenceGrant)),
      ...this.#add('namespaces', NAMESPACE),
    ];
    this.#gatewayStatus = new GatewayStatusWriter(this.#o.client, types, this.#gatewayControllerName, this.#log);
    this.#snapshot = undefined;
    this.#startLate(added);
    this.#armDiscovery();
  }

  /** Reads ReferenceGrants in `grant`'s version (none when undefined); the old informers go once the new ones have listed. */
  #readReferenceGrants(known: GatewayApiTypes, grant: ResourceType | undefined): void {
    const old = this.#informers.filter(({ group }) => group === 'referenceGrants');
    const { referenceGrant: _, ...rest } = known;
    this.#gatewayTypes = grant === undefined ? rest : { ...rest, referenceGrant: grant };
    this.#log.info({ referenceGrant: grant?.apiVersion ?? 'not served' }, grant === undefined ? 'the cluster no longer serves ReferenceGrants' : 'the cluster serves ReferenceGrants: reading them');
    // No moment without the grants: a duplicate grant while both versions are read changes nothing.
    this.#startLate(grant === undefined ? [] : this.#add('referenceGrants', grant), () => {
      for (const g of old) if (this.#informers.includes(g)) this.#informers.splice(this.#informers.indexOf(g), 1);
      void Promise.all(old.map((g) => g.informer.stop())).catch(() => undefined);
    });
  }

  /** Starts informers added after start() (before it, start() starts them); their first list signals a change. */
  #startLate(added: readonly Informer[], onSynced?: () => void): void {
    if (!this.#started) {
      onSynced?.();
      return;
    }
    for (const i of added) i.start();
    // Objects listed after start() signal through their events; an empty list signals nothing.
    void Promise.all(added.map((i) => i.synced)).then(() => {
      if (this.#stopped) return;
      onSynced?.();
      this.#snapshot = undefined;
      this.stats.signals++;
      for (const l of this.#listeners) l();
      this.#scheduleWrites();
    });
  }

  get #discoveryMs(): number {
    return this.#o.gatewayDiscoveryMs ?? 60_000;
  }

  get #gatewayControllerName(): string {
    return this.#o.translate.gatewayControllerName ?? DEFAULT_GATEWAY_CONTROLLER_NAME;
  }

  #armDiscovery(): void {
    if (this.#stopped || this.#discoveryTimer !== undefined) return;
    this.#discoveryTimer = setTimeout(() => {
      this.#discoveryTimer = undefined;
      this.#discovering = this.#discoverGateway();
    }, this.#discoveryMs);
    this.#discoveryTimer.unref();
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
    const retryMs = this.#o.startupRetryMs ?? 120_000;
    const startedAt = Date.now();
    // Discovery runs beside the first lists (whose failures tell an outage), with the same deadline;
    // the Gateway API informers it adds are started and waited for like the others.
    let discovered = false;
    const discovery = this.#discoverAtStart(startedAt + retryMs).finally(() => {
      discovered = true;
    });
    for (;;) {
      const all = this.informers;
      for (const i of all) i.start();
      const pending = all.filter((i) => !i.hasSynced);
      if (pending.length === 0 && discovered) break;
      const now = Date.now();
      const verdict = startupVerdict(
        pending.map((i) => ({ type: i.type, namespace: i.namespace, failure: i.failure })),
        now - startedAt,
        retryMs,
        now,
      );
      if (verdict) {
        this.#abort.abort();
        await discovery;
        await Promise.all(this.informers.map((i) => i.stop()));
        throw verdict;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await discovery;
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

  /**
   * Discovery before the first lists, so that the first model holds the Gateway API objects: retried
   * while the apiserver does not answer, for at most `startupRetryMs` (the lists then say why).
   */
  async #discoverAtStart(until: number): Promise<void> {
    for (;;) {
      try {
        this.#adoptGateway(await discoverGatewayApi(this.#o.client, this.#abort.signal));
        return;
      } catch (err) {
        if (this.#stopped || this.#abort.signal.aborted) return;
        if (Date.now() >= until || !retriedBeforeSync(classifyFailure(err))) {
          this.#log.warn({ err: (err as Error).message, recheckMs: this.#discoveryMs }, 'Gateway API discovery failed; asking again later');
          this.#armDiscovery();
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    if (this.#discoveryTimer) clearTimeout(this.#discoveryTimer);
    await this.#discovering;
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    this.#unsubscribeLeader?.();
    await this.#writing.idle();
    await this.#leader.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  snapshot(): SourceSnapshot {
    if (this.#snapshot === undefined) {
      const gateway = this.#gatewayTypes === undefined ? {} : { gatewayClasses: [], gateways: [], httpRoutes: [], referenceGrants: [], namespaces: [] };
      const groups: Partial<Record<Group, KubeObject[]>> & Record<keyof Snapshot, KubeObject[]> = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [], ...gateway };
      // References to the cached objects (no copies); a loop, as push(...list) overflows the stack on big lists.
      for (const { group, informer } of this.#informers) {
        const list = groups[group];
        if (list !== undefined) for (const obj of informer.values()) list.push(obj);
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

  /**
   * The Gateway API status of the model the controller built (`model.gatewayStatus`): the leader writes
   * it. Until the controller reports one, the source decides it with the same translation of its own.
   */
  reportGatewayStatus(status: GatewayStatuses | undefined): void {
    const key = JSON.stringify(status ?? null);
    this.#reportedGateway = status ?? { gatewayClasses: [], gateways: [], httpRoutes: [] };
    if (key === this.#reportedGatewayKey) return;
    this.#reportedGatewayKey = key;
    this.#scheduleWrites();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #counts(): Record<string, number> {
    const s = this.snapshot();
    const gateway = s.gatewayClasses === undefined ? {} : { gatewayClasses: s.gatewayClasses.length, gateways: s.gateways?.length ?? 0, httpRoutes: s.httpRoutes?.length ?? 0, referenceGrants: s.referenceGrants?.length ?? 0 };
    return { ingresses: s.ingresses.length, ingressClasses: s.ingressClasses.length, services: s.services.length, endpointSlices: s.endpointSlices.length, secrets: s.secrets.length, configMaps: s.configMaps.length, ...gateway };
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
      case 'gatewayClasses':
      case 'gateways':
      case 'httpRoutes':
      case 'referenceGrants':
        return true;
      case 'namespaces':
        // Labels select the namespaces of routes for a Gateway's listeners: only then do they matter.
        return hasGatewayObjects(this.snapshot());
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
    if (group === 'httpRoutes' || group === 'gateways') this.#refs.set(`${e.object.kind ?? ''} ${objectKey(e.object)}`, e.type === 'deleted' ? undefined : gatewayRefs(e.object));
    // Decide with the snapshot as it was (for "was it ours"), then drop it.
    const matters = this.#matters(group, e);
    this.#snapshot = undefined;
    // A Gateway API object's status may need (re)writing even when what the model reads did not change.
    if (group === 'ingresses' || group === 'ingressClasses' || (GATEWAY_GROUPS.has(group) && group !== 'namespaces') || matters) this.#scheduleWrites();
    if (!this.#started) return;
    if (!matters) {
      this.stats.ignored++;
      return;
    }
    this.stats.signals++;
    for (const l of this.#listeners) l();
  }

  /** The addresses of Gateway status: the configured ones, else those of Ingress status. */
  #gatewayAddresses(): GatewayAddress[] {
    const configured = this.#o.gatewayAddresses ?? [];
    if (configured.length > 0) return gatewayAddresses(configured);
    return gatewayAddresses((this.#addresses() ?? []).map((a) => a.ip ?? a.hostname ?? ''));
  }

  /** Writes the Gateway API status translate decides for the current snapshot (when the cluster serves the Gateway API). */
  async #writeGatewayStatus(snap: SourceSnapshot): Promise<void> {
    const writer = this.#gatewayStatus;
    if (writer === undefined || !hasGatewayObjects(snap)) return;
    const t = this.#o.translate;
    const status =
      this.#reportedGateway ??
      translateGateway(
        { gatewayClasses: snap.gatewayClasses ?? [], gateways: snap.gateways ?? [], httpRoutes: snap.httpRoutes ?? [], referenceGrants: snap.referenceGrants ?? [], services: snap.services, endpointSlices: snap.endpointSlices, secrets: snap.secrets, namespaces: snap.namespaces ?? [] },
        { controllerName: this.#gatewayControllerName, entryPoints: t.entryPoints, ...defined({ mode: t.mode, acme: t.acme, addressPool: t.gatewayAddressPool }) },
      ).status;
    await writer.reconcile(status, { gatewayClasses: snap.gatewayClasses ?? [], gateways: snap.gateways ?? [], httpRoutes: snap.httpRoutes ?? [] }, this.#gatewayAddresses());
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
      if (this.#leader.isLeader()) await this.#writeGatewayStatus(snap);
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
