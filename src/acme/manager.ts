/*
 * The ACME manager: runs the planner on a schedule and when the wanted certificates change, places
 * and resumes orders (leader only), backs off per name, keeps the weekly budget, refreshes ACME
 * Renewal Information, stores everything, and tells the controller when certificates changed.
 */

import type { Diagnostic } from '../shared/diagnostics.ts';
import type { Logger } from '../shared/logger.ts';
import { defined } from '../shared/optional.ts';
import { SerialQueue } from '../shared/serial.ts';
import type { Telemetry } from '../shared/telemetry.ts';
import { AcmeClient, AcmeOrderError, explainProblem } from './client.ts';
import type { AcmeClientOptions } from './client.ts';
import type { AcmeChallenges } from './challenges.ts';
import { budgetLeft, plan } from './planner.ts';
import type { Plan, PlannedOrder, PlannedResume } from './planner.ts';
import { AcmeCodes } from './requests.ts';
import { acmeDiagnostics, certificateStatuses } from './status.ts';
import type { CertificateStatus } from './status.ts';
import type { CertificateStore } from './store/types.ts';
import { acmeCertificateId, LETS_ENCRYPT_BUDGET } from './types.ts';
import type { AcmeProblem, AcmeState, BackoffState, CertificateRequest, IssuanceBudget, StoredCertificate } from './types.ts';
import { readLeaf } from './x509.ts';
import { chooseChallenge, describeChoice } from './dns/choice.ts';
import type { ChallengeConfig } from './dns/choice.ts';
import type { DnsSolver } from './dns/solver.ts';

/** Which names onDemand may order a certificate for. */
export interface OnDemandPolicy {
  /** Names of `[[acme.domains]]` are allowed (default true). */
  readonly domains?: boolean;
  /** Names present in Ingress rules are allowed (default true). */
  readonly ingressHosts?: boolean;
  /** A URL asked `GET ask?domain=NAME`: the name is allowed when it answers 200. */
  readonly ask?: string;
  /** Orders onDemand may place per minute, all names together (default 10). */
  readonly perMinute?: number;
  /** After a failed onDemand order a name waits at least this long (default 10 min). */
  readonly nameCooldownMs?: number;
}

/** What the manager asks of the CA: {@link AcmeClient}'s protocol methods (tests pass an in-memory CA). */
export type AcmeProtocol = Pick<AcmeClient, 'account' | 'placeOrder' | 'completeOrder' | 'renewalInfo'>;

/** Options of {@link AcmeManager}. */
export interface AcmeManagerOptions {
  readonly client: AcmeClientOptions;
  /** The CA protocol (default: an {@link AcmeClient} made from `client`). */
  readonly protocol?: AcmeProtocol;
  readonly store: CertificateStore;
  /** What this replica answers (HTTP-01 tokens, TLS-ALPN-01 certificates), shared through the store's `challenges` when it has one. */
  readonly challenges: AcmeChallenges;
  /** The configured challenge and DNS provider (default HTTP-01): {@link chooseChallenge} decides per certificate. */
  readonly challenge?: ChallengeConfig;
  /** The DNS-01 provider, when `[acme.dnsChallenge]` sets one. */
  readonly dns?: DnsSolver;
  readonly logger: Logger;
  /** Only the leader orders (default: always leader). */
  readonly isLeader?: () => boolean;
  /** Called after the served certificates changed (issued, renewed, removed): re-sync. */
  readonly onChange?: () => void;
  /** The clock for renewals, backoff, the budget and stored timestamps (default: the system clock; tests inject one). */
  readonly now?: () => Date;
  readonly budget?: IssuanceBudget;
  /** Renew when this fraction of the lifetime remains (default 1/3) when the CA gives no ARI window. */
  readonly renewFraction?: number;
  /** First backoff after a failure (default 1 min), doubled per failure up to `backoffMaxMs` (default 24 h). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Orders carried at the same time (default 4). */
  readonly concurrency?: number;
  /** The planner runs at least this often (default 1 h). */
  readonly checkIntervalMs?: number;
  /** onDemand issuance (native mode); absent: off. */
  readonly onDemand?: OnDemandPolicy;
  /** `[[acme.domains]]` names, for the onDemand policy. */
  readonly domainNames?: readonly string[];
  /** Orders that end are reported here, for the metrics. */
  readonly telemetry?: Telemetry;
}

/** What the manager did, for tests and the dashboard. */
export interface AcmeCounters {
  ordersPlaced: number;
  ordersResumed: number;
  issued: number;
  failures: number;
  ariChecks: number;
}

const MAX_TIMER = 2 ** 31 - 1;

function namesKeyOf(r: CertificateRequest): string {
  return `${r.id}=${r.names.join(',')}`;
}

/** The stored certificates that can be served at `now` (valid, or valid within the hour), sorted by id. */
export function servableCertificates(state: AcmeState, now: Date): StoredCertificate[] {
  const t = now.getTime();
  return Object.values(state.certificates)
    .filter((c) => Date.parse(c.notAfter) > t && Date.parse(c.notBefore) <= t + 3600_000)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Runs ACME for the controller. */
export class AcmeManager {
  readonly #o: AcmeManagerOptions;
  readonly #log: Logger;
  readonly #client: AcmeProtocol;
  readonly counters: AcmeCounters = { ordersPlaced: 0, ordersResumed: 0, issued: 0, failures: 0, ariChecks: 0 };
  #state: AcmeState = { certificates: {}, orders: {}, backoff: {}, issuances: [] };
  #requests: readonly CertificateRequest[] = [];
  #requestsKey = '';
  #knownHosts = new Set<string>();
  /** Planner runs, storage reloads and onDemand orders, one at a time. */
  readonly #running = new SerialQueue();
  #timer: NodeJS.Timeout | undefined;
  #kickTimer: NodeJS.Timeout | undefined;
  #started = false;
  #paused = false;
  #stopped = false;
  #accountReady = false;
  #lastPlan: Plan | undefined;
  readonly #inFlight = new Map<string, Promise<StoredCertificate | undefined>>();
  #onDemandTimes: number[] = [];
  #unwatch: (() => void) | undefined;

  constructor(options: AcmeManagerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'acme' });
    this.#client =
      options.protocol ??
      new AcmeClient({
        onTermsAgreed: (url) => this.#log.info({ caServer: options.client.directoryUrl, termsOfService: url }, `agreeing to the terms of service of the CA on your behalf: ${url} (set acceptTermsOfService = false in [acme] to refuse them)`),
        ...options.client,
      });
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  #isLeader(): boolean {
    return this.#o.isLeader?.() ?? true;
  }

  /** Whether this replica orders (the leader, or the only replica). */
  get leading(): boolean {
    return this.#isLeader();
  }

  /** The state as last loaded or written. */
  get state(): AcmeState {
    return this.#state;
  }

  /** The last plan, for diagnostics. */
  get lastPlan(): Plan | undefined {
    return this.#lastPlan;
  }

  /**
   * Loads the stored state; orders start with the first {@link setRequests} or the schedule. With
   * `paused`, nothing is ordered until {@link resume} (the composition root resumes once the proxy
   * serves its first configuration, so that the CA's HTTP-01 requests find it listening).
   */
  async start(options: { readonly paused?: boolean } = {}): Promise<void> {
    this.#state = await this.#o.store.load();
    this.#paused = options.paused === true;
    this.#started = true;
    this.#o.challenges.start();
    this.#unwatch = this.#o.store.onChange?.(() => {
      void this.#reload();
    });
    this.#log.info(
      { storage: this.#o.store.description, certificates: Object.keys(this.#state.certificates).length, pendingOrders: Object.keys(this.#state.orders).length, caServer: this.#o.client.directoryUrl },
      'ACME storage loaded',
    );
    this.kick();
  }

  async #reload(): Promise<void> {
    if (this.#isLeader()) return;
    this.#state = await this.#o.store.load();
    this.#o.onChange?.();
  }

  /** Stops the schedule and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unwatch?.();
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#kickTimer) clearTimeout(this.#kickTimer);
    await this.#running.idle();
    await Promise.allSettled([...this.#inFlight.values()]);
    await this.#o.challenges.stop();
  }

  /** The certificates wanted now (from the controller); a change starts a run. */
  setRequests(requests: readonly CertificateRequest[]): void {
    const key = requests.map(namesKeyOf).join('\n');
    this.#requests = requests;
    if (key === this.#requestsKey) return;
    this.#requestsKey = key;
    this.kick();
  }

  /** Host names present in Ingress rules (for the onDemand policy). */
  setKnownHosts(hosts: Iterable<string>): void {
    this.#knownHosts = new Set(hosts);
  }

  /** Valid (not expired) stored certificates, for the model. */
  certificates(): readonly StoredCertificate[] {
    return servableCertificates(this.#state, this.#now());
  }

  /**
   * Problems to show (computed from the stored state, so a follower that reloads the leader's state
   * shows them too): certificates whose orders fail, with the CA's problem and a plain cause, and
   * orders held back by the budget.
   */
  diagnostics(): readonly Diagnostic[] {
    return acmeDiagnostics(this.#plan(this.#allRequests()), this.#state, this.#now());
  }

  /** New certificates the weekly budget still allows, per registered domain of the wanted and recently issued names. */
  budgetLeft(): { registeredDomain: string; remaining: number }[] {
    return budgetLeft(this.#o.budget ?? LETS_ENCRYPT_BUDGET, this.#state.issuances, this.#allRequests().flatMap((r) => r.names), this.#now());
  }

  /** Per wanted (or unused stored) certificate: valid / pending / failed, expiry, last error. */
  statuses(): readonly CertificateStatus[] {
    const config = this.#o.challenge ?? { challenge: 'http-01' };
    return certificateStatuses(this.#plan(this.#allRequests()), this.#state, this.#now()).map((c) => ({ ...c, challenge: describeChoice(chooseChallenge(c.names, config)) }));
  }

  /** Reloads the stored state (e.g. on becoming the leader: the state the last leader wrote) and runs the planner. */
  async refresh(): Promise<void> {
    if (!this.#started || this.#stopped) return;
    await this.#running
      .run(async () => {
        this.#state = await this.#o.store.load();
      })
      .catch((err: unknown) => this.#log.error({ err }, 'ACME storage reload failed'));
    this.#o.onChange?.();
    this.kick();
  }

  /** Lets a manager started `paused` order (and runs the planner). */
  resume(): void {
    this.#paused = false;
    this.kick();
  }

  /** Runs the planner soon (coalesced). */
  kick(): void {
    if (this.#stopped || !this.#started || this.#paused || this.#kickTimer !== undefined) return;
    this.#kickTimer = setTimeout(() => {
      this.#kickTimer = undefined;
      void this.runOnce();
    }, 10);
    this.#kickTimer.unref();
  }

  /** One planner run, serialised with any other; resolves when its orders are done. */
  runOnce(): Promise<void> {
    return this.#running.run(() => this.#run()).catch((err: unknown) => this.#log.error({ err }, 'ACME run failed'));
  }

  #allRequests(): CertificateRequest[] {
    const out = [...this.#requests];
    const claimed = new Set(out.flatMap((r) => r.names));
    // onDemand certificates stay wanted while the policy still allows their names.
    for (const c of Object.values(this.#state.certificates)) {
      if (c.origin !== 'onDemand' || c.names.some((n) => claimed.has(n))) continue;
      if (!c.names.every((n) => this.#allowedSync(n) || this.#o.onDemand?.ask !== undefined)) continue;
      out.push({ id: c.id, names: c.names, origin: 'onDemand', sources: [{ kind: 'AcmeOnDemand', name: c.names[0] ?? c.id }] });
    }
    return out;
  }

  #plan(requests: readonly CertificateRequest[]): Plan {
    return plan({
      requests,
      state: this.#state,
      now: this.#now(),
      budget: this.#o.budget ?? LETS_ENCRYPT_BUDGET,
      ...defined({ renewFraction: this.#o.renewFraction }),
    });
  }

  async #run(): Promise<void> {
    if (this.#stopped || this.#paused) return;
    if (!this.#isLeader()) {
      this.#schedule(undefined);
      return;
    }
    const p = this.#plan(this.#allRequests());
    this.#lastPlan = p;
    let changed = false;
    const failuresBefore = this.counters.failures;
    if (p.abandon.length > 0 || p.expired.length > 0) {
      const orders = { ...this.#state.orders };
      for (const o of p.abandon) delete orders[o.id];
      const certificates = { ...this.#state.certificates };
      for (const c of p.expired) delete certificates[c.id];
      await this.#commit({ ...this.#state, orders, certificates });
      changed = p.expired.length > 0;
    }
    for (const c of p.unwanted) this.#log.debug({ certificate: c.id, notAfter: c.notAfter }, 'certificate no longer wanted: not renewed');
    for (const w of p.wait) if (w.reason !== 'backoff') this.#log.warn({ names: w.request.names, until: w.until.toISOString(), reason: w.reason, detail: w.detail }, 'order held back by the weekly budget');

    const work: (() => Promise<void>)[] = [
      ...p.resume.map((r) => () => this.#resume(r)),
      ...p.place.map((o) => () => this.#place(o)),
    ];
    if (work.length > 0) {
      const ok = await this.#ensureAccount(p);
      if (ok) await this.#pool(work);
    }
    await this.#refreshRenewalInfo();
    // A failure changes the diagnostics (logs, Events, check): the controller re-syncs.
    if (changed || this.counters.failures !== failuresBefore) this.#o.onChange?.();
    const after = this.#plan(this.#allRequests());
    this.#lastPlan = after;
    this.#schedule(after.wakeAt);
    // Something became due while we worked (e.g. a renewal window opened): go again soon.
    if (after.place.length > 0 || after.resume.length > 0) this.#schedule(new Date(this.#now().getTime() + 1000));
  }

  async #ensureAccount(p: Plan): Promise<boolean> {
    if (this.#accountReady) return true;
    try {
      const account = await this.#client.account(this.#state.account);
      this.#accountReady = true;
      if (account !== this.#state.account) {
        await this.#commit({ ...this.#state, account });
        this.#log.info({ account: account.url, caServer: account.caServer }, 'ACME account registered');
      }
      return true;
    } catch (err) {
      const problem = err instanceof AcmeOrderError ? err.problem : { detail: (err as Error).message, cause: explainProblem(undefined, (err as Error).message, 'account'), at: this.#now().toISOString() };
      this.#log.error({ code: AcmeCodes.account, caServer: this.#o.client.directoryUrl, detail: problem.detail, cause: problem.cause }, `ACME account: ${problem.detail} — ${problem.cause}`);
      // Every name waiting on the account backs off (so the CA is not hammered).
      await this.#fail([...p.place.map((o) => o.request), ...p.resume.map((r) => r.request)], problem);
      return false;
    }
  }

  async #pool(work: readonly (() => Promise<void>)[]): Promise<void> {
    let next = 0;
    const n = Math.max(1, Math.min(this.#o.concurrency ?? 4, work.length));
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (next < work.length && !this.#stopped) {
          const job = work[next++];
          if (job) await job();
        }
      }),
    );
  }

  async #place(o: PlannedOrder): Promise<void> {
    const { request } = o;
    this.#log.info({ names: request.names, reason: o.reason }, 'placing ACME order');
    try {
      const keyPem = await AcmeClient.newKey();
      const replaces = o.replaces?.ariId;
      const orderUrl = await this.#client.placeOrder(request.names, replaces);
      this.counters.ordersPlaced++;
      // Recorded before anything else: a crash from here on resumes this order instead of placing another.
      const pending = { id: request.id, names: request.names, orderUrl, keyPem, createdAt: this.#now().toISOString(), ...defined({ replaces }) };
      await this.#commit({ ...this.#state, orders: { ...this.#state.orders, [request.id]: pending } });
      await this.#complete(request, orderUrl, keyPem, o.replaces !== undefined);
    } catch (err) {
      await this.#failed(request, err);
    }
  }

  async #resume(r: PlannedResume): Promise<void> {
    this.#log.info({ names: r.request.names, order: r.order.orderUrl }, 'resuming ACME order');
    this.counters.ordersResumed++;
    try {
      await this.#complete(r.request, r.order.orderUrl, r.order.keyPem, r.order.replaces !== undefined || this.#state.certificates[r.request.id] !== undefined);
    } catch (err) {
      await this.#failed(r.request, err);
    }
  }

  async #complete(request: CertificateRequest, orderUrl: string, keyPem: string, renewal: boolean): Promise<void> {
    const choice = chooseChallenge(request.names, this.#o.challenge ?? { challenge: 'http-01' });
    const issued = await this.#client.completeOrder(orderUrl, request.names, keyPem, this.#o.challenges, choice.types, this.#o.dns);
    const leaf = readLeaf(issued.certPem);
    const now = this.#now().toISOString();
    const cert: StoredCertificate = {
      id: request.id,
      names: request.names,
      certPem: issued.certPem,
      keyPem,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      issuedAt: now,
      origin: request.origin,
      orderUrl,
      ...defined({ ariId: leaf.ariId }),
    };
    const orders = { ...this.#state.orders };
    delete orders[request.id];
    const backoff = { ...this.#state.backoff };
    for (const n of request.names) delete backoff[n];
    const week = this.#now().getTime() - (this.#o.budget ?? LETS_ENCRYPT_BUDGET).windowMs;
    const issuances = [...this.#state.issuances.filter((i) => Date.parse(i.at) > week), { names: request.names, at: now, renewal }];
    await this.#commit({ ...this.#state, certificates: { ...this.#state.certificates, [request.id]: cert }, orders, backoff, issuances });
    this.counters.issued++;
    this.#o.telemetry?.acmeOrder(renewal ? 'renewed' : 'issued');
    this.#log.info({ names: request.names, notAfter: cert.notAfter, renewal }, renewal ? 'certificate renewed' : 'certificate issued');
    this.#o.onChange?.();
  }

  async #failed(request: CertificateRequest, err: unknown): Promise<void> {
    this.counters.failures++;
    this.#o.telemetry?.acmeOrder('failed');
    const problem: AcmeProblem =
      err instanceof AcmeOrderError ? err.problem : { detail: (err as Error)?.message ?? String(err), cause: explainProblem(undefined, String((err as Error)?.message ?? err), 'order'), at: this.#now().toISOString() };
    const dead = err instanceof AcmeOrderError ? err.orderDead : false;
    // The CA forgot the account (deactivated, or a test CA restarted): register again next time.
    if (/accountDoesNotExist|account .*(does not exist|not found)|unable to find account|no account/i.test(`${problem.type ?? ''} ${problem.detail}`) && this.#state.account !== undefined) {
      this.#accountReady = false;
      const { url: _url, ...account } = this.#state.account;
      this.#state = { ...this.#state, account };
    }
    if (dead && this.#state.orders[request.id] !== undefined) {
      const orders = { ...this.#state.orders };
      delete orders[request.id];
      this.#state = { ...this.#state, orders };
    }
    await this.#fail([request], problem);
  }

  /** Backs off every name of these requests (exponentially, persisted) and reports the problem. */
  async #fail(requests: readonly CertificateRequest[], problem: AcmeProblem): Promise<void> {
    const backoff: Record<string, BackoffState> = { ...this.#state.backoff };
    const base = this.#o.backoffBaseMs ?? 60_000;
    const max = this.#o.backoffMaxMs ?? 24 * 3600_000;
    const now = this.#now().getTime();
    for (const r of requests) {
      let until = 0;
      for (const n of r.names) {
        const failures = (backoff[n]?.failures ?? 0) + 1;
        const delay = Math.min(max, base * 2 ** (failures - 1));
        until = Math.max(until, now + delay);
        backoff[n] = { failures, nextAttemptAt: new Date(now + delay).toISOString(), lastError: problem };
      }
      this.#log.error(
        { code: AcmeCodes.orderFailed, names: r.names, sources: r.sources, type: problem.type, detail: problem.detail, cause: problem.cause, retryAt: new Date(until).toISOString() },
        `ACME order for ${r.names.join(', ')} failed: ${problem.detail} — ${problem.cause}`,
      );
    }
    await this.#commit({ ...this.#state, backoff });
  }

  /** Fetches ARI windows that are missing or due for a refresh. */
  async #refreshRenewalInfo(): Promise<void> {
    const now = this.#now().getTime();
    for (const c of Object.values(this.#state.certificates)) {
      if (this.#stopped) return;
      if (c.ariId === undefined || Date.parse(c.notAfter) <= now) continue;
      if (c.renewal !== undefined && Date.parse(c.renewal.nextCheck) > now) continue;
      try {
        this.counters.ariChecks++;
        const w = await this.#client.renewalInfo(c.ariId);
        const current = this.#state.certificates[c.id];
        if (w === undefined || current === undefined || current.certPem !== c.certPem) continue;
        await this.#commit({ ...this.#state, certificates: { ...this.#state.certificates, [c.id]: { ...current, renewal: w } } });
      } catch (err) {
        this.#log.debug({ err, certificate: c.id }, 'ACME renewal information unavailable');
      }
    }
  }

  async #commit(next: AcmeState): Promise<void> {
    this.#state = next;
    await this.#o.store.save(next);
  }

  #schedule(wakeAt: Date | undefined): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    const now = this.#now().getTime();
    const check = this.#o.checkIntervalMs ?? 3600_000;
    const ari = Object.values(this.#state.certificates)
      .map((c) => (c.renewal ? Date.parse(c.renewal.nextCheck) : Number.NaN))
      .filter((t) => Number.isFinite(t) && t > now);
    const at = Math.min(wakeAt?.getTime() ?? Infinity, now + check, ...ari);
    this.#timer = setTimeout(() => void this.runOnce(), Math.min(MAX_TIMER, Math.max(50, at - now)));
    this.#timer.unref();
  }

  // ---- onDemand ----------------------------------------------------------------------------

  #allowedSync(name: string): boolean {
    const p = this.#o.onDemand;
    if (p === undefined) return false;
    if ((p.domains ?? true) && (this.#o.domainNames ?? []).includes(name)) return true;
    if ((p.ingressHosts ?? true) && this.#knownHosts.has(name)) return true;
    return false;
  }

  async #allowed(name: string): Promise<boolean> {
    if (this.#allowedSync(name)) return true;
    const ask = this.#o.onDemand?.ask;
    if (ask === undefined) return false;
    try {
      const url = new URL(ask);
      url.searchParams.set('domain', name);
      const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'manual' });
      await res.body?.cancel();
      return res.status === 200;
    } catch (err) {
      this.#log.warn({ err, name, ask }, 'onDemand ask URL failed: refusing');
      return false;
    }
  }

  /**
   * A certificate for `serverName` obtained now (onDemand), or undefined when the policy refuses it,
   * a rate limit holds it, or the order fails. Concurrent calls for one name share one order.
   */
  obtainOnDemand(serverName: string): Promise<StoredCertificate | undefined> {
    const name = serverName.toLowerCase().replace(/\.$/, '');
    const now = this.#now().getTime();
    const have = Object.values(this.#state.certificates).find((c) => c.names.includes(name) && Date.parse(c.notAfter) > now);
    if (have !== undefined) return Promise.resolve(have);
    const running = this.#inFlight.get(name);
    if (running !== undefined) return running;
    const p = this.#onDemand(name).finally(() => this.#inFlight.delete(name));
    this.#inFlight.set(name, p);
    return p;
  }

  async #onDemand(name: string): Promise<StoredCertificate | undefined> {
    const policy = this.#o.onDemand;
    const refuse = (why: string): undefined => {
      this.#log.warn({ code: AcmeCodes.onDemandRefused, name }, `onDemand certificate for ${name} refused: ${why}`);
      return undefined;
    };
    if (policy === undefined || this.#stopped) return refuse('onDemand is off');
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/.test(name) || name.length > 253) return refuse('not a DNS name');
    if (!this.#isLeader()) return refuse('this replica is not the leader');
    if (!(await this.#allowed(name))) return refuse('the allow policy does not list it');
    const b = this.#state.backoff[name];
    if (b !== undefined && Date.parse(b.nextAttemptAt) > this.#now().getTime()) return refuse(`backing off after a failure until ${b.nextAttemptAt}`);
    const now = this.#now().getTime();
    this.#onDemandTimes = this.#onDemandTimes.filter((t) => t > now - 60_000);
    if (this.#onDemandTimes.length >= (policy.perMinute ?? 10)) return refuse('the onDemand rate limit is reached');
    this.#onDemandTimes.push(now);
    const request: CertificateRequest = { id: acmeCertificateId(name), names: [name], origin: 'onDemand', sources: [{ kind: 'AcmeOnDemand', name }] };
    await this.#running
      .run(async () => {
        const p = this.#plan([request]);
        const work = [...p.resume.map((r) => () => this.#resume(r)), ...p.place.map((o) => () => this.#place(o))];
        if (work.length === 0) return;
        if (await this.#ensureAccount(p)) await this.#pool(work);
      })
      .catch((err: unknown) => this.#log.error({ err }, 'onDemand order failed'));
    const cooldown = policy.nameCooldownMs ?? 600_000;
    const after = this.#state.backoff[name];
    if (after !== undefined && Date.parse(after.nextAttemptAt) < this.#now().getTime() + cooldown) {
      await this.#commit({ ...this.#state, backoff: { ...this.#state.backoff, [name]: { ...after, nextAttemptAt: new Date(this.#now().getTime() + cooldown).toISOString() } } });
    }
    return Object.values(this.#state.certificates).find((c) => c.names.includes(name) && Date.parse(c.notAfter) > this.#now().getTime());
  }
}
