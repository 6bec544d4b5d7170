/*
 * The controller's check of route basic auth users HAProxy cannot check itself ($apr1$): the same
 * auth responder as the entry points' (drivers/external/auth.ts), on a socket of its own, knowing the
 * users by the key each rendering gives them (a digest of the users, see render/haproxy/policy.ts).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { HtpasswdUser } from '../../model/types.ts';
import type { Logger } from '../../shared/logger.ts';
import { AuthResponder } from '../external/auth.ts';

/** How many keys are kept: those of the configurations being served and rendered, and a few before. */
const MAX_KEYS = 1024;

/**
 * Route users by key. A key names exactly one list of users (it is their digest), so keys of earlier
 * renderings never let anyone else in: they are kept, the oldest forgotten beyond {@link MAX_KEYS}, so
 * that the configuration still serving while a new one is checked keeps its users.
 */
export class RouteAuth {
  readonly #users = new Map<string, readonly HtpasswdUser[]>();
  readonly #logger: Logger;
  #responder: AuthResponder | undefined;
  #starting: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** The users a rendering refers to, by key: known from now on. */
  remember(entries: readonly { readonly key: string; readonly users: readonly HtpasswdUser[] }[]): void {
    if (entries.length === 0) return;
    for (const e of entries) {
      // Re-inserted: the most recently rendered keys are the last to go.
      this.#users.delete(e.key);
      this.#users.set(e.key, e.users);
    }
    while (this.#users.size > MAX_KEYS) this.#users.delete(this.#users.keys().next().value ?? '');
    this.#responder?.setUsers(new Map(this.#users));
  }

  /** Listens on `socketPath` (once; a stale socket of an earlier run is replaced). */
  start(socketPath: string): Promise<void> {
    this.#starting ??= (async () => {
      // Before the driver's first apply prepares the work directory.
      await mkdir(path.dirname(socketPath), { recursive: true });
      const responder = new AuthResponder(socketPath, this.#logger);
      responder.setUsers(new Map(this.#users));
      await responder.start();
      this.#responder = responder;
    })();
    return this.#starting;
  }

  /** Stops listening and removes the socket. */
  async stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    await this.#responder?.stop();
    this.#responder = undefined;
    this.#starting = undefined;
  }
}
