/*
 * What the HTTP API DNS providers (Cloudflare, Route 53, Google Cloud DNS, DigitalOcean) share: one
 * injectable request function (undici by default, a recorded contract in the tests), errors that
 * name the provider and the API's own answer without a credential, zone candidates, a per-name lock
 * (the read-modify-write of an RRset must not interleave), and credentials read from a file or from
 * lego's environment variables.
 */

import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { PassError } from '../../shared/errors.ts';
import { DnsProviderError } from './types.ts';

/** One API request, as built by a provider (and as a test sees it). */
export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Its answer: status, lower-case headers, the whole body as text. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends a request; rejects only when no answer came (network, timeout). */
export type HttpFetch = (req: HttpRequest, timeoutMs: number) => Promise<HttpResponse>;

/** The default {@link HttpFetch}: undici, the whole exchange bounded by `timeoutMs`. */
export const undiciFetch: HttpFetch = async (req, timeoutMs) => {
  const r = await request(req.url, {
    method: req.method,
    headers: req.headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    signal: AbortSignal.timeout(timeoutMs),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const body = await r.body.text();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return { status: r.statusCode, headers, body };
};

/** Default per-request timeout of the API providers (lego's is 30 s). */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/** Replaces every credential in `text` (an API may echo a header back). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** A provider's HTTP client: sends, turns failures into {@link DnsProviderError}s naming the provider and the operation. */
export class ApiClient {
  readonly #provider: string;
  readonly #fetch: HttpFetch;
  readonly #timeoutMs: number;
  readonly #secrets: () => readonly string[];

  constructor(provider: string, fetch: HttpFetch | undefined, timeoutMs: number | undefined, secrets: () => readonly string[]) {
    this.#provider = provider;
    this.#fetch = fetch ?? undiciFetch;
    this.#timeoutMs = timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.#secrets = secrets;
  }

  /**
   * Sends `req` for `what` (e.g. `add the TXT record X in zone Z`). A status outside `ok` (default:
   * 2xx) throws with `detail(body)`, the API's own error message.
   */
  async send(what: string, req: HttpRequest, detail: (res: HttpResponse) => string, ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<HttpResponse> {
    let res: HttpResponse;
    try {
      res = await this.#fetch(req, this.#timeoutMs);
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${this.#timeoutMs} ms` : e.message;
      throw new DnsProviderError(this.fail(what, `${req.method} ${new URL(req.url).host}: ${why}`));
    }
    if (!ok(res.status)) throw new DnsProviderError(this.fail(what, `HTTP ${res.status}${errorDetail(detail, res)}`));
    return res;
  }

  /** The message of a failure, credentials removed. */
  fail(what: string, why: string): string {
    return redact(`${this.#provider}: could not ${what}: ${why}`, this.#secrets());
  }

  /** The body of `res` as JSON, or an error naming the operation. */
  json(what: string, res: HttpResponse): unknown {
    try {
      return JSON.parse(res.body) as unknown;
    } catch {
      throw new DnsProviderError(this.fail(what, `HTTP ${res.status} with a body that is not JSON`));
    }
  }
}

function errorDetail(detail: (res: HttpResponse) => string, res: HttpResponse): string {
  let d: string;
  try {
    d = detail(res);
  } catch {
    d = '';
  }
  d = d.replace(/\s+/g, ' ').trim();
  if (d === '') d = res.body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return d === '' ? '' : `: ${d.slice(0, 500)}`;
}

/** A plain object's field, typed loosely (API answers are read defensively). */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

/** `value` as an array (empty when it is not one). */
export function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `value` when it is a string, else undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/**
 * The zones that may hold `fqdn`, most specific first: `_acme-challenge.a.example.com.` gives
 * `a.example.com`, `example.com` (no trailing dot, top-level domains left out).
 */
export function zoneCandidates(fqdn: string): string[] {
  const labels = fqdn.toLowerCase().replace(/\.$/, '').replace(/^_acme-challenge\./, '').split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out;
}

/** `fqdn` without its trailing dot. */
export function unFqdn(fqdn: string): string {
  return fqdn.replace(/\.$/, '');
}

/** A TXT string without the quotes of its presentation form (`"abc"` is `abc`). */
export function unquote(txt: string): string {
  return txt.length >= 2 && txt.startsWith('"') && txt.endsWith('"') ? txt.slice(1, -1).replace(/\\(.)/g, '$1') : txt;
}

/** Runs functions one at a time per key: the read-then-write of one record set never interleaves (a wildcard and its apex share it). */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier `run` of `key` settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}

/** Options of {@link pollUntil}. */
export interface PollOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls `done` until it is true or `timeoutMs` passed (then false). Used for change status (Route 53 INSYNC, Google done). */
export async function pollUntil(done: () => Promise<boolean>, o: PollOptions): Promise<boolean> {
  const sleep = o.sleep ?? defaultSleep;
  const now = o.now ?? Date.now;
  const deadline = now() + o.timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (now() >= deadline) return false;
    await sleep(o.intervalMs);
  }
}

/**
 * A credential: the file of the setting `field` when set (e.g. a mounted Secret), else the first of
 * lego's `variables` set in `env`, else its `_FILE` variant (lego reads `NAME_FILE` as a file).
 * Undefined when none is set. Errors name the setting or variable and the path, never the content.
 */
export async function readCredential(field: string, file: string | undefined, env: NodeJS.ProcessEnv, variables: readonly string[]): Promise<string | undefined> {
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new PassError('PASS_CONFIG_BAD_ACME', `cannot read ${what} ${path}: ${(err as Error).message}`, { field: `acme.dnsChallenge.${field}`, cause: err });
    }
  };
  if (file !== undefined) return read(file, `acme.dnsChallenge.${field}`);
  for (const v of variables) {
    const value = env[v];
    if (value !== undefined && value !== '') return value.trim();
  }
  for (const v of variables) {
    const path = env[`${v}_FILE`];
    if (path !== undefined && path !== '') return read(path, `${v}_FILE`);
  }
  return undefined;
}

/** The first of `variables` set in `env`. */
export function fromEnv(env: NodeJS.ProcessEnv, variables: readonly string[]): string | undefined {
  for (const v of variables) {
    const value = env[v];
    if (value !== undefined && value !== '') return value.trim();
  }
  return undefined;
}

/** The error of a required setting left unset, naming the setting and lego's variables. */
export function missingSetting(provider: string, field: string, variables: readonly string[]): PassError {
  return new PassError(
    'PASS_CONFIG_BAD_ACME',
    `acme.dnsChallenge.${field} is not set (nor ${variables.join(' or ')} in the environment): the ${provider} provider needs it`,
    { field: `acme.dnsChallenge.${field}` },
  );
}
