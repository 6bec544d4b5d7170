import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import { verifyHtpasswd } from '../../config/htpasswd.ts';
import type { HtpasswdUser } from '../../config/htpasswd.ts';
import type { RoutingModel } from '../../model/types.ts';
import type { Logger } from '../../shared/logger.ts';

/** The basic-auth users of every entry point of a model, by entry point name. */
export function usersByEntryPoint(model: RoutingModel): Map<string, readonly HtpasswdUser[]> {
  const out = new Map<string, readonly HtpasswdUser[]>();
  for (const ep of model.entryPoints) {
    const mw = ep.middlewares.find((m) => m.kind === 'basicAuth');
    if (mw !== undefined && mw.kind === 'basicAuth') out.set(ep.name, mw.users);
  }
  return out;
}

/** The user and password of a `Basic` Authorization header, or undefined. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (m === null) return undefined;
  const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The controller's auth check for proxies that cannot verify some password hashes themselves
 * (HAProxy's crypt(3) has no `$apr1$`): `GET /auth/<entry point>` with the client's Authorization
 * header answers 204 when the credentials are good, 401 otherwise. It listens on a unix socket in
 * the work directory (mode 0600), so only the proxy (same user, or the shared volume) reaches it;
 * it answers no more than the proxy's own 401/200 already tells a client.
 */
export class AuthResponder {
  readonly #server: Server;
  readonly #path: string;
  #users = new Map<string, readonly HtpasswdUser[]>();
  #listening = false;

  constructor(socketPath: string, logger: Logger) {
    this.#path = socketPath;
    this.#server = createServer((req, res) => {
      let ok = false;
      try {
        const m = /^\/auth\/([A-Za-z0-9_.:-]+)$/.exec(req.url ?? '');
        const creds = parseBasic(req.headers.authorization);
        const users = m === null ? undefined : this.#users.get(m[1] ?? '');
        const user = creds === undefined ? undefined : users?.find((u) => u.user === creds.user);
        ok = user !== undefined && creds !== undefined && verifyHtpasswd(user, creds.password);
      } catch (err) {
        logger.warn({ err }, 'auth check failed');
      }
      res.writeHead(ok ? 204 : 401, { 'content-length': 0 });
      res.end();
    });
    this.#server.keepAliveTimeout = 5000;
  }

  /** The users to check from now on (the entry points of the model being applied). */
  setUsers(users: Map<string, readonly HtpasswdUser[]>): void {
    this.#users = users;
  }

  /** Listens on the socket path (replacing a stale socket of an earlier run). */
  async start(): Promise<void> {
    if (this.#listening) return;
    await rm(this.#path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#path, () => resolve());
    });
    await chmod(this.#path, 0o600);
    this.#listening = true;
  }

  async stop(): Promise<void> {
    if (!this.#listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await rm(this.#path, { force: true });
  }
}
