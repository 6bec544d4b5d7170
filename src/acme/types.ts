/*
 * The data of the ACME subsystem: what is wanted (requests), what is stored (certificates, the
 * account, orders in flight, per-name backoff, the issuance log the weekly budget reads).
 * Plain JSON-able values: the stores persist them as they are.
 */

import type { ObjectRef } from '../shared/diagnostics.ts';

/** Where a certificate request comes from. */
export type RequestOrigin = 'domains' | 'ingress' | 'onDemand';

/** One certificate that should exist: its names (the first is the subject) and who asked for it. */
export interface CertificateRequest {
  /** `acme.passerelle/<main>`: a namespace never contains a dot, so no Secret id can collide. */
  readonly id: string;
  /** Lower-case exact DNS names, the main name first, then the SANs sorted, no duplicates. */
  readonly names: readonly string[];
  readonly origin: RequestOrigin;
  /** The Ingresses (or the config) that ask for it, for diagnostics. */
  readonly sources: readonly ObjectRef[];
}

/** ACME Renewal Information (RFC 9773) for one certificate, as last fetched. */
export interface RenewalWindow {
  /** ISO timestamps of the suggested window. */
  readonly start: string;
  readonly end: string;
  /** When to ask again (the CA's Retry-After), ISO. */
  readonly nextCheck: string;
  /** The CA's explanation URL, when given. */
  readonly explanationURL?: string;
}

/** An issued certificate with its private key. */
export interface StoredCertificate {
  readonly id: string;
  /** Names as ordered (main first). */
  readonly names: readonly string[];
  /** Leaf first, then the chain, PEM. */
  readonly certPem: string;
  readonly keyPem: string;
  /** ISO timestamps read from the leaf. */
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  /** Why it was ordered (an onDemand certificate is renewed only while the policy still allows its names). */
  readonly origin?: RequestOrigin;
  /** The order's URL at the CA. */
  readonly orderUrl?: string;
  /** `base64url(AKI).base64url(serial)`: the ARI certificate identifier, when the leaf has an AKI. */
  readonly ariId?: string;
  readonly renewal?: RenewalWindow;
}

/** An order placed at the CA and not finished yet: recorded before finalization so a crash resumes it. */
export interface PendingOrder {
  readonly id: string;
  readonly names: readonly string[];
  readonly orderUrl: string;
  /** The key the CSR is (or will be) made with: kept so a resumed order needs no new key. */
  readonly keyPem: string;
  readonly createdAt: string;
  /** The ARI id of the certificate this order renews. */
  readonly replaces?: string;
}

/** Why an order failed: the CA's problem document and a plain-language cause. */
export interface AcmeProblem {
  /** e.g. `urn:ietf:params:acme:error:connection`. */
  readonly type?: string;
  /** The CA's detail, verbatim. */
  readonly detail: string;
  /** What probably went wrong, in plain words, and what to check. */
  readonly cause: string;
  readonly at: string;
}

/** Exponential backoff of one DNS name after failed orders. */
export interface BackoffState {
  readonly failures: number;
  /** No order for this name before this ISO time. */
  readonly nextAttemptAt: string;
  readonly lastError?: AcmeProblem;
}

/** One certificate issued: what the weekly budget counts. */
export interface IssuanceRecord {
  readonly names: readonly string[];
  readonly at: string;
  /** A renewal of a certificate we held (Let's Encrypt exempts those from the per-domain limit). */
  readonly renewal: boolean;
}

/** The ACME account. */
export interface AccountRecord {
  readonly caServer: string;
  readonly email?: string;
  readonly keyPem: string;
  /** The account URL (`kid`), once registered. */
  readonly url?: string;
}

/** Everything an ACME store keeps. */
export interface AcmeState {
  readonly account?: AccountRecord;
  /** By id. */
  readonly certificates: Readonly<Record<string, StoredCertificate>>;
  /** By id. */
  readonly orders: Readonly<Record<string, PendingOrder>>;
  /** By DNS name. */
  readonly backoff: Readonly<Record<string, BackoffState>>;
  /** The last week's issuances, oldest first. */
  readonly issuances: readonly IssuanceRecord[];
}

/** The ACME challenge types Passerelle answers. */
export type ChallengeType = 'http-01' | 'tls-alpn-01';

/**
 * A challenge the leader is answering, as shared with the other replicas (which may receive the
 * CA's validation request): HTTP-01 is answered by its token, TLS-ALPN-01 by its DNS name.
 */
export interface SharedChallenge {
  readonly type: ChallengeType;
  /** The DNS name being validated. */
  readonly name: string;
  readonly token: string;
  readonly keyAuthorization: string;
  /** Replicas stop answering after this ISO time (a leader that died mid-order leaves nothing behind for long). */
  readonly expiresAt: string;
}

/** An empty state. */
export const emptyAcmeState: AcmeState = { certificates: {}, orders: {}, backoff: {}, issuances: [] };

/**
 * The id of the ACME certificate whose main name is `main`; a wildcard's `*` becomes `_`
 * (`acme.passerelle/_.example.com`): the proxies name certificate files after ids, and no host name
 * contains `_`.
 */
export function acmeCertificateId(main: string): string {
  return `acme.passerelle/${main.replace(/^\*\./, '_.')}`;
}

/** Weekly issuance limits, per registered domain and per exact set of names. */
export interface IssuanceBudget {
  /** Certificates per registered domain per window (Let's Encrypt: 50 per week). */
  readonly perRegisteredDomain: number;
  /** Certificates for one exact set of names per window (Let's Encrypt: 5 per week). */
  readonly duplicate: number;
  /** The window, ms (a week). */
  readonly windowMs: number;
}

/** Let's Encrypt's published limits. */
export const LETS_ENCRYPT_BUDGET: IssuanceBudget = { perRegisteredDomain: 50, duplicate: 5, windowMs: 7 * 24 * 3600_000 };
