/*
 * One Kubernetes Event (events.k8s.io/v1, type Warning, reason = the diagnostic code) per diagnostic
 * on the object it is about. Deduplicated: a diagnostic is recorded once per generation of its
 * object; the Event name is derived from it, so replicas and restarts that record it again get
 * 409 AlreadyExists instead of a second Event.
 */

import { createHash } from 'node:crypto';
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import type { KubeObject } from '../../model/k8s.ts';
import { KubeApiError, type KubeClient } from './client.ts';
import { EVENT, resourcePath } from './informer.ts';

/** Options of {@link EventRecorder}. */
export interface EventRecorderOptions {
  readonly client: KubeClient;
  /** `reportingController`, e.g. `passerelle.dev/ingress-controller`. */
  readonly controller: string;
  /** `reportingInstance`: this replica. */
  readonly instance: string;
  readonly logger?: Logger;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Records diagnostics as Events; see the file comment. */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #log: Logger;
  /** Keys recorded and still reported; a diagnostic that goes away and comes back is recorded again. */
  #active = new Set<string>();

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child({ part: 'events' });
  }

  /**
   * Records the diagnostics not recorded yet. `lookup` finds the object a diagnostic is about
   * (diagnostics about objects it does not know are skipped). Returns the number of Events created.
   */
  async record(diagnostics: readonly Diagnostic[], lookup: (ref: ObjectRef) => KubeObject | undefined): Promise<number> {
    const next = new Set<string>();
    let created = 0;
    for (const d of diagnostics) {
      if (d.object === undefined) continue;
      const obj = lookup(d.object);
      const uid = obj?.metadata?.uid;
      if (obj === undefined || uid === undefined) continue;
      const key = JSON.stringify([uid, (obj.metadata as { generation?: number } | undefined)?.generation ?? 0, d.code, d.field ?? '', d.message]);
      next.add(key);
      if (this.#active.has(key)) continue;
      try {
        if (await this.#create(d, obj, key)) created++;
      } catch (err) {
        next.delete(key);
        this.#log.warn({ code: d.code, object: d.object, err: (err as Error).message }, 'could not record an Event');
      }
    }
    this.#active = next;
    return created;
  }

  async #create(d: Diagnostic, obj: KubeObject, key: string): Promise<boolean> {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace ?? 'default';
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
    const name = `${clip(meta.name ?? 'object', 200)}.${hash}`;
    const note = d.field === undefined ? d.message : `${d.field}: ${d.message}`;
    const body = {
      apiVersion: EVENT.apiVersion,
      kind: EVENT.kind,
      metadata: { name, namespace },
      eventTime: microTime(Date.now()),
      reportingController: clip(this.#o.controller, 128),
      reportingInstance: clip(this.#o.instance, 128),
      action: 'Translate',
      reason: clip(d.code, 128),
      type: 'Warning',
      note: clip(note, 1024),
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: meta.name,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
        ...defined({ namespace: meta.namespace }),
      },
    };
    try {
      await this.#o.client.request('POST', resourcePath(EVENT, namespace), { body });
      this.#log.debug({ code: d.code, object: d.object }, 'Event recorded');
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return false;
      throw err;
    }
  }
}
