// The strict grammars of annotation values (src/model/annotations/grammar.ts): good values, edges, and
// refusals with what is wrong. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressRange,
  addressRanges,
  bool,
  cookieName,
  headerName,
  headerNames,
  headerValue,
  hostPort,
  httpUrl,
  integer,
  methods,
  oneOf,
  origins,
  path,
  realm,
  rewriteTarget,
  secretRef,
  show,
  size,
} from '../../src/model/annotations/grammar.ts';
import type { Grammar } from '../../src/model/annotations/grammar.ts';

/** One grammar with values it reads (and what they give) and values it refuses (and a word of the problem). */
interface GrammarCase {
  readonly name: string;
  readonly grammar: Grammar<unknown>;
  readonly good: readonly (readonly [value: string, read: unknown])[];
  readonly bad: readonly (readonly [value: string, problem: RegExp])[];
}

const CASES: readonly GrammarCase[] = [
  {
    name: 'bool',
    grammar: bool,
    good: [['true', true], ['false', false]],
    bad: [['True', /"true" or "false"/], ['1', /boolean/], [' true', /without spaces/], ['', /boolean/], ['yes', /boolean/]],
  },
  {
    name: 'integer(0, 100)',
    grammar: integer(0, 100),
    good: [['0', 0], ['100', 100], ['007', 7]],
    bad: [['101', /0 to 100/], ['-1', /digits only/], ['1.5', /whole number/], [' 5', /whole number/], ['1e2', /whole number/], ['', /whole number/], ['99999999999999999', /whole number/]],
  },
  {
    name: 'oneOf, case-sensitive',
    grammar: oneOf(['round_robin', 'ewma']),
    good: [['ewma', 'ewma']],
    bad: [['EWMA', /one of round_robin, ewma/], ['ewma ', /one of/]],
  },
  {
    name: 'oneOf, any case',
    grammar: oneOf(['HTTP', 'GRPCS'], true),
    good: [['grpcs', 'GRPCS'], ['Http', 'HTTP']],
    bad: [['h2c', /any case/]],
  },
  {
    name: 'size',
    grammar: size,
    good: [['0', 0], ['512', 512], ['512k', 524288], ['8m', 8388608], ['8M', 8388608], ['1g', 1073741824], ['1G', 1073741824]],
    bad: [['8mb', /k, m or g/], ['8 m', /size/], ['8b', /size/], ['-1', /size/], ['', /size/], ['9999999999999999g', /size/], ['1.5m', /size/]],
  },
  {
    name: 'addressRange',
    grammar: addressRange,
    good: [
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['10.1.2.3/8', '10.0.0.0/8'],
      ['192.0.2.7', '192.0.2.7'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['192.0.2.7/32', '192.0.2.7/32'],
      ['2001:DB8::1/32', '2001:db8::/32'],
      ['2001:db8:0:0:1::7/64', '2001:db8::/64'],
      ['::1', '::1'],
      ['::/0', '::/0'],
      ['fe80::1/128', 'fe80::1/128'],
      ['::ffff:10.1.2.3/120', '::ffff:a01:200/120'],
    ],
    bad: [
      ['10.0.0.0/33', /0 to 32/],
      ['::/129', /0 to 128/],
      ['10.0.0.0/08', /prefix/],
      ['10.0.0/8', /IP address or CIDR/],
      ['010.0.0.1', /IP address/],
      ['fe80::1%eth0', /IP address/],
      ['[::1]', /IP address/],
      ['10.0.0.0/8/8', /IP address/],
      ['example.com', /IP address/],
      ['10.0.0.0/', /prefix/],
    ],
  },
  {
    name: 'addressRanges',
    grammar: addressRanges,
    good: [
      ['10.0.0.0/8, 192.168.1.7', ['10.0.0.0/8', '192.168.1.7']],
      ['192.168.1.7,10.0.0.0/8', ['10.0.0.0/8', '192.168.1.7']],
      ['10.0.0.0/8 ,\t10.1.0.0/8', ['10.0.0.0/8']],
      ['fd00::/8,10.0.0.1', ['10.0.0.1', 'fd00::/8']],
    ],
    bad: [
      ['10.0.0.0/8,', /empty item/],
      ['', /empty item/],
      ['10.0.0.0/8;10.0.0.1', /item "10.0.0.0\/8;10.0.0.1"/],
      ['10.0.0.0/8\n10.0.0.1', /item/],
      ['10.0.0.0/8 10.0.0.1', /item/],
    ],
  },
  {
    name: 'hostPort',
    grammar: hostPort,
    good: [['internal.example.com', 'internal.example.com'], ['api:8080', 'api:8080'], ['10.0.0.1', '10.0.0.1'], ['[2001:db8::1]:443', '[2001:db8::1]:443'], ['Example.COM', 'Example.COM']],
    bad: [['a_b.example', /host name/], ['api:0', /1 to 65535/], ['api:65536', /1 to 65535/], ['api:080', /1 to 65535/], ['$host', /host/], ['a b', /host/], ['', /host/], ['-a.example', /host/], ['a..example', /host/]],
  },
  {
    name: 'httpUrl',
    grammar: httpUrl,
    good: [
      ['https://example.com', 'https://example.com'],
      ['http://example.com:8080/a/b?x=1&y=%2F', 'http://example.com:8080/a/b?x=1&y=%2F'],
      ['https://10.0.0.1/', 'https://10.0.0.1/'],
      ['https://[2001:db8::1]:8443/p', 'https://[2001:db8::1]:8443/p'],
      ['https://example.com?next=/a', 'https://example.com?next=/a'],
    ],
    bad: [
      ['https://$host/oauth2/auth', /nginx variables/],
      ['ftp://example.com', /http:\/\/ or https:\/\//],
      ['HTTPS://example.com', /http:\/\//],
      ['//example.com/', /absolute URL/],
      ['/relative', /absolute URL/],
      ['https://user:pass@example.com/', /user info/],
      ['https://example.com/#top', /no # fragment/],
      ['https://example.com/a b', /whitespace, control or non-ASCII/],
      ['https://example.com/a;b', /characters outside/],
      ['https://example.com/"', /characters outside/],
      ["https://example.com/'", /characters outside/],
      ['https://example.com/{x}', /characters outside/],
      ['https://example.com/a\\b', /characters outside/],
      ['https://example.com/é', /whitespace, control or non-ASCII/],
      ['https://example.com/%zz', /characters outside/],
      ['https://example.com/\n', /whitespace, control or non-ASCII/],
      ['https://exa mple.com/', /whitespace, control or non-ASCII/],
      ['https:///path', /host part/],
      ['https://example.com:99999/', /1 to 65535/],
      [`https://example.com/${'a'.repeat(2100)}`, /longer than 2048/],
    ],
  },
  {
    name: 'path',
    grammar: path,
    good: [['/', '/'], ['/app', '/app'], ['/a/b-c_d.e~f/', '/a/b-c_d.e~f/'], ['/a%20b', '/a%20b'], ['/a:b@c', '/a:b@c']],
    bad: [['app', /start with "\/"/], ['/a/../b', /"\/..\/"/], ['/a/..', /end with/], ['/a//b', /"\/\/"/], ['/a b', /may only contain/], ['/a;b', /may only contain/], ['/$1', /may only contain/], ['/a?b', /may only contain/], ['/a#b', /may only contain/], ['/é', /may only contain/], ['/%2F', /encoded "\/"/], ['/%0a', /control/]],
  },
  {
    name: 'rewriteTarget(true): $1..$9 allowed',
    grammar: rewriteTarget(true),
    good: [['/$1', '/$1'], ['/api/$2', '/api/$2'], ['/$1/$2', '/$1/$2'], ['/', '/']],
    bad: [['/$0', /\$ that is not \$1 to \$9/], ['/${1}', /\$ that is not/], ['/$host', /\$ that is not/], ['$1', /start with/], ['/a b/$1', /may only contain/]],
  },
  {
    name: 'rewriteTarget(false): no $',
    grammar: rewriteTarget(false),
    good: [['/api', '/api']],
    bad: [['/api/$1', /capture groups/]],
  },
  {
    name: 'headerName',
    grammar: headerName,
    good: [['X-Canary', 'X-Canary'], ['x_b.c', 'x_b.c'], ['A!&*+^|~', 'A!&*+^|~']],
    bad: [['X Canary', /header name/], ['X:A', /header name/], ['X$a', /header name/], ['X%a', /header name/], ["X'a", /header name/], ['X#a', /header name/], ['', /header name/], ['Xé', /header name/]],
  },
  {
    name: 'headerNames',
    grammar: headerNames,
    good: [['X-User, X-Email', ['X-User', 'X-Email']], ['X-User', ['X-User']]],
    bad: [['X-User,', /empty item/], ['X-User X-Email', /header name/]],
  },
  {
    name: 'headerValue',
    grammar: headerValue,
    good: [['DENY', 'DENY'], ['two words', 'two words'], ["default-src 'self'", "default-src 'self'"], ['#fff', '#fff'], ['a=b, c', 'a=b, c']],
    bad: [['', /1 to 4096/], [' lead', /starts or ends with a space/], ['trail ', /space/], ['a;b', /without/], ['a"b', /without/], ['a\\b', /without/], ['$x', /without/], ['{x}', /without/], ['a\nb', /printable ASCII/], ['é', /printable ASCII/], ['\t', /printable/]],
  },
  {
    name: 'cookieName',
    grammar: cookieName,
    good: [['INGRESSCOOKIE', 'INGRESSCOOKIE'], ['route-1.a_b~c', 'route-1.a_b~c']],
    bad: [['a b', /cookie name/], ['a=b', /cookie name/], ['a;b', /cookie name/], ['$a', /cookie name/], ['', /cookie name/], ['a'.repeat(129), /1 to 128/]],
  },
  {
    name: 'methods',
    grammar: methods,
    good: [['GET, POST', ['GET', 'POST']], ['PUT,PATCH', ['PUT', 'PATCH']]],
    bad: [['get', /upper-case/], ['GET;POST', /upper-case/], ['GET,', /empty item/]],
  },
  {
    name: 'origins',
    grammar: origins,
    good: [['*', ['*']], ['https://app.example.com', ['https://app.example.com']], ['https://A.example.com:4443, http://b.example', ['https://a.example.com:4443', 'http://b.example']]],
    bad: [['https://*.example.com', /wildcard/], ['null', /null origin/], ['https://a.example/', /no path/], ['*, https://a.example', /item "\*"/], ['a.example', /scheme:\/\/host/], ['HTTPS://a.example', /lower-case scheme/]],
  },
  {
    name: 'realm',
    grammar: realm,
    good: [['Staff only', 'Staff only'], ["Bob's #1 area", "Bob's #1 area"]],
    bad: [['', /1 to 128/], ['a"b', /without/], ['a;b', /without/], ['a$b', /without/], ['a{b', /without/], ['a\\b', /without/], ['a\nb', /printable/], ['réalm', /printable/]],
  },
  {
    name: 'secretRef(true)',
    grammar: secretRef(true),
    good: [['basic-auth', { name: 'basic-auth' }], ['other/basic.auth', { namespace: 'other', name: 'basic.auth' }]],
    bad: [['Basic', /Secret name or namespace\/name/], ['a/b/c', /Secret name/], ['ns.x/b', /Secret name/], ['', /Secret name/], ['a b', /Secret name/]],
  },
  {
    name: 'secretRef(false)',
    grammar: secretRef(false),
    good: [['basic-auth', { name: 'basic-auth' }]],
    bad: [['other/basic', /of the Ingress namespace/]],
  },
];

for (const c of CASES) {
  test(`grammar ${c.name}: reads its good values`, () => {
    for (const [value, read] of c.good) assert.deepEqual(c.grammar(value), { ok: true, value: read }, show(value));
  });
  test(`grammar ${c.name}: refuses bad values and says why`, () => {
    for (const [value, problem] of c.bad) {
      const r = c.grammar(value);
      assert.equal(r.ok, false, show(value));
      if (!r.ok) assert.match(r.problem, problem, show(value));
    }
  });
}

test('show: a value is quoted, escaped to printable ASCII and cut', () => {
  assert.equal(show('a"b'), '"a\\"b"');
  assert.equal(show('a\nb'), '"a\\nb"');
  assert.equal(show('é\u2028'), '"\\u00e9\\u2028"');
  assert.equal(show('x'.repeat(100)), `"${'x'.repeat(80)}..."`);
});
