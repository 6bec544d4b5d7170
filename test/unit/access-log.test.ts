/*
 * Access log formats, the parsers of HAProxy's and nginx's request log lines, the controller's log
 * line format (text/JSON, each key once) and the report of diagnostics once per change. No IO.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clfEscape, formatCommon, formatJson } from '../../src/drivers/access-log.ts';
import { backendIdOf, parseHaproxyLine, parseNginxLine, RecordCompleter } from '../../src/drivers/external/request-log.ts';
import type { RequestRecord } from '../../src/drivers/types.ts';
import { createLogger, defaultLogFormat, formatLogLine } from '../../src/cli/logger.ts';
import { parseFlags, applyFlags } from '../../src/cli/flags.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { Controller } from '../../src/controller/sync.ts';
import type { Diagnostic } from '../../src/shared/diagnostics.ts';
import type { Logger } from '../../src/shared/logger.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { groupByKind } from '../../src/sources/snapshot.ts';
import type { Source } from '../../src/sources/snapshot.ts';

const RECORD: RequestRecord = {
  time: new Date(Date.UTC(2026, 9, 10, 13, 55, 36, 250)),
  entryPoint: 'web',
  client: '10.0.0.7',
  method: 'GET',
  host: 'a.test',
  path: '/a?b=1',
  protocol: 'HTTP/1.1',
  status: 200,
  bytes: 512,
  durationMs: 3.4,
  upstream: '10.1.0.4:80',
  route: 'a.test / Prefix',
  backend: 'default/a:80',
};

test('common format: CLF, then host, route, upstream and duration', () => {
  assert.equal(formatCommon(RECORD), '10.0.0.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "a.test" "a.test / Prefix" "10.1.0.4:80" 3ms');
  const { upstream: _u, route: _r, protocol: _p, ...bare } = RECORD;
  assert.match(formatCommon({ ...bare, status: 404 }), /"GET \/a\?b=1 -" 404 512 "a\.test" "-" "-" 3ms$/);
});

test('common format: what the client sent cannot break the line or forge a field', () => {
  const line = formatCommon({ ...RECORD, path: '/x" 200 1 "evil\n', host: 'h"\\' });
  assert.equal(line.split('\n').length, 1);
  assert.match(line, /"GET \/x\\x22 200 1 \\x22evil\\x0A HTTP\/1\.1"/);
  assert.match(line, /"h\\x22\\x5C"/);
  assert.equal(clfEscape(undefined), '-');
});

test('json format: one object with the record fields, absent ones left out', () => {
  const o = JSON.parse(formatJson(RECORD)) as Record<string, unknown>;
  assert.deepEqual(o, {
    time: '2026-10-10T13:55:36.250Z',
    entryPoint: 'web',
    client: '10.0.0.7',
    method: 'GET',
    host: 'a.test',
    path: '/a?b=1',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 512,
    durationMs: 3.4,
    upstream: '10.1.0.4:80',
    route: 'a.test / Prefix',
    backend: 'default/a:80',
  });
  const { upstream: _u, ...bare } = RECORD;
  assert.equal('upstream' in (JSON.parse(formatJson(bare)) as object), false);
});

test('HAProxy lines: fields, #XX escapes, 502 for a failed connection, body bytes from Content-Length', () => {
  const line =
    '{"t":1795985983340,"f":"ep_web","c":"127.0.0.1","m":"GET","h":"a.test","u":"/p#22a\\\\b?x=1","v":"HTTP/1.1","s":503,"B":217,"cl":"13","Ta":30,"b":"be_default.dead:80","sv":"s1","si":"127.0.0.1","sp":"1","ts":"SC"}\n';
  const p = parseHaproxyLine(line);
  assert.ok(p !== undefined);
  assert.equal(p.record.entryPoint, 'web');
  assert.equal(p.record.path, '/p"a\\b?x=1');
  assert.equal(p.record.status, 502);
  assert.equal(p.record.bytes, 13);
  assert.equal(p.record.upstream, '127.0.0.1:1');
  assert.equal(p.record.backend, 'default/dead:80');
  assert.equal(p.record.time.getTime(), 1795985983340);
  assert.match(p.failure ?? '', /refused or failed/);
  const noServer = parseHaproxyLine('<134>Oct 10 13:55:36 haproxy[1]: {"t":1,"f":"ep_web","c":"::1","m":"GET","h":"e.test","u":"/","v":"HTTP/1.1","s":503,"B":100,"cl":"-","Ta":1,"b":"be_default.empty:80","sv":"<NOSRV>","si":"-","sp":"-","ts":"PR"}');
  assert.equal(noServer?.record.upstream, undefined);
  assert.equal(noServer?.record.status, 503);
  assert.equal(noServer?.failure, 'no endpoint is ready');
  assert.equal(parseHaproxyLine('not json'), undefined);
  assert.equal(parseHaproxyLine('{"t":1,"u":"\\]"'), undefined);
});

test('nginx lines: start time from $msec - $request_time, the last upstream tried, causes', () => {
  const p = parseNginxLine(
    '<190>Oct 10 13:55:36 passerelle: {"t":"1795985983.500","p":"8080","c":"127.0.0.1","m":"GET","h":"d.test","u":"/d","v":"HTTP/1.1","s":502,"B":12,"rt":"0.250","b":"be_default.dead_80","ua":"127.0.0.1:1, 127.0.0.1:2","us":"502, 502","uct":"-, -"}',
  );
  assert.ok(p !== undefined);
  assert.equal(p.record.time.getTime(), 1795985983250);
  assert.equal(p.record.durationMs, 250);
  assert.equal(p.record.upstream, '127.0.0.1:2');
  assert.equal(p.record.backend, 'default/dead:80');
  assert.equal(p.record.entryPoint, '8080');
  assert.match(p.failure ?? '', /refused or failed/);
  const timeout = parseNginxLine('{"t":"1.0","p":"80","c":"c","m":"GET","h":"h","u":"/","v":"HTTP/1.1","s":504,"B":0,"rt":"1.0","b":"be_a.b_80","ua":"1.2.3.4:80","us":"504","uct":"0.001"}');
  assert.match(timeout?.failure ?? '', /did not answer in time/);
  assert.equal(backendIdOf('be_ns.svc_http'), 'ns/svc:http');
  assert.equal(backendIdOf('pass_not_found'), undefined);
});

test('records from the proxies get their route and entry point name from the model served', () => {
  const model: RoutingModel = {
    entryPoints: [{ name: 'web', address: { host: '127.0.0.1', port: 8080 }, tls: false, middlewares: [] }],
    virtualHosts: [
      {
        host: '*.w.test',
        kind: 'wildcard',
        sources: [],
        routes: [
          { path: '/api', pathType: 'Prefix', backend: 'default/api:80', source: { kind: 'Ingress', name: 'i' }, field: 'f' },
          { path: '/', pathType: 'Prefix', backend: 'default/web:80', source: { kind: 'Ingress', name: 'i' }, field: 'f' },
        ],
      },
    ],
    backends: {},
    defaultBackend: 'default/fallback:80',
    certificates: [],
    diagnostics: [],
  };
  const c = new RecordCompleter(model);
  const { route: _r, backend: _b, ...rest } = RECORD;
  const plain: RequestRecord = { ...rest, entryPoint: '8080' };
  const api = c.complete({ ...plain, host: 'x.w.test', path: '/api/v1?q' });
  assert.equal(api.route, '*.w.test /api Prefix');
  assert.equal(api.backend, 'default/api:80');
  assert.equal(api.entryPoint, 'web');
  assert.equal(c.complete({ ...plain, host: 'other.test', path: '/' }).route, 'default/fallback:80');

  // A connection to an address scope's address (a Gateway's own, logged as "l") is its hosts' alone: no default backend.
  const scoped = new RecordCompleter({ ...model, addressScopes: [{ address: '192.0.2.64', entryPoint: 'web', virtualHosts: [{ host: '*', kind: 'any', sources: [], routes: [{ path: '/', pathType: 'Prefix', backend: 'gw/one:80', source: { kind: 'HTTPRoute', name: 'r' }, field: 'f' }] }] }] });
  assert.equal(scoped.complete({ ...plain, local: '192.0.2.64', host: 'x.w.test', path: '/api' }).route, '* / Prefix');
  assert.equal(scoped.complete({ ...plain, local: '::ffff:192.0.2.64', host: 'other.test', path: '/' }).backend, 'gw/one:80');
  assert.equal(scoped.complete({ ...plain, local: '127.0.0.1', host: 'x.w.test', path: '/api' }).route, '*.w.test /api Prefix');
  // A host served on another entry point only (a Gateway listener's port) is not this entry point's: the default backend.
  const two: RoutingModel = { ...model, entryPoints: [...model.entryPoints, { name: 'secure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares: [] }], virtualHosts: model.virtualHosts.map((v) => ({ ...v, entryPoints: ['secure'] })) };
  const restricted = new RecordCompleter(two);
  assert.equal(restricted.complete({ ...plain, host: 'x.w.test', path: '/api' }).route, 'default/fallback:80');
  assert.equal(restricted.complete({ ...plain, entryPoint: '8443', host: 'x.w.test', path: '/api' }).route, '*.w.test /api Prefix');
  assert.equal(restricted.complete({ ...plain, host: 'x.w.test', path: '/api' }).route, 'default/fallback:80', 'the cache is per entry point');
  assert.equal(parseNginxLine('{"t":"1.0","p":"80","c":"c","l":"192.0.2.64","m":"GET","h":"h","u":"/","v":"HTTP/1.1","s":200,"B":0,"rt":"0.001","b":"be_a.b_80","ua":"1.2.3.4:80","us":"200","uct":"0.001"}')?.record.local, '192.0.2.64');
});

test('log lines: each key once, JSON or text; text by default at a terminal only', () => {
  const dup = '{"level":40,"time":1795985983340,"name":"passerelle","driver":"native","driver":"native","msg":"hello world","n":1}\n';
  const json = formatLogLine(dup, 'json');
  assert.equal(json.match(/"driver"/g)?.length, 1);
  assert.deepEqual(JSON.parse(json), { level: 40, time: 1795985983340, name: 'passerelle', driver: 'native', msg: 'hello world', n: 1 });
  assert.equal(formatLogLine(dup, 'text'), `${new Date(1795985983340).toISOString()} WARN  hello world  driver=native n=1\n`);
  assert.equal(defaultLogFormat(true), 'text');
  assert.equal(defaultLogFormat(false), 'json');

  const lines: string[] = [];
  const log = createLogger('info', 'json', (t) => lines.push(t)).child({ component: 'x' }).child({ component: 'y' });
  log.info({ component: 'z', err: new Error('boom') }, 'msg');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.match(/"component"/g)?.length, 1);
  assert.equal((JSON.parse(lines[0] ?? '') as { component: string }).component, 'z');
  const text: string[] = [];
  createLogger('info', 'text', (t) => text.push(t)).warn({ err: new Error('boom'), where: 'a b' }, 'failed');
  assert.match(text[0] ?? '', / WARN {2}failed {2}err="boom" where="a b"\n$/);
});

test('--log.format sets log.format', () => {
  const flags = parseFlags(['run', '--log.format=json']);
  assert.equal(flags.logFormat, 'json');
  assert.equal(applyFlags(defaultConfig(), flags).log.format, 'json');
  assert.throws(() => parseFlags(['run', '--log.format=xml']), /expected one of text, json/);
});

test('a diagnostic is logged once while it lasts, and a line says when it clears', async () => {
  const logged: { level: string; msg: string }[] = [];
  const logger: Logger = {
    debug() {},
    info: (_o, msg) => logged.push({ level: 'info', msg: msg ?? '' }),
    warn: (_o, msg) => logged.push({ level: 'warn', msg: msg ?? '' }),
    error: (_o, msg) => logged.push({ level: 'error', msg: msg ?? '' }),
    child: () => logger,
  };
  let diagnostics: Diagnostic[] = [{ severity: 'error', code: 'PASS_FILE_PARSE', message: 'bad YAML', location: { file: 'a.yaml', line: 3 } }];
  const source: Source = {
    start: async () => {},
    stop: async () => {},
    snapshot: () => groupByKind([]),
    diagnostics: () => diagnostics,
    onChange: () => () => {},
  };
  const controller = new Controller({
    source,
    translate: { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: false },
    driver: { name: 'test', apply: async () => {}, stop: async () => {} },
    logger,
  });
  await controller.sync();
  await controller.sync();
  assert.equal(logged.filter((l) => l.msg.includes('PASS_FILE_PARSE')).length, 1);
  diagnostics = [];
  await controller.sync();
  const cleared = logged.filter((l) => l.msg.includes('PASS_FILE_PARSE'));
  assert.equal(cleared.length, 2);
  assert.equal(cleared[1]?.level, 'info');
  assert.match(cleared[1]?.msg ?? '', /^resolved: error PASS_FILE_PARSE/);
});
