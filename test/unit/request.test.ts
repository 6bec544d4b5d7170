import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidAuthority, normalizeTarget } from '../../src/model/request.ts';
import type { RefusalReason } from '../../src/model/request.ts';

/** Each row: a request target, and the normalised path + query, or the refusal. */
const targets: { name: string; target: string; expect: string | RefusalReason; authority?: string; allowEncodedSlashes?: boolean }[] = [
  { name: 'plain path', target: '/public/x', expect: '/public/x' },
  { name: 'root', target: '/', expect: '/' },
  { name: 'dot-dot climbs one segment', target: '/public/../admin', expect: '/admin' },
  { name: 'encoded dots are dots', target: '/public/%2e%2e/admin', expect: '/admin' },
  { name: 'upper-case encoded dots', target: '/public/%2E%2E/admin', expect: '/admin' },
  { name: 'mixed encoded dot', target: '/public/.%2E/admin', expect: '/admin' },
  { name: 'single dot then dot-dot', target: '/public/./../admin/x', expect: '/admin/x' },
  { name: 'trailing dot-dot keeps the slash', target: '/a/b/..', expect: '/a/' },
  { name: 'trailing dot keeps the slash', target: '/a/.', expect: '/a/' },
  { name: 'dot-dot to the root', target: '/a/..', expect: '/' },
  { name: 'slashes merged before dot-dot', target: '/public//../admin', expect: '/admin' },
  { name: 'leading double slash', target: '//admin', expect: '/admin' },
  { name: 'trailing slash kept', target: '/public/', expect: '/public/' },
  { name: 'trailing double slash merged', target: '/public//', expect: '/public/' },
  { name: 'unreserved escapes decoded', target: '/public/%61dmin%7E%2D', expect: '/public/admin~-' },
  { name: 'reserved escapes kept, hex upper-cased', target: '/public/a%3bb%20c', expect: '/public/a%3Bb%20c' },
  { name: 'non-ASCII escapes kept', target: '/caf%c3%a9', expect: '/caf%C3%A9' },
  { name: 'semicolon parameter kept on a plain segment', target: '/public;x/y', expect: '/public;x/y' },
  { name: 'query kept as is', target: '/public?x=/../admin&%2e', expect: '/public?x=/../admin&%2e' },
  { name: 'dot-dot above the root', target: '/../admin', expect: 'above-root' },
  { name: 'dot-dot above the root after a climb', target: '/a/../../b', expect: 'above-root' },
  { name: 'encoded slash', target: '/public/..%2fadmin', expect: 'encoded-slash' },
  { name: 'upper-case encoded slash', target: '/public/..%2Fadmin', expect: 'encoded-slash' },
  { name: 'encoded backslash', target: '/public/..%5cadmin', expect: 'backslash' },
  { name: 'raw backslash', target: '/public/..\\admin', expect: 'backslash' },
  { name: 'dot-dot with a parameter', target: '/public/..;/admin', expect: 'dot-segment-parameter' },
  { name: 'encoded dot-dot with a parameter', target: '/public/%2e%2e;x/admin', expect: 'dot-segment-parameter' },
  { name: 'dot with an encoded parameter', target: '/public/.%3b/admin', expect: 'dot-segment-parameter' },
  { name: 'malformed escape', target: '/public/%zz', expect: 'bad-escape' },
  { name: 'truncated escape', target: '/public/%2', expect: 'bad-escape' },
  { name: 'encoded NUL', target: '/public/%00', expect: 'control-character' },
  { name: 'encoded control character', target: '/public/%0a', expect: 'control-character' },
  { name: 'encoded DEL', target: '/public/%7f', expect: 'control-character' },
  { name: 'raw NUL', target: '/public/\u0000', expect: 'control-character' },
  { name: 'control character in the query', target: '/public?\u0001', expect: 'control-character' },
  { name: 'relative target', target: 'public', expect: 'bad-target' },
  { name: 'absolute-form', target: 'http://other.test/x?y', expect: '/x?y', authority: 'other.test' },
  { name: 'absolute-form, upper-case scheme, port', target: 'HTTPS://other.test:8443/a/../b', expect: '/b', authority: 'other.test:8443' },
  { name: 'absolute-form without a path', target: 'http://other.test', expect: '/', authority: 'other.test' },
  { name: 'absolute-form with only a query', target: 'http://other.test?q', expect: '/?q', authority: 'other.test' },
  { name: 'absolute-form with userinfo', target: 'http://u@other.test/', expect: 'bad-host' },
  { name: 'absolute-form of another scheme', target: 'ftp://other.test/', expect: 'bad-target' },
  { name: 'encoded slash allowed by the entry point', target: '/a%2fb/../c', expect: '/c', allowEncodedSlashes: true },
  { name: 'encoded slash kept inside its segment', target: '/a%2fb', expect: '/a%2Fb', allowEncodedSlashes: true },
];

for (const c of targets) {
  test(`normalizeTarget: ${c.name}`, () => {
    const t = normalizeTarget(c.target, c.allowEncodedSlashes === undefined ? {} : { allowEncodedSlashes: c.allowEncodedSlashes });
    if (c.expect.startsWith('/')) {
      assert.ok(t.ok, `expected ${c.expect}, got a refusal: ${JSON.stringify(t)}`);
      assert.equal(t.path + t.query, c.expect);
      assert.equal(t.authority, c.authority);
    } else {
      assert.deepEqual(t, { ok: false, reason: c.expect });
    }
  });
}

test('normalizeTarget is idempotent on what it accepts', () => {
  for (const c of targets) {
    const t = normalizeTarget(c.target, c.allowEncodedSlashes === undefined ? {} : { allowEncodedSlashes: c.allowEncodedSlashes });
    if (!t.ok) continue;
    const again = normalizeTarget(t.path, c.allowEncodedSlashes === undefined ? {} : { allowEncodedSlashes: c.allowEncodedSlashes });
    assert.ok(again.ok);
    assert.equal(again.path, t.path, c.name);
  }
});

const authorities: { value: string; valid: boolean }[] = [
  { value: 'edge.test', valid: true },
  { value: 'edge.test:8080', valid: true },
  { value: 'EDGE.test.', valid: true },
  { value: '127.0.0.1:80', valid: true },
  { value: '[::1]:443', valid: true },
  { value: '[::1]', valid: true },
  { value: '', valid: false },
  { value: 'a b', valid: false },
  { value: 'a/b', valid: false },
  { value: 'a@b', valid: false },
  { value: 'a:b:c', valid: false },
  { value: 'a:http', valid: false },
  { value: 'a:123456', valid: false },
  { value: 'a\u0000b', valid: false },
  { value: '[::1', valid: false },
];
for (const c of authorities) {
  test(`isValidAuthority(${JSON.stringify(c.value)}) is ${c.valid}`, () => {
    assert.equal(isValidAuthority(c.value), c.valid);
  });
}
