/*
 * DigitalOcean's API v2, as lego's `digitalocean` provider calls it: a domain is a zone (found with
 * `GET /v2/domains/NAME` for each parent name), one TXT record per value
 * (`POST /v2/domains/ZONE/records`), and cleanup deleting the records of this value only (found by
 * listing, so it works after a restart too).
 */

import { ApiClient, field, KeyedLock, list, missingSetting, readCredential, str, unFqdn, unquote, zoneCandidates } from './http.ts';
import type { HttpFetch, HttpResponse } from './http.ts';
import type { ChallengeRecord, DnsProvider } from './types.ts';
import { DnsProviderError } from './types.ts';

/** Options of {@link DigitalOceanProvider}. */
export interface DigitalOceanOptions {
  /** A personal access token with write scope (lego's DO_AUTH_TOKEN). */
  readonly token: string;
  /** TTL of the TXT records, seconds (default 60; DigitalOcean's minimum is 30). */
  readonly ttlSeconds?: number;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** Default `https://api.digitalocean.com`. */
  readonly baseUrl?: string;
  readonly fetch?: HttpFetch;
}

/** DigitalOcean's error body: `{id, message}`. */
function digitalOceanError(res: HttpResponse): string {
  const body = JSON.parse(res.body) as unknown;
  return [str(field(body, 'id')), str(field(body, 'message'))].filter((s) => s !== undefined).join(': ');
}

/** The DigitalOcean provider: see the file comment. */
export class DigitalOceanProvider implements DnsProvider {
  readonly name = 'digitalocean';
  readonly #o: DigitalOceanOptions;
  readonly #api: ApiClient;
  readonly #base: string;
  readonly #zones = new Map<string, string>();
  readonly #lock = new KeyedLock();

  constructor(options: DigitalOceanOptions) {
    this.#o = options;
    this.#base = (options.baseUrl ?? 'https://api.digitalocean.com').replace(/\/$/, '');
    this.#api = new ApiClient('digitalocean', options.fetch, options.timeoutMs, () => [options.token]);
  }

  #headers(json: boolean): Record<string, string> {
    return { Accept: 'application/json', ...(json ? { 'Content-Type': 'application/json' } : {}), Authorization: `Bearer ${this.#o.token}` };
  }

  /** The domain holding `fqdn`: `GET /v2/domains/NAME` for each parent name, most specific first (404: not this one). */
  async #zone(fqdn: string): Promise<string> {
    const cached = this.#zones.get(fqdn);
    if (cached !== undefined) return cached;
    const candidates = zoneCandidates(fqdn);
    for (const name of candidates) {
      const res = await this.#api.send(`find the domain of ${fqdn} (GET /v2/domains/${name})`, { method: 'GET', url: `${this.#base}/v2/domains/${encodeURIComponent(name)}`, headers: this.#headers(false) }, digitalOceanError, (s) => (s >= 200 && s < 300) || s === 404);
      if (res.status === 404) continue;
      this.#zones.set(fqdn, name);
      return name;
    }
    throw new DnsProviderError(`digitalocean: no domain of this account holds ${fqdn} (asked for ${candidates.join(', ')})`);
  }

  present(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      // Names are relative to the domain ("@" is its apex); a challenge name never is the apex.
      const name = unFqdn(record.fqdn).slice(0, -(zone.length + 1));
      const body = JSON.stringify({ type: 'TXT', name, data: record.value, ttl: this.#o.ttlSeconds ?? 60 });
      await this.#api.send(`add the TXT record ${record.fqdn} in domain ${zone}`, { method: 'POST', url: `${this.#base}/v2/domains/${encodeURIComponent(zone)}/records`, headers: this.#headers(true), body }, digitalOceanError);
    });
  }

  cleanup(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const what = `list the TXT records ${record.fqdn} in domain ${zone}`;
      // The `name` filter takes the fully qualified name; records come back with relative names.
      const res = await this.#api.send(what, { method: 'GET', url: `${this.#base}/v2/domains/${encodeURIComponent(zone)}/records?type=TXT&name=${encodeURIComponent(unFqdn(record.fqdn))}&per_page=200`, headers: this.#headers(false) }, digitalOceanError);
      const relative = unFqdn(record.fqdn).slice(0, -(zone.length + 1));
      const ids = list(field(this.#api.json(what, res), 'domain_records'))
        .filter((r) => str(field(r, 'type')) === 'TXT' && [relative, unFqdn(record.fqdn)].includes(str(field(r, 'name'))?.toLowerCase() ?? '') && unquote(str(field(r, 'data')) ?? '') === record.value)
        .map((r) => str(field(r, 'id')))
        .filter((id): id is string => id !== undefined);
      for (const id of ids) {
        await this.#api.send(`delete the TXT record ${record.fqdn} (id ${id}) in domain ${zone}`, { method: 'DELETE', url: `${this.#base}/v2/domains/${encodeURIComponent(zone)}/records/${id}`, headers: this.#headers(false) }, digitalOceanError);
      }
    });
  }
}

/** `[acme.dnsChallenge.digitalocean]`. */
export interface DigitalOceanSettings {
  readonly authTokenFile?: string | undefined;
  readonly ttl: number;
  readonly timeout: number;
}

/** The provider of `[acme.dnsChallenge.digitalocean]`; the token from `authTokenFile`, else lego's DO_AUTH_TOKEN. */
export async function digitalOceanFromSettings(s: DigitalOceanSettings, env: NodeJS.ProcessEnv, fetch?: HttpFetch): Promise<DigitalOceanProvider> {
  const token = await readCredential('digitalocean.authTokenFile', s.authTokenFile, env, ['DO_AUTH_TOKEN']);
  if (token === undefined) throw missingSetting('digitalocean', 'digitalocean.authTokenFile', ['DO_AUTH_TOKEN']);
  return new DigitalOceanProvider({ token, ttlSeconds: s.ttl, timeoutMs: s.timeout, ...(fetch === undefined ? {} : { fetch }) });
}
