/*
 * DNS-01 providers against a real BIND 9 (test/integration/acme/bind.ts): RFC 2136 with TSIG
 * through nsupdate, the exec provider with a script that itself runs nsupdate, and the propagation
 * check reading the same server. A wildcard and its apex share one name, so cleanup must remove one
 * value and keep the other.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExecProvider } from '../../../src/acme/dns/exec.ts';
import { waitForRecord } from '../../../src/acme/dns/propagation.ts';
import { Rfc2136Provider } from '../../../src/acme/dns/rfc2136.ts';
import { challengeRecord, DnsProviderError } from '../../../src/acme/dns/types.ts';
import { startBind } from './bind.ts';

test('rfc2136: TSIG-signed updates add and remove one TXT value beside another; the propagation check sees them', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-bind-'));
  const bind = await startBind(dir, ['example.test']);
  t.after(async () => {
    await bind.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const provider = new Rfc2136Provider({ nameserver: bind.server, zone: 'example.test', tsig: bind.key });
  const wildcard = challengeRecord('*.example.test', 'wildcard-value_1');
  const apex = challengeRecord('example.test', 'apex-value-2');
  assert.equal(wildcard.fqdn, '_acme-challenge.example.test.');
  assert.equal(apex.fqdn, wildcard.fqdn);
  await provider.present(wildcard);
  await provider.present(apex);
  assert.deepEqual((await bind.txt('_acme-challenge.example.test')).sort(), ['apex-value-2', 'wildcard-value_1']);
  await waitForRecord(wildcard, { resolvers: [bind.server], timeoutMs: 5000, intervalMs: 100 });
  await provider.cleanup(wildcard);
  assert.deepEqual(await bind.txt('_acme-challenge.example.test'), ['apex-value-2'], 'only the wildcard value removed');
  await provider.cleanup(apex);
  assert.deepEqual(await bind.txt('_acme-challenge.example.test'), []);
  // Without the zone, nsupdate finds it by the SOA the server answers.
  const zoneless = new Rfc2136Provider({ nameserver: bind.server, tsig: bind.key });
  await zoneless.present(challengeRecord('app.example.test', 'found-by-soa'));
  assert.deepEqual(await bind.txt('_acme-challenge.app.example.test'), ['found-by-soa']);
  // The propagation check gives up, naming the server, when the value never shows.
  await assert.rejects(waitForRecord(challengeRecord('example.test', 'never-written'), { resolvers: [bind.server], timeoutMs: 300, intervalMs: 100 }), (err: unknown) => {
    assert.ok(err instanceof DnsProviderError);
    assert.match(err.message, /_acme-challenge\.example\.test\. was not seen in time .*127\.0\.0\.1/);
    return true;
  });
});

test('rfc2136: a wrong TSIG key and a zone the server does not serve are errors naming the zone, the server and the cause; the secret is never in them', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-bind-'));
  const bind = await startBind(dir, ['example.test']);
  t.after(async () => {
    await bind.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const wrongSecret = Buffer.alloc(32, 7).toString('base64');
  const wrong = new Rfc2136Provider({ nameserver: bind.server, zone: 'example.test', tsig: { ...bind.key, secret: wrongSecret } });
  await assert.rejects(wrong.present(challengeRecord('example.test', 'abc')), (err: unknown) => {
    assert.ok(err instanceof DnsProviderError);
    assert.equal(err.code, 'PASS_ACME_DNS_PROVIDER');
    assert.match(err.message, new RegExp(`rfc2136: could not add the TXT record _acme-challenge\\.example\\.test\\. in example\\.test at 127\\.0\\.0\\.1:${bind.port}: .*NOTAUTH\\(BADSIG\\)`));
    assert.ok(!err.message.includes(wrongSecret), 'the secret is not in the message');
    return true;
  });
  const other = new Rfc2136Provider({ nameserver: bind.server, zone: 'elsewhere.test', tsig: bind.key });
  await assert.rejects(other.present(challengeRecord('elsewhere.test', 'abc')), /in elsewhere\.test at .*NOTAUTH/);
  assert.deepEqual(await bind.txt('_acme-challenge.example.test'), [], 'nothing was written');
});

test('exec: a script given present/cleanup, the fqdn and the value writes to the same BIND; a failing script is an error with its output', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-bind-'));
  const bind = await startBind(dir, ['example.test']);
  t.after(async () => {
    await bind.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const script = path.join(dir, 'dns-hook.sh');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'set -e',
      'case "$1" in present) op="add $2 60" ;; cleanup) op="delete $2" ;; *) echo "unknown action $1" >&2; exit 2 ;; esac',
      'printf "server 127.0.0.1 %s\\nkey hmac-sha256:%s %s\\nupdate %s TXT \\"%s\\"\\nsend\\n" "$BIND_PORT" "$TSIG_NAME" "$TSIG_SECRET" "$op" "$3" | nsupdate -v -t 5',
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  const exec = new ExecProvider({ command: script, env: { BIND_PORT: String(bind.port), TSIG_NAME: bind.key.name, TSIG_SECRET: bind.key.secret } });
  const record = challengeRecord('*.example.test', 'from-the-script');
  await exec.present(record);
  assert.deepEqual(await bind.txt('_acme-challenge.example.test'), ['from-the-script']);
  await exec.cleanup(record);
  assert.deepEqual(await bind.txt('_acme-challenge.example.test'), []);
  const broken = new ExecProvider({ command: script, env: { BIND_PORT: String(bind.port), TSIG_NAME: bind.key.name, TSIG_SECRET: Buffer.alloc(32, 1).toString('base64') } });
  await assert.rejects(broken.present(record), (err: unknown) => {
    assert.ok(err instanceof DnsProviderError);
    assert.match(err.message, /^exec: ".*dns-hook\.sh present _acme-challenge\.example\.test\." exited with 2: .*NOTAUTH\(BADSIG\)/);
    return true;
  });
  await assert.rejects(new ExecProvider({ command: path.join(dir, 'missing.sh') }).present(record), /was not found/);
});
