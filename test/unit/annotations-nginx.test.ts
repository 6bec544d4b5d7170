// The ingress-nginx dialect of readAnnotations (src/model/annotations/nginx.ts): each annotation with
// good, edge and bad values, defaults, precedences, snippets and unknown names. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAnnotations } from '../../src/model/annotations/index.ts';
import type { AnnotationFinding, FindingStatus, PolicyRefs } from '../../src/model/annotations/index.ts';
import { NGINX_CATALOGUE, NGINX_PREFIX } from '../../src/model/annotations/nginx-catalogue.ts';
import type { NginxName } from '../../src/model/annotations/nginx-catalogue.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { PassCode } from '../../src/shared/codes.ts';

/** What a case expects of one annotation's finding: its status, its code (none when absent), a word of its note. */
type Expect = readonly [status: FindingStatus, code?: PassCode | undefined, note?: RegExp];

interface Case {
  readonly name: string;
  /** Annotation names after the prefix. */
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
const SNIPPET = 'PASS_ANNOTATION_SNIPPET';
const CONFLICT = 'PASS_ANNOTATION_CONFLICT';

const nginx = (a: Readonly<Record<string, string>>): Record<string, string> => Object.fromEntries(Object.entries(a).map(([k, v]) => [`${NGINX_PREFIX}${k}`, v]));

const read = (a: Readonly<Record<string, string>>, tls = false) => readAnnotations(nginx(a), { namespace: 'default', hasTls: tls });

function checkFindings(findings: readonly AnnotationFinding[], expected: Readonly<Record<string, Expect>>, what: string): void {
  assert.deepEqual(findings.map((f) => f.annotation).sort(), Object.keys(expected).map((k) => (k.includes('/') ? k : `${NGINX_PREFIX}${k}`)).sort(), `${what}: one finding per annotation`);
  for (const [name, [status, code, note]] of Object.entries(expected)) {
    const annotation = name.includes('/') ? name : `${NGINX_PREFIX}${name}`;
    const f = findings.find((x) => x.annotation === annotation);
    assert.ok(f !== undefined, `${what}: ${annotation}`);
    assert.equal(f.status, status, `${what}: status of ${name}: ${f.note}`);
    assert.equal(f.code, code, `${what}: code of ${name}: ${f.note}`);
    if (note !== undefined) assert.match(f.note, note, `${what}: note of ${name}`);
  }
}

const CASES: readonly Case[] = [
  // ssl-redirect and force-ssl-redirect
  { name: 'ssl-redirect defaults to on (308) with TLS', annotations: {}, tls: true, policy: { sslRedirect: { status: 308 } }, findings: {} },
  { name: 'no redirect by default without TLS', annotations: {}, policy: {}, findings: {} },
  { name: 'ssl-redirect "false" turns the TLS default off', annotations: { 'ssl-redirect': 'false' }, tls: true, policy: {}, findings: { 'ssl-redirect': ['applied'] } },
  { name: 'ssl-redirect "true" with TLS', annotations: { 'ssl-redirect': 'true' }, tls: true, policy: { sslRedirect: { status: 308 } }, findings: { 'ssl-redirect': ['applied'] } },
  { name: 'ssl-redirect "true" without TLS has no effect', annotations: { 'ssl-redirect': 'true' }, policy: {}, findings: { 'ssl-redirect': ['applied', IGNORED, /no spec.tls/] } },
  { name: 'force-ssl-redirect redirects without TLS', annotations: { 'force-ssl-redirect': 'true' }, policy: { sslRedirect: { status: 308 } }, findings: { 'force-ssl-redirect': ['applied'] } },
  {
    name: 'force-ssl-redirect wins over ssl-redirect "false"',
    annotations: { 'force-ssl-redirect': 'true', 'ssl-redirect': 'false' },
    tls: true,
    policy: { sslRedirect: { status: 308 } },
    findings: { 'force-ssl-redirect': ['applied'], 'ssl-redirect': ['applied', IGNORED, /force-ssl-redirect/] },
  },
  { name: 'force-ssl-redirect "false" leaves the TLS default', annotations: { 'force-ssl-redirect': 'false' }, tls: true, policy: { sslRedirect: { status: 308 } }, findings: { 'force-ssl-redirect': ['applied'] } },
  {
    name: 'ssl-redirect "True" is invalid (booleans are lower-case) and no redirect is set',
    annotations: { 'ssl-redirect': 'True' },
    tls: true,
    policy: {},
    findings: { 'ssl-redirect': ['invalid', INVALID, /ssl-redirect: "True" is not a boolean: expected "true" or "false"/] },
  },

  // permanent-redirect, temporal-redirect and their codes
  { name: 'permanent-redirect is 301 by default', annotations: { 'permanent-redirect': 'https://example.com/new' }, policy: { redirect: { url: 'https://example.com/new', status: 301 } }, findings: { 'permanent-redirect': ['applied'] } },
  {
    name: 'permanent-redirect-code 308',
    annotations: { 'permanent-redirect': 'https://example.com/new', 'permanent-redirect-code': '308' },
    policy: { redirect: { url: 'https://example.com/new', status: 308 } },
    findings: { 'permanent-redirect': ['applied'], 'permanent-redirect-code': ['applied'] },
  },
  {
    name: 'permanent-redirect-code 200 is invalid and the redirect is not set',
    annotations: { 'permanent-redirect': 'https://example.com/new', 'permanent-redirect-code': '200' },
    policy: {},
    findings: { 'permanent-redirect': ['invalid', INCOMPLETE, /permanent-redirect-code is invalid/], 'permanent-redirect-code': ['invalid', INVALID, /"200" is not one of 301, 302, 303, 307, 308/] },
  },
  { name: 'permanent-redirect-code alone has no effect', annotations: { 'permanent-redirect-code': '308' }, policy: {}, findings: { 'permanent-redirect-code': ['applied', IGNORED, /permanent-redirect is not set/] } },
  {
    name: 'permanent-redirect with an nginx variable is invalid',
    annotations: { 'permanent-redirect': 'https://example.com$request_uri' },
    policy: {},
    findings: { 'permanent-redirect': ['invalid', INVALID, /nginx variables/] },
  },
  { name: 'temporal-redirect is 302 by default', annotations: { 'temporal-redirect': 'https://example.com/m' }, policy: { redirect: { url: 'https://example.com/m', status: 302 } }, findings: { 'temporal-redirect': ['applied'] } },
  {
    name: 'temporal-redirect takes precedence over permanent-redirect',
    annotations: { 'temporal-redirect': 'https://example.com/m', 'temporal-redirect-code': '307', 'permanent-redirect': 'https://example.com/p', 'permanent-redirect-code': '301' },
    policy: { redirect: { url: 'https://example.com/m', status: 307 } },
    findings: {
      'temporal-redirect': ['applied'],
      'temporal-redirect-code': ['applied'],
      'permanent-redirect': ['applied', IGNORED, /temporal-redirect takes precedence/],
      'permanent-redirect-code': ['applied', IGNORED, /temporal-redirect takes precedence/],
    },
  },
  {
    name: 'temporal-redirect-code 308 is not a temporary status',
    annotations: { 'temporal-redirect': 'https://example.com/m', 'temporal-redirect-code': '308' },
    policy: {},
    findings: { 'temporal-redirect': ['invalid', INCOMPLETE], 'temporal-redirect-code': ['invalid', INVALID, /301, 302, 303, 307$/] },
  },

  // app-root, from-to-www-redirect
  { name: 'app-root', annotations: { 'app-root': '/app' }, policy: { appRoot: '/app' }, findings: { 'app-root': ['applied'] } },
  { name: 'app-root must be a path', annotations: { 'app-root': 'app' }, policy: {}, findings: { 'app-root': ['invalid', INVALID, /must start with "\/"/] } },
  { name: 'app-root refuses ".." segments', annotations: { 'app-root': '/a/../b' }, policy: {}, findings: { 'app-root': ['invalid', INVALID, /"\/\.\.\/"/] } },
  { name: 'from-to-www-redirect "true"', annotations: { 'from-to-www-redirect': 'true' }, policy: {}, refs: { wwwRedirect: true }, findings: { 'from-to-www-redirect': ['applied', undefined, /308/] } },
  { name: 'from-to-www-redirect "false"', annotations: { 'from-to-www-redirect': 'false' }, policy: {}, findings: { 'from-to-www-redirect': ['applied'] } },

  // rewrite-target, use-regex
  { name: 'rewrite-target without groups replaces the whole path', annotations: { 'rewrite-target': '/' }, policy: { rewrite: { kind: 'replace-path', path: '/' } }, findings: { 'rewrite-target': ['different'] } },
  {
    name: 'rewrite-target with groups: the paths are regexes, translate builds the rewrite',
    annotations: { 'rewrite-target': '/$2', 'use-regex': 'true' },
    policy: {},
    refs: { regexPaths: { rewriteTarget: '/$2', annotation: `${NGINX_PREFIX}rewrite-target` } },
    findings: { 'rewrite-target': ['different'], 'use-regex': ['applied'] },
  },
  { name: 'use-regex "true" alone', annotations: { 'use-regex': 'true' }, policy: {}, refs: { regexPaths: { annotation: `${NGINX_PREFIX}use-regex` } }, findings: { 'use-regex': ['applied'] } },
  { name: 'use-regex "false"', annotations: { 'use-regex': 'false' }, policy: {}, refs: {}, findings: { 'use-regex': ['applied'] } },
  { name: 'rewrite-target refuses nginx variables', annotations: { 'rewrite-target': '/$host/x' }, policy: {}, findings: { 'rewrite-target': ['invalid', INVALID, /\$ that is not \$1 to \$9/] } },
  { name: 'rewrite-target refuses an absolute URL', annotations: { 'rewrite-target': 'https://example.com/' }, policy: {}, findings: { 'rewrite-target': ['invalid', INVALID] } },

  // allowlist-source-range, whitelist-source-range
  {
    name: 'allowlist-source-range: IPv4 and IPv6, spaces, host bits cleared, sorted',
    annotations: { 'allowlist-source-range': '192.168.1.7, 10.1.2.3/8,2001:DB8::/32' },
    policy: { allowSourceRange: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32'] },
    findings: { 'allowlist-source-range': ['applied'] },
  },
  { name: 'whitelist-source-range, the former name', annotations: { 'whitelist-source-range': '10.0.0.0/8' }, policy: { allowSourceRange: ['10.0.0.0/8'] }, findings: { 'whitelist-source-range': ['applied'] } },
  {
    name: 'both names with the same ranges',
    annotations: { 'allowlist-source-range': '10.0.0.0/8,192.0.2.1', 'whitelist-source-range': '192.0.2.1, 10.0.0.0/8' },
    policy: { allowSourceRange: ['10.0.0.0/8', '192.0.2.1'] },
    findings: { 'allowlist-source-range': ['applied'], 'whitelist-source-range': ['applied', undefined, /the same ranges/] },
  },
  {
    name: 'both names with different ranges: allowlist wins, conflict',
    annotations: { 'allowlist-source-range': '10.0.0.0/8', 'whitelist-source-range': '0.0.0.0/0' },
    policy: { allowSourceRange: ['10.0.0.0/8'] },
    findings: { 'allowlist-source-range': ['applied'], 'whitelist-source-range': ['conflict', CONFLICT, /takes precedence/] },
  },
  {
    name: 'an invalid allowlist is not replaced by the whitelist',
    annotations: { 'allowlist-source-range': '10.0.0.0/33', 'whitelist-source-range': '10.0.0.0/8' },
    policy: {},
    findings: { 'allowlist-source-range': ['invalid', INVALID, /prefix length that is not 0 to 32/], 'whitelist-source-range': ['invalid', INCOMPLETE, /takes precedence, is invalid/] },
  },
  { name: 'an empty item in the allowlist is invalid', annotations: { 'allowlist-source-range': '10.0.0.0/8,' }, policy: {}, findings: { 'allowlist-source-range': ['invalid', INVALID, /empty item/] } },

  // basic authentication
  {
    name: 'auth-type basic with auth-secret: realm and form defaults',
    annotations: { 'auth-type': 'basic', 'auth-secret': 'basic-auth' },
    policy: {},
    refs: { authSecret: { namespace: 'default', name: 'basic-auth', realm: 'Authentication Required', form: 'auth-file', annotation: `${NGINX_PREFIX}auth-secret` } },
    findings: { 'auth-type': ['applied'], 'auth-secret': ['applied'] },
  },
  {
    name: 'auth-secret in another namespace, auth-map, realm',
    annotations: { 'auth-type': 'basic', 'auth-secret': 'other/users', 'auth-secret-type': 'auth-map', 'auth-realm': 'Staff only' },
    refs: { authSecret: { namespace: 'other', name: 'users', realm: 'Staff only', form: 'auth-map', annotation: `${NGINX_PREFIX}auth-secret` } },
    findings: { 'auth-type': ['applied'], 'auth-secret': ['different', undefined, /namespace other/], 'auth-secret-type': ['applied'], 'auth-realm': ['different'] },
  },
  {
    name: 'auth-type digest is unsupported and the Secret not used',
    annotations: { 'auth-type': 'digest', 'auth-secret': 'basic-auth' },
    refs: {},
    findings: { 'auth-type': ['unsupported', UNSUPPORTED, /not protected/], 'auth-secret': ['invalid', INCOMPLETE, /digest/] },
  },
  { name: 'auth-type basic without auth-secret', annotations: { 'auth-type': 'basic' }, refs: {}, findings: { 'auth-type': ['invalid', INCOMPLETE, /auth-secret is not set/] } },
  {
    name: 'auth-secret without auth-type is an error (the paths would be open)',
    annotations: { 'auth-secret': 'basic-auth', 'auth-realm': 'x' },
    refs: {},
    findings: { 'auth-secret': ['invalid', INCOMPLETE, /auth-type is not set/], 'auth-realm': ['applied', IGNORED] },
  },
  {
    name: 'a realm with a quote is invalid and nothing is set',
    annotations: { 'auth-type': 'basic', 'auth-secret': 'basic-auth', 'auth-realm': 'say "hi"' },
    refs: {},
    findings: { 'auth-type': ['invalid', INCOMPLETE, /auth-realm is invalid/], 'auth-secret': ['invalid', INCOMPLETE], 'auth-realm': ['invalid', INVALID, /without " \\ \$ \{ \} ;/] },
  },
  { name: 'auth-type Basic (case) is invalid', annotations: { 'auth-type': 'Basic', 'auth-secret': 's' }, refs: {}, findings: { 'auth-type': ['invalid', INVALID], 'auth-secret': ['invalid', INCOMPLETE] } },
  { name: 'auth-secret-type must be auth-file or auth-map', annotations: { 'auth-type': 'basic', 'auth-secret': 's', 'auth-secret-type': 'file' }, refs: {}, findings: { 'auth-type': ['invalid', INCOMPLETE], 'auth-secret': ['invalid', INCOMPLETE], 'auth-secret-type': ['invalid', INVALID] } },

  // external authentication
  {
    name: 'auth-url with response headers and a sign-in page whose rd= is made of nginx variables',
    annotations: { 'auth-url': 'https://auth.example.com/oauth2/auth', 'auth-response-headers': 'X-Auth-Request-User, X-Auth-Request-Email', 'auth-signin': 'https://auth.example.com/oauth2/start?rd=$escaped_request_uri' },
    policy: { externalAuth: { url: 'https://auth.example.com/oauth2/auth', responseHeaders: ['X-Auth-Request-User', 'X-Auth-Request-Email'], signin: 'https://auth.example.com/oauth2/start' } },
    findings: { 'auth-url': ['applied'], 'auth-response-headers': ['applied'], 'auth-signin': ['applied', undefined, /rd= parameter of nginx variables is dropped/] },
  },
  { name: 'auth-url alone', annotations: { 'auth-url': 'http://auth.svc:8080/check' }, policy: { externalAuth: { url: 'http://auth.svc:8080/check', responseHeaders: [] } }, findings: { 'auth-url': ['applied'] } },
  { name: 'auth-url with $host is invalid', annotations: { 'auth-url': 'https://$host/oauth2/auth' }, policy: {}, findings: { 'auth-url': ['invalid', INVALID, /nginx variables/] } },
  {
    name: 'auth-signin other variables are invalid and the auth is not set',
    annotations: { 'auth-url': 'https://auth.example.com/check', 'auth-signin': 'https://$host/start' },
    policy: {},
    findings: { 'auth-url': ['invalid', INCOMPLETE, /auth-signin is invalid/], 'auth-signin': ['invalid', INVALID] },
  },
  { name: 'auth-response-headers without auth-url', annotations: { 'auth-response-headers': 'X-User' }, policy: {}, findings: { 'auth-response-headers': ['applied', IGNORED, /auth-url is not set/] } },
  { name: 'auth-snippet is refused', annotations: { 'auth-snippet': 'proxy_set_header Foo 42;' }, policy: {}, findings: { 'auth-snippet': ['refused', SNIPPET, /auth-url/] } },

  // limits and timeouts
  { name: 'proxy-body-size 8m', annotations: { 'proxy-body-size': '8m' }, policy: { limits: { maxBodyBytes: 8 * 1024 * 1024 } }, findings: { 'proxy-body-size': ['applied'] } },
  { name: 'proxy-body-size 0: no limit', annotations: { 'proxy-body-size': '0' }, policy: { limits: { maxBodyBytes: 0 } }, findings: { 'proxy-body-size': ['applied'] } },
  { name: 'proxy-body-size in bytes and upper-case', annotations: { 'proxy-body-size': '1G' }, policy: { limits: { maxBodyBytes: 1024 ** 3 } }, findings: { 'proxy-body-size': ['applied'] } },
  { name: 'proxy-body-size 8mb is invalid', annotations: { 'proxy-body-size': '8mb' }, policy: {}, findings: { 'proxy-body-size': ['invalid', INVALID, /proxy-body-size: "8mb" is not a size/] } },
  {
    name: 'limit-rps and limit-connections are per replica',
    annotations: { 'limit-rps': '10', 'limit-connections': '20' },
    policy: { limits: { rps: 10, connections: 20 } },
    findings: { 'limit-rps': ['different', undefined, /replica/], 'limit-connections': ['different', undefined, /replica/] },
  },
  { name: 'limit-rps 0: no limit', annotations: { 'limit-rps': '0' }, policy: {}, findings: { 'limit-rps': ['different'] } },
  { name: 'limit-rps -1 is invalid', annotations: { 'limit-rps': '-1' }, policy: {}, findings: { 'limit-rps': ['invalid', INVALID, /digits only/] } },
  {
    name: 'timeouts in seconds become milliseconds, up to the largest',
    annotations: { 'proxy-connect-timeout': '5', 'proxy-send-timeout': '60', 'proxy-read-timeout': '2147483' },
    policy: { timeouts: { connect: 5000, send: 60000, read: 2147483000 } },
    findings: { 'proxy-connect-timeout': ['applied'], 'proxy-send-timeout': ['applied'], 'proxy-read-timeout': ['applied'] },
  },
  {
    name: 'a timeout of 0, with a unit, or too long is invalid',
    annotations: { 'proxy-connect-timeout': '0', 'proxy-send-timeout': '60s', 'proxy-read-timeout': '2147484' },
    policy: {},
    findings: { 'proxy-connect-timeout': ['invalid', INVALID, /1 to 2147483/], 'proxy-send-timeout': ['invalid', INVALID], 'proxy-read-timeout': ['invalid', INVALID] },
  },

  // upstream
  { name: 'backend-protocol HTTPS', annotations: { 'backend-protocol': 'HTTPS' }, policy: { upstream: { protocol: 'https' } }, findings: { 'backend-protocol': ['applied'] } },
  { name: 'backend-protocol in any case', annotations: { 'backend-protocol': 'grpc' }, policy: { upstream: { protocol: 'grpc' } }, findings: { 'backend-protocol': ['applied'] } },
  { name: 'backend-protocol GRPCS', annotations: { 'backend-protocol': 'GRPCS' }, policy: { upstream: { protocol: 'grpcs' } }, findings: { 'backend-protocol': ['applied'] } },
  { name: 'backend-protocol AUTO_HTTP is unsupported', annotations: { 'backend-protocol': 'AUTO_HTTP' }, policy: {}, findings: { 'backend-protocol': ['unsupported', UNSUPPORTED, /AUTO_HTTP/] } },
  { name: 'backend-protocol FCGI is unsupported', annotations: { 'backend-protocol': 'FCGI' }, policy: {}, findings: { 'backend-protocol': ['unsupported', UNSUPPORTED] } },
  { name: 'backend-protocol H2C is invalid', annotations: { 'backend-protocol': 'H2C' }, policy: {}, findings: { 'backend-protocol': ['invalid', INVALID, /HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP, FCGI/] } },
  { name: 'upstream-vhost', annotations: { 'upstream-vhost': 'internal.example.com:8080' }, policy: { upstream: { vhost: 'internal.example.com:8080' } }, findings: { 'upstream-vhost': ['applied'] } },
  { name: 'upstream-vhost with a variable is invalid', annotations: { 'upstream-vhost': '$host' }, policy: {}, findings: { 'upstream-vhost': ['invalid', INVALID] } },
  { name: 'load-balance ewma', annotations: { 'load-balance': 'ewma' }, policy: { upstream: { loadBalance: 'ewma' } }, findings: { 'load-balance': ['applied'] } },
  { name: 'load-balance least_conn is read, differently', annotations: { 'load-balance': 'least_conn' }, policy: { upstream: { loadBalance: 'least_conn' } }, findings: { 'load-balance': ['different', undefined, /no longer accepted/] } },
  { name: 'load-balance chash is unsupported', annotations: { 'load-balance': 'chash' }, policy: {}, findings: { 'load-balance': ['unsupported', UNSUPPORTED] } },
  { name: 'load-balance is case-sensitive', annotations: { 'load-balance': 'EWMA' }, policy: {}, findings: { 'load-balance': ['invalid', INVALID] } },
  { name: 'proxy-next-upstream-tries', annotations: { 'proxy-next-upstream-tries': '3' }, policy: { upstream: { tries: 3 } }, findings: { 'proxy-next-upstream-tries': ['applied'] } },
  { name: 'proxy-next-upstream-tries 0 (no limit) is unsupported', annotations: { 'proxy-next-upstream-tries': '0' }, policy: {}, findings: { 'proxy-next-upstream-tries': ['unsupported', UNSUPPORTED] } },
  { name: 'proxy-next-upstream-tries 101 is invalid', annotations: { 'proxy-next-upstream-tries': '101' }, policy: {}, findings: { 'proxy-next-upstream-tries': ['invalid', INVALID] } },
  { name: 'affinity cookie with the default name', annotations: { affinity: 'cookie' }, policy: { upstream: { affinity: { cookie: 'INGRESSCOOKIE' } } }, findings: { affinity: ['applied'] } },
  {
    name: 'affinity with name, max-age and SameSite in any case',
    annotations: { affinity: 'cookie', 'session-cookie-name': 'route', 'session-cookie-max-age': '3600', 'session-cookie-samesite': 'strict' },
    policy: { upstream: { affinity: { cookie: 'route', maxAgeSeconds: 3600, sameSite: 'Strict' } } },
    findings: { affinity: ['applied'], 'session-cookie-name': ['applied'], 'session-cookie-max-age': ['applied'], 'session-cookie-samesite': ['applied'] },
  },
  {
    name: 'affinity-mode persistent is unsupported, the affinity kept',
    annotations: { affinity: 'cookie', 'affinity-mode': 'persistent' },
    policy: { upstream: { affinity: { cookie: 'INGRESSCOOKIE' } } },
    findings: { affinity: ['applied'], 'affinity-mode': ['unsupported', UNSUPPORTED] },
  },
  { name: 'session-cookie-name without affinity', annotations: { 'session-cookie-name': 'route' }, policy: {}, findings: { 'session-cookie-name': ['applied', IGNORED, /affinity is not set/] } },
  {
    name: 'a cookie name with a ; is invalid and the affinity not set',
    annotations: { affinity: 'cookie', 'session-cookie-name': 'a;b' },
    policy: {},
    findings: { affinity: ['invalid', INCOMPLETE], 'session-cookie-name': ['invalid', INVALID, /cookie name/] },
  },

  // CORS
  {
    name: 'enable-cors with ingress-nginx defaults',
    annotations: { 'enable-cors': 'true' },
    policy: {
      cors: {
        allowOrigins: ['*'],
        allowMethods: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'],
        allowHeaders: ['DNT', 'Keep-Alive', 'User-Agent', 'X-Requested-With', 'If-Modified-Since', 'Cache-Control', 'Content-Type', 'Range', 'Authorization'],
        allowCredentials: true,
        maxAgeSeconds: 1728000,
      },
    },
    findings: { 'enable-cors': ['applied'] },
  },
  {
    name: 'enable-cors with every cors-* annotation',
    annotations: { 'enable-cors': 'true', 'cors-allow-origin': 'https://a.example.com, https://b.example.com:4443', 'cors-allow-methods': 'GET, POST', 'cors-allow-headers': 'Authorization', 'cors-allow-credentials': 'false', 'cors-max-age': '0' },
    policy: { cors: { allowOrigins: ['https://a.example.com', 'https://b.example.com:4443'], allowMethods: ['GET', 'POST'], allowHeaders: ['Authorization'], allowCredentials: false, maxAgeSeconds: 0 } },
    findings: { 'enable-cors': ['applied'], 'cors-allow-origin': ['applied'], 'cors-allow-methods': ['applied'], 'cors-allow-headers': ['applied'], 'cors-allow-credentials': ['applied'], 'cors-max-age': ['applied'] },
  },
  {
    name: 'cors-* without enable-cors',
    annotations: { 'cors-allow-origin': 'https://a.example.com' },
    policy: {},
    findings: { 'cors-allow-origin': ['applied', IGNORED, /enable-cors is not "true"/] },
  },
  {
    name: 'a wildcard origin is invalid and CORS not set',
    annotations: { 'enable-cors': 'true', 'cors-allow-origin': 'https://*.example.com' },
    policy: {},
    findings: { 'enable-cors': ['invalid', INCOMPLETE], 'cors-allow-origin': ['invalid', INVALID, /wildcard/] },
  },
  { name: 'an invalid enable-cors makes the cors-* incomplete', annotations: { 'enable-cors': 'yes', 'cors-max-age': '10' }, policy: {}, findings: { 'enable-cors': ['invalid', INVALID], 'cors-max-age': ['invalid', INCOMPLETE, /enable-cors is invalid/] } },
  { name: 'lower-case methods are invalid', annotations: { 'enable-cors': 'true', 'cors-allow-methods': 'get' }, policy: {}, findings: { 'enable-cors': ['invalid', INCOMPLETE], 'cors-allow-methods': ['invalid', INVALID, /upper-case/] } },
  { name: 'cors-expose-headers is unsupported', annotations: { 'enable-cors': 'true', 'cors-expose-headers': '*' }, findings: { 'enable-cors': ['applied'], 'cors-expose-headers': ['unsupported', UNSUPPORTED] } },

  // HSTS (ConfigMap keys in ingress-nginx)
  {
    name: 'hsts "true" with the ConfigMap defaults',
    annotations: { hsts: 'true' },
    policy: { hsts: { maxAgeSeconds: 31536000, includeSubdomains: true, preload: false } },
    findings: { hsts: ['different', undefined, /ConfigMap/] },
  },
  {
    name: 'hsts-max-age alone turns HSTS on',
    annotations: { 'hsts-max-age': '63072000', 'hsts-include-subdomains': 'false', 'hsts-preload': 'true' },
    policy: { hsts: { maxAgeSeconds: 63072000, includeSubdomains: false, preload: true } },
    findings: { 'hsts-max-age': ['different'], 'hsts-include-subdomains': ['different'], 'hsts-preload': ['different'] },
  },
  { name: 'hsts "false" turns it off', annotations: { hsts: 'false', 'hsts-preload': 'true' }, policy: {}, findings: { hsts: ['different'], 'hsts-preload': ['applied', IGNORED, /hsts is "false"/] } },

  // ConfigMaps, canaries
  { name: 'custom-headers names a ConfigMap (translate reads it)', annotations: { 'custom-headers': 'headers' }, policy: {}, refs: { customHeaders: { namespace: 'default', name: 'headers', annotation: `${NGINX_PREFIX}custom-headers` } }, findings: { 'custom-headers': ['applied'] } },
  { name: 'custom-headers in another namespace', annotations: { 'custom-headers': 'shared/headers' }, policy: {}, refs: { customHeaders: { namespace: 'shared', name: 'headers', annotation: `${NGINX_PREFIX}custom-headers` } }, findings: { 'custom-headers': ['applied'] } },
  { name: 'custom-headers must be a ConfigMap name', annotations: { 'custom-headers': 'Bad Name' }, policy: {}, refs: {}, findings: { 'custom-headers': ['invalid', INVALID, /is not a ConfigMap name/] } },
  {
    name: 'a canary by header, value, cookie and weight',
    annotations: { canary: 'true', 'canary-by-header': 'X-Canary', 'canary-by-header-value': 'beta', 'canary-by-cookie': 'canary', 'canary-weight': '10', 'canary-weight-total': '100' },
    tls: true,
    policy: {},
    refs: { canary: { header: 'X-Canary', headerValue: 'beta', cookie: 'canary', weight: 10 } },
    findings: { canary: ['applied'], 'canary-by-header': ['applied'], 'canary-by-header-value': ['applied'], 'canary-by-cookie': ['applied'], 'canary-weight': ['applied'], 'canary-weight-total': ['applied'] },
  },
  {
    name: 'a canary Ingress takes its policy from the main one, but load-balance and affinity',
    annotations: { canary: 'true', 'rewrite-target': '/', 'load-balance': 'ewma', 'configuration-snippet': 'x' },
    policy: { upstream: { loadBalance: 'ewma' } },
    refs: { canary: {} },
    findings: { canary: ['applied'], 'rewrite-target': ['applied', IGNORED, /canary Ingress/], 'load-balance': ['applied'], 'configuration-snippet': ['refused', SNIPPET] },
  },
  { name: 'canary-weight without canary', annotations: { 'canary-weight': '10' }, refs: {}, findings: { 'canary-weight': ['invalid', INCOMPLETE, /canary is not "true"/] } },
  { name: 'an invalid canary makes the canary-* incomplete', annotations: { canary: 'on', 'canary-weight': '10' }, refs: {}, findings: { canary: ['invalid', INVALID], 'canary-weight': ['invalid', INCOMPLETE, /canary is invalid/] } },
  { name: 'canary-weight 101 is invalid', annotations: { canary: 'true', 'canary-weight': '101' }, refs: {}, findings: { canary: ['invalid', INCOMPLETE], 'canary-weight': ['invalid', INVALID, /0 to 100/] } },
  {
    name: 'canary-weight-total other than 100 is unsupported and the canary not set',
    annotations: { canary: 'true', 'canary-weight': '10', 'canary-weight-total': '1000' },
    refs: {},
    findings: { canary: ['invalid', INCOMPLETE], 'canary-weight': ['invalid', INCOMPLETE], 'canary-weight-total': ['unsupported', UNSUPPORTED] },
  },
  { name: 'canary-by-header-value without canary-by-header', annotations: { canary: 'true', 'canary-by-header-value': 'beta' }, refs: { canary: {} }, findings: { canary: ['applied'], 'canary-by-header-value': ['applied', IGNORED] } },

  // free text and unknown names
  {
    name: 'every snippet is refused, with the typed annotations to use',
    annotations: { 'configuration-snippet': 'more_set_headers "A: b";', 'server-snippet': 'if ($x) { return 301 https://x; }', 'stream-snippet': 'server {}', 'modsecurity-snippet': 'SecRuleEngine On', 'brand-new-snippet': 'x' },
    policy: {},
    findings: {
      'configuration-snippet': ['refused', SNIPPET, /custom-response-headers/],
      'server-snippet': ['refused', SNIPPET, /from-to-www-redirect/],
      'stream-snippet': ['refused', SNIPPET],
      'modsecurity-snippet': ['refused', SNIPPET],
      'brand-new-snippet': ['refused', SNIPPET, /never rendered/],
    },
  },
  {
    name: 'known and unknown names Passerelle does not implement are unsupported; other prefixes are not looked at',
    annotations: { 'ssl-passthrough': 'true', 'made-up': 'x', constructor: 'x', toString: 'x', 'kubernetes.io/ingress.class': 'nginx' },
    policy: {},
    findings: {
      'ssl-passthrough': ['unsupported', UNSUPPORTED, /TLS is always ended/],
      'made-up': ['unsupported', UNSUPPORTED, /not an annotation Passerelle implements/],
      // Names of Object.prototype are names like any other.
      constructor: ['unsupported', UNSUPPORTED] as const,
      toString: ['unsupported', UNSUPPORTED] as const,
    },
  },
];

for (const c of CASES) {
  test(`nginx: ${c.name}`, () => {
    const annotations = nginx(Object.fromEntries(Object.entries(c.annotations).filter(([k]) => !k.includes('/'))));
    for (const [k, v] of Object.entries(c.annotations)) if (k.includes('/')) annotations[k] = v;
    const r = readAnnotations(annotations, { namespace: 'default', hasTls: c.tls ?? false });
    if (c.policy !== undefined) assert.deepEqual(r.policy, c.policy);
    if (c.refs !== undefined) assert.deepEqual(r.refs, c.refs);
    checkFindings(r.findings, c.findings, c.name);
  });
}

test('nginx: findings come in annotation-name order', () => {
  const r = read({ 'proxy-body-size': '1m', affinity: 'cookie', 'app-root': '/a' });
  assert.deepEqual(r.findings.map((f) => f.annotation), ['affinity', 'app-root', 'proxy-body-size'].map((n) => `${NGINX_PREFIX}${n}`));
});

/** What an annotation needs beside it for its example to be applied. */
const COMPANIONS: Partial<Record<NginxName, Record<string, string>>> = {
  'permanent-redirect-code': { 'permanent-redirect': 'https://example.com/' },
  'temporal-redirect-code': { 'temporal-redirect': 'https://example.com/' },
  'auth-type': { 'auth-secret': 's' },
  'auth-secret': { 'auth-type': 'basic' },
  'auth-secret-type': { 'auth-type': 'basic', 'auth-secret': 's' },
  'auth-realm': { 'auth-type': 'basic', 'auth-secret': 's' },
  'auth-response-headers': { 'auth-url': 'https://auth.example.com/' },
  'auth-signin': { 'auth-url': 'https://auth.example.com/' },
  'affinity-mode': { affinity: 'cookie' },
  'session-cookie-name': { affinity: 'cookie' },
  'session-cookie-max-age': { affinity: 'cookie' },
  'session-cookie-samesite': { affinity: 'cookie' },
  'cors-allow-origin': { 'enable-cors': 'true' },
  'cors-allow-methods': { 'enable-cors': 'true' },
  'cors-allow-headers': { 'enable-cors': 'true' },
  'cors-allow-credentials': { 'enable-cors': 'true' },
  'cors-max-age': { 'enable-cors': 'true' },
  'canary-by-header': { canary: 'true' },
  'canary-by-header-value': { canary: 'true', 'canary-by-header': 'X-C' },
  'canary-by-cookie': { canary: 'true' },
  'canary-weight': { canary: 'true' },
  'canary-weight-total': { canary: 'true' },
};

test('nginx: the catalogue example of every applied or different annotation is read without a problem', () => {
  for (const [name, entry] of Object.entries(NGINX_CATALOGUE) as [NginxName, (typeof NGINX_CATALOGUE)[NginxName]][]) {
    if (entry.status !== 'applied' && entry.status !== 'different') {
      assert.equal(entry.example, undefined, name);
      continue;
    }
    assert.ok(entry.example !== undefined, `${name} has an example`);
    const r = read({ ...COMPANIONS[name], [name]: entry.example }, true);
    const f = r.findings.find((x) => x.annotation === `${NGINX_PREFIX}${name}`);
    assert.ok(f !== undefined, name);
    assert.equal(f.code, undefined, `${name}: ${f.note}`);
    assert.ok(f.status === 'applied' || f.status === 'different', name);
    assert.equal(f.policy, entry.policy, name);
  }
});

test('nginx: every catalogue note is one line', () => {
  for (const [name, entry] of Object.entries(NGINX_CATALOGUE)) assert.ok(entry.note !== '' && !/[\r\n]/.test(entry.note), name);
});
