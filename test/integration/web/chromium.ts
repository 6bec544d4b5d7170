/*
 * Headless Chromium (Debian's `chromium`) driven over the DevTools protocol with the `ws` client:
 * open a page, evaluate JavaScript in it, wait for content, take screenshots, and collect what the
 * page threw or logged as an error (a CSP violation, an exception in the dashboard's code).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

/** Fails (never skips) when Chromium is not installed. */
export function requireChromium(): string {
  for (const bin of ['chromium', 'chromium-browser']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.error === undefined && r.status === 0) return bin;
  }
  assert.fail('Chromium is missing: install the Debian package "chromium" (apt-get install -y chromium, or bash scripts/setup-test-deps.sh); the dashboard test needs a real browser');
}

interface CdpMessage {
  readonly id?: number;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly message: string };
  readonly sessionId?: string;
}

/** A page of the browser (one DevTools session). */
export interface Page {
  /** Loads a URL and waits for its load event. */
  goto(url: string): Promise<void>;
  /** Evaluates an expression in the page (promises awaited) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Waits until `expression` is truthy in the page; fails with `what` and the page's text after `timeoutMs`. */
  waitFor(expression: string, what: string, timeoutMs?: number): Promise<void>;
  /** The visible text of the page. */
  text(): Promise<string>;
  /** A PNG of the whole page (not only the viewport). */
  screenshot(file: string): Promise<void>;
  /** Exceptions and console errors seen so far. */
  readonly errors: string[];
}

/** A running headless Chromium. */
export class Chromium {
  readonly #proc: ChildProcess;
  readonly #ws: WebSocket;
  readonly #profile: string;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  readonly #listeners: ((m: CdpMessage) => void)[] = [];

  private constructor(proc: ChildProcess, ws: WebSocket, profile: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#profile = profile;
    ws.on('message', (data: WebSocket.RawData) => {
      const m = JSON.parse(String(data)) as CdpMessage;
      if (m.id !== undefined) {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error.message));
        else p?.resolve(m.result ?? {});
        return;
      }
      for (const l of this.#listeners) l(m);
    });
  }

  /** Starts Chromium headless with a throw-away profile and connects to its DevTools endpoint. */
  static async launch(width = 1280, height = 900): Promise<Chromium> {
    const bin = requireChromium();
    const profile = mkdtempSync(path.join(tmpdir(), 'passerelle-chromium-'));
    const proc = spawn(
      bin,
      [
        '--headless',
        '--no-sandbox', // the tests run as root in a network namespace
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--disable-background-networking',
        '--hide-scrollbars',
        `--window-size=${width},${height}`,
        `--user-data-dir=${profile}`,
        '--remote-debugging-address=127.0.0.1',
        '--remote-debugging-port=0',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`Chromium did not open its DevTools port within 30 s:\n${err}`)), 30_000);
      proc.stderr?.on('data', (chunk: Buffer) => {
        err += String(chunk);
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Chromium exited (${code}) before DevTools was up:\n${err}`));
      });
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Chromium(proc, ws, profile);
  }

  #send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }));
    });
  }

  /** Opens a new tab of the given size. */
  async newPage(width = 1280, height = 900): Promise<Page> {
    const { targetId } = (await this.#send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.#send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const send = (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> => this.#send(method, params, sessionId);
    const errors: string[] = [];
    let loaded: (() => void) | undefined;
    this.#listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Page.loadEventFired') loaded?.();
      if (m.method === 'Runtime.exceptionThrown') {
        const d = m.params?.['exceptionDetails'] as { text?: string; exception?: { description?: string } } | undefined;
        errors.push(`exception: ${d?.exception?.description ?? d?.text ?? 'unknown'}`);
      }
      if (m.method === 'Runtime.consoleAPICalled' && m.params?.['type'] === 'error') errors.push(`console.error: ${JSON.stringify(m.params['args'])}`);
      if (m.method === 'Log.entryAdded') {
        const e = m.params?.['entry'] as { level?: string; text?: string; url?: string } | undefined;
        if (e?.level === 'error') errors.push(`log: ${e.text ?? ''} ${e.url ?? ''}`);
      }
    });
    await send('Page.enable');
    await send('Runtime.enable');
    await send('Log.enable');
    await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });

    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
        result?: { value?: unknown };
        exceptionDetails?: { text?: string; exception?: { description?: string } };
      };
      if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text ?? ''}`);
      return r.result?.value as T;
    };
    const text = (): Promise<string> => evaluate<string>('document.body ? document.body.innerText : ""');
    return {
      errors,
      evaluate,
      text,
      async goto(url: string): Promise<void> {
        const done = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${url} did not load within 30 s`)), 30_000);
          loaded = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        const r = (await send('Page.navigate', { url })) as { errorText?: string; loaderId?: string };
        if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
        // A change of the fragment only is a same-document navigation: no new load event.
        if (r.loaderId === undefined) {
          loaded?.();
          return;
        }
        await done;
      },
      async waitFor(expression: string, what: string, timeoutMs = 15_000): Promise<void> {
        const until = Date.now() + timeoutMs;
        for (;;) {
          if (await evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return;
          if (Date.now() > until) assert.fail(`the page never showed ${what} within ${timeoutMs} ms; it shows:\n${await text().catch(() => '?')}\nerrors: ${errors.join('\n')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async screenshot(file: string): Promise<void> {
        const m = (await send('Page.getLayoutMetrics')) as { cssContentSize?: { width: number; height: number } };
        const h = Math.max(height, Math.ceil(m.cssContentSize?.height ?? height));
        const r = (await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height: h, scale: 1 } })) as { data: string };
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, Buffer.from(r.data, 'base64'));
      },
    };
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      await Promise.race([this.#send('Browser.close'), new Promise((r) => setTimeout(r, 3000))]);
    } catch {
      // already gone
    }
    this.#ws.terminate();
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      const exited = new Promise((r) => this.#proc.once('exit', r));
      this.#proc.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    rmSync(this.#profile, { recursive: true, force: true });
  }
}
