/*
 * A small Secret client for one namespace: get, list by label, create, replace, delete, and a watch
 * of the Secrets with a label. Other stages (the ACME certificate store) use it through the
 * composition root; it knows nothing about what the Secrets hold. Needs, in that namespace: create,
 * update, delete (deploy/base/rbac.yaml, Role `passerelle-acme-secrets`) and the list + watch the source
 * already has; `get` needs the `get` verb, which deploy/base/rbac.yaml does not grant (nothing uses it).
 */

import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import type { KubeObject, SecretObject } from '../../model/k8s.ts';
import { KubeApiError, type KubeClient } from './client.ts';
import { Informer, SECRET, resourcePath } from './informer.ts';

export type { SecretObject } from '../../model/k8s.ts';

/** What changed in a watch of {@link SecretClient.watch}. */
export interface SecretChange {
  readonly type: 'added' | 'modified' | 'deleted';
  readonly secret: SecretObject;
}

function asSecret(obj: unknown): SecretObject {
  return obj as SecretObject;
}

/** Reads and writes the Secrets of one namespace; see the file comment. */
export class SecretClient {
  readonly #client: KubeClient;
  readonly namespace: string;
  readonly #log: Logger;

  constructor(client: KubeClient, namespace: string, logger: Logger = silentLogger) {
    this.#client = client;
    this.namespace = namespace;
    this.#log = logger.child({ secrets: namespace });
  }

  /** The Secret, or undefined when it does not exist. */
  async get(name: string): Promise<SecretObject | undefined> {
    try {
      return asSecret(await this.#client.request('GET', resourcePath(SECRET, this.namespace, name)));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The Secrets matching a label selector (e.g. `app=x,part=y`). */
  async list(labelSelector: string): Promise<SecretObject[]> {
    const out: SecretObject[] = [];
    let cont: string | undefined;
    do {
      const page = await this.#client.request<{ items?: unknown[]; metadata?: { continue?: string } }>('GET', resourcePath(SECRET, this.namespace), {
        query: { labelSelector, limit: 500, continue: cont },
      });
      for (const item of page.items ?? []) out.push({ ...asSecret(item), apiVersion: 'v1', kind: 'Secret' });
      cont = page.metadata?.continue || undefined;
    } while (cont !== undefined);
    return out;
  }

  /** Creates a Secret; throws a {@link KubeApiError} 409 when it exists. */
  async create(secret: SecretObject): Promise<SecretObject> {
    const body = { apiVersion: 'v1', kind: 'Secret', ...secret, metadata: { ...secret.metadata, namespace: this.namespace } };
    return asSecret(await this.#client.request('POST', resourcePath(SECRET, this.namespace), { body }));
  }

  /**
   * Replaces a Secret. With `metadata.resourceVersion` the write is conditional (409 Conflict when
   * someone else changed it since); without, it overwrites.
   */
  async replace(secret: SecretObject): Promise<SecretObject> {
    const body = { apiVersion: 'v1', kind: 'Secret', ...secret, metadata: { ...secret.metadata, namespace: this.namespace } };
    return asSecret(await this.#client.request('PUT', resourcePath(SECRET, this.namespace, secret.metadata.name), { body }));
  }

  /** Creates the Secret, or replaces it when it exists (last writer wins). */
  async upsert(secret: SecretObject): Promise<SecretObject> {
    const { resourceVersion: _rv, ...meta } = secret.metadata;
    const plain = { ...secret, metadata: meta };
    try {
      return await this.create(plain);
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
    return this.replace(plain);
  }

  /** Deletes a Secret (no error when it is already gone). */
  async delete(name: string): Promise<void> {
    try {
      await this.#client.request('DELETE', resourcePath(SECRET, this.namespace, name));
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
    }
  }

  /**
   * Follows the Secrets matching `labelSelector` (list + watch, resumed after failures); `onChange`
   * is called for every change after the first list (with `initial`, for the Secrets of the first
   * list too, as `added`). Returns a function that stops the watch.
   */
  watch(labelSelector: string, onChange: (change: SecretChange) => void, options: { readonly initial?: boolean } = {}): () => Promise<void> {
    let informer: Informer | undefined = undefined;
    informer = new Informer({
      client: this.#client,
      type: SECRET,
      namespace: this.namespace,
      labelSelector,
      logger: this.#log,
      onEvent: (e) => {
        if (informer === undefined || (!informer.hasSynced && options.initial !== true)) return;
        onChange({ type: e.type, secret: asSecret(e.object as KubeObject) });
      },
    });
    informer.start();
    const running = informer;
    return () => running.stop();
  }
}
