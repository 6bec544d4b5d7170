import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, BackendUnresolved, EntryPoint, RoutingModel } from '../../src/model/types.ts';
import { unavailableCause } from '../../src/model/unavailable.ts';
import { PLAIN_HTTP_ON_TLS_BODY } from '../../src/drivers/native/listeners.ts';
import { PLAIN_HTTP_ON_TLS_FILE, renderHaproxy, UNAVAILABLE_MAP } from '../../src/render/haproxy/index.ts';
import type { RenderedConfig } from '../../src/render/types.ts';

const WORK = '/var/lib/passerelle';
const SOURCE = { kind: 'Ingress', namespace: 'default', name: 'answers' } as const;

function svc(name: string, extra: Partial<Backend> = {}): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints: [], protocol: 'http', ...extra };
}

function entry(name: string, port: number, tls: boolean): EntryPoint {
  return { name, address: { port }, tls, middlewares: [] };
}

/** One host per backend (`NAME.test` → NAME), on an http and an https entry point. */
function modelOf(...backends: Backend[]): RoutingModel {
  return {
    entryPoints: [entry('http', 80, false), entry('https', 443, true)],
    virtualHosts: backends.map((b) => ({ host: `${b.service}.test`, kind: 'exact', routes: [{ path: '/', pathType: 'Prefix', backend: b.id, source: SOURCE, field: 'spec' }], sources: [SOURCE] })),
    backends: Object.fromEntries(backends.map((b) => [b.id, b])),
    certificates: [],
    diagnostics: [],
  };
}

function file(r: RenderedConfig, path: string): string | undefined {
  return r.files.find((f) => f.path === path)?.content;
}

test('haproxy: a backend without endpoint says why in the words of the other modes, read from the unavailable map', () => {
  const backends = [svc('missing', { unresolved: 'service' }), svc('noport', { unresolved: 'port' }), svc('ext', { unresolved: 'externalName' }), svc('empty')];
  const r = renderHaproxy(modelOf(...backends), { workDir: WORK });
  const causes: readonly BackendUnresolved[] = ['service', 'port', 'externalName'];
  assert.equal(file(r, UNAVAILABLE_MAP), causes.map((c, i) => `be_default.${backends[i]!.service}:80 ${unavailableCause({ unresolved: c })}\n`).join(''));
  const section = /^backend be_default\.empty:80\n(?: {2}.*\n)+/m.exec(r.main.content)?.[0] ?? '';
  assert.ok(section.includes(`  http-request set-var(txn.pass_why) be_name,map_str('${WORK}/${UNAVAILABLE_MAP}') if { nbsrv eq 0 }\n`));
  assert.ok(section.includes(`lf-string 'Service Unavailable: %[var(txn.pass_why)]' if { var(txn.pass_why) -m found }`));
  assert.ok(section.includes(`string 'Service Unavailable: ${unavailableCause({})}' if { nbsrv eq 0 }`));
});

test('haproxy: a Service appearing or going changes the unavailable map only, never the structure (no reload)', () => {
  const missing = renderHaproxy(modelOf(svc('a', { unresolved: 'service' })), { workDir: WORK });
  const present = renderHaproxy(modelOf(svc('a', { endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }] })), { workDir: WORK });
  const noEndpoints = renderHaproxy(modelOf(svc('a')), { workDir: WORK });
  assert.notEqual(missing.checksum, present.checksum);
  assert.equal(missing.structure, present.structure);
  assert.equal(missing.structure, noEndpoints.structure);
  assert.equal(file(present, UNAVAILABLE_MAP), '');
});

test('haproxy: TLS entry points bind ssl themselves unless answerPlainHttpOnTls puts a TCP front before them', () => {
  const m = modelOf(svc('a'));
  const direct = renderHaproxy(m, { workDir: WORK });
  assert.match(direct.main.content, /^ {2}bind :443 ssl crt /m);
  assert.doesNotMatch(direct.main.content, /mode tcp|accept-proxy|send-proxy/);
  assert.equal(file(direct, PLAIN_HTTP_ON_TLS_FILE), undefined);

  const split = renderHaproxy(m, { workDir: WORK, answerPlainHttpOnTls: true });
  const socket = `'unix@${WORK}/ep_https.sock'`;
  assert.match(split.main.content, /^defaults pass_tcp\n {2}mode tcp\n/m);
  assert.match(split.main.content, /^frontend tls_ep_https from pass_tcp\n {2}bind :443\n/m);
  assert.ok(split.main.content.includes(`  server tls ${socket} send-proxy-v2\n`));
  assert.ok(split.main.content.includes(`frontend ep_https\n  bind ${socket} mode 600 accept-proxy ssl crt `));
  // The plain entry point is as before.
  assert.match(split.main.content, /^frontend ep_http\n {2}bind :80\n/m);
  const answer = file(split, PLAIN_HTTP_ON_TLS_FILE) ?? '';
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /\r\nconnection: close\r\n/);
  assert.ok(answer.endsWith(`\r\n\r\n${PLAIN_HTTP_ON_TLS_BODY}`), 'the words of the native proxy');
  assert.ok(answer.includes(`content-length: ${Buffer.byteLength(PLAIN_HTTP_ON_TLS_BODY)}\r\n`));
  // Without a TLS entry point there is nothing to put in front.
  const plainOnly = renderHaproxy({ ...m, entryPoints: [entry('http', 80, false)] }, { workDir: WORK, answerPlainHttpOnTls: true });
  assert.doesNotMatch(plainOnly.main.content, /mode tcp/);
});
