/*
 * The HTTP API DNS-01 providers (Cloudflare, Route 53, Google Cloud DNS, DigitalOcean) against
 * recorded API contracts: each provider's HTTP function is replaced by a script that checks the
 * exact requests built (method, URL, headers with the auth scheme, body) and answers with the
 * documented response bodies of test/fixtures/dns-providers/. No network, and not the real services:
 * these tests prove the requests match the documented contracts, not that the services accept them.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { freePort } from '../ports.ts';
import { CloudflareProvider, cloudflareFromSettings } from '../../src/acme/dns/cloudflare.ts';
import { Route53Provider, route53FromSettings, signV4 } from '../../src/acme/dns/route53.ts';
import { CLOUD_DNS_SCOPE, GcloudProvider, gcloudFromSettings } from '../../src/acme/dns/gcloud.ts';
import type { ServiceAccountKey } from '../../src/acme/dns/gcloud.ts';
import { DigitalOceanProvider, digitalOceanFromSettings } from '../../src/acme/dns/digitalocean.ts';
import { ApiClient, KeyedLock, undiciFetch, zoneCandidates } from '../../src/acme/dns/http.ts';
import type { HttpFetch, HttpRequest } from '../../src/acme/dns/http.ts';
import { challengeRecord, DnsProviderError } from '../../src/acme/dns/types.ts';
import { createDnsSolver } from '../../src/cli/acme.ts';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/shared/logger.ts';

const FIXTURES = new URL('../fixtures/dns-providers/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const A = 'LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo';
const B = 'Cz7Rr8ZzQTg2tw5hQYzVGbm4HfEp9nXoaPDNd1Aq3sY';
/** A wildcard and its apex: two values at one name. */
const wildcard = challengeRecord('*.www.example.com', A);
const apex = challengeRecord('www.example.com', B);

interface Step {
  readonly method: string;
  readonly url: string;
  readonly status?: number;
  /** A file under test/fixtures/dns-providers/. */
  readonly fixture?: string;
  readonly body?: string;
}

/** An HTTP function that expects `steps` in order and answers each with its recorded response. */
function scripted(steps: readonly Step[]): { fetch: HttpFetch; requests: HttpRequest[]; timeouts: number[]; done: () => void } {
  const requests: HttpRequest[] = [];
  const timeouts: number[] = [];
  const mismatches: string[] = [];
  const fetch: HttpFetch = (req, timeoutMs) => {
    const s = steps[requests.length];
    requests.push(req);
    timeouts.push(timeoutMs);
    if (s === undefined || s.method !== req.method || s.url !== req.url) {
      mismatches.push(`request ${requests.length}: got ${req.method} ${req.url}, expected ${s === undefined ? 'nothing' : `${s.method} ${s.url}`}`);
      return Promise.resolve({ status: 599, headers: {}, body: '' });
    }
    const body = s.fixture === undefined ? (s.body ?? '') : fixture(s.fixture);
    return Promise.resolve({ status: s.status ?? 200, headers: { 'content-type': s.fixture?.endsWith('.xml') === true ? 'text/xml' : 'application/json' }, body });
  };
  return {
    fetch,
    requests,
    timeouts,
    done: () => {
      assert.deepEqual(mismatches, []);
      assert.equal(requests.length, steps.length, 'every recorded exchange was asked for');
    },
  };
}

const req = (r: readonly HttpRequest[], i: number): HttpRequest => {
  const x = r[i];
  assert.ok(x, `request ${i} was sent`);
  return x;
};

const json = (r: HttpRequest): unknown => JSON.parse(r.body ?? 'null') as unknown;

const rejectsWith = async (p: Promise<unknown>, patterns: readonly RegExp[], secrets: readonly string[]): Promise<void> => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DnsProviderError, `a DnsProviderError, got ${String(err)}`);
    assert.equal(err.code, 'PASS_ACME_DNS_PROVIDER');
    for (const re of patterns) assert.match(err.message, re);
    for (const s of secrets) assert.ok(!err.message.includes(s), 'no credential in the error');
    return true;
  });
};

test('zoneCandidates: the parents of the challenge name, most specific first, no top-level domain', () => {
  assert.deepEqual(zoneCandidates('_acme-challenge.a.b.example.com.'), ['a.b.example.com', 'b.example.com', 'example.com']);
  assert.deepEqual(zoneCandidates('_acme-challenge.example.com.'), ['example.com']);
});

test('KeyedLock: runs of one key never interleave, other keys run at once, a failure does not block the next', async () => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const step = (name: string, fail = false) => async () => {
    log.push(`${name} start`);
    await new Promise((r) => setTimeout(r, 5));
    log.push(`${name} end`);
    if (fail) throw new Error(name);
  };
  await Promise.allSettled([lock.run('k', step('a', true)), lock.run('k', step('b')), lock.run('other', step('c'))]);
  assert.deepEqual(log.slice(0, 2), ['a start', 'c start']);
  assert.ok(log.indexOf('b start') > log.indexOf('a end'));
});

// ---------------------------------------------------------------- Cloudflare

const CF = 'https://api.cloudflare.com/client/v4';
const CF_TOKEN = 'cf-dns-token-0123456789abcdef';
const CF_ZONE = '023e105f4ecef8ad9ca31a8372d0c353';

test('cloudflare: present finds the zone with GET /zones?name= (parents in turn, the zone token), then POSTs one TXT record per value', async () => {
  const s = scripted([
    { method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' },
    { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones.json' },
    { method: 'POST', url: `${CF}/zones/${CF_ZONE}/dns_records`, fixture: 'cloudflare/dns-record-created.json' },
    { method: 'POST', url: `${CF}/zones/${CF_ZONE}/dns_records`, fixture: 'cloudflare/dns-record-created.json' },
  ]);
  const p = new CloudflareProvider({ auth: { token: CF_TOKEN }, zoneToken: 'cf-zone-token-read-only', timeoutMs: 7000, fetch: s.fetch });
  await Promise.all([p.present(wildcard), p.present(apex)]);
  s.done();
  assert.deepEqual(req(s.requests, 0).headers, { Accept: 'application/json', Authorization: 'Bearer cf-zone-token-read-only' });
  const post = req(s.requests, 2);
  assert.deepEqual(post.headers, { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${CF_TOKEN}` });
  assert.deepEqual(json(post), { type: 'TXT', name: '_acme-challenge.www.example.com', content: A, ttl: 120 });
  assert.deepEqual(json(req(s.requests, 3)), { type: 'TXT', name: '_acme-challenge.www.example.com', content: B, ttl: 120 });
  assert.deepEqual(s.timeouts, [7000, 7000, 7000, 7000]);
});

test('cloudflare: cleanup lists the TXT records of the name and deletes only the one holding this value (quoted or not)', async () => {
  const s = scripted([
    { method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' },
    { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones.json' },
    { method: 'GET', url: `${CF}/zones/${CF_ZONE}/dns_records?type=TXT&name=_acme-challenge.www.example.com&per_page=100`, fixture: 'cloudflare/dns-records-two.json' },
    { method: 'DELETE', url: `${CF}/zones/${CF_ZONE}/dns_records/372e67954025e0ba6aaa6d586b9e0b59`, fixture: 'cloudflare/dns-record-deleted.json' },
    { method: 'GET', url: `${CF}/zones/${CF_ZONE}/dns_records?type=TXT&name=_acme-challenge.www.example.com&per_page=100`, fixture: 'cloudflare/dns-records-two.json' },
    { method: 'DELETE', url: `${CF}/zones/${CF_ZONE}/dns_records/9a7806061c88ada191ed06f989cc3dac`, fixture: 'cloudflare/dns-record-deleted.json' },
  ]);
  const p = new CloudflareProvider({ auth: { token: CF_TOKEN }, fetch: s.fetch });
  await p.cleanup(wildcard);
  await p.cleanup(apex);
  s.done();
  // Without a zone token the DNS token finds the zone too.
  assert.equal(req(s.requests, 0).headers['Authorization'], `Bearer ${CF_TOKEN}`);
  assert.equal(req(s.requests, 3).body, undefined);
  assert.equal(req(s.requests, 3).headers['Authorization'], `Bearer ${CF_TOKEN}`);
});

test('cloudflare: an identical record (81058) is a present already done; an API error names the zone, record, message and status, never the token', async () => {
  const ok = scripted([
    { method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' },
    { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones.json' },
    { method: 'POST', url: `${CF}/zones/${CF_ZONE}/dns_records`, status: 400, fixture: 'cloudflare/error-identical-record.json' },
  ]);
  await new CloudflareProvider({ auth: { token: CF_TOKEN }, fetch: ok.fetch }).present(wildcard);
  ok.done();

  const denied = scripted([
    { method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' },
    { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones.json' },
    { method: 'POST', url: `${CF}/zones/${CF_ZONE}/dns_records`, status: 403, fixture: 'cloudflare/error-authentication.json' },
  ]);
  await rejectsWith(new CloudflareProvider({ auth: { token: CF_TOKEN }, fetch: denied.fetch }).present(wildcard), [/^cloudflare: could not add the TXT record _acme-challenge\.www\.example\.com\. in zone example\.com: HTTP 403: Authentication error \(code 10000\)$/], [CF_TOKEN]);

  const zoneDenied = scripted([{ method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, status: 403, fixture: 'cloudflare/error-authentication.json' }]);
  await rejectsWith(new CloudflareProvider({ auth: { token: CF_TOKEN }, fetch: zoneDenied.fetch }).cleanup(wildcard), [/could not find the zone of _acme-challenge\.www\.example\.com\./, /HTTP 403: Authentication error/], [CF_TOKEN]);

  const none = scripted([
    { method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' },
    { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' },
  ]);
  await rejectsWith(new CloudflareProvider({ auth: { token: CF_TOKEN }, fetch: none.fetch }).present(wildcard), [/no zone of this account holds _acme-challenge\.www\.example\.com\. \(asked for www\.example\.com, example\.com\)/], [CF_TOKEN]);
});

test('cloudflare: the legacy global API key goes in X-Auth-Email / X-Auth-Key; a request without an answer is a timeout error', async () => {
  const s = scripted([{ method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' }, { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones.json' }, { method: 'POST', url: `${CF}/zones/${CF_ZONE}/dns_records`, fixture: 'cloudflare/dns-record-created.json' }]);
  await new CloudflareProvider({ auth: { email: 'ops@example.com', key: 'global-key-c2547eb745079dac9320b638f5e225cf483cc5cfdda41' }, ttlSeconds: 300, fetch: s.fetch }).present(wildcard);
  s.done();
  assert.deepEqual(req(s.requests, 2).headers, { Accept: 'application/json', 'Content-Type': 'application/json', 'X-Auth-Email': 'ops@example.com', 'X-Auth-Key': 'global-key-c2547eb745079dac9320b638f5e225cf483cc5cfdda41' });
  assert.equal((json(req(s.requests, 2)) as { ttl: number }).ttl, 300);

  const timeout: HttpFetch = () => Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  await rejectsWith(new CloudflareProvider({ auth: { token: CF_TOKEN }, timeoutMs: 50, fetch: timeout }).present(wildcard), [/^cloudflare: could not find the zone .*: GET api\.cloudflare\.com: no answer within 50 ms$/], [CF_TOKEN]);
});

// ---------------------------------------------------------------- Route 53

const R53 = 'https://route53.amazonaws.com';
const AWS_KEY = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const NOW = new Date('2024-05-06T07:08:09.000Z');

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const hmac = (key: string | Buffer, s: string): Buffer => createHmac('sha256', key).update(s).digest();
const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The SigV4 Authorization of `r`, recomputed here from AWS's specification (canonical request,
 * string to sign, derived key) for the headers the request says it signed: independent of aws4.
 */
function recomputeSigV4(r: HttpRequest, accessKeyId: string, secret: string, region: string, service: string): string {
  const url = new URL(r.url);
  const h = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]));
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(h['authorization'] ?? '')?.[1] ?? '';
  const amzDate = h['x-amz-date'] ?? '';
  const query = [...url.searchParams].map(([k, v]) => [rfc3986(k), rfc3986(v)] as const).sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonicalPath = url.pathname.split('/').map((seg) => rfc3986(decodeURIComponent(seg))).join('/');
  const canonical = [r.method, canonicalPath, query, signedHeaders.split(';').map((n) => `${n}:${h[n] ?? ''}\n`).join(''), signedHeaders, sha256(r.body ?? '')].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), region), service), 'aws4_request');
  return `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${createHmac('sha256', key).update(toSign).digest('hex')}`;
}

test('route53 SigV4: the AWS Signature Version 4 test suite vector "get-vanilla", through the provider\'s signer and the independent recomputation', () => {
  // aws-sig-v4-test-suite/get-vanilla: GET / on example.amazonaws.com at 20150830T123600Z, us-east-1, service "service".
  const expected = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
  const signed = signV4({ method: 'GET', url: 'https://example.amazonaws.com/', headers: {} }, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }, 'service', 'us-east-1', new Date('2015-08-30T12:36:00Z'));
  assert.equal(signed.headers['Authorization'], expected);
  assert.equal(signed.headers['X-Amz-Date'], '20150830T123600Z');
  assert.equal(recomputeSigV4(signed, 'AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', 'us-east-1', 'service'), expected);
});

/** Checks each request is signed for route53/us-east-1 by these credentials (and the session token, when given). */
function assertSigned(requests: readonly HttpRequest[], creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): void {
  for (const r of requests) {
    const auth = r.headers['Authorization'] ?? '';
    assert.match(auth, new RegExp(`^AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/20240506/us-east-1/route53/aws4_request, SignedHeaders=`));
    assert.equal(r.headers['X-Amz-Date'], '20240506T070809Z');
    assert.equal(r.headers['Host'], 'route53.amazonaws.com');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
    for (const h of ['host', 'x-amz-date', ...(r.body === undefined ? [] : ['content-type']), ...(creds.sessionToken === undefined ? [] : ['x-amz-security-token'])]) assert.ok(signedHeaders.includes(h), `${h} is signed`);
    if (creds.sessionToken !== undefined) assert.equal(r.headers['X-Amz-Security-Token'], creds.sessionToken);
    assert.equal(auth, recomputeSigV4(r, creds.accessKeyId, creds.secretAccessKey, 'us-east-1', 'route53'));
  }
}

const HZ = `${R53}/2013-04-01/hostedzonesbyname`;
const RRSET = `${R53}/2013-04-01/hostedzone/Z1D633PJN98FT9/rrset`;
const rrsetList = `${RRSET}?name=_acme-challenge.www.example.com.&type=TXT&maxitems=1`;
const changeXml = (action: string, ttl: number, values: readonly string[]): string =>
  '<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Comment>passerelle ACME DNS-01</Comment><Changes><Change>' +
  `<Action>${action}</Action><ResourceRecordSet><Name>_acme-challenge.www.example.com.</Name><Type>TXT</Type><TTL>${ttl}</TTL><ResourceRecords>` +
  values.map((v) => `<ResourceRecord><Value>&quot;${v}&quot;</Value></ResourceRecord>`).join('') +
  '</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>';

test('route53: present finds the public hosted zone with ListHostedZonesByName, reads the TXT set and UPSERTs it with the value added (two values at one name), waiting for INSYNC', async () => {
  const s = scripted([
    { method: 'GET', url: `${HZ}?dnsname=www.example.com&maxitems=10`, fixture: 'route53/list-hosted-zones-by-name-www.xml' },
    { method: 'GET', url: `${HZ}?dnsname=example.com&maxitems=10`, fixture: 'route53/list-hosted-zones-by-name.xml' },
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-other.xml' },
    { method: 'POST', url: `${RRSET}/`, fixture: 'route53/change-resource-record-sets.xml' },
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/get-change-insync.xml' },
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-one.xml' },
    { method: 'POST', url: `${RRSET}/`, fixture: 'route53/change-resource-record-sets.xml' },
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/get-change-insync.xml' },
  ]);
  const creds = { ...AWS_KEY, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN' };
  const p = new Route53Provider({ credentials: creds, fetch: s.fetch, now: () => NOW, sleep: () => Promise.resolve() });
  // The apex first (B), then the wildcard (A): the second reads the set the first wrote.
  await Promise.all([p.present(apex), p.present(wildcard)]);
  s.done();
  assert.equal(req(s.requests, 3).body, changeXml('UPSERT', 60, [B]));
  assert.equal(req(s.requests, 6).body, changeXml('UPSERT', 60, [B, A]));
  assert.equal(req(s.requests, 3).headers['Content-Type'], 'text/xml');
  assertSigned(s.requests, creds);
});

test('route53: cleanup UPSERTs the set without this value (its TTL kept), and DELETEs the set exactly as listed when the value was the last', async () => {
  const s = scripted([
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-two.xml' },
    { method: 'POST', url: `${RRSET}/`, fixture: 'route53/change-resource-record-sets.xml' },
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/get-change-insync.xml' },
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-one.xml' },
    { method: 'POST', url: `${RRSET}/`, fixture: 'route53/change-resource-record-sets.xml' },
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/get-change-insync.xml' },
    // Already gone: nothing to change.
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-other.xml' },
  ]);
  const p = new Route53Provider({ credentials: AWS_KEY, hostedZoneId: '/hostedzone/Z1D633PJN98FT9', fetch: s.fetch, now: () => NOW, sleep: () => Promise.resolve() });
  await p.cleanup(wildcard);
  await p.cleanup(apex);
  await p.cleanup(apex);
  s.done();
  assert.equal(req(s.requests, 1).body, changeXml('UPSERT', 30, [B]));
  assert.equal(req(s.requests, 4).body, changeXml('DELETE', 60, [B]));
  assertSigned(s.requests, AWS_KEY);
  assert.ok(!('X-Amz-Security-Token' in req(s.requests, 0).headers));
});

test('route53: AccessDenied and InvalidChangeBatch are errors with the code, AWS\'s message and the status, never the secret key; a change never INSYNC times out', async () => {
  const denied = scripted([
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-other.xml' },
    { method: 'POST', url: `${RRSET}/`, status: 403, fixture: 'route53/error-access-denied.xml' },
  ]);
  await rejectsWith(
    new Route53Provider({ credentials: AWS_KEY, hostedZoneId: 'Z1D633PJN98FT9', fetch: denied.fetch, now: () => NOW }).present(wildcard),
    [/^route53: could not add the TXT record _acme-challenge\.www\.example\.com\. in hosted zone Z1D633PJN98FT9: HTTP 403: AccessDenied: User: arn:aws:iam::123456789012:user\/passerelle is not authorized to perform: route53:ChangeResourceRecordSets/],
    [AWS_KEY.secretAccessKey],
  );
  const invalid = scripted([
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-one.xml' },
    { method: 'POST', url: `${RRSET}/`, status: 400, fixture: 'route53/error-invalid-change-batch.xml' },
  ]);
  await rejectsWith(new Route53Provider({ credentials: AWS_KEY, hostedZoneId: 'Z1D633PJN98FT9', fetch: invalid.fetch, now: () => NOW }).cleanup(apex), [/^route53: could not remove the TXT record .* HTTP 400: Tried to delete resource record set \[name='_acme-challenge\.www\.example\.com\.', type='TXT'\] but the values provided do not match/], [AWS_KEY.secretAccessKey]);

  const pending = scripted([
    { method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-other.xml' },
    { method: 'POST', url: `${RRSET}/`, fixture: 'route53/change-resource-record-sets.xml' },
    // GetChange at 0, 600 and 1200 ms, still PENDING: given up after 1000 ms.
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/change-resource-record-sets.xml' },
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/change-resource-record-sets.xml' },
    { method: 'GET', url: `${R53}/2013-04-01/change/C2682N5HXP0BZ4`, fixture: 'route53/change-resource-record-sets.xml' },
  ]);
  let clock = 0;
  const p = new Route53Provider({ credentials: AWS_KEY, hostedZoneId: 'Z1D633PJN98FT9', fetch: pending.fetch, now: () => new Date(NOW.getTime() + clock), changeTimeoutMs: 1000, changeIntervalMs: 600, sleep: (ms) => ((clock += ms), Promise.resolve()) });
  await rejectsWith(p.present(wildcard), [/change C2682N5HXP0BZ4 still PENDING after 1000 ms/], []);
  pending.done();

  const noZone = scripted([
    { method: 'GET', url: `${HZ}?dnsname=www.example.com&maxitems=10`, fixture: 'route53/list-hosted-zones-by-name-www.xml' },
    { method: 'GET', url: `${HZ}?dnsname=example.com&maxitems=10`, fixture: 'route53/list-hosted-zones-by-name-www.xml' },
  ]);
  await rejectsWith(new Route53Provider({ credentials: AWS_KEY, fetch: noZone.fetch, now: () => NOW }).present(wildcard), [/no public hosted zone holds _acme-challenge\.www\.example\.com\./, /AWS_HOSTED_ZONE_ID/], []);
});

test('route53: a China or GovCloud region picks that partition\'s endpoint and signing region', async () => {
  const s = scripted([{ method: 'GET', url: 'https://route53.amazonaws.com.cn/2013-04-01/hostedzone/Z1/rrset?name=_acme-challenge.www.example.com.&type=TXT&maxitems=1', fixture: 'route53/list-resource-record-sets-other.xml' }]);
  await new Route53Provider({ credentials: AWS_KEY, region: 'cn-north-1', hostedZoneId: 'Z1', fetch: s.fetch, now: () => NOW }).cleanup(wildcard);
  s.done();
  assert.match(req(s.requests, 0).headers['Authorization'] ?? '', /Credential=AKIAIOSFODNN7EXAMPLE\/20240506\/cn-northwest-1\/route53\/aws4_request/);
});

test('undiciFetch: a SigV4-signed request reaches a real HTTP server as built (Host, Content-Length, body); no answer in time is a timeout error', async () => {
  const port = await freePort();
  const seen: { method: string | undefined; url: string | undefined; headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer((rq, rs) => {
    let body = '';
    rq.on('data', (c: Buffer) => (body += c.toString()));
    rq.on('end', () => {
      seen.push({ method: rq.method, url: rq.url, headers: rq.headers, body });
      if (rq.url === '/slow') return; // never answers
      rs.writeHead(201, { 'Content-Type': 'text/xml', 'X-Amzn-RequestId': 'r-1' }).end('<ok/>');
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    const signed = signV4({ method: 'POST', url: `http://127.0.0.1:${port}/2013-04-01/hostedzone/Z1/rrset/`, headers: { 'Content-Type': 'text/xml' }, body: '<x>é</x>' }, AWS_KEY, 'route53', 'us-east-1', NOW);
    const res = await undiciFetch(signed, 2000);
    assert.deepEqual({ status: res.status, body: res.body, id: res.headers['x-amzn-requestid'] }, { status: 201, body: '<ok/>', id: 'r-1' });
    const got = seen[0];
    assert.ok(got?.headers);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/2013-04-01/hostedzone/Z1/rrset/');
    assert.equal(got.body, '<x>é</x>');
    assert.equal(got.headers['host'], `127.0.0.1:${port}`);
    assert.equal(got.headers['content-length'], String(Buffer.byteLength('<x>é</x>')));
    assert.equal(got.headers['authorization'], signed.headers['Authorization']);
    const api = new ApiClient('test', undefined, 100, () => []);
    await rejectsWith(api.send('wait for a slow server', { method: 'GET', url: `http://127.0.0.1:${port}/slow`, headers: {} }, () => ''), [/^test: could not wait for a slow server: GET 127\.0\.0\.1:\d+: no answer within 100 ms$/], []);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

// ---------------------------------------------------------------- Google Cloud DNS

const GDNS = 'https://dns.googleapis.com/dns/v1/projects/my-project';
const GTOKEN = 'ya29.c.b0AXv0zTPfixturetokenfixturetoken';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const serviceAccount: ServiceAccountKey = {
  client_email: 'passerelle-dns@my-project.iam.gserviceaccount.com',
  private_key: keys.privateKey,
  private_key_id: '3f1e9a0c2b7d4e5f8a6b1c2d3e4f5a6b7c8d9e0f',
  project_id: 'my-project',
  token_uri: 'https://oauth2.googleapis.com/token',
};

/** Checks the JWT-bearer token request (RFC 7523) and its JWT's RS256 signature with node:crypto, independently of jose. */
function assertTokenRequest(r: HttpRequest, nowSeconds: number): void {
  assert.equal(r.headers['Content-Type'], 'application/x-www-form-urlencoded');
  const form = new URLSearchParams(r.body ?? '');
  assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
  const [h = '', p = '', sig = ''] = (form.get('assertion') ?? '').split('.');
  assert.ok(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), keys.publicKey, Buffer.from(sig, 'base64url')), 'the JWT is signed by the service account key');
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'RS256', typ: 'JWT', kid: serviceAccount.private_key_id });
  assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url').toString()), { scope: CLOUD_DNS_SCOPE, iss: serviceAccount.client_email, aud: 'https://oauth2.googleapis.com/token', iat: nowSeconds, exp: nowSeconds + 3600 });
}

const GNOW = new Date('2024-05-06T07:08:09.000Z');
const gset = (values: readonly string[], ttl = 60) => ({ name: '_acme-challenge.www.example.com.', type: 'TXT', ttl, rrdatas: values.map((v) => `"${v}"`) });

test('gcloud: a service-account JWT exchanged for a token, the public managed zone found by dnsName, the TXT set replaced with the value added in one change (two values at one name)', async () => {
  const s = scripted([
    { method: 'POST', url: 'https://oauth2.googleapis.com/token', fixture: 'gcloud/token.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=www.example.com.`, fixture: 'gcloud/managed-zones-empty.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=example.com.`, fixture: 'gcloud/managed-zones.json' },
    { method: 'GET', url: `${GDNS}/managedZones/example-com/rrsets?name=_acme-challenge.www.example.com.&type=TXT`, fixture: 'gcloud/rrsets-empty.json' },
    { method: 'POST', url: `${GDNS}/managedZones/example-com/changes`, fixture: 'gcloud/change-pending.json' },
    { method: 'GET', url: `${GDNS}/managedZones/example-com/changes/17`, fixture: 'gcloud/change-done.json' },
    { method: 'GET', url: `${GDNS}/managedZones/example-com/rrsets?name=_acme-challenge.www.example.com.&type=TXT`, fixture: 'gcloud/rrsets-one.json' },
    { method: 'POST', url: `${GDNS}/managedZones/example-com/changes`, fixture: 'gcloud/change-done.json' },
  ]);
  const p = new GcloudProvider({ serviceAccount, fetch: s.fetch, now: () => GNOW, sleep: () => Promise.resolve() });
  await Promise.all([p.present(apex), p.present(wildcard)]);
  s.done();
  assertTokenRequest(req(s.requests, 0), GNOW.getTime() / 1000);
  for (const r of s.requests.slice(1)) assert.equal(r.headers['Authorization'], `Bearer ${GTOKEN}`, 'the token is reused');
  assert.equal(req(s.requests, 4).headers['Content-Type'], 'application/json');
  assert.deepEqual(json(req(s.requests, 4)), { additions: [gset([B])], deletions: [] });
  assert.deepEqual(json(req(s.requests, 7)), { additions: [gset([B, A])], deletions: [gset([B])] });
});

test('gcloud: cleanup replaces the set without this value, and only deletes it when the value was the last; without a key, the metadata server\'s token and project', async () => {
  const META = 'http://metadata.google.internal/computeMetadata/v1';
  const s = scripted([
    { method: 'GET', url: `${META}/project/project-id`, body: 'my-project' },
    { method: 'GET', url: `${META}/instance/service-accounts/default/token`, fixture: 'gcloud/token.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=www.example.com.`, fixture: 'gcloud/managed-zones-empty.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=example.com.`, fixture: 'gcloud/managed-zones.json' },
    { method: 'GET', url: `${GDNS}/managedZones/example-com/rrsets?name=_acme-challenge.www.example.com.&type=TXT`, fixture: 'gcloud/rrsets-two.json' },
    { method: 'POST', url: `${GDNS}/managedZones/example-com/changes`, fixture: 'gcloud/change-done.json' },
    { method: 'GET', url: `${GDNS}/managedZones/example-com/rrsets?name=_acme-challenge.www.example.com.&type=TXT`, fixture: 'gcloud/rrsets-one.json' },
    { method: 'POST', url: `${GDNS}/managedZones/example-com/changes`, fixture: 'gcloud/change-done.json' },
  ]);
  const p = new GcloudProvider({ fetch: s.fetch, now: () => GNOW });
  await p.cleanup(wildcard);
  await p.cleanup(apex);
  s.done();
  assert.deepEqual(req(s.requests, 0).headers, { 'Metadata-Flavor': 'Google' });
  assert.deepEqual(req(s.requests, 1).headers, { 'Metadata-Flavor': 'Google' });
  assert.deepEqual(json(req(s.requests, 5)), { additions: [gset([B])], deletions: [gset([B, A])] });
  assert.deepEqual(json(req(s.requests, 7)), { additions: [], deletions: [gset([B])] });
});

test('gcloud: a private zone is skipped unless allowed; PERMISSION_DENIED and a refused JWT are errors with Google\'s message and the status, never the token or key', async () => {
  const priv = scripted([
    { method: 'POST', url: 'https://oauth2.googleapis.com/token', fixture: 'gcloud/token.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=www.example.com.`, fixture: 'gcloud/managed-zones-empty.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=example.com.`, fixture: 'gcloud/managed-zones.json' },
    { method: 'GET', url: `${GDNS}/managedZones/example-com-internal/rrsets?name=_acme-challenge.www.example.com.&type=TXT`, fixture: 'gcloud/rrsets-empty.json' },
  ]);
  await new GcloudProvider({ serviceAccount, allowPrivateZone: true, fetch: priv.fetch, now: () => GNOW }).cleanup(wildcard);
  priv.done();

  const denied = scripted([
    { method: 'POST', url: 'https://oauth2.googleapis.com/token', fixture: 'gcloud/token.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=www.example.com.`, status: 403, fixture: 'gcloud/error-permission-denied.json' },
  ]);
  await rejectsWith(new GcloudProvider({ serviceAccount, fetch: denied.fetch, now: () => GNOW }).present(wildcard), [/^gcloud: could not find the managed zone of _acme-challenge\.www\.example\.com\. \(managedZones\.list dnsName=www\.example\.com\.\): HTTP 403: PERMISSION_DENIED: Forbidden$/], [GTOKEN, keys.privateKey]);

  const refused = scripted([{ method: 'POST', url: 'https://oauth2.googleapis.com/token', status: 400, fixture: 'gcloud/token-error.json' }]);
  await rejectsWith(new GcloudProvider({ serviceAccount, fetch: refused.fetch, now: () => GNOW }).present(wildcard), [/^gcloud: could not get an access token for passerelle-dns@my-project\.iam\.gserviceaccount\.com from https:\/\/oauth2\.googleapis\.com\/token: HTTP 400: invalid_grant: Invalid JWT Signature\.$/], [keys.privateKey]);

  const none = scripted([
    { method: 'POST', url: 'https://oauth2.googleapis.com/token', fixture: 'gcloud/token.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=www.example.com.`, fixture: 'gcloud/managed-zones-empty.json' },
    { method: 'GET', url: `${GDNS}/managedZones?dnsName=example.com.`, fixture: 'gcloud/managed-zones-empty.json' },
  ]);
  await rejectsWith(new GcloudProvider({ serviceAccount, fetch: none.fetch, now: () => GNOW }).present(wildcard), [/no public managed zone of project my-project holds _acme-challenge\.www\.example\.com\./], [GTOKEN]);
});

// ---------------------------------------------------------------- DigitalOcean

const DO = 'https://api.digitalocean.com/v2';
const DO_TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef';

test('digitalocean: the domain found with GET /v2/domains/NAME (404: its parent), one TXT record per value with a name relative to the domain', async () => {
  const s = scripted([
    { method: 'GET', url: `${DO}/domains/www.example.com`, status: 404, fixture: 'digitalocean/not-found.json' },
    { method: 'GET', url: `${DO}/domains/example.com`, fixture: 'digitalocean/domain.json' },
    { method: 'POST', url: `${DO}/domains/example.com/records`, status: 201, fixture: 'digitalocean/record-created.json' },
    { method: 'POST', url: `${DO}/domains/example.com/records`, status: 201, fixture: 'digitalocean/record-created.json' },
  ]);
  const p = new DigitalOceanProvider({ token: DO_TOKEN, fetch: s.fetch });
  await Promise.all([p.present(wildcard), p.present(apex)]);
  s.done();
  assert.deepEqual(req(s.requests, 0).headers, { Accept: 'application/json', Authorization: `Bearer ${DO_TOKEN}` });
  assert.deepEqual(req(s.requests, 2).headers, { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${DO_TOKEN}` });
  assert.deepEqual(json(req(s.requests, 2)), { type: 'TXT', name: '_acme-challenge.www', data: A, ttl: 60 });
  assert.deepEqual(json(req(s.requests, 3)), { type: 'TXT', name: '_acme-challenge.www', data: B, ttl: 60 });
});

test('digitalocean: cleanup lists the TXT records by fully qualified name and deletes only this value\'s; 401 is an error with DigitalOcean\'s message, never the token', async () => {
  const s = scripted([
    { method: 'GET', url: `${DO}/domains/www.example.com`, status: 404, fixture: 'digitalocean/not-found.json' },
    { method: 'GET', url: `${DO}/domains/example.com`, fixture: 'digitalocean/domain.json' },
    { method: 'GET', url: `${DO}/domains/example.com/records?type=TXT&name=_acme-challenge.www.example.com&per_page=200`, fixture: 'digitalocean/records-two.json' },
    { method: 'DELETE', url: `${DO}/domains/example.com/records/28448434`, status: 204 },
  ]);
  await new DigitalOceanProvider({ token: DO_TOKEN, fetch: s.fetch }).cleanup(apex);
  s.done();
  assert.equal(req(s.requests, 3).headers['Authorization'], `Bearer ${DO_TOKEN}`);

  const denied = scripted([{ method: 'GET', url: `${DO}/domains/www.example.com`, status: 401, fixture: 'digitalocean/unauthorized.json' }]);
  await rejectsWith(new DigitalOceanProvider({ token: DO_TOKEN, fetch: denied.fetch }).present(wildcard), [/^digitalocean: could not find the domain of _acme-challenge\.www\.example\.com\. \(GET \/v2\/domains\/www\.example\.com\): HTTP 401: Unauthorized: Unable to authenticate you\.$/], [DO_TOKEN]);

  const none = scripted([
    { method: 'GET', url: `${DO}/domains/www.example.com`, status: 404, fixture: 'digitalocean/not-found.json' },
    { method: 'GET', url: `${DO}/domains/example.com`, status: 404, fixture: 'digitalocean/not-found.json' },
  ]);
  await rejectsWith(new DigitalOceanProvider({ token: DO_TOKEN, fetch: none.fetch }).present(wildcard), [/no domain of this account holds _acme-challenge\.www\.example\.com\./], [DO_TOKEN]);
});

// ---------------------------------------------------------------- configuration

const ENTRY = '[entryPoints.https]\naddress = ":8443"\n[entryPoints.https.tls]\n';
const acmeOf = (toml: string) => {
  const a = parseConfig(`${ENTRY}[acme]\nemail = "ops@example.net"\nstorage = "acme.json"\n${toml}`, 'passerelle.toml').acme;
  assert.ok(a);
  return a;
};
const secretFile = (content: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-dns-'));
  const file = path.join(dir, 'secret');
  writeFileSync(file, `${content}\n`);
  return file;
};

test('config: [acme.dnsChallenge.cloudflare] parses with defaults; the token comes from its file (a mounted Secret) or lego\'s variables; none is an error naming them', async () => {
  const a = acmeOf('[acme.dnsChallenge]\nprovider = "cloudflare"\n');
  assert.deepEqual(a.dnsChallenge?.cloudflare, { ttl: 120, timeout: 30_000 });
  await assert.rejects(createDnsSolver(a, silentLogger, {}), /acme\.dnsChallenge\.cloudflare\.apiTokenFile is not set \(nor CLOUDFLARE_DNS_API_TOKEN or CF_DNS_API_TOKEN in the environment\)/);
  assert.equal((await createDnsSolver(a, silentLogger, { CF_DNS_API_TOKEN: 't' }))?.provider.name, 'cloudflare');
  assert.equal((await createDnsSolver(a, silentLogger, { CLOUDFLARE_EMAIL: 'ops@example.com', CLOUDFLARE_API_KEY: 'k' }))?.provider.name, 'cloudflare');

  const file = secretFile('token-from-secret-file');
  const b = acmeOf(`[acme.dnsChallenge]\nprovider = "cloudflare"\n[acme.dnsChallenge.cloudflare]\napiTokenFile = "${file}"\nttl = 300\ntimeout = "5s"\n`);
  assert.deepEqual(b.dnsChallenge?.cloudflare, { apiTokenFile: file, ttl: 300, timeout: 5000 });
  const s = scripted([{ method: 'GET', url: `${CF}/zones?name=www.example.com&per_page=50`, fixture: 'cloudflare/zones-empty.json' }, { method: 'GET', url: `${CF}/zones?name=example.com&per_page=50`, fixture: 'cloudflare/zones.json' }, { method: 'POST', url: `${CF}/zones/${CF_ZONE}/dns_records`, fixture: 'cloudflare/dns-record-created.json' }]);
  assert.ok(b.dnsChallenge);
  await (await cloudflareFromSettings(b.dnsChallenge.cloudflare, { CLOUDFLARE_DNS_API_TOKEN: 'env-token-loses' }, s.fetch)).present(wildcard);
  s.done();
  assert.equal(req(s.requests, 2).headers['Authorization'], 'Bearer token-from-secret-file');
  assert.equal((json(req(s.requests, 2)) as { ttl: number }).ttl, 300);
  assert.deepEqual(s.timeouts, [5000, 5000, 5000]);
  await assert.rejects(createDnsSolver(acmeOf('[acme.dnsChallenge]\nprovider = "cloudflare"\n[acme.dnsChallenge.cloudflare]\napiTokenFile = "/nonexistent/token"\n'), silentLogger, {}), /cannot read acme\.dnsChallenge\.cloudflare\.apiTokenFile \/nonexistent\/token/);
  assert.throws(() => acmeOf('[acme.dnsChallenge]\nprovider = "cloudflare"\n[acme.dnsChallenge.cloudflare]\napiToken = "inline"\n'), /apiToken/);
});

test('config: [acme.dnsChallenge.route53] from the TOML or lego\'s AWS_* variables; the secret key from a file; a missing key named', async () => {
  const a = acmeOf('[acme.dnsChallenge]\nprovider = "route53"\n');
  assert.deepEqual(a.dnsChallenge?.route53, { ttl: 60, timeout: 30_000 });
  await assert.rejects(createDnsSolver(a, silentLogger, {}), /acme\.dnsChallenge\.route53\.accessKeyId is not set \(nor AWS_ACCESS_KEY_ID in the environment\)/);
  await assert.rejects(createDnsSolver(a, silentLogger, { AWS_ACCESS_KEY_ID: 'AKID' }), /acme\.dnsChallenge\.route53\.secretAccessKeyFile is not set \(nor AWS_SECRET_ACCESS_KEY/);
  assert.equal((await createDnsSolver(a, silentLogger, { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret' }))?.provider.name, 'route53');

  const file = secretFile(AWS_KEY.secretAccessKey);
  const b = acmeOf(`[acme.dnsChallenge]\nprovider = "route53"\n[acme.dnsChallenge.route53]\naccessKeyId = "${AWS_KEY.accessKeyId}"\nsecretAccessKeyFile = "${file}"\nhostedZoneId = "Z1D633PJN98FT9"\nttl = 30\n`);
  assert.ok(b.dnsChallenge);
  const s = scripted([{ method: 'GET', url: rrsetList, fixture: 'route53/list-resource-record-sets-other.xml' }]);
  await (await route53FromSettings(b.dnsChallenge.route53, { AWS_SESSION_TOKEN: 'session-from-env' }, s.fetch)).cleanup(wildcard);
  s.done();
  // Signed with the key from the file (the recomputation would differ otherwise), the session token from the environment.
  const r = req(s.requests, 0);
  assert.equal(r.headers['X-Amz-Security-Token'], 'session-from-env');
  const amzDate = r.headers['X-Amz-Date'] ?? '';
  assert.match(r.headers['Authorization'] ?? '', new RegExp(`Credential=${AWS_KEY.accessKeyId}/${amzDate.slice(0, 8)}/us-east-1/route53/aws4_request`));
  assert.equal(r.headers['Authorization'], recomputeSigV4(r, AWS_KEY.accessKeyId, AWS_KEY.secretAccessKey, 'us-east-1', 'route53'));
});

test('config: [acme.dnsChallenge.gcloud] reads the service account key file (GCE_SERVICE_ACCOUNT_FILE / GOOGLE_APPLICATION_CREDENTIALS), the project from GCE_PROJECT or the key', async () => {
  const a = acmeOf('[acme.dnsChallenge]\nprovider = "gcloud"\n');
  assert.deepEqual(a.dnsChallenge?.gcloud, { allowPrivateZone: false, ttl: 60, timeout: 30_000 });
  // No key: the metadata server is asked at the first record, not at start.
  assert.equal((await createDnsSolver(a, silentLogger, {}))?.provider.name, 'gcloud');
  const keyFile = secretFile(JSON.stringify({ type: 'service_account', ...serviceAccount, project_id: 'key-project' }));
  assert.equal((await createDnsSolver(a, silentLogger, { GOOGLE_APPLICATION_CREDENTIALS: keyFile }))?.provider.name, 'gcloud');
  await assert.rejects(createDnsSolver(a, silentLogger, { GCE_SERVICE_ACCOUNT_FILE: secretFile('{"type":"authorized_user"}') }), /has no client_email or private_key: it is not a service account key/);
  await assert.rejects(createDnsSolver(a, silentLogger, { GCE_SERVICE_ACCOUNT_FILE: secretFile('not json') }), (err: Error) => /is not JSON/.test(err.message) && !err.message.includes('not json'));
  const s = scripted([
    { method: 'POST', url: 'https://oauth2.googleapis.com/token', fixture: 'gcloud/token.json' },
    { method: 'GET', url: 'https://dns.googleapis.com/dns/v1/projects/env-project/managedZones?dnsName=www.example.com.', fixture: 'gcloud/managed-zones-empty.json' },
  ]);
  assert.ok(a.dnsChallenge);
  await assert.rejects((await gcloudFromSettings({ ...a.dnsChallenge.gcloud, serviceAccountFile: keyFile }, { GCE_PROJECT: 'env-project' }, s.fetch)).present(wildcard));
  assert.equal(s.requests.length, 3, 'the project of GCE_PROJECT is used over the key\'s');
});

test('config: [acme.dnsChallenge.digitalocean] from authTokenFile, DO_AUTH_TOKEN or DO_AUTH_TOKEN_FILE; a TTL under 30 is refused', async () => {
  const a = acmeOf('[acme.dnsChallenge]\nprovider = "digitalocean"\n');
  assert.deepEqual(a.dnsChallenge?.digitalocean, { ttl: 60, timeout: 30_000 });
  await assert.rejects(createDnsSolver(a, silentLogger, {}), /acme\.dnsChallenge\.digitalocean\.authTokenFile is not set \(nor DO_AUTH_TOKEN in the environment\)/);
  assert.equal((await createDnsSolver(a, silentLogger, { DO_AUTH_TOKEN: 'x' }))?.provider.name, 'digitalocean');
  assert.throws(() => acmeOf('[acme.dnsChallenge]\nprovider = "digitalocean"\n[acme.dnsChallenge.digitalocean]\nttl = 10\n'), /ttl/);
  const file = secretFile('token-from-DO_AUTH_TOKEN_FILE');
  const s = scripted([{ method: 'GET', url: `${DO}/domains/www.example.com`, status: 401, fixture: 'digitalocean/unauthorized.json' }]);
  assert.ok(a.dnsChallenge);
  await assert.rejects((await digitalOceanFromSettings(a.dnsChallenge.digitalocean, { DO_AUTH_TOKEN_FILE: file }, s.fetch)).present(wildcard), /HTTP 401/);
  assert.equal(req(s.requests, 0).headers['Authorization'], 'Bearer token-from-DO_AUTH_TOKEN_FILE');
});
