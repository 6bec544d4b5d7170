/*
 * The ACME planner: requests + stored state + now → what to order, what to resume, what waits
 * (backoff, weekly budget), what is valid until when, and what to stop renewing. Pure.
 */

import { createHash } from 'node:crypto';
import { defined } from '../shared/optional.ts';
import type {
  AcmeState,
  BackoffState,
  CertificateRequest,
  IssuanceBudget,
  IssuanceRecord,
  PendingOrder,
  StoredCertificate,
} from './types.ts';
import { LETS_ENCRYPT_BUDGET } from './types.ts';

/** Why an order is placed. */
export type OrderReason = 'new' | 'renew' | 'names-changed' | 'expired';

/** An order to place now. */
export interface PlannedOrder {
  readonly request: CertificateRequest;
  readonly reason: OrderReason;
  /** The stored certificate this order renews or replaces. */
  readonly replaces?: StoredCertificate;
}

/** An order already placed (recorded before finalization) to carry on. */
export interface PlannedResume {
  readonly request: CertificateRequest;
  readonly order: PendingOrder;
}

/** Why a wanted certificate is not ordered now. */
export type WaitReason = 'backoff' | 'budget' | 'duplicate';

/** A wanted certificate that must wait. */
export interface PlannedWait {
  readonly request: CertificateRequest;
  readonly reason: WaitReason;
  /** The earliest time it may be ordered. */
  readonly until: Date;
  /** The names (backoff) or registered domain (budget) that hold it back. */
  readonly detail: string;
}

/** A wanted certificate that is valid and not due. */
export interface PlannedValid {
  readonly request: CertificateRequest;
  readonly certificate: StoredCertificate;
  readonly renewAt: Date;
}

/** The planner's answer. */
export interface Plan {
  readonly place: readonly PlannedOrder[];
  readonly resume: readonly PlannedResume[];
  readonly wait: readonly PlannedWait[];
  readonly valid: readonly PlannedValid[];
  /** Stored certificates no request wants any more: no longer renewed (kept until they expire). */
  readonly unwanted: readonly StoredCertificate[];
  /** Stored certificates past notAfter and not wanted: to delete. */
  readonly expired: readonly StoredCertificate[];
  /** Pending orders no request wants (or too old to finish): to forget. */
  readonly abandon: readonly PendingOrder[];
  /** When the planner should run again, at the latest (undefined: nothing scheduled). */
  readonly wakeAt: Date | undefined;
}

/** Planner inputs besides the state. */
export interface PlanInput {
  readonly requests: readonly CertificateRequest[];
  readonly state: AcmeState;
  readonly now: Date;
  readonly budget?: IssuanceBudget;
  /** Renew when this fraction of the lifetime remains (default 1/3). */
  readonly renewFraction?: number;
  /** Orders older than this are abandoned (default 6 days: Let's Encrypt expires orders after 7). */
  readonly orderMaxAgeMs?: number;
}

const DEFAULT_ORDER_MAX_AGE = 6 * 24 * 3600_000;

/** A stable fraction in [0, 1) from a string: where in the ARI window to renew. */
function stableFraction(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * When a stored certificate is due for renewal: inside the CA's ARI window when one is known (at a
 * stable point of its first half, so replicas agree and renewals spread), else when `fraction` of
 * the lifetime remains.
 */
export function renewalTime(cert: StoredCertificate, fraction = 1 / 3): Date {
  if (cert.renewal !== undefined) {
    const start = Date.parse(cert.renewal.start);
    const end = Date.parse(cert.renewal.end);
    if (Number.isFinite(start) && Number.isFinite(end) && end >= start) {
      return new Date(start + Math.floor((end - start) * 0.5 * stableFraction(cert.ariId ?? cert.id)));
    }
  }
  const nb = Date.parse(cert.notBefore);
  const na = Date.parse(cert.notAfter);
  return new Date(na - (na - nb) * fraction);
}

/**
 * The registered domain of a name (the label under its public suffix). Without the full Public Suffix
 * List this knows the common two-label suffixes (`co.uk`, `com.au`, …) and otherwise takes the last
 * two labels.
 */
export function registeredDomain(name: string): string {
  const labels = name.toLowerCase().replace(/^\*\./, '').split('.');
  const two = labels.slice(-2).join('.');
  const n = TWO_LABEL_SUFFIXES.has(two) ? 3 : 2;
  return labels.slice(-n).join('.');
}

const TWO_LABEL_SUFFIXES = new Set([
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'ltd.uk', 'plc.uk', 'net.uk',
  'com.au', 'net.au', 'org.au', 'edu.au', 'gov.au', 'co.nz', 'org.nz', 'net.nz',
  'co.jp', 'ne.jp', 'or.jp', 'ac.jp', 'co.za', 'org.za', 'com.br', 'net.br', 'org.br',
  'com.cn', 'net.cn', 'org.cn', 'co.in', 'net.in', 'org.in', 'com.mx', 'com.tr', 'co.kr',
  'com.sg', 'com.hk', 'com.tw', 'co.il', 'com.ar', 'com.co', 'github.io', 'gitlab.io',
  'herokuapp.com', 'netlify.app', 'vercel.app', 'pages.dev', 'workers.dev', 'azurewebsites.net',
  'cloudfront.net', 'appspot.com', 'blogspot.com', 'nip.io', 'sslip.io',
]);

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((n) => s.has(n));
}

function covers(cert: StoredCertificate, names: readonly string[]): boolean {
  const s = new Set(cert.names);
  return names.every((n) => s.has(n));
}

function namesKey(names: readonly string[]): string {
  return [...names].sort().join(',');
}

/** The latest backoff among a request's names, when one is still running. */
function backoffOf(names: readonly string[], backoff: Readonly<Record<string, BackoffState>>, now: number): { until: number; names: string[] } | undefined {
  let until = -Infinity;
  const held: string[] = [];
  for (const n of names) {
    const b = backoff[n];
    if (b === undefined) continue;
    const t = Date.parse(b.nextAttemptAt);
    if (t > now) {
      held.push(n);
      until = Math.max(until, t);
    }
  }
  return held.length === 0 ? undefined : { until, names: held };
}

/**
 * New (non-renewal) certificates the weekly budget still allows per registered domain, for each
 * registered domain of `names` and of the issuances in the window ending at `now`, sorted by domain.
 */
export function budgetLeft(budget: IssuanceBudget, records: readonly IssuanceRecord[], names: Iterable<string>, now: Date): { registeredDomain: string; remaining: number }[] {
  const t = now.getTime();
  const inWindow = records.filter((r) => {
    const at = Date.parse(r.at);
    return at > t - budget.windowMs && at <= t;
  });
  const used = new Map<string, number>();
  for (const n of names) used.set(registeredDomain(n), 0);
  for (const r of inWindow) for (const d of new Set(r.names.map(registeredDomain))) used.set(d, (used.get(d) ?? 0) + (r.renewal ? 0 : 1));
  return [...used].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([registeredDomain, n]) => ({ registeredDomain, remaining: Math.max(0, budget.perRegisteredDomain - n) }));
}

/** Counts issuances inside the window, with what a plan adds on top. */
class BudgetLedger {
  readonly #budget: IssuanceBudget;
  readonly #records: IssuanceRecord[];
  readonly #now: number;

  constructor(budget: IssuanceBudget, records: readonly IssuanceRecord[], now: number) {
    this.#budget = budget;
    this.#now = now;
    this.#records = records.filter((r) => {
      const t = Date.parse(r.at);
      return t > now - budget.windowMs && t <= now;
    });
  }

  /** Undefined when allowed; otherwise what blocks it and until when. */
  check(names: readonly string[], renewal: boolean): { reason: WaitReason; until: Date; detail: string } | undefined {
    const key = namesKey(names);
    const dup = this.#records.filter((r) => namesKey(r.names) === key);
    if (dup.length >= this.#budget.duplicate) {
      return { reason: 'duplicate', until: this.#freeAt(dup, this.#budget.duplicate), detail: key };
    }
    if (renewal) return undefined;
    for (const domain of new Set(names.map(registeredDomain))) {
      const counted = this.#records.filter((r) => !r.renewal && r.names.some((n) => registeredDomain(n) === domain));
      if (counted.length >= this.#budget.perRegisteredDomain) {
        return { reason: 'budget', until: this.#freeAt(counted, this.#budget.perRegisteredDomain), detail: domain };
      }
    }
    return undefined;
  }

  /** Books an order placed by the plan (counted as if issued now). */
  book(names: readonly string[], renewal: boolean): void {
    this.#records.push({ names, at: new Date(this.#now).toISOString(), renewal });
  }

  /** When enough of `records` leave the window for one more. */
  #freeAt(records: readonly IssuanceRecord[], limit: number): Date {
    const times = records.map((r) => Date.parse(r.at)).sort((a, b) => a - b);
    const idx = Math.max(0, times.length - limit);
    return new Date((times[idx] ?? this.#now) + this.#budget.windowMs);
  }
}

/**
 * Plans ACME work. A request is satisfied by its own stored certificate or any stored certificate
 * covering all its names that is not due; a due or missing one is ordered unless a pending order
 * exists (resumed instead), one of its names is backing off, or the weekly budget is spent (then it
 * waits, with the time it may go). Stored certificates no request wants are listed as unwanted
 * (never renewed) and, once expired, as expired.
 */
export function plan(input: PlanInput): Plan {
  const now = input.now.getTime();
  const fraction = input.renewFraction ?? 1 / 3;
  const budget = new BudgetLedger(input.budget ?? LETS_ENCRYPT_BUDGET, input.state.issuances, now);
  const maxAge = input.orderMaxAgeMs ?? DEFAULT_ORDER_MAX_AGE;
  const stored = Object.values(input.state.certificates);
  const place: PlannedOrder[] = [];
  const resume: PlannedResume[] = [];
  const wait: PlannedWait[] = [];
  const valid: PlannedValid[] = [];
  const abandon: PendingOrder[] = [];
  const wantedIds = new Set<string>();
  const usedCerts = new Set<string>();
  const wake: number[] = [];

  for (const order of Object.values(input.state.orders)) {
    if (Date.parse(order.createdAt) < now - maxAge) abandon.push(order);
  }
  const abandoned = new Set(abandon.map((o) => o.id));

  for (const request of input.requests) {
    wantedIds.add(request.id);
    const own = input.state.certificates[request.id];
    // Its own certificate first, then any other that covers every name (e.g. one onDemand made).
    const candidates = [own, ...stored.filter((c) => c.id !== request.id)].filter(
      (c): c is StoredCertificate => c !== undefined && covers(c, request.names) && Date.parse(c.notAfter) > now,
    );
    const current = candidates.map((c) => ({ c, renewAt: renewalTime(c, fraction) })).sort((a, b) => b.renewAt.getTime() - a.renewAt.getTime())[0];
    if (current !== undefined && current.renewAt.getTime() > now) {
      usedCerts.add(current.c.id);
      valid.push({ request, certificate: current.c, renewAt: current.renewAt });
      wake.push(current.renewAt.getTime());
      continue;
    }
    if (current !== undefined) usedCerts.add(current.c.id);

    const pending = input.state.orders[request.id];
    const resumable = pending !== undefined && !abandoned.has(pending.id) && sameNames(pending.names, request.names);
    if (pending !== undefined && !abandoned.has(pending.id) && !resumable) abandon.push(pending);

    // A failed order that is still alive (e.g. its DNS record could not be written) waits out the backoff too.
    const off = backoffOf(request.names, input.state.backoff, now);
    if (off !== undefined) {
      wait.push({ request, reason: 'backoff', until: new Date(off.until), detail: off.names.join(', ') });
      wake.push(off.until);
      continue;
    }
    if (resumable) {
      resume.push({ request, order: pending });
      continue;
    }

    let reason: OrderReason;
    let replaces: StoredCertificate | undefined;
    if (current !== undefined) {
      reason = 'renew';
      replaces = current.c;
    } else if (own !== undefined && Date.parse(own.notAfter) <= now) {
      reason = 'expired';
      replaces = own;
    } else if (own !== undefined) {
      reason = 'names-changed';
      replaces = own;
    } else {
      reason = 'new';
    }
    const isRenewal = replaces !== undefined && sameNames(replaces.names, request.names);
    const blocked = budget.check(request.names, isRenewal);
    if (blocked !== undefined) {
      wait.push({ request, ...blocked });
      wake.push(blocked.until.getTime());
      continue;
    }
    budget.book(request.names, isRenewal);
    place.push({ request, reason, ...defined({ replaces }) });
  }

  for (const order of Object.values(input.state.orders)) {
    if (!wantedIds.has(order.id) && !abandoned.has(order.id)) abandon.push(order);
  }
  const unwanted: StoredCertificate[] = [];
  const expired: StoredCertificate[] = [];
  for (const c of stored) {
    if (wantedIds.has(c.id) || usedCerts.has(c.id)) continue;
    if (Date.parse(c.notAfter) <= now) expired.push(c);
    else {
      unwanted.push(c);
      wake.push(Date.parse(c.notAfter));
    }
  }
  const sortById = <T extends { readonly id: string }>(xs: T[]): T[] => xs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const future = wake.filter((t) => Number.isFinite(t) && t > now);
  return {
    place,
    resume,
    wait,
    valid,
    unwanted: sortById(unwanted),
    expired: sortById(expired),
    abandon: sortById(abandon),
    wakeAt: future.length === 0 ? undefined : new Date(Math.min(...future)),
  };
}
