/*
 * One queue of tasks that run one after another. A task that throws (or rejects) rejects only the
 * promise its caller got back: the queue itself never holds a rejection, so one failure can never
 * stop the tasks queued after it, nor surface as an unhandled rejection of the queue.
 */

/** Runs tasks one at a time, in the order they were queued; see the file comment. */
export class SerialQueue {
  /** Settles when the last queued task has settled; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  /** Tasks queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Queues `fn` after every task queued before it and returns its result. A throw or a rejection of
   * `fn` rejects the returned promise only (the caller handles it); the next task runs regardless.
   */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(() => fn());
    // The tail swallows the outcome: it only orders tasks; the caller holds the result.
    this.#tail = result.then(
      () => this.#settled(),
      () => this.#settled(),
    );
    return result;
  }

  /**
   * Resolves once no task is queued or running, including tasks queued while it waits. Never rejects,
   * whatever the tasks did. A task must not await it (it would wait for itself).
   */
  async idle(): Promise<void> {
    let tail: Promise<void>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }

  #settled(): void {
    this.#pending--;
  }
}
