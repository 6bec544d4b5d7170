import { test } from 'node:test';
import path from 'node:path';
import fc from 'fast-check';
import { translate } from '../../../src/model/translate/index.ts';
import type { Snapshot } from '../../../src/model/k8s.ts';
import { renderHaproxy } from '../../../src/render/haproxy/index.ts';
import { renderNginx } from '../../../src/render/nginx/index.ts';
import type { RenderedConfig } from '../../../src/render/types.ts';
import { requireBinary } from './common.ts';
import { checkRendering, workWithDefaultCert } from '../rendered.ts';

requireBinary('haproxy');
requireBinary('nginx');

const hostile = fc.oneof(
  fc.constantFrom('a;b', 'x\nserver evil 1.2.3.4:80', "a'b", 'a"b', 'a b', '$host', '#c', '{', '}', '\\', 'a.example.com', '*.example.com', '*.*.x', '/ok', '/a;deny all', '/a b', '/a%0a', '/a"', "/a'", '/a{b}', '/$x', 'ok', ''),
  fc.string({ unit: fc.constantFrom('a', '.', '*', '/', ';', ' ', '\n', "'", '"', '$', '#', '{', '}', '\\', '%', '0', '-', ':'), maxLength: 12 }),
);

const { dir: WORK, crt: defaultCrt, key: defaultKey } = workWithDefaultCert('passerelle-inject-');
const check = (r: RenderedConfig, dir: string): string => checkRendering(r, dir, { crt: defaultCrt, key: defaultKey });

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
        configMaps: [],
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
