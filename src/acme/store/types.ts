import type { SecretObject } from '../../model/k8s.ts';
import type { AcmeState, SharedChallenge } from '../types.ts';

export type { SecretObject } from '../../model/k8s.ts';

/**
 * Where ACME state lives: the account, certificates, orders in flight, per-name backoff and the
 * issuance log. The manager reads it once at start and writes the whole state after every change
 * (small: a few KB per certificate). Implementations: a JSON file (`file.ts`) and Kubernetes
 * Secrets (`kubernetes.ts`: one `kubernetes.io/tls` Secret per certificate plus one for the rest,
 * shared by the replicas, through a {@link SecretApi} the CLI gives it).
 */
export interface CertificateStore {
  /** A short description for logs, e.g. `file /acme/acme.json`. */
  readonly description: string;
  /** The stored state; an empty state when nothing is stored yet. */
  load(): Promise<AcmeState>;
  /** Replaces the stored state durably (atomically: a crash leaves the old or the new state). */
  save(state: AcmeState): Promise<void>;
  /**
   * Calls `listener` when another writer (the leader replica) changed the state; returns an
   * unsubscribe function. Optional: a file store has one writer.
   */
  onChange?(listener: () => void): () => void;
  /**
   * Where the leader publishes the challenges it is answering, for stores shared by several replicas
   * (the CA's validation request may reach any of them). Absent: one replica answers alone.
   */
  readonly challenges?: ChallengeShare;
}

/** Pending challenges shared between replicas: the leader publishes, every replica follows. */
export interface ChallengeShare {
  /** A short description for logs. */
  readonly description: string;
  /**
   * Replaces the published set with `challenges`; resolves once it is written and, with
   * `propagate`, once the other replicas have had time to see it (as far as the store can tell), so
   * the CA may be told to validate. A removal needs no propagation.
   */
  publish(challenges: readonly SharedChallenge[], options?: { readonly propagate?: boolean }): Promise<void>;
  /** Calls `listener` with the published set now (when known) and after every change; returns a stop function. */
  follow(listener: (challenges: readonly SharedChallenge[]) => void): () => void;
}


/** What the Kubernetes store needs of the Secrets of one namespace (the Kubernetes source's SecretClient has it). */
export interface SecretApi {
  /** The namespace, for descriptions and messages. */
  readonly namespace: string;
  list(labelSelector: string): Promise<SecretObject[]>;
  upsert(secret: SecretObject): Promise<SecretObject>;
  delete(name: string): Promise<void>;
  /** Calls `onChange` for each change of the Secrets the selector matches; returns a stop function. */
  watch(labelSelector: string, onChange: (change: { readonly type: 'added' | 'modified' | 'deleted'; readonly secret: SecretObject }) => void, options?: { readonly initial?: boolean }): () => Promise<void>;
}
