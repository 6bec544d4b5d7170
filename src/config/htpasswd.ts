import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { PassError } from '../shared/errors.ts';

// apache-md5 ships no types; load it through require and give it its one signature.
const apacheMd5 = createRequire(import.meta.url)('apache-md5') as (password: string, salt: string) => string;

/** An htpasswd user: the name and the hash as written (same shape as the model's HtpasswdUser). */
export interface HtpasswdUser {
  readonly user: string;
  readonly hash: string;
}

const APR1 = /^\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}$/;
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./0-9A-Za-z]{53}$/;
const SHA = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;

/** Why a hash is refused, without ever repeating the hash (it may be a plain password). */
function refusal(hash: string): string {
  if (hash === '') return 'has an empty password hash';
  if (hash.startsWith('$apr1$')) return 'has a malformed $apr1$ hash';
  if (/^\$2[abxy]?\$/.test(hash)) return 'has a malformed or unsupported bcrypt hash (use $2y$, $2a$ or $2b$)';
  if (hash.startsWith('{SHA}')) return 'has a malformed {SHA} hash';
  if (hash.startsWith('$1$')) return 'has an MD5-crypt ($1$) hash, which is not accepted: use htpasswd -B (bcrypt) or -m ($apr1$)';
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) return 'has a SHA-crypt hash, which is not accepted: use htpasswd -B (bcrypt) or -m ($apr1$)';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) {
    return 'looks like a crypt(3) hash or a plain password; neither is accepted: use htpasswd -B (bcrypt) or -m ($apr1$)';
  }
  return 'has a password that is not hashed (or an unknown hash): use htpasswd -B (bcrypt), -m ($apr1$) or -s ({SHA})';
}

/**
 * Parses one htpasswd line `name:hash`; returns the reason as a string when it is refused.
 * Accepts only hashes we can verify safely: $apr1$, bcrypt ($2y$/$2a$/$2b$) and {SHA}.
 */
export function parseHtpasswdLine(line: string): HtpasswdUser | string {
  const colon = line.indexOf(':');
  if (colon < 0) return 'a user must be written "name:hash"';
  const user = line.slice(0, colon);
  const hash = line.slice(colon + 1).trim();
  if (user.trim() === '') return 'a user has an empty name';
  if (/[\s\p{Cc}]/u.test(user)) return `user "${JSON.stringify(user).slice(1, -1)}" has white space or control characters in its name`;
  if (APR1.test(hash) || BCRYPT.test(hash) || SHA.test(hash)) return { user, hash };
  return `user "${user}" ${refusal(hash)}`;
}

/**
 * Parses one htpasswd line `name:hash`.
 * @throws PassError PASS_CONFIG_BAD_USER naming the user (never the hash).
 */
export function parseHtpasswdUser(line: string): HtpasswdUser {
  const parsed = parseHtpasswdLine(line);
  if (typeof parsed === 'string') throw new PassError('PASS_CONFIG_BAD_USER', parsed);
  return parsed;
}

/** Compares in constant time for equal lengths, so a response time leaks nothing about the hash. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks a password against an htpasswd user's hash ($apr1$, bcrypt or {SHA}).
 * Returns false (never throws) for a hash it does not know.
 */
export function verifyHtpasswd(user: HtpasswdUser, password: string): boolean {
  const { hash } = user;
  if (hash.startsWith('$apr1$')) return sameText(apacheMd5(password, hash), hash);
  if (hash.startsWith('$2')) {
    try {
      return bcrypt.compareSync(password, hash);
    } catch {
      return false;
    }
  }
  if (hash.startsWith('{SHA}')) {
    return sameText(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash);
  }
  return false;
}
