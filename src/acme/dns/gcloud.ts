/*
 * Google Cloud DNS (API v1), as lego's `gcloud` provider calls it: the managed zone found by
 * `managedZones.list?dnsName=` for each parent name (public zones unless allowed), records as RRsets
 * changed through `changes.create` (the old set deleted and the new one added in one atomic change,
 * the value added or removed beside the others), each change awaited until `done`.
 * Credentials: a service-account key file, its JWT signed by `jose` and exchanged for an OAuth2
 * token (RFC 7523), or, without one, the metadata server's token (GKE Workload Identity, GCE).
 */

import { readFile } from 'node:fs/promises';
import { importPKCS8, SignJWT } from 'jose';
import { PassError } from '../../shared/errors.ts';
import { ApiClient, field, fromEnv, KeyedLock, list, pollUntil, str, unquote, zoneCandidates } from './http.ts';
import type { HttpFetch, HttpResponse } from './http.ts';
import type { ChallengeRecord, DnsProvider } from './types.ts';
import { DnsProviderError } from './types.ts';

/** The fields of a service-account key file (`gcloud iam service-accounts keys create`) used here. */
export interface ServiceAccountKey {
  readonly client_email: string;
  readonly private_key: string;
  readonly private_key_id?: string;
  readonly project_id?: string;
  readonly token_uri?: string;
}

/** Options of {@link GcloudProvider}. */
export interface GcloudOptions {
  /** The project of the managed zones; default: the key's `project_id`, else the metadata server's. */
  readonly project?: string;
  /** Without it, tokens come from the metadata server. */
  readonly serviceAccount?: ServiceAccountKey;
  /** Private zones too (lego's GCE_ALLOW_PRIVATE_ZONE); default false. */
  readonly allowPrivateZone?: boolean;
  /** TTL of the TXT records, seconds (default 60). */
  readonly ttlSeconds?: number;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** How long a change may stay pending (default 120 s), and between two polls (default 2 s). */
  readonly changeTimeoutMs?: number;
  readonly changeIntervalMs?: number;
  /** Default `https://dns.googleapis.com/dns/v1`. */
  readonly baseUrl?: string;
  /** Default `http://metadata.google.internal/computeMetadata/v1`. */
  readonly metadataUrl?: string;
  readonly fetch?: HttpFetch;
  /** The JWT, token expiry and polling clock (tests fix it). */
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Cloud DNS read-write, lego's scope. */
export const CLOUD_DNS_SCOPE = 'https://www.googleapis.com/auth/ndev.clouddns.readwrite';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** Google's error envelope: `{error:{code, message, status}}` (the token endpoint: `{error, error_description}`). */
function googleError(res: HttpResponse): string {
  const body = JSON.parse(res.body) as unknown;
  const e = field(body, 'error');
  if (typeof e === 'string') return [e, str(field(body, 'error_description'))].filter((s) => s !== undefined).join(': ');
  return [str(field(e, 'status')), str(field(e, 'message'))].filter((s) => s !== undefined).join(': ');
}

/** A TXT RRset as Cloud DNS has it. */
interface RecordSet {
  readonly name: string;
  readonly type: 'TXT';
  readonly ttl: number;
  readonly rrdatas: readonly string[];
}

/** The Google Cloud DNS provider: see the file comment. */
export class GcloudProvider implements DnsProvider {
  readonly name = 'gcloud';
  readonly #o: GcloudOptions;
  readonly #api: ApiClient;
  readonly #base: string;
  readonly #metadata: string;
  readonly #zones = new Map<string, { id: string; name: string }>();
  readonly #lock = new KeyedLock();
  #token: { value: string; until: number } | undefined;
  #project: string | undefined;

  constructor(options: GcloudOptions) {
    this.#o = options;
    this.#base = (options.baseUrl ?? 'https://dns.googleapis.com/dns/v1').replace(/\/$/, '');
    this.#metadata = (options.metadataUrl ?? 'http://metadata.google.internal/computeMetadata/v1').replace(/\/$/, '');
    this.#project = options.project ?? options.serviceAccount?.project_id;
    this.#api = new ApiClient('gcloud', options.fetch, options.timeoutMs, () => [...(this.#token === undefined ? [] : [this.#token.value]), ...(options.serviceAccount === undefined ? [] : [options.serviceAccount.private_key])]);
  }

  #now(): Date {
    return (this.#o.now ?? (() => new Date()))();
  }

  /** An OAuth2 access token, reused until a minute before it expires. */
  async #accessToken(): Promise<string> {
    const now = this.#now().getTime();
    if (this.#token !== undefined && now < this.#token.until) return this.#token.value;
    const sa = this.#o.serviceAccount;
    let res: HttpResponse;
    if (sa !== undefined) {
      const tokenUri = sa.token_uri ?? DEFAULT_TOKEN_URI;
      const what = `get an access token for ${sa.client_email} from ${tokenUri}`;
      let assertion: string;
      try {
        const iat = Math.floor(now / 1000);
        assertion = await new SignJWT({ scope: CLOUD_DNS_SCOPE })
          .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(sa.private_key_id === undefined ? {} : { kid: sa.private_key_id }) })
          .setIssuer(sa.client_email)
          .setAudience(tokenUri)
          .setIssuedAt(iat)
          .setExpirationTime(iat + 3600)
          .sign(await importPKCS8(sa.private_key, 'RS256'));
      } catch (err) {
        throw new DnsProviderError(`gcloud: the private key of ${sa.client_email} cannot sign a token (${(err as Error).name})`);
      }
      const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
      res = await this.#api.send(what, { method: 'POST', url: tokenUri, headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body }, googleError);
    } else {
      res = await this.#api.send('get an access token from the metadata server (no service account key is set)', { method: 'GET', url: `${this.#metadata}/instance/service-accounts/default/token`, headers: { 'Metadata-Flavor': 'Google' } }, googleError);
    }
    const json = this.#api.json('read the access token', res);
    const value = str(field(json, 'access_token'));
    if (value === undefined) throw new DnsProviderError('gcloud: the token endpoint answered without an access_token');
    const expiresIn = Number(field(json, 'expires_in') ?? 3600);
    this.#token = { value, until: now + Math.max(0, expiresIn - 60) * 1000 };
    return value;
  }

  async #projectId(): Promise<string> {
    if (this.#project !== undefined) return this.#project;
    const res = await this.#api.send('get the project from the metadata server (no project is set)', { method: 'GET', url: `${this.#metadata}/project/project-id`, headers: { 'Metadata-Flavor': 'Google' } }, (r) => r.body);
    this.#project = res.body.trim();
    return this.#project;
  }

  async #get(what: string, path: string): Promise<unknown> {
    const res = await this.#api.send(what, { method: 'GET', url: `${this.#base}/projects/${encodeURIComponent(await this.#projectId())}${path}`, headers: { Accept: 'application/json', Authorization: `Bearer ${await this.#accessToken()}` } }, googleError);
    return this.#api.json(what, res);
  }

  /** The managed zone of `fqdn`: `managedZones.list?dnsName=` for each parent name, public ones unless allowed. */
  async #zone(fqdn: string): Promise<{ id: string; name: string }> {
    const cached = this.#zones.get(fqdn);
    if (cached !== undefined) return cached;
    const candidates = zoneCandidates(fqdn);
    for (const name of candidates) {
      const json = await this.#get(`find the managed zone of ${fqdn} (managedZones.list dnsName=${name}.)`, `/managedZones?dnsName=${encodeURIComponent(`${name}.`)}`);
      const zone = list(field(json, 'managedZones')).find((z) => str(field(z, 'dnsName'))?.toLowerCase() === `${name}.` && (this.#o.allowPrivateZone === true || str(field(z, 'visibility')) !== 'private'));
      const id = str(field(zone, 'name'));
      if (id !== undefined) {
        const found = { id, name };
        this.#zones.set(fqdn, found);
        return found;
      }
    }
    throw new DnsProviderError(`gcloud: no ${this.#o.allowPrivateZone === true ? '' : 'public '}managed zone of project ${await this.#projectId()} holds ${fqdn} (asked for ${candidates.join(', ')})`);
  }

  async #recordSet(zone: { id: string; name: string }, fqdn: string): Promise<RecordSet | undefined> {
    const json = await this.#get(`list the TXT records ${fqdn} in managed zone ${zone.id}`, `/managedZones/${encodeURIComponent(zone.id)}/rrsets?name=${encodeURIComponent(fqdn)}&type=TXT`);
    const set = list(field(json, 'rrsets')).find((r) => str(field(r, 'name'))?.toLowerCase() === fqdn.toLowerCase() && str(field(r, 'type')) === 'TXT');
    if (set === undefined) return undefined;
    return { name: str(field(set, 'name')) ?? fqdn, type: 'TXT', ttl: Number(field(set, 'ttl') ?? 60), rrdatas: list(field(set, 'rrdatas')).map((v) => str(v) ?? '') };
  }

  async #change(zone: { id: string; name: string }, what: string, additions: readonly RecordSet[], deletions: readonly RecordSet[]): Promise<void> {
    const project = encodeURIComponent(await this.#projectId());
    const url = `${this.#base}/projects/${project}/managedZones/${encodeURIComponent(zone.id)}/changes`;
    const res = await this.#api.send(what, { method: 'POST', url, headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${await this.#accessToken()}` }, body: JSON.stringify({ additions, deletions }) }, googleError);
    const change = this.#api.json(what, res);
    const id = str(field(change, 'id'));
    let status = str(field(change, 'status')) ?? 'pending';
    if (id === undefined || status === 'done') return;
    const done = await pollUntil(
      async () => {
        status = str(field(await this.#get(`get the status of change ${id} (${what})`, `/managedZones/${encodeURIComponent(zone.id)}/changes/${encodeURIComponent(id)}`), 'status')) ?? status;
        return status === 'done';
      },
      { intervalMs: this.#o.changeIntervalMs ?? 2000, timeoutMs: this.#o.changeTimeoutMs ?? 120_000, now: () => this.#now().getTime(), ...(this.#o.sleep === undefined ? {} : { sleep: this.#o.sleep }) },
    );
    if (!done) throw new DnsProviderError(this.#api.fail(what, `change ${id} still ${status} after ${this.#o.changeTimeoutMs ?? 120_000} ms`));
  }

  present(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const current = await this.#recordSet(zone, record.fqdn);
      if (current?.rrdatas.some((v) => unquote(v) === record.value) === true) return;
      const next: RecordSet = { name: record.fqdn, type: 'TXT', ttl: this.#o.ttlSeconds ?? 60, rrdatas: [...(current?.rrdatas ?? []), `"${record.value}"`] };
      await this.#change(zone, `add the TXT record ${record.fqdn} in managed zone ${zone.id}`, [next], current === undefined ? [] : [current]);
    });
  }

  cleanup(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const current = await this.#recordSet(zone, record.fqdn);
      if (current === undefined || !current.rrdatas.some((v) => unquote(v) === record.value)) return;
      const rest = current.rrdatas.filter((v) => unquote(v) !== record.value);
      await this.#change(zone, `remove the TXT record ${record.fqdn} in managed zone ${zone.id}`, rest.length === 0 ? [] : [{ ...current, rrdatas: rest }], [current]);
    });
  }
}

/** `[acme.dnsChallenge.gcloud]`. */
export interface GcloudSettings {
  readonly project?: string | undefined;
  readonly serviceAccountFile?: string | undefined;
  readonly allowPrivateZone: boolean;
  readonly ttl: number;
  readonly timeout: number;
}

/** Reads and checks a service-account key (the JSON of GCE_SERVICE_ACCOUNT or of a file); errors never quote it. */
export function parseServiceAccount(text: string, where: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    throw new PassError('PASS_CONFIG_BAD_ACME', `${where} is not JSON (a service account key file, from "gcloud iam service-accounts keys create")`, { field: 'acme.dnsChallenge.gcloud.serviceAccountFile' });
  }
  const email = str(field(json, 'client_email'));
  const key = str(field(json, 'private_key'));
  if (email === undefined || key === undefined) throw new PassError('PASS_CONFIG_BAD_ACME', `${where} has no client_email or private_key: it is not a service account key`, { field: 'acme.dnsChallenge.gcloud.serviceAccountFile' });
  const opt = (k: string): Record<string, string> => {
    const v = str(field(json, k));
    return v === undefined ? {} : { [k]: v };
  };
  return { client_email: email, private_key: key, ...opt('private_key_id'), ...opt('project_id'), ...opt('token_uri') };
}

/**
 * The provider of `[acme.dnsChallenge.gcloud]`; unset settings come from lego's variables
 * GCE_PROJECT, GCE_SERVICE_ACCOUNT_FILE (or GOOGLE_APPLICATION_CREDENTIALS), GCE_SERVICE_ACCOUNT (the
 * key's JSON itself) and GCE_ALLOW_PRIVATE_ZONE; with no key, the metadata server's token.
 */
export async function gcloudFromSettings(s: GcloudSettings, env: NodeJS.ProcessEnv, fetch?: HttpFetch): Promise<GcloudProvider> {
  const file = s.serviceAccountFile ?? fromEnv(env, ['GCE_SERVICE_ACCOUNT_FILE', 'GOOGLE_APPLICATION_CREDENTIALS']);
  let serviceAccount: ServiceAccountKey | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new PassError('PASS_CONFIG_BAD_ACME', `cannot read the service account key ${file}: ${(err as Error).message}`, { field: 'acme.dnsChallenge.gcloud.serviceAccountFile', cause: err });
    }
    serviceAccount = parseServiceAccount(text, `the service account key ${file}`);
  } else {
    const inline = fromEnv(env, ['GCE_SERVICE_ACCOUNT']);
    if (inline !== undefined) serviceAccount = parseServiceAccount(inline, 'GCE_SERVICE_ACCOUNT');
  }
  const project = s.project ?? fromEnv(env, ['GCE_PROJECT']);
  const allowPrivateZone = s.allowPrivateZone || fromEnv(env, ['GCE_ALLOW_PRIVATE_ZONE']) === 'true';
  return new GcloudProvider({
    allowPrivateZone,
    ttlSeconds: s.ttl,
    timeoutMs: s.timeout,
    ...(project === undefined ? {} : { project }),
    ...(serviceAccount === undefined ? {} : { serviceAccount }),
    ...(fetch === undefined ? {} : { fetch }),
  });
}
