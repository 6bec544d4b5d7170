/* Reading of Secrets: `kubernetes.io/tls` into PEM certificate and key, basic-auth ones into users. */

import { Buffer } from 'node:buffer';
import type { PassCode } from '../../shared/codes.ts';
import { Codes } from './diagnostics.ts';
import type { DiagnosticList } from './diagnostics.ts';
import { isRecord, readHeader, showValue } from './object.ts';
import type { ObjectHeader } from './object.ts';
import type { ObjectRef } from '../../shared/diagnostics.ts';
import { parseHtpasswdLine } from '../../config/htpasswd.ts';
import type { HtpasswdUser } from '../types.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

const CERT_PEM = /^\s*-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*/;
// Encrypted keys are refused: no proxy could load them without a passphrase.
const KEY_PEM = /^\s*-----BEGIN (RSA |EC )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1PRIVATE KEY-----\s*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The certificate chain (one or more CERTIFICATE blocks, nothing else) and the key of a TLS Secret. */
export type TlsSecret =
  | { readonly ok: true; readonly certPem: string; readonly keyPem: string; readonly ref: ObjectRef }
  | { readonly ok: false; readonly code: PassCode; readonly message: string };

/** Whether a text is one or more PEM CERTIFICATE blocks and nothing else. */
export function isCertificateChainPem(text: string): boolean {
  let rest = text;
  let blocks = 0;
  for (;;) {
    const m = CERT_PEM.exec(rest);
    if (m === null) break;
    blocks += 1;
    rest = rest.slice(m[0].length);
  }
  return blocks > 0 && rest.trim() === '';
}

/** Whether a text is exactly one unencrypted PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC). */
export function isPrivateKeyPem(text: string): boolean {
  return KEY_PEM.test(text);
}

function decodeBase64(value: string): string | undefined {
  const compact = value.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** One key of a Secret: `stringData` wins over `data`, as the API server merges them on write. */
function secretValue(h: ObjectHeader, key: string): { value?: string; field: string; problem?: string } {
  const stringData = h.body['stringData'];
  if (isRecord(stringData) && stringData[key] !== undefined) {
    const v = stringData[key];
    return typeof v === 'string' ? { value: v, field: `stringData['${key}']` } : { field: `stringData['${key}']`, problem: 'must be a string' };
  }
  const data = h.body['data'];
  const field = `data['${key}']`;
  if (!isRecord(data) || data[key] === undefined || data[key] === null) return { field, problem: 'is missing' };
  const v = data[key];
  if (typeof v !== 'string') return { field, problem: 'must be a base64 string' };
  const decoded = decodeBase64(v);
  return decoded === undefined ? { field, problem: 'is not valid base64' } : { value: decoded, field };
}

/** The users of a basic-auth Secret (ingress-nginx's `auth-file` or `auth-map` form). */
export type AuthSecret = { readonly ok: true; readonly users: readonly HtpasswdUser[] } | { readonly ok: false; readonly message: string };

/** Reads Secrets by namespace and name; a bad Secret is reported once, on itself. */
export interface SecretReader {
  read(namespace: string, name: string): TlsSecret;
  /**
   * A basic-auth Secret: `auth-file` (key `auth`, htpasswd lines) or `auth-map` (one key per user,
   * its value the hash). Lines with a hash that cannot be checked safely are skipped with the reason.
   */
  readAuth(namespace: string, name: string, form: 'auth-file' | 'auth-map'): AuthSecret;
}

/** Indexes the Secrets of a snapshot (reporting malformed metadata) for TLS lookups. */
export function createSecretReader(secrets: readonly unknown[], diags: DiagnosticList): SecretReader {
  const index = new Map<string, ObjectHeader>();
  secrets.forEach((s, i) => {
    const h = readHeader(s, 'Secret', true, `secrets[${i}]`, diags);
    if (h !== undefined && !index.has(`${h.namespace}/${h.name}`)) index.set(`${h.namespace}/${h.name}`, h);
  });
  const cache = new Map<string, TlsSecret>();

  return {
    readAuth: (namespace, name, form) => readAuthSecret(index.get(`${namespace}/${name}`), namespace, name, form),
    read(namespace, name) {
      const id = `${namespace}/${name}`;
      let res = cache.get(id);
      if (res === undefined) {
        res = readTlsSecret(index.get(id), namespace, name);
        cache.set(id, res);
      }
      return res;
    },
  };
}

/** Reads a TLS Secret (`h`: its header, undefined when it does not exist); problems are reported on the Secret. */
export function readTlsSecret(h: ObjectHeader | undefined, namespace: string, name: string): TlsSecret {
  if (h === undefined) {
    return { ok: false, code: Codes.missingSecret, message: `Secret ${namespace}/${name} does not exist; these hosts use the default certificate` };
  }
  const bad = (field: string, why: string): TlsSecret => {
    h.reporter.error(Codes.badTls, field, why);
    return { ok: false, code: Codes.badTls, message: `Secret ${namespace}/${name} is not a usable TLS Secret: ${why}; these hosts use the default certificate` };
  };
  const type = h.body['type'];
  if (type !== TLS_SECRET_TYPE) return bad('type', `type must be ${TLS_SECRET_TYPE}, found ${showValue(type ?? null)}`);
  const crt = secretValue(h, 'tls.crt');
  if (crt.value === undefined) return bad(crt.field, `tls.crt ${crt.problem ?? 'is missing'}`);
  if (!isCertificateChainPem(crt.value)) return bad(crt.field, 'tls.crt must be PEM CERTIFICATE blocks');
  const key = secretValue(h, 'tls.key');
  if (key.value === undefined) return bad(key.field, `tls.key ${key.problem ?? 'is missing'}`);
  if (!isPrivateKeyPem(key.value)) return bad(key.field, 'tls.key must be one unencrypted PEM private key');
  return { ok: true, certPem: crt.value, keyPem: key.value, ref: h.ref };
}

/** Reads a basic-auth Secret (`h`: its header, undefined when it does not exist); skipped users are reported on the Secret. */
export function readAuthSecret(h: ObjectHeader | undefined, namespace: string, name: string, form: 'auth-file' | 'auth-map'): AuthSecret {
  if (h === undefined) return { ok: false, message: `Secret ${namespace}/${name} does not exist` };
  const lines: { line: string; field: string }[] = [];
  if (form === 'auth-file') {
    const auth = secretValue(h, 'auth');
    if (auth.value === undefined) return { ok: false, message: `Secret ${namespace}/${name} ${auth.field} ${auth.problem ?? 'is missing'} (auth-file: htpasswd lines under the key "auth")` };
    for (const line of auth.value.split(/\r?\n/)) if (line.trim() !== '' && !line.startsWith('#')) lines.push({ line, field: auth.field });
  } else {
    const data = { ...(isRecord(h.body['data']) ? h.body['data'] : {}), ...(isRecord(h.body['stringData']) ? h.body['stringData'] : {}) };
    for (const user of Object.keys(data).sort()) {
      const v = secretValue(h, user);
      if (v.value !== undefined) lines.push({ line: `${user}:${v.value.trim()}`, field: v.field });
    }
  }
  const users: HtpasswdUser[] = [];
  for (const { line, field } of lines) {
    const parsed = parseHtpasswdLine(line);
    if (typeof parsed === 'string') h.reporter.warning(Codes.badAuthUser, field, `${parsed}; this user is skipped`);
    else users.push(parsed);
  }
  if (users.length === 0) return { ok: false, message: `Secret ${namespace}/${name} has no usable user` };
  return { ok: true, users };
}
