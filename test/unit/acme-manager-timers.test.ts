/*
 * The ACME manager's schedule under node:test mock timers: renewal when a third of the lifetime
 * remains or inside the CA's ARI window, per-name backoff after failed orders, the weekly budget.
 * Days pass in milliseconds of test time. In memory: a fake CA behind the manager's protocol seam,
 * a store in memory, no IO, no network (test/integration/acme covers the real CA, Pebble).
 */

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { SubjectAlternativeNameExtension, X509CertificateGenerator } from '@peculiar/x509';
import { AcmeChallenges } from '../../src/acme/challenges.ts';
import { AcmeOrderError } from '../../src/acme/client.ts';
import type { IssuedChain } from '../../src/acme/client.ts';
import { AcmeManager } from '../../src/acme/manager.ts';
import type { AcmeManagerOptions, AcmeProtocol } from '../../src/acme/manager.ts';
import { renewalTime } from '../../src/acme/planner.ts';
import type { CertificateStore } from '../../src/acme/store/types.ts';
import { acmeCertificateId, emptyAcmeState } from '../../src/acme/types.ts';
import type { AccountRecord, AcmeState, CertificateRequest, IssuanceBudget, IssuanceRecord, RenewalWindow, StoredCertificate } from '../../src/acme/types.ts';
import type { Logger } from '../../src/shared/logger.ts';

const START = Date.parse('2025-06-01T00:00:00Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CA = 'https://ca.test/directory';
/** The ISO time `ms` after START. */
const at = (ms: number): string => new Date(START + ms).toISOString();

function request(...names: string[]): CertificateRequest {
  return { id: acmeCertificateId(names[0] ?? ''), names, origin: 'ingress', sources: [{ kind: 'Ingress', namespace: 'web', name: 'site' }] };
}

/** A stored certificate valid from `notBefore` to `notAfter` (ms after START); its PEM is never read. */
function stored(names: string[], notBefore: number, notAfter: number, extra: Partial<StoredCertificate> = {}): StoredCertificate {
  return { id: acmeCertificateId(names[0] ?? ''), names, certPem: 'PEM', keyPem: 'KEY', notBefore: at(notBefore), notAfter: at(notAfter), issuedAt: at(notBefore), origin: 'ingress', ...extra };
}

/** A self-signed leaf for `names`, valid from `notBefore` to `notAfter` (epoch ms): what the CA issues. */
async function leafPem(names: readonly string[], notBefore: number, notAfter: number): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const cert = await X509CertificateGenerator.createSelfSigned({
    name: `CN=${names[0] ?? 'leaf'}`,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    keys,
    signingAlgorithm: alg,
    extensions: [new SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
  });
  return cert.toString('pem');
}

/** A CertificateStore in memory. */
class MemoryStore implements CertificateStore {
  readonly description = 'memory';
  state: AcmeState;

  constructor(state: AcmeState) {
    this.state = state;
  }

  async load(): Promise<AcmeState> {
    return this.state;
  }

  async save(state: AcmeState): Promise<void> {
    this.state = state;
  }
}

/** An order the fake CA received. */
interface PlacedOrder {
  /** Mock time, ms after START. */
  readonly at: number;
  readonly names: readonly string[];
  readonly replaces: string | undefined;
}

/** A CA in memory: orders fail while `down`, certificates live `lifetimeMs`, ARI answers `window`. */
class FakeCa implements AcmeProtocol {
  readonly orders: PlacedOrder[] = [];
  readonly ariChecks: string[] = [];
  down = false;
  lifetimeMs = 90 * DAY;
  window: RenewalWindow | undefined;

  async account(existing: AccountRecord | undefined): Promise<AccountRecord> {
    return existing?.url === undefined ? { caServer: CA, keyPem: 'ACCOUNT KEY', url: `${CA}/account/1` } : existing;
  }

  async placeOrder(names: readonly string[], replaces?: string): Promise<string> {
    this.orders.push({ at: Date.now() - START, names, replaces });
    if (this.down) {
      const problem = { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'the CA is down', cause: 'the CA failed internally: retried later', at: new Date().toISOString() };
      throw new AcmeOrderError(problem, true);
    }
    return `${CA}/order/${this.orders.length}`;
  }

  async completeOrder(orderUrl: string, names: readonly string[]): Promise<IssuedChain> {
    const now = Date.now();
    return { certPem: await leafPem(names, now, now + this.lifetimeMs), orderUrl };
  }

  async renewalInfo(ariId: string): Promise<RenewalWindow | undefined> {
    this.ariChecks.push(ariId);
    return this.window;
  }
}

interface LogLine {
  readonly level: string;
  readonly msg: string;
}

function recordingLogger(lines: LogLine[]): Logger {
  const push =
    (level: string) =>
    (_obj: object, msg?: string): void => {
      lines.push({ level, msg: msg ?? '' });
    };
  const logger: Logger = { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error'), child: () => logger };
  return logger;
}

/** Waits (in real time: orders make keys on the thread pool) until `check` holds. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Lets a planner run that places no order finish: it only awaits the memory store. */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A manager on a fake CA and a memory store, with mock timers from START; `advanceTo` moves the clock. */
function setup(t: TestContext, state: AcmeState, options: Partial<AcmeManagerOptions> = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START });
  const ca = new FakeCa();
  const store = new MemoryStore(state);
  const logs: LogLine[] = [];
  let changes = 0;
  const manager = new AcmeManager({
    client: { directoryUrl: CA, termsAccepted: true },
    protocol: ca,
    store,
    challenges: new AcmeChallenges(),
    logger: recordingLogger(logs),
    onChange: () => changes++,
    ...options,
  });
  let now = 0;
  /**
   * Moves the mock clock to `ms` after START, an hour at most per step (the planner's default check
   * interval), letting each run finish. A run executes at the end of the step its timer fires in.
   */
  const advanceTo = async (ms: number): Promise<void> => {
    assert.ok(ms >= now, 'time only moves forward');
    while (now < ms) {
      const step = Math.min(HOUR, ms - now);
      t.mock.timers.tick(step);
      now += step;
      await flush();
    }
  };
  return { ca, store, logs, manager, advanceTo, changes: () => changes };
}

// ---- renewal windows ----------------------------------------------------------------------------

interface RenewalCase {
  readonly name: string;
  readonly certificate: StoredCertificate;
  /** What the CA answers to an ARI request. */
  readonly window?: RenewalWindow;
  readonly renewFraction?: number;
  /** When the renewal order must go, ms after START. */
  readonly renewAt: number;
}

const ariId = 'a2V5aWQ.AQID';
const ariWindow: RenewalWindow = { start: at(5 * DAY), end: at(7 * DAY), nextCheck: at(40 * DAY) };

const renewalCases: readonly RenewalCase[] = [
  {
    name: 'without ARI, a certificate is renewed when a third of its lifetime remains',
    certificate: stored(['a.example.com'], -10 * DAY, 80 * DAY),
    renewAt: 50 * DAY,
  },
  {
    name: 'renewFraction moves that point (half the lifetime)',
    certificate: stored(['a.example.com'], -10 * DAY, 80 * DAY),
    renewFraction: 1 / 2,
    renewAt: 35 * DAY,
  },
  {
    name: "the CA's ARI window brings the renewal forward, to a point of its first half",
    certificate: stored(['a.example.com'], -DAY, 89 * DAY, { ariId }),
    window: ariWindow,
    renewAt: renewalTime({ ...stored(['a.example.com'], -DAY, 89 * DAY, { ariId }), renewal: ariWindow }).getTime() - START,
  },
];

for (const c of renewalCases) {
  test(`acme manager timers: ${c.name}`, async (t) => {
    const { ca, store, manager, advanceTo } = setup(t, { ...emptyAcmeState, certificates: { [c.certificate.id]: c.certificate } }, c.renewFraction === undefined ? {} : { renewFraction: c.renewFraction });
    if (c.window !== undefined) ca.window = c.window;
    manager.setRequests([request(...c.certificate.names)]);
    await manager.start();
    try {
      await advanceTo(c.renewAt - SECOND);
      assert.equal(ca.orders.length, 0, 'nothing ordered before the renewal time');
      if (c.window !== undefined) {
        assert.deepEqual(ca.ariChecks, [ariId], 'the window was asked once (its nextCheck is later)');
        assert.deepEqual(store.state.certificates[c.certificate.id]?.renewal, c.window, 'the window is stored');
        assert.ok(c.renewAt >= 5 * DAY && c.renewAt <= 6 * DAY, 'inside the first half of the window');
      }
      await advanceTo(c.renewAt);
      await until('the renewal is stored', () => manager.counters.issued === 1);
      assert.deepEqual(ca.orders, [{ at: c.renewAt, names: c.certificate.names, replaces: c.certificate.ariId }]);
      const renewed = store.state.certificates[c.certificate.id];
      assert.equal(renewed?.notBefore, new Date(Math.floor((START + c.renewAt) / SECOND) * SECOND).toISOString(), 'the new certificate replaced the old');
      assert.deepEqual(store.state.issuances.map((i) => i.renewal), [true], 'booked as a renewal');
    } finally {
      await manager.stop();
    }
  });
}

// ---- backoff ------------------------------------------------------------------------------------

interface BackoffCase {
  readonly name: string;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** The wait after each failed order, in order. */
  readonly delays: readonly number[];
}

const backoffCases: readonly BackoffCase[] = [
  {
    name: 'failed orders back off from 1 min, doubling',
    delays: [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 16 * MINUTE, 32 * MINUTE],
  },
  {
    name: 'the backoff starts at backoffBaseMs and stops at backoffMaxMs',
    backoffBaseMs: 10 * SECOND,
    backoffMaxMs: 45 * SECOND,
    delays: [10 * SECOND, 20 * SECOND, 40 * SECOND, 45 * SECOND, 45 * SECOND],
  },
];

for (const c of backoffCases) {
  test(`acme manager timers: ${c.name}; a success clears the backoff`, async (t) => {
    const options = { ...(c.backoffBaseMs === undefined ? {} : { backoffBaseMs: c.backoffBaseMs }), ...(c.backoffMaxMs === undefined ? {} : { backoffMaxMs: c.backoffMaxMs }) };
    const { ca, store, manager, advanceTo, changes } = setup(t, emptyAcmeState, options);
    const name = 'a.example.com';
    ca.down = true;
    manager.setRequests([request(name)]);
    await manager.start();
    try {
      // start() runs the planner 10 ms later: the first order.
      let next = 10;
      await advanceTo(next);
      for (const [i, delay] of c.delays.entries()) {
        await until(`failure ${i + 1} is stored`, () => store.state.backoff[name]?.failures === i + 1);
        await flush();
        const b = store.state.backoff[name];
        assert.equal(b?.nextAttemptAt, at(next + delay));
        assert.equal(b?.lastError?.detail, 'the CA is down');
        assert.equal(changes(), i + 1, 'each failure re-syncs the controller (its diagnostics changed)');
        // The last failure is followed by a success: the CA is back before the next attempt.
        if (i === c.delays.length - 1) ca.down = false;
        await advanceTo(next + delay - SECOND);
        assert.equal(ca.orders.length, i + 1, `no order while backing off after failure ${i + 1}`);
        next += delay;
        await advanceTo(next);
      }
      await until('the certificate is issued', () => manager.counters.issued === 1);
      assert.deepEqual(
        ca.orders.map((o) => o.at),
        c.delays.reduce<number[]>((times, d) => [...times, (times.at(-1) ?? 0) + d], [10]),
      );
      assert.deepEqual(store.state.backoff, {}, 'the success cleared the backoff');
      assert.ok(store.state.certificates[acmeCertificateId(name)]);
    } finally {
      await manager.stop();
    }
  });
}

// ---- weekly budget ------------------------------------------------------------------------------

interface BudgetCase {
  readonly name: string;
  readonly budget?: IssuanceBudget;
  readonly issuances: readonly IssuanceRecord[];
  readonly request: CertificateRequest;
  readonly reason: 'budget' | 'duplicate';
  /** When the oldest issuance that counts leaves the window, ms after START. */
  readonly freeAt: number;
}

const budgetCases: readonly BudgetCase[] = [
  {
    name: 'fifty new certificates of a registered domain this week hold the next one until the oldest is a week old',
    issuances: Array.from({ length: 50 }, (_, i) => ({ names: [`h${i}.example.com`], at: at(-6 * DAY + i * MINUTE), renewal: false })),
    request: request('new.example.com'),
    reason: 'budget',
    freeAt: DAY,
  },
  {
    name: 'five certificates for the same names this week hold a sixth',
    issuances: Array.from({ length: 5 }, (_, i) => ({ names: ['a.example.com'], at: at(-3 * DAY + i * HOUR), renewal: true })),
    request: request('a.example.com'),
    reason: 'duplicate',
    freeAt: 4 * DAY,
  },
  {
    name: 'the budget option sets the limits and the window',
    budget: { perRegisteredDomain: 2, duplicate: 5, windowMs: DAY },
    issuances: [
      { names: ['x.example.org'], at: at(-12 * HOUR), renewal: false },
      { names: ['y.example.org'], at: at(-6 * HOUR), renewal: false },
    ],
    request: request('z.example.org'),
    reason: 'budget',
    freeAt: 12 * HOUR,
  },
];

for (const c of budgetCases) {
  test(`acme manager timers: ${c.name}`, async (t) => {
    const { ca, store, logs, manager, advanceTo } = setup(t, { ...emptyAcmeState, issuances: c.issuances }, c.budget === undefined ? {} : { budget: c.budget });
    manager.setRequests([c.request]);
    await manager.start();
    try {
      await advanceTo(10);
      const wait = manager.lastPlan?.wait ?? [];
      assert.deepEqual(wait.map((w) => [w.reason, w.until.toISOString()]), [[c.reason, at(c.freeAt)]]);
      assert.ok(logs.some((l) => l.level === 'warn' && l.msg === 'order held back by the weekly budget'));
      await advanceTo(c.freeAt - SECOND);
      assert.equal(ca.orders.length, 0, 'nothing ordered while the budget is spent');
      await advanceTo(c.freeAt);
      await until('the certificate is issued', () => manager.counters.issued === 1);
      assert.deepEqual(ca.orders.map((o) => [o.at, o.names]), [[c.freeAt, c.request.names]]);
      // The oldest issuance left the window, the new one joined it.
      assert.equal(store.state.issuances.length, c.issuances.length);
      assert.equal(store.state.issuances.at(-1)?.at, at(c.freeAt));
    } finally {
      await manager.stop();
    }
  });
}

// ---- the injected clock -------------------------------------------------------------------------

const servedCases: readonly { name: string; certificate: StoredCertificate; served: boolean }[] = [
  { name: 'a valid certificate is served', certificate: stored(['a.example.com'], -DAY, DAY), served: true },
  { name: 'an expired certificate is not', certificate: stored(['a.example.com'], -2 * DAY, -SECOND), served: false },
  { name: 'a certificate valid in more than an hour is not yet', certificate: stored(['a.example.com'], 2 * HOUR, DAY), served: false },
  { name: 'a certificate valid within the hour is (clocks differ a little)', certificate: stored(['a.example.com'], 30 * MINUTE, DAY), served: true },
];

for (const c of servedCases) {
  test(`acme manager clock: ${c.name}`, async () => {
    // No mock timers: only the injected clock says when "now" is.
    const manager = new AcmeManager({
      client: { directoryUrl: CA, termsAccepted: true },
      protocol: new FakeCa(),
      store: new MemoryStore({ ...emptyAcmeState, certificates: { [c.certificate.id]: c.certificate } }),
      challenges: new AcmeChallenges(),
      logger: recordingLogger([]),
      now: () => new Date(START),
    });
    // Paused: the state is loaded and nothing runs.
    await manager.start({ paused: true });
    try {
      assert.deepEqual(manager.certificates().map((x) => x.id), c.served ? [c.certificate.id] : []);
    } finally {
      await manager.stop();
    }
  });
}

// ---- telemetry ----------------------------------------------------------------------------------

test('acme manager telemetry: a failed order, then the certificate issued after the backoff, then renewed; the budget left', async (t) => {
  const results: string[] = [];
  const telemetry = { applyFinished() {}, diagnostics() {}, watch() {}, leader() {}, acmeOrder: (r: string) => results.push(r) };
  const { ca, manager, advanceTo } = setup(t, emptyAcmeState, { telemetry, backoffBaseMs: MINUTE });
  ca.down = true;
  ca.lifetimeMs = 3 * DAY;
  manager.setRequests([request('a.example.com')]);
  await manager.start();
  try {
    await advanceTo(SECOND);
    await until('the order failed', () => manager.counters.failures === 1);
    assert.deepEqual(results, ['failed']);
    ca.down = false;
    await advanceTo(2 * MINUTE);
    await until('the certificate is issued', () => manager.counters.issued === 1);
    assert.deepEqual(results, ['failed', 'issued']);
    // A third of 3 days left: renewed after 2 days.
    await advanceTo(2 * DAY + HOUR);
    await until('the certificate is renewed', () => manager.counters.issued === 2);
    assert.deepEqual(results, ['failed', 'issued', 'renewed']);
    // Only the first issuance counts against the weekly budget (renewals are free).
    assert.deepEqual(manager.budgetLeft(), [{ registeredDomain: 'example.com', remaining: 49 }]);
  } finally {
    await manager.stop();
  }
});
