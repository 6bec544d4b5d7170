/*
 * The Gateway API CORS filter's additions to the cors policy rendered for nginx: origin patterns as
 * case-insensitive regexes of the origin map, the request's Origin answered for any origin, a preflight's
 * asked method and headers answered from the request's variables, exposed headers on every CORS answer;
 * compared with a golden render, and accepted by `nginx -t` with and without the Lua
 * balancer and the headers-more module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { CorsPolicy } from '../../src/model/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, LUA_MODULES, renderNginx } from '../../src/render/nginx/index.ts';
import { originPatternKey } from '../../src/render/nginx/policy.ts';
import { HEADERS_MORE_MODULE } from '../../src/render/nginx/view.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { golden } from './golden.ts';
import { CORS_ANY, CORS_LISTED, CORS_STAR } from '../cors-policies.ts';

const WORK = '/var/lib/passerelle';

// A pattern with a port, and one outside the grammar (left out).
const LISTED: CorsPolicy = { ...CORS_LISTED, originPatterns: ['https://*.bar.test', 'http://*.baz.test:8080', 'https://*.bad test'] };
const ANY = CORS_ANY;
const STAR = CORS_STAR;
/** Not a model the Gateway translation makes: a list beside the asked methods (one header cannot hold both). */
const BOTH: CorsPolicy = { ...ANY, allowMethods: ['GET'] };

function corsModel(): RoutingModel {
  return model({
    entryPoints: [entryPoint('web', 8000)],
    virtualHosts: [
      vhost('cors.test', [
        { ...route('/listed', 'Prefix', 'v1'), policy: { cors: LISTED } },
        { ...route('/any', 'Prefix', 'v1'), policy: { cors: ANY } },
        { ...route('/star', 'Prefix', 'v1'), policy: { cors: STAR } },
        { ...route('/both', 'Prefix', 'v1'), policy: { cors: BOTH } },
      ]),
    ],
    backends: [backend('v1', [{ address: '10.0.0.1', port: 8080, weight: 1 }])],
  });
}

test('golden: nginx maps and locations of Gateway API CORS policies', () => {
  golden('nginx-cors-gateway.txt', formatDryRun(renderNginx(corsModel(), { workDir: WORK, headersMoreModule: null })));
});

test('nginx origin patterns: one or more labels, the scheme and port as written, nothing else', () => {
  const key = originPatternKey('https://*.bar.test');
  assert.equal(key, '~*^https://([a-z0-9-]+\\.)+bar\\.test\\z');
  // The key as PCRE (`\z` is JavaScript's `$` without the m flag), case-insensitive as `~*`.
  const re = new RegExp((key ?? '').slice(2).replace(/\\z$/, '$'), 'i');
  for (const o of ['https://a.bar.test', 'https://a.b.bar.test', 'HTTPS://A.Bar.test']) assert.ok(re.test(o), o);
  for (const o of ['https://bar.test', 'http://a.bar.test', 'https://a.bar.test.evil', 'https://a.bar.test:8443', 'https://abar.test', 'https://a_b.bar.test']) assert.ok(!re.test(o), o);
  assert.equal(originPatternKey('http://*.baz.test:8080'), '~*^http://([a-z0-9-]+\\.)+baz\\.test:8080\\z');
  for (const p of ['https://*.bad test', 'https://a.*.test', 'ftp://*.x.test', 'https://*.x.test/"', 'https://*.x.test$']) assert.equal(originPatternKey(p), undefined, p);
});

test('nginx Gateway CORS: patterns in the origin map, the Origin echoed, asked values from the request, exposed headers on every CORS answer', () => {
  const { view, diagnostics } = buildNginxView(corsModel(), { workDir: WORK });
  const server = view.servers.find((s) => s.names.includes('cors.test'));
  const loc = (p: string) => server?.locations.find((l) => l.path === p);
  const corsOf = (p: string) => view.cors[Number(/^pass_cors_(\d+)_origin$/.exec(loc(p)?.policy?.responseHeaders.find((h) => h.name === 'Access-Control-Allow-Origin')?.variable ?? '')?.[1] ?? 'NaN')];
  const brief = (p: string) => corsOf(p)?.headers.map((h) => `${h.name}=${h.variable === null ? h.value : `$${h.variable}`}${h.preflightOnly ? ' (preflight)' : ''}`);
  const listed = corsOf('/listed/');
  assert.deepEqual([listed?.any, listed?.echo, listed?.origins], [false, false, ['~^https://www\\.foo\\.test\\z', '~*^https://([a-z0-9-]+\\.)+bar\\.test\\z', '~*^http://([a-z0-9-]+\\.)+baz\\.test:8080\\z']], 'a pattern nginx cannot hold is left out');
  assert.deepEqual(brief('/listed/'), ['Vary=Origin', 'Access-Control-Allow-Credentials=true', 'Access-Control-Allow-Methods=GET, OPTIONS', 'Access-Control-Allow-Headers=x-h1', 'Access-Control-Expose-Headers=x-h3, x-h4', 'Access-Control-Max-Age=3600 (preflight)']);
  const any = corsOf('/any/');
  assert.deepEqual([any?.any, any?.echo, any?.origins], [true, true, []]);
  assert.deepEqual(brief('/any/'), ['Vary=Origin', 'Access-Control-Allow-Credentials=true', 'Access-Control-Max-Age=5 (preflight)', 'Access-Control-Allow-Methods=$http_access_control_request_method (preflight)', 'Access-Control-Allow-Headers=$http_access_control_request_headers (preflight)']);
  const star = corsOf('/star/');
  assert.deepEqual([star?.any, star?.echo], [true, false]);
  assert.deepEqual(brief('/star/'), ['Access-Control-Allow-Methods=PUT', 'Access-Control-Max-Age=5 (preflight)'], 'no Vary for *');
  assert.equal(loc('/both/')?.action.status, 503);
  assert.deepEqual(diagnostics.map((d) => d.code), ['PASS_POLICY_NOT_IN_MODE']);
  const main = renderNginx(corsModel(), { workDir: WORK }).main.content;
  const n = view.cors.indexOf(any ?? ({} as never));
  assert.match(main, new RegExp(`map \\$http_origin \\$pass_cors_${n} \\{\\n    default \\$http_origin;\\n  \\}`));
  assert.match(main, /map "\$pass_preflight\|\$pass_cors_\d+" \$pass_cors_\d+_3 \{\n {4}"~\^\.\+\\\|\." \$http_access_control_request_method;/);
  assert.match(main, /map "\$upstream_status\$pass_preflight\|\$pass_cors_\d+" \$pass_cors_\d+_4 \{\n {4}"~\^\.\+\\\|\." "x-h3, x-h4";\n {4}default \$upstream_http_access_control_expose_headers;/);
});

test('nginx Gateway CORS: nginx -t accepts the rendering with and without the Lua balancer and headers-more', () => {
  const work = workWithDefaultCert('passerelle-cors-gateway-');
  for (const lua of [null, LUA_MODULES]) {
    for (const more of [null, HEADERS_MORE_MODULE]) {
      const dir = path.join(work.dir, `${lua === null ? 'plain' : 'lua'}-${more === null ? 'add' : 'more'}`);
      const r = renderNginx(corsModel(), { workDir: dir, luaModules: lua, headersMoreModule: more });
      assert.match(r.main.content, /\$http_access_control_request_headers;/);
      checkRendering(r, dir, work, `${lua === null ? ' (without Lua' : ' (with Lua'}${more === null ? ')' : ', headers-more)'}`);
    }
  }
});
