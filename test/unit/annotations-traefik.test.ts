// The Traefik 1.x dialect of readAnnotations (src/model/annotations/traefik.ts), its name forms, and
// Ingresses that use both dialects (the ingress-nginx annotation wins a conflict). Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findingSeverity, readAnnotations } from '../../src/model/annotations/index.ts';
import type { FindingStatus, PolicyRefs } from '../../src/model/annotations/index.ts';
import { TRAEFIK_CATALOGUE } from '../../src/model/annotations/traefik-catalogue.ts';
import type { TraefikName } from '../../src/model/annotations/traefik-catalogue.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { PassCode } from '../../src/shared/codes.ts';

type Expect = readonly [status: FindingStatus, code?: PassCode | undefined, note?: RegExp];

interface Case {
  readonly name: string;
  /** Full annotation names; a name without a prefix is `ingress.kubernetes.io/<name>`. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly tls?: boolean;
  readonly policy?: RoutePolicy;
  readonly refs?: PolicyRefs;
  readonly findings: Readonly<Record<string, Expect>>;
}

const INVALID = 'PASS_ANNOTATION_INVALID';
const INCOMPLETE = 'PASS_ANNOTATION_INCOMPLETE';
const IGNORED = 'PASS_ANNOTATION_IGNORED';
const UNSUPPORTED = 'PASS_ANNOTATION_UNSUPPORTED';
const CONFLICT = 'PASS_ANNOTATION_CONFLICT';
const I = 'ingress.kubernetes.io/';
const T = 'traefik.ingress.kubernetes.io/';
const N = 'nginx.ingress.kubernetes.io/';

const full = (name: string): string => (name.includes('/') || name.startsWith('traefik.') ? name : `${I}${name}`);

const CASES: readonly Case[] = [
  // https redirects
  { name: 'ssl-redirect "true" is 301', annotations: { 'ssl-redirect': 'true' }, policy: { sslRedirect: { status: 301 } }, findings: { 'ssl-redirect': ['applied'] } },
  {
    name: 'ssl-temporary-redirect makes it 307',
    annotations: { 'ssl-redirect': 'true', 'ssl-temporary-redirect': 'true' },
    policy: { sslRedirect: { status: 307 } },
    findings: { 'ssl-redirect': ['applied'], 'ssl-temporary-redirect': ['applied'] },
  },
  { name: 'ssl-redirect "true" overrides the TLS default', annotations: { 'ssl-redirect': 'true' }, tls: true, policy: { sslRedirect: { status: 301 } }, findings: { 'ssl-redirect': ['applied'] } },
  { name: 'ssl-redirect "false" turns the TLS default off', annotations: { 'ssl-redirect': 'false' }, tls: true, policy: {}, findings: { 'ssl-redirect': ['applied'] } },
  { name: 'ssl-temporary-redirect alone has no effect', annotations: { 'ssl-temporary-redirect': 'true' }, policy: {}, findings: { 'ssl-temporary-redirect': ['applied', IGNORED, /ssl-redirect is not "true"/] } },
  { name: 'an invalid ssl-redirect makes ssl-temporary-redirect incomplete', annotations: { 'ssl-redirect': 'on', 'ssl-temporary-redirect': 'true' }, policy: {}, findings: { 'ssl-redirect': ['invalid', INVALID], 'ssl-temporary-redirect': ['invalid', INCOMPLETE] } },
  { name: 'ssl-redirect "1" is invalid', annotations: { 'ssl-redirect': '1' }, policy: {}, findings: { 'ssl-redirect': ['invalid', INVALID, /ingress.kubernetes.io\/ssl-redirect: "1" is not a boolean/] } },
  { name: 'redirect-entry-point https is 307', annotations: { [`${T}redirect-entry-point`]: 'https' }, policy: { sslRedirect: { status: 307 } }, findings: { [`${T}redirect-entry-point`]: ['different', undefined, /GET/] } },
  {
    name: 'redirect-entry-point https with redirect-permanent is 308',
    annotations: { [`${T}redirect-entry-point`]: 'https', [`${T}redirect-permanent`]: 'true' },
    policy: { sslRedirect: { status: 308 } },
    findings: { [`${T}redirect-entry-point`]: ['different'], [`${T}redirect-permanent`]: ['applied'] },
  },
  { name: 'the label traefik.frontend.redirect.entrypoint', annotations: { 'traefik.frontend.redirect.entrypoint': 'https' }, policy: { sslRedirect: { status: 307 } }, findings: { 'traefik.frontend.redirect.entrypoint': ['different'] } },
  { name: 'a redirect to another entry point is unsupported', annotations: { 'redirect-entry-point': 'admin' }, policy: {}, findings: { 'redirect-entry-point': ['unsupported', UNSUPPORTED, /only https/] } },
  { name: 'an entry point name with a space is invalid', annotations: { 'redirect-entry-point': 'ht tps' }, policy: {}, findings: { 'redirect-entry-point': ['invalid', INVALID] } },
  { name: 'redirect-permanent alone has no effect', annotations: { 'redirect-permanent': 'true' }, policy: {}, findings: { 'redirect-permanent': ['applied', IGNORED] } },
  {
    name: 'ssl-redirect and redirect-entry-point disagree on the status: the first read is kept',
    annotations: { 'redirect-entry-point': 'https', 'ssl-redirect': 'true' },
    policy: { sslRedirect: { status: 307 } },
    findings: { 'redirect-entry-point': ['different'], 'ssl-redirect': ['conflict', CONFLICT, /redirect-entry-point/] },
  },
  { name: 'app-root', annotations: { [`${T}app-root`]: '/index.html' }, policy: { appRoot: '/index.html' }, findings: { [`${T}app-root`]: ['applied'] } },
  {
    name: 'app-root with redirect-permanent stays 302',
    annotations: { 'app-root': '/app', 'redirect-permanent': 'true' },
    policy: { appRoot: '/app' },
    findings: { 'app-root': ['different', undefined, /302/], 'redirect-permanent': ['applied'] },
  },
  { name: 'redirect-regex is unsupported', annotations: { 'redirect-regex': '^http://localhost/(.*)', 'redirect-replacement': 'http://mydomain/$1' }, policy: {}, findings: { 'redirect-regex': ['unsupported', UNSUPPORTED], 'redirect-replacement': ['unsupported', UNSUPPORTED] } },

  // rewrites
  { name: 'rewrite-target replaces the matched prefix', annotations: { [`${T}rewrite-target`]: '/users' }, policy: { rewrite: { kind: 'prefix', target: '/users' } }, findings: { [`${T}rewrite-target`]: ['different', undefined, /X-Replaced-Path/] } },
  { name: 'rewrite-target loses its trailing /, as in Traefik 1', annotations: { 'rewrite-target': '/users/' }, policy: { rewrite: { kind: 'prefix', target: '/users' } }, findings: { 'rewrite-target': ['different'] } },
  { name: 'rewrite-target / removes the prefix', annotations: { 'rewrite-target': '/' }, policy: { rewrite: { kind: 'strip-prefix' } }, findings: { 'rewrite-target': ['different'] } },
  { name: 'rewrite-target refuses $', annotations: { 'rewrite-target': '/$1' }, policy: {}, findings: { 'rewrite-target': ['invalid', INVALID, /capture groups/] } },
  { name: 'rule-type PathPrefixStrip', annotations: { [`${T}rule-type`]: 'PathPrefixStrip' }, policy: { rewrite: { kind: 'strip-prefix' } }, findings: { [`${T}rule-type`]: ['applied'] } },
  { name: 'the label traefik.frontend.rule.type', annotations: { 'traefik.frontend.rule.type': 'PathPrefixStrip' }, policy: { rewrite: { kind: 'strip-prefix' } }, findings: { 'traefik.frontend.rule.type': ['applied'] } },
  { name: 'rule-type PathPrefix is the default', annotations: { 'rule-type': 'PathPrefix' }, policy: {}, findings: { 'rule-type': ['applied'] } },
  { name: 'rule-type Path matches by pathType', annotations: { 'rule-type': 'Path' }, policy: {}, findings: { 'rule-type': ['different', undefined, /pathType: Exact/] } },
  { name: 'rule-type PathStrip', annotations: { 'rule-type': 'PathStrip' }, policy: { rewrite: { kind: 'strip-prefix' } }, findings: { 'rule-type': ['different', undefined, /removed/] } },
  { name: 'rule-type ReplacePath is unsupported', annotations: { 'rule-type': 'ReplacePath' }, policy: {}, findings: { 'rule-type': ['unsupported', UNSUPPORTED, /request-modifier/] } },
  { name: 'rule-type is case-sensitive', annotations: { 'rule-type': 'pathprefixstrip' }, policy: {}, findings: { 'rule-type': ['invalid', INVALID] } },
  {
    name: 'rule-type PathPrefixStrip and rewrite-target: one rewrite, the first kept',
    annotations: { 'rule-type': 'PathPrefixStrip', 'rewrite-target': '/api' },
    policy: { rewrite: { kind: 'strip-prefix' } },
    findings: { 'rule-type': ['applied'], 'rewrite-target': ['conflict', CONFLICT] },
  },
  { name: 'request-modifier ReplacePath', annotations: { [`${T}request-modifier`]: 'ReplacePath: /health' }, policy: { rewrite: { kind: 'replace-path', path: '/health' } }, findings: { [`${T}request-modifier`]: ['applied'] } },
  { name: 'request-modifier AddPrefix is unsupported', annotations: { 'request-modifier': 'AddPrefix: /users' }, policy: {}, findings: { 'request-modifier': ['unsupported', UNSUPPORTED, /AddPrefix/] } },
  { name: 'request-modifier with a bad path is invalid', annotations: { 'request-modifier': 'ReplacePath: health' }, policy: {}, findings: { 'request-modifier': ['invalid', INVALID, /ReplacePath value/] } },
  { name: 'request-modifier of another kind is invalid', annotations: { 'request-modifier': 'PathPrefixStrip: /x' }, policy: {}, findings: { 'request-modifier': ['invalid', INVALID] } },

  // access
  { name: 'whitelist-source-range', annotations: { [`${T}whitelist-source-range`]: '1.2.3.0/24, fe80::/16' }, policy: { allowSourceRange: ['1.2.3.0/24', 'fe80::/16'] }, findings: { [`${T}whitelist-source-range`]: ['applied'] } },
  { name: 'whitelist-source-range with a bad entry is an error', annotations: { 'whitelist-source-range': '1.2.3.0/24, nope' }, policy: {}, findings: { 'whitelist-source-range': ['invalid', INVALID, /"nope"/] } },
  {
    name: 'auth-type basic: realm traefik, the key auth',
    annotations: { 'auth-type': 'basic', 'auth-secret': 'mysecret' },
    refs: { authSecret: { namespace: 'web', name: 'mysecret', realm: 'traefik', form: 'auth-file', annotation: `${I}auth-secret` } },
    findings: { 'auth-type': ['applied'], 'auth-secret': ['different', undefined, /key auth/] },
  },
  {
    name: 'auth-type in any case, auth-realm traefik',
    annotations: { 'auth-type': 'Basic', 'auth-secret': 'mysecret', 'auth-realm': 'traefik' },
    refs: { authSecret: { namespace: 'web', name: 'mysecret', realm: 'traefik', form: 'auth-file', annotation: `${I}auth-secret` } },
    findings: { 'auth-type': ['applied'], 'auth-secret': ['different'], 'auth-realm': ['applied'] },
  },
  {
    name: 'another realm is invalid (Traefik 1 skips such an Ingress)',
    annotations: { 'auth-type': 'basic', 'auth-secret': 'mysecret', 'auth-realm': 'Staff' },
    refs: {},
    findings: { 'auth-type': ['invalid', INCOMPLETE], 'auth-secret': ['invalid', INCOMPLETE], 'auth-realm': ['invalid', INVALID, /not "traefik"/] },
  },
  { name: 'auth-secret of another namespace is invalid', annotations: { 'auth-type': 'basic', 'auth-secret': 'other/s' }, refs: {}, findings: { 'auth-type': ['invalid', INCOMPLETE], 'auth-secret': ['invalid', INVALID, /of the Ingress namespace/] } },
  { name: 'auth-type digest is unsupported', annotations: { 'auth-type': 'digest', 'auth-secret': 's' }, refs: {}, findings: { 'auth-type': ['unsupported', UNSUPPORTED], 'auth-secret': ['invalid', INCOMPLETE] } },
  { name: 'auth-type basic without a Secret', annotations: { 'auth-type': 'basic' }, refs: {}, findings: { 'auth-type': ['invalid', INCOMPLETE, /auth-secret is not set/] } },
  { name: 'auth-secret without auth-type', annotations: { 'auth-secret': 's' }, refs: {}, findings: { 'auth-secret': ['invalid', INCOMPLETE, /add auth-type: basic/] } },
  {
    name: 'auth-type forward with auth-url and response headers',
    annotations: { 'auth-type': 'forward', 'auth-url': 'https://auth.example.com/check', 'auth-response-headers': 'X-Auth-User, X-Secret', 'auth-secret': 's' },
    policy: { externalAuth: { url: 'https://auth.example.com/check', responseHeaders: ['X-Auth-User', 'X-Secret'] } },
    refs: {},
    findings: { 'auth-type': ['applied'], 'auth-url': ['applied'], 'auth-response-headers': ['applied'], 'auth-secret': ['applied', IGNORED, /forward/] },
  },
  { name: 'auth-type forward without auth-url', annotations: { 'auth-type': 'forward' }, policy: {}, findings: { 'auth-type': ['invalid', INCOMPLETE, /auth-url is not set/] } },
  { name: 'auth-url without auth-type', annotations: { 'auth-url': 'https://auth.example.com/' }, policy: {}, findings: { 'auth-url': ['invalid', INCOMPLETE, /auth-type: forward/] } },
  { name: 'auth-type oauth is invalid', annotations: { 'auth-type': 'oauth', 'auth-secret': 's' }, refs: {}, findings: { 'auth-type': ['invalid', INVALID], 'auth-secret': ['invalid', INCOMPLETE] } },

  // headers, HSTS
  {
    name: 'custom request and response headers',
    annotations: { 'custom-request-headers': 'X-Env:prod||X-Team: web team', [`${T}custom-response-headers`]: 'X-Frame-Options:DENY' },
    policy: { headers: { request: { 'X-Env': 'prod', 'X-Team': 'web team' }, response: { 'X-Frame-Options': 'DENY' } } },
    findings: { 'custom-request-headers': ['applied'], [`${T}custom-response-headers`]: ['applied'] },
  },
  { name: 'a header set twice is invalid', annotations: { 'custom-request-headers': 'X-A:1||x-a:2' }, policy: {}, findings: { 'custom-request-headers': ['invalid', INVALID, /twice/] } },
  { name: 'an empty header value (remove) is refused', annotations: { 'custom-response-headers': 'Server:' }, policy: {}, findings: { 'custom-response-headers': ['invalid', INVALID, /remove the header/] } },
  { name: 'an item without ":" is invalid', annotations: { 'custom-response-headers': 'X-A:1||' }, policy: {}, findings: { 'custom-response-headers': ['invalid', INVALID, /without ":"/] } },
  { name: 'a header value with ; is invalid', annotations: { 'custom-response-headers': 'Content-Security-Policy:default-src self; img-src *' }, policy: {}, findings: { 'custom-response-headers': ['invalid', INVALID, /without " \\ \$ \{ \} ;/] } },
  {
    name: 'hsts-max-age with include-subdomains and preload',
    annotations: { 'hsts-max-age': '315360000', 'hsts-include-subdomains': 'true', 'hsts-preload': 'true' },
    policy: { hsts: { maxAgeSeconds: 315360000, includeSubdomains: true, preload: true } },
    findings: { 'hsts-max-age': ['applied'], 'hsts-include-subdomains': ['applied'], 'hsts-preload': ['applied'] },
  },
  { name: 'hsts-max-age alone', annotations: { 'hsts-max-age': '31536000' }, policy: { hsts: { maxAgeSeconds: 31536000, includeSubdomains: false, preload: false } }, findings: { 'hsts-max-age': ['applied'] } },
  { name: 'hsts-max-age 0: no header', annotations: { 'hsts-max-age': '0', 'hsts-preload': 'true' }, policy: {}, findings: { 'hsts-max-age': ['applied'], 'hsts-preload': ['applied', IGNORED, /is 0/] } },
  { name: 'hsts-include-subdomains alone', annotations: { 'hsts-include-subdomains': 'true' }, policy: {}, findings: { 'hsts-include-subdomains': ['applied', IGNORED, /hsts-max-age is not set/] } },
  { name: 'sts-seconds is not a Traefik 1.7 Ingress annotation', annotations: { 'sts-seconds': '10' }, policy: {}, findings: { 'sts-seconds': ['unsupported', UNSUPPORTED, /hsts-max-age/] } },

  // backends
  {
    name: 'service-weights as YAML lines, quotes and % optional',
    annotations: { [`${T}service-weights`]: 'service-backend1: 12.50%\nservice-backend2: "12.5%"\nservice-backend3: 75\n' },
    refs: { serviceWeights: { 'service-backend1': 12.5, 'service-backend2': 12.5, 'service-backend3': 75 } },
    findings: { [`${T}service-weights`]: ['applied'] },
  },
  { name: 'a weight above 100 is invalid', annotations: { 'service-weights': 'a: 101%' }, refs: {}, findings: { 'service-weights': ['invalid', INVALID, /0 to 100/] } },
  { name: 'a service listed twice is invalid', annotations: { 'service-weights': 'a: 10%\na: 20%' }, refs: {}, findings: { 'service-weights': ['invalid', INVALID, /twice/] } },
  { name: 'a Service name in upper case is invalid', annotations: { 'service-weights': 'Web: 10' }, refs: {}, findings: { 'service-weights': ['invalid', INVALID] } },
  { name: 'priority', annotations: { [`${T}priority`]: '3' }, policy: { priority: 3 }, findings: { [`${T}priority`]: ['applied'] } },
  { name: 'the label traefik.frontend.priority', annotations: { 'traefik.frontend.priority': '10' }, policy: { priority: 10 }, findings: { 'traefik.frontend.priority': ['applied'] } },
  { name: 'a negative priority is invalid', annotations: { priority: '-1' }, policy: {}, findings: { priority: ['invalid', INVALID] } },
  { name: 'protocol https', annotations: { protocol: 'https' }, policy: { upstream: { protocol: 'https' } }, findings: { protocol: ['applied'] } },
  { name: 'protocol h2c is the grpc protocol', annotations: { protocol: 'h2c' }, policy: { upstream: { protocol: 'grpc' } }, findings: { protocol: ['applied', undefined, /h2c/] } },
  { name: 'protocol HTTP is invalid (lower-case in Traefik 1)', annotations: { protocol: 'HTTP' }, policy: {}, findings: { protocol: ['invalid', INVALID] } },

  // forms of one name
  {
    name: 'both prefixes with the same value',
    annotations: { 'ssl-redirect': 'true', [`${T}ssl-redirect`]: 'true' },
    policy: { sslRedirect: { status: 301 } },
    findings: { 'ssl-redirect': ['applied'], [`${T}ssl-redirect`]: ['applied', undefined, /the same value as ingress.kubernetes.io\/ssl-redirect/] },
  },
  {
    name: 'both prefixes with different values: ingress.kubernetes.io/ is read first',
    annotations: { priority: '1', [`${T}priority`]: '2', 'traefik.frontend.priority': '3' },
    policy: { priority: 1 },
    findings: { priority: ['applied'], [`${T}priority`]: ['conflict', CONFLICT, /read first/], 'traefik.frontend.priority': ['conflict', CONFLICT] },
  },
  { name: 'the annotation wins over its label', annotations: { [`${T}rule-type`]: 'PathPrefixStrip', 'traefik.frontend.rule.type': 'PathPrefix' }, policy: { rewrite: { kind: 'strip-prefix' } }, findings: { [`${T}rule-type`]: ['applied'], 'traefik.frontend.rule.type': ['conflict', CONFLICT] } },

  // unknown names
  {
    name: 'names Passerelle does not implement are unsupported',
    annotations: {
      'made-up': 'x',
      [`${T}preserve-host`]: 'false',
      'traefik.frontend.passHostHeader': 'false',
      'traefik.backend.loadbalancer.method': 'drr',
      'traefik.frontend.headers.STSSeconds': '10',
      [`${T}affinity`]: 'true',
      'kubernetes.io/ingress.class': 'traefik',
    },
    policy: {},
    findings: {
      'made-up': ['unsupported', UNSUPPORTED, /not a Traefik 1 annotation/],
      [`${T}preserve-host`]: ['unsupported', UNSUPPORTED, /request Host/],
      'traefik.frontend.passHostHeader': ['unsupported', UNSUPPORTED],
      'traefik.backend.loadbalancer.method': ['unsupported', UNSUPPORTED],
      'traefik.frontend.headers.STSSeconds': ['unsupported', UNSUPPORTED],
      [`${T}affinity`]: ['unsupported', UNSUPPORTED, /Service annotation/],
    },
  },

  // both dialects
  {
    name: 'both dialects decide the https redirect differently: ingress-nginx wins',
    annotations: { [`${N}ssl-redirect`]: 'false', 'ssl-redirect': 'true' },
    tls: true,
    policy: {},
    findings: { [`${N}ssl-redirect`]: ['applied'], 'ssl-redirect': ['conflict', CONFLICT, /nginx.ingress.kubernetes.io\/ssl-redirect decides the same with another value/] },
  },
  {
    name: 'both dialects with the same allowlist: both applied',
    annotations: { [`${N}whitelist-source-range`]: '10.0.0.0/8', 'whitelist-source-range': '10.0.0.0/8' },
    policy: { allowSourceRange: ['10.0.0.0/8'] },
    findings: { [`${N}whitelist-source-range`]: ['applied'], 'whitelist-source-range': ['applied', undefined, /the same as nginx.ingress.kubernetes.io\/whitelist-source-range/] },
  },
  {
    name: 'both dialects with different allowlists',
    annotations: { [`${N}allowlist-source-range`]: '10.0.0.0/8', [`${T}whitelist-source-range`]: '0.0.0.0/0' },
    policy: { allowSourceRange: ['10.0.0.0/8'] },
    findings: { [`${N}allowlist-source-range`]: ['applied'], [`${T}whitelist-source-range`]: ['conflict', CONFLICT] },
  },
  {
    name: 'the same rewrite written in both dialects',
    annotations: { [`${N}rewrite-target`]: '/', 'request-modifier': 'ReplacePath: /' },
    policy: { rewrite: { kind: 'replace-path', path: '/' } },
    findings: { [`${N}rewrite-target`]: ['different'], 'request-modifier': ['applied'] },
  },
  {
    name: 'basic auth in both dialects differs (realms): every Traefik annotation that decided it conflicts',
    annotations: { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 's', 'auth-type': 'basic', 'auth-secret': 's' },
    refs: { authSecret: { namespace: 'web', name: 's', realm: 'Authentication Required', form: 'auth-file', annotation: `${N}auth-secret` } },
    findings: { [`${N}auth-type`]: ['applied'], [`${N}auth-secret`]: ['applied'], 'auth-type': ['conflict', CONFLICT], 'auth-secret': ['conflict', CONFLICT] },
  },
  {
    name: 'different fields of one policy from each dialect are merged',
    annotations: { [`${N}upstream-vhost`]: 'internal', protocol: 'https', [`${N}hsts`]: 'true', 'hsts-max-age': '10' },
    policy: { upstream: { protocol: 'https', vhost: 'internal' }, hsts: { maxAgeSeconds: 31536000, includeSubdomains: true, preload: false } },
    findings: { [`${N}upstream-vhost`]: ['applied'], protocol: ['applied'], [`${N}hsts`]: ['different'], 'hsts-max-age': ['conflict', CONFLICT] },
  },
];

for (const c of CASES) {
  test(`traefik: ${c.name}`, () => {
    const annotations = Object.fromEntries(Object.entries(c.annotations).map(([k, v]) => [k === 'kubernetes.io/ingress.class' ? k : full(k), v]));
    const r = readAnnotations(annotations, { namespace: 'web', hasTls: c.tls ?? false });
    if (c.policy !== undefined) assert.deepEqual(r.policy, c.policy);
    if (c.refs !== undefined) assert.deepEqual(r.refs, c.refs);
    assert.deepEqual(r.findings.map((f) => f.annotation).sort(), Object.keys(c.findings).map(full).sort(), 'one finding per annotation of a known prefix');
    for (const [name, [status, code, note]] of Object.entries(c.findings)) {
      const f = r.findings.find((x) => x.annotation === full(name));
      assert.ok(f !== undefined, name);
      assert.equal(f.status, status, `status of ${name}: ${f.note}`);
      assert.equal(f.code, code, `code of ${name}: ${f.note}`);
      if (note !== undefined) assert.match(f.note, note, `note of ${name}`);
      assert.equal(f.dialect, name.startsWith(N) ? 'nginx' : 'traefik');
    }
  });
}

test('findingSeverity follows the code catalogue', () => {
  const r = readAnnotations({ [`${I}made-up`]: 'x', [`${I}priority`]: 'x', [`${I}hsts-preload`]: 'true', [`${I}app-root`]: '/a' }, { namespace: 'web', hasTls: false });
  const by = (n: string) => findingSeverity(r.findings.find((f) => f.annotation === `${I}${n}`) ?? assert.fail(n));
  assert.equal(by('made-up'), 'warning');
  assert.equal(by('priority'), 'error');
  assert.equal(by('hsts-preload'), 'warning');
  assert.equal(by('app-root'), undefined);
});

/** What an annotation needs beside it for its example to be applied. */
const COMPANIONS: Partial<Record<TraefikName, Record<string, string>>> = {
  'ssl-temporary-redirect': { 'ssl-redirect': 'true' },
  'redirect-permanent': { 'redirect-entry-point': 'https' },
  'auth-type': { 'auth-secret': 's' },
  'auth-secret': { 'auth-type': 'basic' },
  'auth-realm': { 'auth-type': 'basic', 'auth-secret': 's' },
  'auth-url': { 'auth-type': 'forward' },
  'auth-response-headers': { 'auth-type': 'forward', 'auth-url': 'https://auth.example.com/' },
  'hsts-include-subdomains': { 'hsts-max-age': '1' },
  'hsts-preload': { 'hsts-max-age': '1' },
};

test('traefik: the catalogue example of every applied or different annotation is read without a problem, in each form', () => {
  for (const [name, entry] of Object.entries(TRAEFIK_CATALOGUE) as [TraefikName, (typeof TRAEFIK_CATALOGUE)[TraefikName]][]) {
    if (entry.status !== 'applied' && entry.status !== 'different') {
      assert.equal(entry.example, undefined, name);
      continue;
    }
    assert.ok(entry.example !== undefined, `${name} has an example`);
    for (const form of [`${I}${name}`, `${T}${name}`, ...(entry.compat === undefined ? [] : [entry.compat])]) {
      const companions = Object.fromEntries(Object.entries(COMPANIONS[name] ?? {}).map(([k, v]) => [`${I}${k}`, v]));
      const r = readAnnotations({ ...companions, [form]: entry.example }, { namespace: 'web', hasTls: false });
      const f = r.findings.find((x) => x.annotation === form);
      assert.ok(f !== undefined, form);
      assert.equal(f.code, undefined, `${form}: ${f.note}`);
      assert.equal(f.policy, entry.policy, form);
    }
  }
});
