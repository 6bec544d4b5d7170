/*
 * The DNS-01 providers' input checks (src/acme/dns/): pure, no IO. What reaches nsupdate's script or
 * an exec command line is a DNS name, a base64url value, a base64 secret: nothing else can add a command.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rfc2136Provider } from '../../src/acme/dns/rfc2136.ts';
import { challengeRecord } from '../../src/acme/dns/types.ts';

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

