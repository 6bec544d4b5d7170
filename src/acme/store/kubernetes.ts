/*
 * ACME state in Kubernetes Secrets, shared by the replicas of the controller: one
 * `kubernetes.io/tls` Secret per certificate (`PREFIX-<main name>`: tls.crt, tls.key, and the names,
 * dates and order state as annotations, so that anything reading TLS Secrets can use it) plus one
 * Opaque Secret `PREFIX` with the rest (the account and its key, orders in flight, per-name
 * backoff, the issuance log). All carry the label `passerelle.dev/acme-store=PREFIX`. The leader
 * writes; followers watch the label and reload when someone else changed a Secret.
 *
 * While an order is in progress, a third kind, the Opaque Secret `PREFIX-challenges`, holds the
 * challenges the leader answers (HTTP-01 tokens and TLS-ALPN-01 names with their key
 * authorizations), so that a follower reached by the CA's validation request answers it too: the
 * leader writes it before telling the CA to validate, waits until its own watch has seen the write
 * plus a short propagation delay for the followers' watches, and deletes it when nothing is pending.
 */

import { createHash } from 'node:crypto';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { PassError } from '../../shared/errors.ts';
import { defined } from '../../shared/optional.ts';
import { SerialQueue } from '../../shared/serial.ts';
import type { CertificateStore, ChallengeShare, SecretApi, SecretObject } from './types.ts';
import { acmeCertificateId } from '../types.ts';
import type { AccountRecord, AcmeState, BackoffState, IssuanceRecord, PendingOrder, RenewalWindow, SharedChallenge, StoredCertificate } from '../types.ts';

/** Label that marks the Secrets of one store (its value: the prefix). */
export const ACME_STORE_LABEL = 'passerelle.dev/acme-store';
/** Label that tells the state Secret (`state`) from the certificate Secrets (`certificate`) and the challenges Secret (`challenges`). */
export const ACME_PART_LABEL = 'passerelle.dev/acme-part';
const A = 'acme.passerelle.dev/';

/** Options of {@link KubernetesCertificateStore}. */
export interface KubernetesStoreOptions {
  /** The Secrets of the namespace they live in (the Kubernetes source's SecretClient, injected by the CLI). */
  readonly secrets: SecretApi;
  /** Name prefix of the Secrets and value of their label (default `passerelle-acme`). */
  readonly prefix: string;
  readonly logger?: Logger;
  /**
   * After the challenges Secret is written and this replica's watch has seen it, how long the
   * leader waits for the other replicas' watches before the CA is told to validate (default 1 s).
   */
  readonly challengePropagationMs?: number;
  /** How long the leader waits for its own watch to see the challenges Secret (default 5 s). */
  readonly challengeWatchTimeoutMs?: number;
}

interface StateShape {
  version: 1;
  account?: AccountRecord;
  orders: Record<string, PendingOrder>;
  backoff: Record<string, BackoffState>;
  issuances: IssuanceRecord[];
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** What identifies the content of a Secret (to tell our own writes from other writers'). */
function contentKey(s: SecretObject): string {
  const data = Object.entries(s.data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const ann = Object.entries(s.metadata.annotations ?? {})
    .filter(([k]) => k.startsWith(A))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify([s.type ?? '', data, ann])).digest('base64');
}

/** The name of the Secret holding the pending challenges: `PREFIX-challenges`. */
export function challengesSecretName(prefix: string): string {
  return `${prefix}-challenges`;
}

/**
 * The Secret name of a certificate: `PREFIX-<main name>` (hashed when too long for a Secret name,
 * for a wildcard, or when it would be the challenges Secret's name).
 */
export function certificateSecretName(prefix: string, main: string): string {
  const name = `${prefix}-${main}`;
  // A wildcard's `*` is not allowed in a Secret name: hashed too (no host name can collide with it).
  return name.length <= 253 && name !== challengesSecretName(prefix) && !main.startsWith('*') ? name : `${prefix}-${createHash('sha256').update(main).digest('hex').slice(0, 32)}`;
}

/** The challenges Secret for a set of pending challenges. */
export function challengesToSecret(prefix: string, challenges: readonly SharedChallenge[]): SecretObject {
  const sorted = [...challenges].sort((a, b) => (a.type + a.name + a.token < b.type + b.name + b.token ? -1 : 1));
  return {
    metadata: {
      name: challengesSecretName(prefix),
      labels: { [ACME_STORE_LABEL]: prefix, [ACME_PART_LABEL]: 'challenges', 'app.kubernetes.io/managed-by': 'passerelle' },
    },
    type: 'Opaque',
    data: { 'challenges.json': b64(JSON.stringify({ version: 1, challenges: sorted })) },
  };
}

function isSharedChallenge(v: unknown): v is SharedChallenge {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (c['type'] === 'http-01' || c['type'] === 'tls-alpn-01') && typeof c['name'] === 'string' && typeof c['token'] === 'string' && typeof c['keyAuthorization'] === 'string' && typeof c['expiresAt'] === 'string';
}

/** The challenges of a challenges Secret; undefined when it is damaged. */
export function challengesFromSecret(s: SecretObject): SharedChallenge[] | undefined {
  try {
    const parsed = JSON.parse(unb64(s.data?.['challenges.json'])) as { challenges?: unknown };
    if (!Array.isArray(parsed.challenges)) return undefined;
    return parsed.challenges.filter(isSharedChallenge).map((c) => ({ type: c.type, name: c.name, token: c.token, keyAuthorization: c.keyAuthorization, expiresAt: c.expiresAt }));
  } catch {
    return undefined;
  }
}

/** The challenges Secret of one store: see the file comment. */
class KubernetesChallengeShare implements ChallengeShare {
  readonly description: string;
  readonly #o: KubernetesStoreOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(challenges: readonly SharedChallenge[]) => void>();
  #stopWatch: (() => Promise<void>) | undefined;
  /** The challenges as last seen by the watch (undefined: no Secret, or not listed yet). */
  #current: SharedChallenge[] | undefined;
  /** resourceVersions the watch delivered lately (newest last). */
  readonly #seen: string[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(options: KubernetesStoreOptions, log: Logger) {
    this.#o = options;
    this.#log = log;
    this.description = `kubernetes Secret ${options.secrets.namespace}/${challengesSecretName(options.prefix)}`;
  }

  async publish(challenges: readonly SharedChallenge[], options: { readonly propagate?: boolean } = {}): Promise<void> {
    const name = challengesSecretName(this.#o.prefix);
    if (challenges.length === 0) {
      // Nothing pending: the Secret goes (nothing to wait for, a follower only stops answering).
      await this.#o.secrets.delete(name);
      return;
    }
    const written = await this.#o.secrets.upsert(challengesToSecret(this.#o.prefix, challenges));
    const rv = written.metadata.resourceVersion;
    if (options.propagate === false) return;
    if (this.#stopWatch !== undefined && rv !== undefined) {
      const timeoutMs = this.#o.challengeWatchTimeoutMs ?? 5000;
      const seen = await this.#waitSeen(rv, timeoutMs);
      if (!seen) this.#log.warn({ secret: name, resourceVersion: rv, timeoutMs }, 'the challenges Secret was written but not seen by the watch in time: going on');
    }
    const delay = this.#o.challengePropagationMs ?? 1000;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  }

  #waitSeen(rv: string, timeoutMs: number): Promise<boolean> {
    if (this.#seen.includes(rv)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.#seen.includes(rv)) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  follow(listener: (challenges: readonly SharedChallenge[]) => void): () => void {
    this.#listeners.add(listener);
    if (this.#current !== undefined) listener(this.#current);
    this.#stopWatch ??= this.#o.secrets.watch(
      `${ACME_STORE_LABEL}=${this.#o.prefix},${ACME_PART_LABEL}=challenges`,
      (change) => {
        if (change.secret.metadata.name !== challengesSecretName(this.#o.prefix)) return;
        const rv = change.secret.metadata.resourceVersion;
        if (rv !== undefined) {
          this.#seen.push(rv);
          if (this.#seen.length > 64) this.#seen.shift();
        }
        if (change.type === 'deleted') {
          this.#current = [];
        } else {
          const parsed = challengesFromSecret(change.secret);
          if (parsed === undefined) this.#log.warn({ secret: change.secret.metadata.name }, 'the ACME challenges Secret is damaged: answering no shared challenge');
          this.#current = parsed ?? [];
        }
        for (const l of this.#listeners) l(this.#current);
        for (const w of [...this.#waiters]) w();
      },
      { initial: true },
    );
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size > 0 || this.#stopWatch === undefined) return;
      void this.#stopWatch();
      this.#stopWatch = undefined;
      this.#current = undefined;
    };
  }
}

/** A stored certificate as a `kubernetes.io/tls` Secret. */
export function certificateToSecret(prefix: string, c: StoredCertificate): SecretObject {
  const annotations: Record<string, string> = {
    [`${A}id`]: c.id,
    [`${A}names`]: c.names.join(','),
    [`${A}not-before`]: c.notBefore,
    [`${A}not-after`]: c.notAfter,
    [`${A}issued-at`]: c.issuedAt,
  };
  if (c.origin !== undefined) annotations[`${A}origin`] = c.origin;
  if (c.orderUrl !== undefined) annotations[`${A}order-url`] = c.orderUrl;
  if (c.ariId !== undefined) annotations[`${A}ari-id`] = c.ariId;
  if (c.renewal !== undefined) annotations[`${A}renewal`] = JSON.stringify(c.renewal);
  return {
    metadata: {
      name: certificateSecretName(prefix, c.names[0] ?? c.id),
      labels: { [ACME_STORE_LABEL]: prefix, [ACME_PART_LABEL]: 'certificate', 'app.kubernetes.io/managed-by': 'passerelle' },
      annotations,
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(c.certPem), 'tls.key': b64(c.keyPem) },
  };
}

/** A certificate Secret back to a stored certificate; undefined when it is not one of ours or is damaged. */
export function certificateFromSecret(s: SecretObject): StoredCertificate | undefined {
  const a = s.metadata.annotations ?? {};
  const names = (a[`${A}names`] ?? '').split(',').filter((n) => n !== '');
  const main = names[0];
  const certPem = unb64(s.data?.['tls.crt']);
  const keyPem = unb64(s.data?.['tls.key']);
  const notBefore = a[`${A}not-before`];
  const notAfter = a[`${A}not-after`];
  if (main === undefined || notBefore === undefined || notAfter === undefined || !certPem.includes('BEGIN CERTIFICATE') || !keyPem.includes('PRIVATE KEY')) return undefined;
  let renewal: RenewalWindow | undefined;
  const renewalText = a[`${A}renewal`];
  try {
    renewal = renewalText === undefined ? undefined : (JSON.parse(renewalText) as RenewalWindow);
  } catch {
    renewal = undefined;
  }
  const origin = a[`${A}origin`];
  return {
    id: a[`${A}id`] ?? acmeCertificateId(main),
    names,
    certPem,
    keyPem,
    notBefore,
    notAfter,
    issuedAt: a[`${A}issued-at`] ?? notBefore,
    ...(origin === 'domains' || origin === 'ingress' || origin === 'onDemand' ? { origin } : {}),
    ...defined({ orderUrl: a[`${A}order-url`], ariId: a[`${A}ari-id`], renewal }),
  };
}

/** ACME state in Secrets; see the file comment. */
export class KubernetesCertificateStore implements CertificateStore {
  readonly description: string;
  /** The challenges Secret the leader publishes pending challenges in. */
  readonly challenges: ChallengeShare;
  readonly #o: KubernetesStoreOptions;
  readonly #log: Logger;
  /** Secret name → content key, as last loaded or written by us. */
  #known = new Map<string, string>();
  readonly #queue = new SerialQueue();

  constructor(options: KubernetesStoreOptions) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child({ store: 'kubernetes' });
    this.description = `kubernetes Secrets ${options.secrets.namespace}/${options.prefix}*`;
    this.challenges = new KubernetesChallengeShare(options, this.#log);
  }

  /** The state and certificate Secrets (not the challenges Secret, which changes with every order). */
  #selector(): string {
    return `${ACME_STORE_LABEL}=${this.#o.prefix},${ACME_PART_LABEL}!=challenges`;
  }

  async load(): Promise<AcmeState> {
    let secrets: SecretObject[];
    try {
      secrets = await this.#o.secrets.list(this.#selector());
    } catch (err) {
      throw new PassError('PASS_ACME_STORAGE', `cannot read the ACME Secrets (${this.description}): ${(err as Error).message}`, { cause: err });
    }
    const certificates: Record<string, StoredCertificate> = {};
    let shape: Partial<StateShape> = {};
    const known = new Map<string, string>();
    for (const s of secrets) {
      known.set(s.metadata.name, contentKey(s));
      if (s.metadata.labels?.[ACME_PART_LABEL] === 'state') {
        try {
          shape = JSON.parse(unb64(s.data?.['state.json'])) as Partial<StateShape>;
        } catch (err) {
          this.#log.error({ err, secret: s.metadata.name }, 'the ACME state Secret is not valid JSON: starting from an empty state');
        }
        continue;
      }
      const c = certificateFromSecret(s);
      if (c === undefined) {
        this.#log.warn({ secret: s.metadata.name }, 'an ACME certificate Secret is incomplete: ignored');
        continue;
      }
      certificates[c.id] = c;
    }
    this.#known = known;
    return {
      ...defined({ account: shape.account }),
      certificates,
      orders: shape.orders ?? {},
      backoff: shape.backoff ?? {},
      issuances: shape.issuances ?? [],
    };
  }

  save(state: AcmeState): Promise<void> {
    return this.#queue.run(() => this.#save(state));
  }

  async #save(state: AcmeState): Promise<void> {
    const prefix = this.#o.prefix;
    const desired = Object.values(state.certificates).map((c) => certificateToSecret(prefix, c));
    const shape: StateShape = {
      version: 1,
      ...defined({ account: state.account }),
      orders: { ...state.orders },
      backoff: { ...state.backoff },
      issuances: [...state.issuances],
    };
    const stateSecret: SecretObject = {
      metadata: { name: prefix, labels: { [ACME_STORE_LABEL]: prefix, [ACME_PART_LABEL]: 'state', 'app.kubernetes.io/managed-by': 'passerelle' } },
      type: 'Opaque',
      data: { 'state.json': b64(JSON.stringify(shape)) },
    };
    // Certificates first, then the state that says their orders are done, then removals.
    const keep = new Set<string>([prefix]);
    try {
      for (const s of [...desired, stateSecret]) {
        keep.add(s.metadata.name);
        const key = contentKey(s);
        if (this.#known.get(s.metadata.name) === key) continue;
        // Known before the write: the watch event of our own write is not taken for someone else's.
        this.#known.set(s.metadata.name, key);
        await this.#o.secrets.upsert(s);
      }
      for (const name of [...this.#known.keys()]) {
        if (keep.has(name)) continue;
        await this.#o.secrets.delete(name);
        this.#known.delete(name);
      }
    } catch (err) {
      // Unknown what was written: compare against the API next time.
      this.#known.clear();
      throw new PassError('PASS_ACME_STORAGE', `cannot write the ACME Secrets (${this.description}): ${(err as Error).message}`, { cause: err });
    }
  }

  /** Calls `listener` (debounced) when another writer changed or removed one of the Secrets. */
  onChange(listener: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    const stop = this.#o.secrets.watch(this.#selector(), (change) => {
      const name = change.secret.metadata.name;
      if (change.type === 'deleted' ? !this.#known.has(name) : this.#known.get(name) === contentKey(change.secret)) return;
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        listener();
      }, 100);
    });
    return () => {
      if (timer !== undefined) clearTimeout(timer);
      void stop();
    };
  }
}
