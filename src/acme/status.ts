/*
 * What ACME is doing, for people: per wanted certificate its state (valid, pending, failed) with the
 * expiry and the last error, and the diagnostics the controller shows (logs, Ingress Events,
 * `passerelle check`). Pure: reads a plan and the stored state.
 */

import type { Diagnostic, ObjectRef } from '../shared/diagnostics.ts';
import { defined } from '../shared/optional.ts';
import type { Plan } from './planner.ts';
import { AcmeCodes } from './requests.ts';
import type { AcmeProblem, AcmeState, CertificateRequest, StoredCertificate } from './types.ts';

/** The state of one certificate as `passerelle check` shows it. */
export type CertificateStateName = 'valid' | 'pending' | 'failed' | 'unused';

/** One certificate: wanted (from a request) or stored and no longer wanted (`unused`). */
export interface CertificateStatus {
  readonly id: string;
  readonly names: readonly string[];
  readonly state: CertificateStateName;
  /** Who asks for it (Ingresses, `[[acme.domains]]`, onDemand). */
  readonly sources: readonly ObjectRef[];
  /** The served certificate's expiry, ISO, when one is stored. */
  readonly notAfter?: string;
  /** When it is renewed, ISO (valid certificates). */
  readonly renewAt?: string;
  /** Why it is pending: `order in progress`, `renewal due`, the budget that holds it. */
  readonly detail?: string;
  /** The last failed order of one of its names. */
  readonly lastError?: AcmeProblem;
  /** No order before this time, ISO (backoff or budget). */
  readonly nextAttemptAt?: string;
  /** The challenge that proves its names and why, e.g. `dns-01: *.example.test is a wildcard (...)`. */
  readonly challenge?: string;
}

function lastErrorOf(names: readonly string[], state: AcmeState): AcmeProblem | undefined {
  let best: AcmeProblem | undefined;
  for (const n of names) {
    const e = state.backoff[n]?.lastError;
    if (e !== undefined && (best === undefined || e.at > best.at)) best = e;
  }
  return best;
}

/** The certificate states of a plan, wanted ones first (in request order), then the unused ones. */
export function certificateStatuses(p: Plan, state: AcmeState, now: Date): CertificateStatus[] {
  const out: CertificateStatus[] = [];
  const t = now.getTime();
  const live = (c: StoredCertificate | undefined): StoredCertificate | undefined => (c !== undefined && Date.parse(c.notAfter) > t ? c : undefined);
  const base = (r: CertificateRequest): { id: string; names: readonly string[]; sources: readonly ObjectRef[] } => ({ id: r.id, names: r.names, sources: r.sources });
  for (const v of p.valid) {
    out.push({ ...base(v.request), state: 'valid', notAfter: v.certificate.notAfter, renewAt: v.renewAt.toISOString(), ...defined({ lastError: lastErrorOf(v.request.names, state) }) });
  }
  for (const o of p.place) {
    const c = live(o.replaces);
    out.push({ ...base(o.request), state: c ? 'valid' : 'pending', detail: c ? 'renewal due: ordering' : 'ordering', ...defined({ notAfter: c?.notAfter, lastError: lastErrorOf(o.request.names, state) }) });
  }
  for (const r of p.resume) {
    const c = live(state.certificates[r.request.id]);
    out.push({ ...base(r.request), state: c ? 'valid' : 'pending', detail: `order in progress (${r.order.orderUrl})`, ...defined({ notAfter: c?.notAfter, lastError: lastErrorOf(r.request.names, state) }) });
  }
  for (const w of p.wait) {
    const c = live(state.certificates[w.request.id]);
    const lastError = lastErrorOf(w.request.names, state);
    const failed = w.reason === 'backoff';
    out.push({
      ...base(w.request),
      state: c ? 'valid' : failed ? 'failed' : 'pending',
      detail: failed ? `backing off after failed orders (${w.detail})` : w.reason === 'duplicate' ? 'the weekly limit of duplicate certificates is spent' : `the weekly certificate budget of ${w.detail} is spent`,
      nextAttemptAt: w.until.toISOString(),
      ...defined({ notAfter: c?.notAfter, lastError }),
    });
  }
  for (const c of p.unwanted) out.push({ id: c.id, names: c.names, state: 'unused', sources: [], notAfter: c.notAfter, detail: 'no Ingress or [[acme.domains]] wants it: not renewed' });
  return out;
}

/**
 * Diagnostics of a plan: an error per certificate whose orders fail (the CA's problem detail and
 * the plain-language cause; a warning while a stored certificate still serves), a warning per
 * certificate the weekly budget holds back. Each is about the first object that asked for it (an
 * Ingress: the Kubernetes source records it as an Event there).
 */
export function acmeDiagnostics(p: Plan, state: AcmeState, now: Date): Diagnostic[] {
  const out: Diagnostic[] = [];
  const t = now.getTime();
  for (const w of p.wait) {
    const source = w.request.sources[0];
    const names = w.request.names.join(', ');
    if (w.reason === 'backoff') {
      const problem = lastErrorOf(w.request.names, state);
      const serving = state.certificates[w.request.id];
      const still = serving !== undefined && Date.parse(serving.notAfter) > t;
      out.push({
        severity: still ? 'warning' : 'error',
        code: AcmeCodes.orderFailed,
        message: `certificate for ${names}: ${problem ? `${problem.detail} — ${problem.cause}` : 'the last order failed'}; next attempt after ${w.until.toISOString()}${still ? `; the current certificate serves until ${serving.notAfter}` : ''}`,
        ...defined({ object: source }),
      });
    } else {
      out.push({
        severity: 'warning',
        code: AcmeCodes.budget,
        message: `certificate for ${names} waits until ${w.until.toISOString()}: ${w.reason === 'duplicate' ? 'the weekly limit of duplicate certificates' : `the weekly certificate budget of ${w.detail}`} is spent`,
        ...defined({ object: source }),
      });
    }
  }
  return out;
}

/** Human lines of a certificate section (`passerelle check`). */
export function describeCertificateStatuses(statuses: readonly CertificateStatus[], storage: string): string[] {
  const lines = [`ACME certificates (${storage}): ${statuses.length === 0 ? 'none wanted' : `${statuses.length}`}`];
  for (const s of statuses) {
    const who = s.sources.map((r) => `${r.kind} ${r.namespace === undefined ? r.name : `${r.namespace}/${r.name}`}`).join(', ');
    const head = `  ${s.state.padEnd(7)} ${s.names.join(', ')}`;
    const parts = [
      s.notAfter === undefined ? 'no certificate yet' : `expires ${s.notAfter}`,
      ...(s.renewAt === undefined ? [] : [`renews ${s.renewAt}`]),
      ...(s.detail === undefined ? [] : [s.detail]),
      ...(s.nextAttemptAt === undefined ? [] : [`next attempt after ${s.nextAttemptAt}`]),
      ...(s.challenge === undefined ? [] : [`challenge ${s.challenge}`]),
      ...(who === '' ? [] : [`for ${who}`]),
    ];
    lines.push(`${head}: ${parts.join('; ')}`);
    if (s.lastError !== undefined) lines.push(`          last error (${s.lastError.at}): ${s.lastError.detail} — ${s.lastError.cause}`);
  }
  return lines;
}
