/*
 * The DNS-01 providers' input checks (src/acme/dns/): pure, no IO. What reaches nsupdate's script or
 * an exec command line is a DNS name, a base64url value, a base64 secret: nothing else can add a command.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rfc2136Provider } from '../../src/acme/dns/rfc2136.ts';
import { challengeRecord } from '../../src/acme/dns/types.ts';
import { chooseChallenge } from '../../src/acme/dns/choice.ts';
import { challengeConfig, createDnsSolver } from '../../src/cli/acme.ts';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { AnyChallenge, ChallengeConfig } from '../../src/acme/dns/choice.ts';

test('challengeRecord: a wildcard shares its apex\'s name; the name is lower case and fully qualified', () => {
  assert.deepEqual(challengeRecord('*.Example.TEST', 'v'), { domain: '*.Example.TEST', fqdn: '_acme-challenge.example.test.', value: 'v' });
  assert.equal(challengeRecord('example.test.', 'v').fqdn, '_acme-challenge.example.test.');
});

test('rfc2136 and challengeRecord: values outside the grammar are refused before anything runs', () => {
  assert.throws(() => new Rfc2136Provider({ nameserver: '127.0.0.1:53\nupdate delete example.test.' }), /nameserver/);
  assert.throws(() => new Rfc2136Provider({ nameserver: '127.0.0.1', zone: 'example.test\nsend' }), /zone/);
  assert.throws(() => new Rfc2136Provider({ nameserver: '127.0.0.1', tsig: { name: 'k', algorithm: 'hmac-sha256', secret: 'a b\nsend' } }), /not base64/);
  assert.throws(() => new Rfc2136Provider({ nameserver: '127.0.0.1', tsig: { name: 'k', algorithm: 'rot13', secret: 'AAAA' } }), /algorithm/);
  assert.throws(() => challengeRecord('example.test\nsend', 'abc'), /not a DNS name/);
  assert.throws(() => challengeRecord('example.test', 'abc" ; update delete'), /base64url/);
});


const choices: { name: string; names: string[]; config: ChallengeConfig; types: AnyChallenge[]; why: RegExp }[] = [
  { name: 'a plain name over http-01', names: ['a.example.test'], config: { challenge: 'http-01' }, types: ['http-01'], why: /challenge = "http-01"/ },
  { name: 'tls-alpn-01 falls back to http-01', names: ['a.example.test'], config: { challenge: 'tls-alpn-01' }, types: ['tls-alpn-01', 'http-01'], why: /tls-alpn-01/ },
  { name: 'a wildcard without a provider cannot be ordered', names: ['*.example.test', 'example.test'], config: { challenge: 'http-01' }, types: [], why: /only DNS-01 proves it/ },
  { name: 'a wildcard with a provider uses dns-01, its apex too', names: ['*.example.test', 'example.test'], config: { challenge: 'http-01', dnsProvider: 'rfc2136' }, types: ['dns-01'], why: /wildcard \(DNS-01 through rfc2136\)/ },
  { name: 'challenge dns-01 without a provider', names: ['a.example.test'], config: { challenge: 'dns-01' }, types: [], why: /sets no provider/ },
  { name: 'challenge dns-01 with a provider', names: ['a.example.test'], config: { challenge: 'dns-01', dnsProvider: 'exec' }, types: ['dns-01'], why: /through exec/ },
  { name: 'names in the provider zone use dns-01', names: ['a.example.test', 'example.test'], config: { challenge: 'http-01', dnsProvider: 'rfc2136', dnsZone: 'example.test.' }, types: ['dns-01'], why: /in zone example\.test\./ },
  { name: 'a name outside the zone keeps http-01', names: ['a.example.test', 'other.test'], config: { challenge: 'http-01', dnsProvider: 'rfc2136', dnsZone: 'example.test' }, types: ['http-01'], why: /http-01/ },
  { name: 'a zone suffix is label-wise', names: ['badexample.test'], config: { challenge: 'http-01', dnsProvider: 'rfc2136', dnsZone: 'example.test' }, types: ['http-01'], why: /http-01/ },
];

for (const c of choices) {
  test(`chooseChallenge: ${c.name}`, () => {
    const choice = chooseChallenge(c.names, c.config);
    assert.deepEqual(choice.types, c.types);
    assert.match(choice.why, c.why);
  });
}

const ENTRY = '[entryPoints.https]\naddress = ":8443"\n[entryPoints.https.tls]\n';
const acmeOf = (toml: string) => {
  const a = parseConfig(`${ENTRY}[acme]\nemail = "ops@example.net"\nstorage = "acme.json"\n${toml}`, 'passerelle.toml').acme;
  assert.ok(a);
  return a;
};

test('[acme.dnsChallenge]: the rfc2136 provider from the TOML, unset settings from lego\'s environment variables, a missing one named', async () => {
  const a = acmeOf('[acme.dnsChallenge]\nprovider = "rfc2136"\ndelayBeforeCheck = "2s"\nresolvers = ["127.0.0.1:5353"]\n[acme.dnsChallenge.rfc2136]\nzone = "example.test"\ntsigKey = "k"\n');
  assert.deepEqual(challengeConfig(a), { challenge: 'http-01', dnsProvider: 'rfc2136', dnsZone: 'example.test' });
  const solver = await createDnsSolver(a, silentLogger, { RFC2136_NAMESERVER: '127.0.0.1:5353', RFC2136_TSIG_SECRET: 'c2VjcmV0' });
  assert.equal(solver?.provider.name, 'rfc2136');
  assert.deepEqual(solver?.propagation, { delayBeforeCheckMs: 2000, timeoutMs: 120_000, resolvers: ['127.0.0.1:5353'] });
  await assert.rejects(createDnsSolver(a, silentLogger, {}), /acme\.dnsChallenge\.rfc2136\.nameserver is not set \(nor RFC2136_NAMESERVER in the environment\)/);
  await assert.rejects(createDnsSolver(a, silentLogger, { RFC2136_NAMESERVER: '127.0.0.1' }), /tsigSecretFile is not set \(nor RFC2136_TSIG_SECRET/);
  await assert.rejects(createDnsSolver(a, silentLogger, { RFC2136_NAMESERVER: '127.0.0.1', RFC2136_TSIG_SECRET: 'not base64!' }), (err: unknown) => {
    assert.match((err as Error).message, /the TSIG secret of key k is not base64/);
    assert.ok(!(err as Error).message.includes('not base64!'), 'the secret is not echoed');
    return true;
  });
  assert.equal(await createDnsSolver(acmeOf(''), silentLogger, {}), undefined);
});

test('[acme.dnsChallenge]: exec from EXEC_PATH; challenge = "dns-01" without a provider is a config error', async () => {
  const a = acmeOf('challenge = "dns-01"\n[acme.dnsChallenge]\nprovider = "exec"\n');
  assert.equal((await createDnsSolver(a, silentLogger, { EXEC_PATH: '/usr/local/bin/dns-hook' }))?.provider.name, 'exec');
  await assert.rejects(createDnsSolver(a, silentLogger, {}), /acme\.dnsChallenge\.exec\.command is not set \(nor EXEC_PATH/);
  assert.throws(() => parseConfig(`${ENTRY}[acme]\nemail = "ops@example.net"\nchallenge = "dns-01"\n`, 'passerelle.toml'), /needs \[acme\.dnsChallenge\] with a provider/);
});
