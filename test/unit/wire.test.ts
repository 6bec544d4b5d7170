import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { defined } from '../../src/shared/optional.ts';
import { main } from '../../src/cli/main.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { createDriver, createPreviewDriver, kubernetesSourceOptions, loadContext, translateOptions } from '../../src/cli/wire.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { KubeClient } from '../../src/sources/kubernetes/client.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { buildHaproxyView, parseHaproxyLayout } from '../../src/render/haproxy/index.ts';
import type { HaproxyLayout } from '../../src/render/haproxy/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = '/var/lib/passerelle';

test('defined() drops the undefined values and keeps every other one, falsy ones included', () => {
  const maybe: string | undefined = undefined;
  const out = defined({ a: 1, b: undefined, c: 0, d: '', e: false, f: null, g: maybe });
  assert.deepEqual(out, { a: 1, c: 0, d: '', e: false, f: null });
  assert.ok(!('b' in out) && !('g' in out), 'no key is left holding undefined');
  // The type makes the possibly-undefined fields optional: this assignment type-checks.
  const options: { readonly a: number; readonly g?: string } = defined({ a: 1, g: maybe });
  assert.deepEqual(options, { a: 1 });
});

test('one context: the translate options come from one mapper, and the dry run previews with the driver run builds', async () => {
  const configFile = `--configfile=${path.join(root, 'test/fixtures/check/passerelle.toml')}`;
  const context = await loadContext(parseFlags(['run', configFile, '--proxy', 'haproxy']));
  assert.deepEqual(context.translate, translateOptions(context.config));
  const wired = createDriver(context.config, silentLogger, {});
  const preview = createPreviewDriver(context.config);
  assert.ok(wired.mode === 'haproxy' && preview !== undefined);
  assert.equal(preview.name, 'haproxy');
  assert.equal(preview.workDir, wired.driver.workDir, 'the same [proxy] mapping: the same work directory');
  const native = await loadContext(parseFlags(['run', configFile]));
  assert.equal(createPreviewDriver(native.config), undefined, 'native mode renders no files');
});

test('[kubernetes] maps onto the source options: startupRetry bounds the startup retries, the lease sets the election periods', () => {
  const config = parseConfig('[kubernetes]\nenabled = true\nstartupRetry = "30s"\nleaseDuration = "30s"\nlabelSelector = "team=web"', '/etc/passerelle/passerelle.toml');
  const client = {} as KubeClient;
  const o = kubernetesSourceOptions({ config, translate: translateOptions(config), warnings: [] }, client, true, silentLogger);
  assert.equal(o.client, client);
  assert.equal(o.startupRetryMs, 30_000);
  assert.equal(o.leaseDurationMs, 30_000);
  assert.equal(o.renewDeadlineMs, 20_000);
  assert.equal(o.retryPeriodMs, 4000);
  assert.equal(o.labelSelector, 'team=web');
  assert.equal(o.readOnly, false);
});

const endpoint = (host: string, port: number) => ({ address: host, port, weight: 1, name: host });
const oneBackend = (eps: ReturnType<typeof endpoint>[]): RoutingModel => ({
  entryPoints: [],
  virtualHosts: [],
  backends: { 'd/s:80': { id: 'd/s:80', namespace: 'd', service: 's', servicePort: 80, endpoints: eps, protocol: 'http' } },
  certificates: [],
  diagnostics: [],
});
const servers = (b: ReturnType<typeof buildHaproxyView>) => b.view.backends[0]!.servers.map((s) => `${s.host}:${s.port}${s.disabled ? '-' : '+'}`);

test('haproxy layout: the builder returns the slots it allocated (null: never used) and the prefix depth; built again from it, nothing moves', () => {
  const first = buildHaproxyView(oneBackend([endpoint('10.0.0.1', 80)]), { workDir: WORK });
  assert.deepEqual(first.layout, { slots: { 'd/s:80': [{ host: '10.0.0.1', port: 80 }, null, null, null] }, prefixDepth: 4, vhosts: {} });
  const again = buildHaproxyView(oneBackend([endpoint('10.0.0.1', 80)]), { workDir: WORK }, first.layout);
  assert.deepEqual(again.view, first.view);
  assert.deepEqual(again.layout, first.layout);
  // Swapped endpoint: the old address keeps its slot (disabled), the new one takes a never-used slot.
  const swapped = buildHaproxyView(oneBackend([endpoint('10.0.0.2', 80)]), { workDir: WORK }, first.layout);
  assert.deepEqual(swapped.layout.slots['d/s:80'], [{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80 }, null, null]);
});

test('haproxy layout: which slots were never used is read from the layout, never guessed from an address', () => {
  // A real endpoint on 127.0.0.1:1 (the address never-used slots are written with): its slot stays taken.
  const first = buildHaproxyView(oneBackend([endpoint('127.0.0.1', 1)]), { workDir: WORK });
  assert.deepEqual(first.layout.slots['d/s:80'], [{ host: '127.0.0.1', port: 1 }, null, null, null]);
  const gone = buildHaproxyView(oneBackend([endpoint('10.0.0.7', 80)]), { workDir: WORK }, first.layout);
  assert.deepEqual(servers(gone), ['127.0.0.1:1-', '10.0.0.7:80+', '127.0.0.1:1-', '127.0.0.1:1-']);
  assert.deepEqual(gone.layout.slots['d/s:80'], [{ host: '127.0.0.1', port: 1 }, { host: '10.0.0.7', port: 80 }, null, null]);
});

test('haproxy layout: out of never-used slots, a fresh layout (compacted); backends gone leave the layout; a kept depth stays', () => {
  const full: HaproxyLayout = { slots: { 'd/s:80': [{ host: '10.0.0.1', port: 80 }], 'd/gone:80': [null] }, prefixDepth: 6 };
  const b = buildHaproxyView(oneBackend([endpoint('10.0.0.9', 80)]), { workDir: WORK }, full);
  assert.equal(b.view.backends[0]!.compacted, true);
  assert.deepEqual(b.layout, { slots: { 'd/s:80': [{ host: '10.0.0.9', port: 80 }, null, null, null] }, prefixDepth: 6, vhosts: {} });
});

test('haproxy layout: saved as JSON and read back unchanged; anything else is refused (a fresh layout follows)', () => {
  const layout = buildHaproxyView(oneBackend([endpoint('10.0.0.1', 80), endpoint('10.0.0.2', 8080)]), { workDir: WORK }).layout;
  assert.deepEqual(parseHaproxyLayout(JSON.parse(JSON.stringify(layout))), layout);
  for (const bad of [null, 3, {}, { slots: {}, prefixDepth: -1 }, { slots: { a: [{ host: 'x' }] }, prefixDepth: 4 }, { slots: { a: 'x' }, prefixDepth: 4 }, { slots: [], prefixDepth: 1.5 }]) {
    assert.equal(parseHaproxyLayout(bad), undefined, JSON.stringify(bad));
  }
});

/** Runs the CLI in-process and returns what it wrote. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString('utf8');
      done();
    },
  });
  const code = await main(args, sink);
  return { code, out };
}

test('run --dry-run reports every diagnostic in every mode: the rendered modes list those the native route table lists', async () => {
  const config = `--configfile=${path.join(root, 'test/fixtures/check/passerelle.toml')}`;
  const native = await cli('run', '--dry-run', config);
  assert.equal(native.code, 0);
  const listed = native.out.slice(native.out.indexOf('\nDiagnostics\n') + '\nDiagnostics\n'.length).trimEnd().split('\n').map((l) => l.trim());
  assert.ok(listed.length >= 3, `the fixture has several bad objects: ${listed.join(' | ')}`);
  assert.ok(listed.some((l) => l.startsWith('error PASS_INGRESS_BAD_HOST Ingress shop/bad')));
  for (const mode of ['haproxy', 'nginx']) {
    for (const args of [['run', '--dry-run'], ['render', '--diff']]) {
      const r = await cli(...args, config, '--proxy', mode);
      assert.equal(r.code, 0);
      const block = r.out.slice(r.out.indexOf('# ===== diagnostics =====\n'));
      for (const line of listed) assert.ok(block.includes(`\n# ${line}\n`), `${mode} ${args.join(' ')} reports: ${line}`);
    }
  }
});
