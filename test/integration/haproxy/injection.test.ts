import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { translate } from '../../../src/model/translate/index.ts';
import type { Snapshot } from '../../../src/model/k8s.ts';
import { BUILTIN_TEMPLATES } from '../../../src/render/engine.ts';
import { renderHaproxy } from '../../../src/render/haproxy/index.ts';
import { renderNginx } from '../../../src/render/nginx/index.ts';
import type { RenderedConfig } from '../../../src/render/types.ts';
import { requireBinary } from './common.ts';

requireBinary('haproxy');
requireBinary('nginx');

/** First words of every template line: the only directives a rendering may contain. */
function skeleton(dialect: 'haproxy' | 'nginx'): Set<string> {
  const files = [path.join(BUILTIN_TEMPLATES, dialect === 'haproxy' ? 'haproxy.cfg.hbs' : 'nginx.conf.hbs')];
  for (const f of readdirSync(path.join(BUILTIN_TEMPLATES, dialect))) files.push(path.join(BUILTIN_TEMPLATES, dialect, f));
  const words = new Set<string>();
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const w = line.trim().split(/\s+/)[0] ?? '';
      if (w !== '' && !w.startsWith('{{')) words.add(w);
    }
  }
  return words;
}

const hostile = fc.oneof(
  fc.constantFrom('a;b', 'x\nserver evil 1.2.3.4:80', "a'b", 'a"b', 'a b', '$host', '#c', '{', '}', '\\', 'a.example.com', '*.example.com', '*.*.x', '/ok', '/a;deny all', '/a b', '/a%0a', '/a"', "/a'", '/a{b}', '/$x', 'ok', ''),
  fc.string({ unit: fc.constantFrom('a', '.', '*', '/', ';', ' ', '\n', "'", '"', '$', '#', '{', '}', '\\', '%', '0', '-', ':'), maxLength: 12 }),
);

const WORK = mkdtempSync(path.join(tmpdir(), 'passerelle-inject-'));
process.on('exit', () => rmSync(WORK, { recursive: true, force: true }));
spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=default', '-days', '2', '-keyout', path.join(WORK, 'default.key'), '-out', path.join(WORK, 'default.crt')]);
const defaultCrt = readFileSync(path.join(WORK, 'default.crt'), 'utf8');
const defaultKey = readFileSync(path.join(WORK, 'default.key'), 'utf8');

function check(r: RenderedConfig, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  for (const f of [r.main, ...r.files]) {
    mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
    writeFileSync(path.join(dir, f.path), f.content);
  }
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  writeFileSync(path.join(dir, 'certs/default.pem'), defaultCrt + defaultKey);
  writeFileSync(path.join(dir, 'certs/default.crt'), defaultCrt);
  writeFileSync(path.join(dir, 'certs/default.key'), defaultKey);
  const main = path.join(dir, r.main.path);
  const args = r.dialect === 'haproxy' ? ['-c', '-f', main] : ['-t', '-q', '-c', main, '-p', `${dir}/`, '-e', 'stderr'];
  const res = spawnSync(r.dialect, args, { encoding: 'utf8' });
  assert.equal(res.status, 0, `${r.dialect} refused a rendering: ${res.stdout}${res.stderr}`);
  const words = skeleton(r.dialect);
  for (const line of r.main.content.split('\n')) {
    const w = line.trim().split(/\s+/)[0] ?? '';
    if (w === '' || w.startsWith('#')) continue;
    assert.ok(words.has(w), `directive "${w}" is not in the ${r.dialect} template skeleton: ${line}`);
  }
}

test('hostile hosts, paths, names, ports and annotations: rejected with a diagnostic, or valid with only template directives', () => {
  fc.assert(
    fc.property(hostile, hostile, hostile, hostile, fc.oneof(fc.integer({ min: -5, max: 70000 }), hostile), hostile, (host, p, svc, secret, port, annotation) => {
      const snapshot: Snapshot = {
        ingressClasses: [],
        ingresses: [
          {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'Ingress',
            metadata: { name: 'evil', namespace: 'default', annotations: { 'kubernetes.io/ingress.class': 'passerelle', 'x/y': annotation, [annotation || 'k']: 'v' } },
            spec: {
              tls: [{ hosts: [host], secretName: secret }],
              rules: [{ host, http: { paths: [{ path: p, pathType: 'Prefix', backend: { service: { name: svc, port: typeof port === 'number' ? { number: port } : { name: port } } } }] } }],
            },
          },
        ],
        services: [],
        endpointSlices: [],
        secrets: [],
      };
      const model = translate(snapshot, {
        entryPoints: [
          { name: 'web', address: { host: '127.0.0.1', port: 18080 }, tls: false, middlewares: [] },
          { name: 'websecure', address: { host: '127.0.0.1', port: 18443 }, tls: true, middlewares: [] },
        ],
        ingressClass: 'passerelle',
        controllerName: 'passerelle.dev/ingress-controller',
        classAliases: [],
        watchIngressWithoutClass: true,
      });
      const dir = path.join(WORK, 'h');
      const h = renderHaproxy(model, { workDir: dir });
      check(h, dir);
      check(renderNginx(model, { workDir: path.join(WORK, 'n') }), path.join(WORK, 'n'));
    }),
    { numRuns: Number(process.env['INJECTION_RUNS'] ?? 40) },
  );
});
