/*
 * Amazon Route 53's REST API (XML, 2013-04-01), as lego's `route53` provider calls it, each request
 * signed with AWS Signature Version 4 by the `aws4` package (not hand-written). The hosted zone is
 * AWS_HOSTED_ZONE_ID or found with ListHostedZonesByName for each parent name; records are RRsets,
 * so present reads the TXT set and UPSERTs it with the value added, and cleanup UPSERTs it without
 * the value (DELETE when it was the last one). Each change is awaited until INSYNC, as lego does.
 */

import aws4 from 'aws4';
import { ApiClient, KeyedLock, missingSetting, pollUntil, readCredential, fromEnv, unquote, zoneCandidates } from './http.ts';
import type { HttpFetch, HttpRequest, HttpResponse } from './http.ts';
import type { ChallengeRecord, DnsProvider } from './types.ts';
import { DnsProviderError } from './types.ts';

/** Static AWS credentials (an access key, or the temporary ones of a role with their session token). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Options of {@link Route53Provider}. */
export interface Route53Options {
  readonly credentials: AwsCredentials;
  /** The AWS region (AWS_REGION): only picks the partition (aws, aws-cn, aws-us-gov); Route 53 is global. */
  readonly region?: string;
  /** Skips zone discovery (AWS_HOSTED_ZONE_ID); with or without `/hostedzone/`. */
  readonly hostedZoneId?: string;
  /** TTL of the TXT records, seconds (default 60). */
  readonly ttlSeconds?: number;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** How long a change may stay PENDING (default 120 s), and between two GetChange (default 4 s, lego's). */
  readonly changeTimeoutMs?: number;
  readonly changeIntervalMs?: number;
  /** Default: the partition's endpoint, e.g. `https://route53.amazonaws.com`. */
  readonly endpoint?: string;
  readonly fetch?: HttpFetch;
  /** The signing and polling clock (tests fix it). */
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

const XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';

/** The endpoint and signing region of Route 53 in the partition of `region`. */
export function route53Endpoint(region: string | undefined): { endpoint: string; signingRegion: string } {
  if (region?.startsWith('cn-') === true) return { endpoint: 'https://route53.amazonaws.com.cn', signingRegion: 'cn-northwest-1' };
  if (region?.startsWith('us-gov-') === true) return { endpoint: 'https://route53.us-gov.amazonaws.com', signingRegion: 'us-gov-west-1' };
  return { endpoint: 'https://route53.amazonaws.com', signingRegion: 'us-east-1' };
}

/** `20150830T123600Z`, SigV4's X-Amz-Date. */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * `req` signed with SigV4 for `service` in `region` at `date` (aws4 does the canonical request,
 * string to sign and key derivation): Host, X-Amz-Date, X-Amz-Security-Token and Authorization added.
 */
export function signV4(req: HttpRequest, credentials: AwsCredentials, service: string, region: string, date: Date): HttpRequest {
  const url = new URL(req.url);
  const headers: Record<string, string> = { ...req.headers, 'X-Amz-Date': amzDate(date) };
  const signed = aws4.sign(
    { host: url.host, path: `${url.pathname}${url.search}`, method: req.method, service, region, headers, ...(req.body === undefined ? {} : { body: req.body }) },
    { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }) },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : String(v);
  return { ...req, headers: out };
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The text of an XML element, entities decoded. */
function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : (ENTITIES[e] ?? ''),
  );
}

/**
 * The contents of every `<tag>` element in `xml`. Route 53's answers are a fixed vocabulary where an
 * element never nests in one of its own name, which is all this reads (no general XML parser needed).
 */
export function xmlElements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, 'g');
  for (const m of xml.matchAll(re)) out.push(m[1] ?? '');
  return out;
}

/** The decoded text of the first `<tag>` in `xml`. */
export function xmlText(xml: string, tag: string): string | undefined {
  const e = xmlElements(xml, tag)[0];
  return e === undefined ? undefined : decode(e.trim());
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Route 53's error answers: `<ErrorResponse><Error><Code/><Message/>` or `<InvalidChangeBatch><Messages><Message/>`. */
function route53Error(res: HttpResponse): string {
  const code = xmlText(res.body, 'Code');
  const messages = xmlElements(res.body, 'Message').map((m) => decode(m.trim()));
  return [code, messages.join('; ')].filter((s) => s !== undefined && s !== '').join(': ');
}

/** A TXT record set as Route 53 lists it. */
interface RecordSet {
  readonly ttl: number;
  /** Values as stored (quoted). */
  readonly values: readonly string[];
}

/** The Route 53 provider: see the file comment. */
export class Route53Provider implements DnsProvider {
  readonly name = 'route53';
  readonly #o: Route53Options;
  readonly #api: ApiClient;
  readonly #endpoint: string;
  readonly #region: string;
  readonly #zones = new Map<string, { id: string; name: string }>();
  readonly #lock = new KeyedLock();

  constructor(options: Route53Options) {
    this.#o = options;
    const e = route53Endpoint(options.region);
    this.#endpoint = (options.endpoint ?? e.endpoint).replace(/\/$/, '');
    this.#region = e.signingRegion;
    const c = options.credentials;
    this.#api = new ApiClient('route53', options.fetch, options.timeoutMs, () => [c.secretAccessKey, ...(c.sessionToken === undefined ? [] : [c.sessionToken])]);
  }

  #now(): Date {
    return (this.#o.now ?? (() => new Date()))();
  }

  #send(what: string, method: string, path: string, body?: string): Promise<HttpResponse> {
    const req: HttpRequest = { method, url: `${this.#endpoint}${path}`, headers: body === undefined ? {} : { 'Content-Type': 'text/xml' }, ...(body === undefined ? {} : { body }) };
    return this.#api.send(what, signV4(req, this.#o.credentials, 'route53', this.#region, this.#now()), route53Error);
  }

  /** The public hosted zone of `fqdn`: the configured one, else ListHostedZonesByName for each parent name. */
  async #zone(fqdn: string): Promise<{ id: string; name: string }> {
    if (this.#o.hostedZoneId !== undefined) return { id: this.#o.hostedZoneId.replace(/^\/hostedzone\//, ''), name: `hosted zone ${this.#o.hostedZoneId}` };
    const cached = this.#zones.get(fqdn);
    if (cached !== undefined) return cached;
    const candidates = zoneCandidates(fqdn);
    for (const name of candidates) {
      const res = await this.#send(`find the hosted zone of ${fqdn} (ListHostedZonesByName ${name})`, 'GET', `/2013-04-01/hostedzonesbyname?dnsname=${encodeURIComponent(name)}&maxitems=10`);
      for (const z of xmlElements(res.body, 'HostedZone')) {
        const id = xmlText(z, 'Id');
        // Public zones only, as lego: a private zone of the same name is not what the CA resolves.
        if (id !== undefined && xmlText(z, 'Name')?.toLowerCase() === `${name}.` && xmlText(z, 'PrivateZone') !== 'true') {
          const found = { id: id.replace(/^\/hostedzone\//, ''), name };
          this.#zones.set(fqdn, found);
          return found;
        }
      }
    }
    throw new DnsProviderError(`route53: no public hosted zone holds ${fqdn} (asked for ${candidates.join(', ')}); set hostedZoneId (AWS_HOSTED_ZONE_ID) if it is there`);
  }

  async #recordSet(zone: { id: string; name: string }, fqdn: string): Promise<RecordSet | undefined> {
    const res = await this.#send(`list the TXT records ${fqdn} in ${zone.name}`, 'GET', `/2013-04-01/hostedzone/${zone.id}/rrset?name=${encodeURIComponent(fqdn)}&type=TXT&maxitems=1`);
    for (const set of xmlElements(res.body, 'ResourceRecordSet')) {
      // The listing starts at the name: the first set may be another one.
      if (xmlText(set, 'Name')?.toLowerCase() !== fqdn.toLowerCase() || xmlText(set, 'Type') !== 'TXT') continue;
      return { ttl: Number(xmlText(set, 'TTL') ?? '60'), values: xmlElements(set, 'Value').map((v) => decode(v.trim())) };
    }
    return undefined;
  }

  async #change(zone: { id: string; name: string }, fqdn: string, what: string, action: 'UPSERT' | 'DELETE', ttl: number, values: readonly string[]): Promise<void> {
    const body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<ChangeResourceRecordSetsRequest xmlns="${XMLNS}"><ChangeBatch><Comment>passerelle ACME DNS-01</Comment><Changes><Change>`,
      `<Action>${action}</Action><ResourceRecordSet><Name>${escapeXml(fqdn)}</Name><Type>TXT</Type><TTL>${ttl}</TTL><ResourceRecords>`,
      ...values.map((v) => `<ResourceRecord><Value>${escapeXml(v)}</Value></ResourceRecord>`),
      '</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>',
    ].join('');
    const res = await this.#send(what, 'POST', `/2013-04-01/hostedzone/${zone.id}/rrset/`, body);
    const changeId = xmlText(res.body, 'Id')?.replace(/^\/change\//, '');
    if (changeId === undefined || xmlText(res.body, 'Status') === 'INSYNC') return;
    let status = 'PENDING';
    const done = await pollUntil(
      async () => {
        const r = await this.#send(`get the status of change ${changeId} (${what})`, 'GET', `/2013-04-01/change/${changeId}`);
        status = xmlText(r.body, 'Status') ?? status;
        return status === 'INSYNC';
      },
      { intervalMs: this.#o.changeIntervalMs ?? 4000, timeoutMs: this.#o.changeTimeoutMs ?? 120_000, now: () => this.#now().getTime(), ...(this.#o.sleep === undefined ? {} : { sleep: this.#o.sleep }) },
    );
    if (!done) throw new DnsProviderError(this.#api.fail(what, `change ${changeId} still ${status} after ${this.#o.changeTimeoutMs ?? 120_000} ms`));
  }

  present(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const current = await this.#recordSet(zone, record.fqdn);
      const values = current?.values ?? [];
      if (values.some((v) => unquote(v) === record.value)) return;
      await this.#change(zone, record.fqdn, `add the TXT record ${record.fqdn} in ${zone.name}`, 'UPSERT', this.#o.ttlSeconds ?? 60, [...values, `"${record.value}"`]);
    });
  }

  cleanup(record: ChallengeRecord): Promise<void> {
    return this.#lock.run(record.fqdn, async () => {
      const zone = await this.#zone(record.fqdn);
      const current = await this.#recordSet(zone, record.fqdn);
      if (current === undefined || !current.values.some((v) => unquote(v) === record.value)) return;
      const rest = current.values.filter((v) => unquote(v) !== record.value);
      const what = `remove the TXT record ${record.fqdn} in ${zone.name}`;
      // DELETE must name the set exactly as it is (TTL and values); an emptied set cannot be UPSERTed.
      if (rest.length === 0) await this.#change(zone, record.fqdn, what, 'DELETE', current.ttl, current.values);
      else await this.#change(zone, record.fqdn, what, 'UPSERT', current.ttl, rest);
    });
  }
}

/** `[acme.dnsChallenge.route53]`. */
export interface Route53Settings {
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKeyFile?: string | undefined;
  readonly sessionTokenFile?: string | undefined;
  readonly region?: string | undefined;
  readonly hostedZoneId?: string | undefined;
  readonly ttl: number;
  readonly timeout: number;
}

/**
 * The provider of `[acme.dnsChallenge.route53]`; unset settings come from lego's (the AWS SDK's)
 * variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_HOSTED_ZONE_ID.
 */
export async function route53FromSettings(s: Route53Settings, env: NodeJS.ProcessEnv, fetch?: HttpFetch): Promise<Route53Provider> {
  const accessKeyId = s.accessKeyId ?? fromEnv(env, ['AWS_ACCESS_KEY_ID']);
  if (accessKeyId === undefined) throw missingSetting('route53', 'route53.accessKeyId', ['AWS_ACCESS_KEY_ID']);
  const secretAccessKey = await readCredential('route53.secretAccessKeyFile', s.secretAccessKeyFile, env, ['AWS_SECRET_ACCESS_KEY']);
  if (secretAccessKey === undefined) throw missingSetting('route53', 'route53.secretAccessKeyFile', ['AWS_SECRET_ACCESS_KEY']);
  const sessionToken = await readCredential('route53.sessionTokenFile', s.sessionTokenFile, env, ['AWS_SESSION_TOKEN']);
  const region = s.region ?? fromEnv(env, ['AWS_REGION']);
  const hostedZoneId = s.hostedZoneId ?? fromEnv(env, ['AWS_HOSTED_ZONE_ID']);
  return new Route53Provider({
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
    ttlSeconds: s.ttl,
    timeoutMs: s.timeout,
    ...(region === undefined ? {} : { region }),
    ...(hostedZoneId === undefined ? {} : { hostedZoneId }),
    ...(fetch === undefined ? {} : { fetch }),
  });
}
