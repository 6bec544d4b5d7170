/*
 * The dashboard in a real browser: `passerelle run --web` on a copy of examples/ (plus one Ingress
 * to a missing Service, for a diagnostic), in native and haproxy modes, driven by headless Chromium.
 * Every page must render the example's real data (not only answer 200), the page must throw no
 * error (CSP included), and each page is kept as a screenshot under test-output/screenshots/.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../behaviour/harness.ts';
import { startEcho } from '../../../examples/echo.ts';
import { requireBinary } from '../haproxy/common.ts';
import { Chromium } from './chromium.ts';
import type { Page } from './chromium.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const screenshots = path.join(root, 'test-output/screenshots');

/** The example's hosts, as the Routers page must list them. */
const HOSTS = ['whoami.localhost', 'shop.localhost', 'secure.localhost', '*.apps.localhost'];

/** An Ingress to a Service that does not exist: a PASS_INGRESS_MISSING_SERVICE diagnostic and a 503 route. */
const GHOST = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ghost
  namespace: demo
spec:
  ingressClassName: passerelle
  rules:
    - host: ghost.localhost
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: ghost
                port:
                  number: 80
`;

interface Running {
  readonly web: string;
  readonly ports: { readonly web: number };
  readonly host: string;
}

/** A plain HTTP request through an entry point; resolves with the status. */
function get(host: string, port: number, vhost: string, urlPath = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: urlPath, headers: { host: vhost }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Starts the example's echo backends and `passerelle run --web` on a temporary copy of examples/. */
async function startPasserelle(t: TestContext, mode: 'native' | 'haproxy', host: string): Promise<Running> {
  const dir = mkdtempSync(path.join(tmpdir(), `passerelle-dashboard-${mode}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'ingress'));
  mkdirSync(path.join(dir, 'work'));

  // The example's EndpointSlices name 127.0.0.1:9101, 9102, 9201, 9301: moved to free ports on `host`.
  let apps = readFileSync(path.join(root, 'examples/ingress/apps.yaml'), 'utf8').replaceAll('"127.0.0.1"', `"${host}"`);
  const echoes: http.Server[] = [];
  for (const [name, old] of [['whoami-a', 9101], ['whoami-b', 9102], ['api-a', 9201], ['web-a', 9301]] as const) {
    const port = await freePort(host);
    apps = apps.replaceAll(`port: ${old}`, `port: ${port}`).replaceAll(`targetPort: ${old}`, `targetPort: ${port}`);
    echoes.push(await startEcho(name, host, port));
  }
  t.after(() => Promise.all(echoes.map((s) => new Promise((r) => s.close(r)))));
  writeFileSync(path.join(dir, 'ingress/apps.yaml'), apps);
  writeFileSync(path.join(dir, 'ingress/ghost.yaml'), GHOST);

  const ports = { web: await freePort(host), websecure: await freePort(host), redirect: await freePort(host), private: await freePort(host), dashboard: await freePort(host) };
  // The Gateway API example too: its listener's port is the web entry point's.
  writeFileSync(path.join(dir, 'ingress/gateway.yaml'), readFileSync(path.join(root, 'examples/gateway/routes.yaml'), 'utf8').replace('port: 8000', `port: ${ports.web}`));
  let toml = readFileSync(path.join(root, 'examples/passerelle.toml'), 'utf8');
  toml = toml
    .replace('"127.0.0.1:8000"', `"${host}:${ports.web}"`)
    .replace('"127.0.0.1:8443"', `"${host}:${ports.websecure}"`)
    .replace('"127.0.0.1:8001"', `"${host}:${ports.redirect}"`)
    .replace('"127.0.0.1:8002"', `"${host}:${ports.private}"`)
    .replace('mode = "native"', `mode = "native"\nworkDir = "work"`);
  toml += `\n[web]\naddress = "${host}:${ports.dashboard}"\n`;
  // ACME with a CA that refuses connections: one certificate whose orders fail, for the ACME state.
  const closed = await freePort(host);
  toml += `
[acme]
email = "ops@example.com"
storage = "acme.json"
entryPoint = "websecure"
caServer = "https://${host}:${closed}/dir"
acceptTermsOfService = true
[[acme.domains]]
main = "acme.localhost"
`;
  writeFileSync(path.join(dir, 'passerelle.toml'), toml);

  const child: ChildProcess = spawn(process.execPath, ['bin/passerelle.js', 'run', `--configfile=${path.join(dir, 'passerelle.toml')}`, '--web', '--proxy', mode], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += String(c)));
  child.stderr?.on('data', (c: Buffer) => (output += String(c)));
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const web = `http://${host}:${ports.dashboard}`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) assert.fail(`passerelle exited (${child.exitCode}):\n${output}`);
    const ready = await fetch(`${web}/readyz`).then((r) => r.status, () => 0);
    if (ready === 200) break;
    if (Date.now() > until) assert.fail(`/readyz never answered 200 (last: ${ready}):\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // The proxy serves the example.
  assert.equal(await get(host, ports.web, 'whoami.localhost'), 200, output);
  return { web, ports, host };
}

/** Requests through the web entry point until stopped: whoami (200) and ghost (503). */
function trafficLoop(r: Running): () => Promise<void> {
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      await Promise.all([get(r.host, r.ports.web, 'whoami.localhost', '/'), get(r.host, r.ports.web, 'shop.localhost', '/api/items'), get(r.host, r.ports.web, 'ghost.localhost', '/')]).catch(() => undefined);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  return async () => {
    stop = true;
    await loop;
  };
}

/** The text of the open section of the dashboard. */
function sectionText(page: Page, name: string): Promise<string> {
  return page.evaluate<string>(`document.getElementById('page-${name}').innerText`);
}

/** Opens a tab of the dashboard and waits for it to be filled from the API. */
async function open(page: Page, web: string, name: string): Promise<string> {
  await page.goto(`${web}/dashboard/#${name}`);
  await page.waitFor(`document.getElementById('page-${name}')?.dataset.loaded === 'true' && !document.getElementById('page-${name}').hidden`, `the ${name} page loaded`);
  return sectionText(page, name);
}

for (const mode of ['native', 'haproxy'] as const) {
  test(`dashboard in ${mode} mode: every page shows the example's real data in headless Chromium`, async (t) => {
    if (mode === 'haproxy') requireBinary('haproxy');
    const run = await startPasserelle(t, mode, mode === 'native' ? '127.0.0.71' : '127.0.0.72');
    const browser = await Chromium.launch();
    t.after(() => browser.close());
    const page = await browser.newPage();
    const shot = (name: string): Promise<void> => page.screenshot(path.join(screenshots, `${mode}-${name}.png`));

    // `/` redirects to the dashboard.
    await page.goto(`${run.web}/`);
    assert.match(await page.evaluate<string>('location.pathname'), /^\/dashboard\/$/);

    await t.test('overview: mode, version, counts, last apply, entry points', async () => {
      const text = await open(page, run.web, 'overview');
      assert.match(await page.evaluate<string>(`document.getElementById('card-mode').innerText`), new RegExp(mode));
      assert.match(await page.evaluate<string>(`document.getElementById('version').innerText`), new RegExp(`${mode} mode · v\\d+\\.\\d+\\.\\d+`));
      assert.match(text, /VIRTUAL HOSTS\s+7/i);
      assert.match(text, /ERRORS\s+[1-9]/i);
      assert.match(text, /applied/);
      assert.match(text, /Config hash\s+[0-9a-f]{16,}/);
      for (const ep of ['web', 'websecure', 'redirect', 'private']) assert.match(text, new RegExp(`^${ep}\\s`, 'm'));
      assert.match(text, new RegExp(`${run.host.replaceAll('.', '\\.')}:${run.ports.web}`));
      assert.match(text, /basic auth \(realm "[^"]*": demo, klefevre\)/);
      assert.match(text, /redirect -> websecure \(302\)/);
      assert.doesNotMatch(text, /\$apr1\$/);
      await shot('overview');
    });

    await t.test('routers: every host of the example, and search by host', async () => {
      const text = await open(page, run.web, 'routers');
      for (const h of [...HOSTS, 'ghost.localhost']) assert.ok(text.includes(h), `${h} missing from the Routers page:\n${text}`);
      assert.match(text, /demo\/api:8080/);
      assert.match(text, /demo\/secure-localhost-tls/);
      assert.match(text, /Ingress demo\/shop/);
      // Where each host is served: the Ingresses' on every entry point, the HTTPRoute's on its listener's.
      assert.match(text, /^shop\.localhost\texact\tall\t/m);
      assert.match(text, /^gateway\.localhost\texact\tweb\t/m);
      assert.match(text, /^\*\.gateway\.localhost\tsuffix\tweb\t/m);
      // Routes told apart by their conditions say them.
      assert.match(text, /\/api if header x-version ~ /);
      await shot('routers');
      await page.evaluate(`(() => { const i = document.getElementById('router-search'); i.value = 'shop'; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor(`document.getElementById('router-count').innerText.startsWith('1 of 7')`, 'one host matching "shop"');
      const found = await sectionText(page, 'routers');
      assert.match(found, /shop\.localhost/);
      assert.doesNotMatch(found, /whoami\.localhost|secure\.localhost/);
      await shot('routers-search');
    });

    await t.test('backends: endpoints with their state', async () => {
      const text = await open(page, run.web, 'backends');
      assert.match(text, /demo\/whoami:http/);
      assert.match(text, /demo\/api:8080/);
      // The model's state, then what the proxy saw (no request went to it yet: unknown).
      assert.match(text, new RegExp(`ready\\s+live: (unknown|up)\\s+${run.host.replaceAll('.', '\\.')}:\\d+ weight 1 · whoami-a`));
      assert.match(text, /demo\/ghost:80[\s\S]*no ready endpoint: 503/);
      assert.match(text, /shop\.localhost \/api Prefix/);
      await shot('backends');
    });

    await t.test('certificates: names, issuer, not-after, countdown, source', async () => {
      const text = await open(page, run.web, 'certificates');
      assert.match(text, /demo\/secure-localhost-tls\s+secure\.localhost\s+CN=secure\.localhost\s+2036-11-23 08:16 UTC\s+expires in \d+ d/);
      assert.match(text, /Secret demo\/secure-localhost-tls/);
      assert.match(text, /^default\s+any other name/m);
      // The [[acme.domains]] certificate the unreachable CA cannot issue: ACME state, cause, budget.
      await page.waitFor(`document.getElementById('page-certificates').innerText.includes('last error')`, 'the failed ACME order', 30_000);
      const acme = await sectionText(page, 'certificates');
      assert.match(acme, /acme\.localhost[\s\S]*ACME[\s\S]*(failed|pending)/);
      assert.match(acme, /not served yet/);
      assert.match(acme, /last error: /);
      assert.match(acme, new RegExp(`CA\\s+https://${run.host.replaceAll('.', '\\.')}:\\d+/dir`));
      assert.match(acme, /Weekly budget[\s\S]*acme\.localhost\s+\d+\s+50\s+\d+/);
      await shot('certificates');
    });

    await t.test('diagnostics: the missing Service of demo/ghost', async () => {
      const text = await open(page, run.web, 'diagnostics');
      assert.match(text, /error\s+PASS_INGRESS_MISSING_SERVICE\s+Ingress demo\/ghost\s+spec\.rules\[0\]\.http\.paths\[0\]/);
      assert.match(text, /Service demo\/ghost does not exist/);
      assert.match(text, /ghost\.yaml:\d+/);
      // One per bad object; the failing ACME order may add its own.
      assert.match(await page.evaluate<string>(`document.querySelector('nav a[href="#diagnostics"] .count').innerText`), /^[1-9]$/);
      await shot('diagnostics');
    });

    await t.test('explain: who serves a URL, and why', async () => {
      await open(page, run.web, 'explain');
      const url = `http://shop.localhost:${run.ports.web}/api/items`;
      await page.evaluate(`(() => { document.getElementById('explain-url').value = ${JSON.stringify(url)}; document.getElementById('explain-form').requestSubmit(); })()`);
      await page.waitFor(`document.querySelector('#explain-result pre')`, 'an explanation');
      const text = await page.evaluate<string>(`document.getElementById('explain-result').innerText`);
      assert.match(text, /Answer\s+200/);
      assert.match(text, /Virtual host\s+shop\.localhost/);
      assert.match(text, /Route\s+Prefix \/api \(Ingress demo\/shop/);
      assert.match(text, /Backend\s+demo\/api:8080/);
      assert.match(text, /not secure\.localhost: different name/);
      await shot('explain');
    });

    await t.test('traffic: live request and 5xx rates per route', async () => {
      const stop = trafficLoop(run);
      try {
        await open(page, run.web, 'traffic');
        const row = (route: string, cell: number): string =>
          `[...document.querySelectorAll('#page-traffic tbody tr')].find((tr) => tr.cells[0].innerText === ${JSON.stringify(route)})?.cells[${cell}].innerText`;
        // Rates are differences between two polls of /metrics (every 2 s) while traffic flows.
        await page.waitFor(`(${row('whoami.localhost / Prefix', 1)} ?? '0/s') !== '0/s'`, 'a request rate for whoami.localhost / Prefix', 30_000);
        await page.waitFor(`(${row('ghost.localhost / Prefix', 2)} ?? '0/s') !== '0/s'`, 'a 5xx rate for ghost.localhost / Prefix', 30_000);
        await page.waitFor(`(${row('shop.localhost /api Prefix', 1)} ?? '0/s') !== '0/s'`, 'a request rate for shop.localhost /api Prefix', 30_000);
        const text = await sectionText(page, 'traffic');
        assert.match(text, /ghost\.localhost \/ Prefix\s+[\d.]+\/s\s+[\d.]+\/s\s+100\.0 %/);
        await shot('traffic');
        // The Routers page shows the same live rates next to each route.
        await open(page, run.web, 'routers');
        await page.waitFor(`document.querySelector('#page-routers tbody').innerText.includes('5xx')`, 'live rates on the Routers page', 10_000);
        await shot('routers-live');
      } finally {
        await stop();
      }
    });

    assert.deepEqual(page.errors, [], 'the dashboard threw or logged errors in the browser');
  });
}
