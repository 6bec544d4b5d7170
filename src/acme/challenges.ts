/*
 * The challenges this replica answers: HTTP-01 key authorizations (`/.well-known/acme-challenge/`
 * in every driver) and TLS-ALPN-01 challenge certificates (RFC 8737, the native driver's
 * handshake). The leader adds its own; with a store shared by several replicas
 * (`CertificateStore.challenges`), every add or removal is published before the CA is told to
 * validate, and every replica answers what the leader published, since the CA's request may reach
 * any replica behind a Service.
 */

import acme from 'acme-client';
import type { Logger } from '../shared/logger.ts';
import { silentLogger } from '../shared/logger.ts';
import { SerialQueue } from '../shared/serial.ts';
import type { ChallengeShare } from './store/types.ts';
import type { ChallengeType, SharedChallenge } from './types.ts';

/** A self-signed TLS-ALPN-01 challenge certificate and its key, PEM. */
export interface ChallengeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options of {@link AcmeChallenges}. */
export interface AcmeChallengesOptions {
  /** Where the leader publishes and every replica follows; absent: this replica answers alone. */
  readonly share?: ChallengeShare;
  readonly logger?: Logger;
  /** How long a published challenge is answered at most (default 15 min). */
  readonly ttlMs?: number;
  readonly now?: () => Date;
}

/** A challenge being added by this replica. */
export interface OwnChallenge {
  readonly type: ChallengeType;
  readonly name: string;
  readonly token: string;
  readonly keyAuthorization: string;
}

/**
 * The self-signed certificate of a TLS-ALPN-01 challenge: the name as its only DNS SAN and the
 * critical acmeIdentifier extension holding SHA-256(keyAuthorization) (RFC 8737 §3), ECDSA P-256.
 */
export async function createChallengeCertificate(name: string, keyAuthorization: string): Promise<ChallengeCertificate> {
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  const authz = { identifier: { type: 'dns', value: name } } as Parameters<typeof acme.crypto.createAlpnCertificate>[0];
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, key);
  return { certPem: certPem.toString(), keyPem: keyPem.toString() };
}

function keyOf(c: { readonly type: ChallengeType; readonly name: string; readonly token: string }): string {
  return c.type === 'http-01' ? `http-01/${c.token}` : `tls-alpn-01/${c.name}/${c.token}`;
}

/** The challenges this replica answers; see the file comment. */
export class AcmeChallenges {
  readonly #o: AcmeChallengesOptions;
  readonly #log: Logger;
  /** Added by this replica, by {@link keyOf}. */
  readonly #own = new Map<string, SharedChallenge>();
  /** What the leader published (this replica's own included when it leads). */
  #shared: readonly SharedChallenge[] = [];
  /** TLS-ALPN-01 certificates by `name\0keyAuthorization`. */
  readonly #certs = new Map<string, Promise<ChallengeCertificate | undefined>>();
  readonly #publishing = new SerialQueue();
  #version = 0;
  #publishedVersion = 0;
  /** An add happened since the last publication: the next one waits for propagation. */
  #propagate = false;
  #unfollow: (() => void) | undefined;

  constructor(options: AcmeChallengesOptions = {}) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'acme-challenges' });
  }

  #now(): number {
    return (this.#o.now?.() ?? new Date()).getTime();
  }

  /** Whether challenges are shared with other replicas. */
  get shared(): boolean {
    return this.#o.share !== undefined;
  }

  /** Starts following what the leader publishes (no-op without a share). */
  start(): void {
    if (this.#o.share === undefined || this.#unfollow !== undefined) return;
    this.#unfollow = this.#o.share.follow((challenges) => {
      this.#shared = challenges;
      this.#pruneCertificates();
    });
  }

  /** Stops following; waits for a publication in progress. */
  async stop(): Promise<void> {
    this.#unfollow?.();
    this.#unfollow = undefined;
    await this.#publishing.idle();
  }

  /** Challenges answered now (own and published, not expired), for tests and diagnostics. */
  pending(): SharedChallenge[] {
    const now = this.#now();
    const out = new Map<string, SharedChallenge>();
    for (const c of this.#shared) if (Date.parse(c.expiresAt) > now) out.set(keyOf(c), c);
    for (const [k, c] of this.#own) out.set(k, c);
    return [...out.values()];
  }

  /** Number of challenges answered now. */
  get size(): number {
    return this.pending().length;
  }

  /**
   * Answers `c` from now on. With a share, resolves once it is published (and propagated as far as
   * the share can tell); a publication that fails is logged, and this replica still answers.
   * A TLS-ALPN-01 certificate is made before it resolves, so the validation handshake does not wait.
   */
  async add(c: OwnChallenge): Promise<void> {
    const entry: SharedChallenge = { ...c, expiresAt: new Date(this.#now() + (this.#o.ttlMs ?? 15 * 60_000)).toISOString() };
    if (c.type === 'tls-alpn-01') await this.#certificate(c.name, c.keyAuthorization);
    this.#own.set(keyOf(entry), entry);
    this.#propagate = true;
    await this.#publish();
  }

  /** Stops answering `c` (and unpublishes it). */
  async remove(c: OwnChallenge): Promise<void> {
    this.#own.delete(keyOf(c));
    if (c.type === 'tls-alpn-01') this.#certs.delete(`${c.name}\0${c.keyAuthorization}`);
    await this.#publish();
  }

  /** Publishes the own set; concurrent calls are coalesced into the latest set. */
  #publish(): Promise<void> {
    const share = this.#o.share;
    if (share === undefined) return Promise.resolve();
    const version = ++this.#version;
    return this.#publishing.run(async () => {
      if (this.#publishedVersion >= version) return;
      const upTo = this.#version;
      const set = [...this.#own.values()];
      const propagate = this.#propagate;
      this.#propagate = false;
      try {
        await share.publish(set, { propagate });
        this.#publishedVersion = upTo;
        this.#log.debug({ challenges: set.length, share: share.description }, 'challenges published');
      } catch (err) {
        this.#log.warn({ err, share: share.description }, 'cannot publish the ACME challenges: only this replica answers them');
      }
    });
  }

  /** The key authorization of an HTTP-01 token, or undefined (the driver hook `AcmeChallengeHook`). */
  readonly http01 = (token: string): string | undefined => {
    const own = this.#own.get(`http-01/${token}`);
    if (own !== undefined) return own.keyAuthorization;
    const now = this.#now();
    return this.#shared.find((c) => c.type === 'http-01' && c.token === token && Date.parse(c.expiresAt) > now)?.keyAuthorization;
  };

  /** Whether a TLS-ALPN-01 challenge is pending for `name`. */
  hasTlsAlpn(name: string): boolean {
    return this.#tlsAlpnEntry(name) !== undefined;
  }

  #tlsAlpnEntry(serverName: string): SharedChallenge | undefined {
    const name = serverName.toLowerCase().replace(/\.$/, '');
    for (const c of this.#own.values()) if (c.type === 'tls-alpn-01' && c.name === name) return c;
    const now = this.#now();
    return this.#shared.find((c) => c.type === 'tls-alpn-01' && c.name === name && Date.parse(c.expiresAt) > now);
  }

  /**
   * The TLS-ALPN-01 challenge certificate for a handshake with `serverName` that offered
   * `acme-tls/1`, or undefined when no challenge is pending for it (the driver hook).
   */
  readonly tlsAlpn = (serverName: string): Promise<ChallengeCertificate | undefined> | undefined => {
    const c = this.#tlsAlpnEntry(serverName);
    return c === undefined ? undefined : this.#certificate(c.name, c.keyAuthorization);
  };

  #certificate(name: string, keyAuthorization: string): Promise<ChallengeCertificate | undefined> {
    const k = `${name}\0${keyAuthorization}`;
    let p = this.#certs.get(k);
    if (p === undefined) {
      p = createChallengeCertificate(name, keyAuthorization).catch((err: unknown) => {
        this.#log.error({ err, name }, 'cannot make the TLS-ALPN-01 challenge certificate');
        this.#certs.delete(k);
        return undefined;
      });
      this.#certs.set(k, p);
    }
    return p;
  }

  /** Forgets certificates of challenges no longer pending. */
  #pruneCertificates(): void {
    const live = new Set(this.pending().filter((c) => c.type === 'tls-alpn-01').map((c) => `${c.name}\0${c.keyAuthorization}`));
    for (const k of this.#certs.keys()) if (!live.has(k)) this.#certs.delete(k);
  }
}
