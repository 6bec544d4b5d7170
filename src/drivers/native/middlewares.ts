import { createHash } from 'node:crypto';
import { verifyHtpasswd } from '../../config/htpasswd.ts';
import { normalizeHost } from '../../model/match.ts';
import { redirectLocation } from '../../model/redirect.ts';
import type { BasicAuthMiddleware, HtpasswdUser, Middleware, RedirectMiddleware } from '../../model/types.ts';

/** An answer a middleware gives instead of proxying. */
export interface Verdict {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface CompiledRedirect {
  readonly kind: 'redirect';
  readonly mw: RedirectMiddleware;
}

export interface CompiledBasicAuth {
  readonly kind: 'basicAuth';
  readonly mw: BasicAuthMiddleware;
  readonly users: ReadonlyMap<string, HtpasswdUser>;
  /** Identifies the user list, so cached verifications die with a change of users. */
  readonly fingerprint: string;
  readonly challenge: Verdict;
}

export type CompiledMiddleware = CompiledRedirect | CompiledBasicAuth;

/** Precomputes what each middleware needs per request. */
export function compileMiddlewares(list: readonly Middleware[]): CompiledMiddleware[] {
  return list.map((mw): CompiledMiddleware => {
    if (mw.kind === 'redirect') return { kind: 'redirect', mw };
    const users = new Map<string, HtpasswdUser>();
    for (const u of mw.users) if (!users.has(u.user)) users.set(u.user, u);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([mw.realm, mw.users.map((u) => [u.user, u.hash])]))
      .digest('base64');
    const realm = mw.realm.replace(/["\\]/g, '\\$&');
    return {
      kind: 'basicAuth',
      mw,
      users,
      fingerprint,
      challenge: {
        status: 401,
        headers: { 'www-authenticate': `Basic realm="${realm}"`, 'content-type': 'text/plain; charset=utf-8' },
        body: 'Unauthorized\n',
      },
    };
  });
}

/**
 * Successful basic-auth verifications, keyed by a hash of user list and header: bcrypt costs
 * milliseconds per check. One per driver, bounded; the oldest entry goes first.
 */
export class BasicAuthCache {
  readonly #verified = new Map<string, true>();
  readonly #max: number;

  constructor(max = 1024) {
    this.#max = max;
  }

  /** Whether this header was verified for the user list `fingerprint` names. */
  has(fingerprint: string, header: string): boolean {
    return this.#verified.has(cacheKey(fingerprint, header));
  }

  /** Remembers a successful verification. */
  add(fingerprint: string, header: string): void {
    if (this.#verified.size >= this.#max) {
      // Evict the oldest entry: Map iterates in insertion order.
      const oldest = this.#verified.keys().next();
      if (oldest.done !== true) this.#verified.delete(oldest.value);
    }
    this.#verified.set(cacheKey(fingerprint, header), true);
  }
}

function cacheKey(fingerprint: string, header: string): string {
  return createHash('sha256').update(fingerprint).update('\0').update(header).digest('base64');
}

/** Whether an Authorization header carries valid credentials for this middleware; `cache` remembers successes. */
export function checkBasicAuth(auth: CompiledBasicAuth, header: string | undefined, cache: BasicAuthCache): boolean {
  if (header === undefined || header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return false;
  if (cache.has(auth.fingerprint, header)) return true;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const user = auth.users.get(decoded.slice(0, colon));
  if (user === undefined || !verifyHtpasswd(user, decoded.slice(colon + 1))) return false;
  cache.add(auth.fingerprint, header);
  return true;
}

/**
 * Runs an entry point's middlewares in order; basic auth remembers its successes in `authCache`.
 * @returns the answer to send, or `undefined` to go on proxying.
 */
export function runMiddlewares(
  middlewares: readonly CompiledMiddleware[],
  authCache: BasicAuthCache,
  hostHeader: string,
  url: string,
  authorization: string | undefined,
): Verdict | undefined {
  for (let i = 0; i < middlewares.length; i++) {
    const m = middlewares[i]!;
    if (m.kind === 'redirect') {
      const location = redirectLocation(m.mw, normalizeHost(hostHeader), url);
      return { status: m.mw.status, headers: { location, 'content-type': 'text/plain; charset=utf-8' }, body: `Redirecting to ${location}\n` };
    }
    if (!checkBasicAuth(m, authorization, authCache)) return m.challenge;
  }
  return undefined;
}
