/*
 * Cloudflare's API v4, as lego's `cloudflare` provider calls it: the zone found with
 * `GET /zones?name=…`, one TXT record per value (`POST /zones/{id}/dns_records`), and cleanup
 * deleting the records of this value only (found by listing, so it works after a restart too).
 */

import { ApiClient, field, fromEnv, KeyedLock, list, missingSetting, readCredential, str, unFqdn, unquote, zoneCandidates } from './http.ts';
import type { HttpFetch, HttpResponse } from './http.ts';
import type { ChallengeRecord, DnsProvider } from './types.ts';
import { DnsProviderError } from './types.ts';

/** An API token (preferred), or the legacy account e-mail and global API key. */
export type CloudflareAuth = { readonly token: string } | { readonly email: string; readonly key: string };

/** Options of {@link CloudflareProvider}. */
export interface CloudflareOptions {
  /** For the records (Zone:DNS:Edit), and the zones when `zoneAuth` is not set. */
  readonly auth: CloudflareAuth;
  /** A separate token for `GET /zones` (Zone:Zone:Read), lego's CLOUDFLARE_ZONE_API_TOKEN. */
  readonly zoneToken?: string;
  /** TTL of the TXT records, seconds (default 120, lego's; 1 is Cloudflare's "automatic"). */
  readonly ttlSeconds?: number;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** Default `https://api.cloudflare.com/client/v4`. */
  readonly baseUrl?: string;
  /** The HTTP function (tests answer from recorded API contracts). */
  readonly fetch?: HttpFetch;
}

/** The error code Cloudflare answers when the same record exists: a present repeated is not an error. */
const IDENTICAL_RECORD = 81058;

/** Cloudflare's error envelope: `{success:false, errors:[{code, message}]}`. */
function cloudflareErrors(res: HttpResponse): string {
  const body = JSON.parse(res.body) as unknown;
  return list(field(body, 'errors'))
    .map((e) => `${str(field(e, 'message')) ?? 'error'}${field(e, 'code') === undefined ? '' : ` (code ${str(field(e, 'code'))})`}`)
    .join('; ');
}

function errorCodes(res: HttpResponse): number[] {
  try {
    return list(field(JSON.parse(res.body) as unknown, 'errors')).map((e) => Number(field(e, 'code')));
  } catch {
    return [];
  }
}

/** The Cloudflare provider: see the file comment. */
export class CloudflareProvider implements DnsProvider {
  readonly name = 'cloudflare';
  readonly #o: CloudflareOptions;
  readonly #api: ApiClient;
  readonly #base: string;
  /** Zones found, by record name (present then cleanup ask once). */
  readonly #zones = new Map<string, { id: string; name: string }>();
  readonly #lock = new KeyedLock();

  constructor(options: CloudflareOptions) {
    this.#o = options;
    this.#base = (options.baseUrl ?? 'https://api.cloudflare.com/client/v4').replace(/\/$/, '');
    const a = options.auth;
    this.#api = new ApiClient('cloudflare', options.fetch, options.timeoutMs, () => ['token' in a ? a.token : a.key, ...(options.zoneToken === undefined ? [] : [options.zoneToken])]);
  }

  #headers(token: string | undefined, json: boolean): Record<string, string> {
    const a = this.#o.auth;
    const auth = token !== undefined ? { Authorization: `Bearer ${token}` } : 'token' in a ? { Authorization: `Bearer ${a.token}` } : { 'X-Auth-Email': a.email, 'X-Auth-Key': a.key };
    return { Accept: 'application/json', ...(json ? { 'Content-Type': 'application/json' } : {}), ...auth };
  }

  /** The zone of `fqdn`: `GET /zones?name=` for each parent name, most specific first (lego finds it by SOA, then asks the same). */
  async #zone(fqdn: string): Promise<{ id: string; name: string }> {
    const cached = this.#zones.get(fqdn);
    if (cached !== undefined) return cached;
    const candidates = zoneCandidates(fqdn);
    for (const name of candidates) {
      const what = `find the zone of ${fqdn} (GET /zones?name=${name})`;
      const res = await this.#api.send(what, { method: 'GET', url: `${this.#base}/zones?name=${encodeURIComponent(name)}&per_page=50`, headers: this.#headers(this.#o.zoneToken, false) }, cloudflareErrors);
      const zone = list(field(this.#api.json(what, res), 'result')).find((z) => str(field(z, 'name'))?.toLowerCase() === name);
      const id = str(field(zone, 'id'));
      if (id !== undefined) {
        const found = { id, name };
        this.#zones.set(fqdn, found);
        return found;
      }
    }
    throw new DnsProviderError(`cloudflare: no zone of this account holds ${fqdn} (asked for ${candidates.join(', ')}): add the zone, or give the token access to it`);
  }

  present(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const what = `add the TXT record ${record.fqdn} in zone ${zone.name}`;
      const body = JSON.stringify({ type: 'TXT', name: unFqdn(record.fqdn), content: record.value, ttl: this.#o.ttlSeconds ?? 120 });
      // An identical record (a retried present) is Cloudflare's 81058: the value is there, which is what present wants.
      const res = await this.#api.send(what, { method: 'POST', url: `${this.#base}/zones/${zone.id}/dns_records`, headers: this.#headers(undefined, true), body }, cloudflareErrors, (s) => s < 300 || s === 400);
      if (res.status === 400 && !errorCodes(res).includes(IDENTICAL_RECORD)) throw new DnsProviderError(this.#api.fail(what, `HTTP 400: ${safe(() => cloudflareErrors(res))}`));
      if (res.status < 300 && field(this.#api.json(what, res), 'success') === false) throw new DnsProviderError(this.#api.fail(what, `HTTP ${res.status}: ${safe(() => cloudflareErrors(res))}`));
    });
  }

  cleanup(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const name = unFqdn(record.fqdn);
      const what = `list the TXT records ${record.fqdn} in zone ${zone.name}`;
      const res = await this.#api.send(what, { method: 'GET', url: `${this.#base}/zones/${zone.id}/dns_records?type=TXT&name=${encodeURIComponent(name)}&per_page=100`, headers: this.#headers(undefined, false) }, cloudflareErrors);
      const ids = list(field(this.#api.json(what, res), 'result'))
        .filter((r) => str(field(r, 'name'))?.toLowerCase() === name && unquote(str(field(r, 'content')) ?? '') === record.value)
        .map((r) => str(field(r, 'id')))
        .filter((id): id is string => id !== undefined);
      for (const id of ids) {
        await this.#api.send(`delete the TXT record ${record.fqdn} (id ${id}) in zone ${zone.name}`, { method: 'DELETE', url: `${this.#base}/zones/${zone.id}/dns_records/${id}`, headers: this.#headers(undefined, false) }, cloudflareErrors);
      }
    });
  }
}

function safe(fn: () => string): string {
  try {
    return fn();
  } catch {
    return 'no error message';
  }
}

/** `[acme.dnsChallenge.cloudflare]`. */
export interface CloudflareSettings {
  readonly apiTokenFile?: string | undefined;
  readonly zoneApiTokenFile?: string | undefined;
  readonly email?: string | undefined;
  readonly apiKeyFile?: string | undefined;
  readonly ttl: number;
  readonly timeout: number;
}

/**
 * The provider of `[acme.dnsChallenge.cloudflare]`; unset credentials come from lego's variables
 * (CLOUDFLARE_DNS_API_TOKEN / CF_DNS_API_TOKEN, CLOUDFLARE_ZONE_API_TOKEN / CF_ZONE_API_TOKEN, else
 * CLOUDFLARE_EMAIL / CF_API_EMAIL with CLOUDFLARE_API_KEY / CF_API_KEY). A token wins over a key.
 */
export async function cloudflareFromSettings(s: CloudflareSettings, env: NodeJS.ProcessEnv, fetch?: HttpFetch): Promise<CloudflareProvider> {
  const token = await readCredential('cloudflare.apiTokenFile', s.apiTokenFile, env, ['CLOUDFLARE_DNS_API_TOKEN', 'CF_DNS_API_TOKEN']);
  const zoneToken = await readCredential('cloudflare.zoneApiTokenFile', s.zoneApiTokenFile, env, ['CLOUDFLARE_ZONE_API_TOKEN', 'CF_ZONE_API_TOKEN']);
  let auth: CloudflareAuth;
  if (token !== undefined) auth = { token };
  else {
    const email = s.email ?? fromEnv(env, ['CLOUDFLARE_EMAIL', 'CF_API_EMAIL']);
    const key = await readCredential('cloudflare.apiKeyFile', s.apiKeyFile, env, ['CLOUDFLARE_API_KEY', 'CF_API_KEY']);
    if (email === undefined || key === undefined) throw missingSetting('cloudflare', 'cloudflare.apiTokenFile', ['CLOUDFLARE_DNS_API_TOKEN', 'CF_DNS_API_TOKEN']);
    auth = { email, key };
  }
  return new CloudflareProvider({ auth, ttlSeconds: s.ttl, timeoutMs: s.timeout, ...(zoneToken === undefined ? {} : { zoneToken }), ...(fetch === undefined ? {} : { fetch }) });
}
