/*
 * How the Kubernetes source rides out the control plane, without an apiserver: the classification
 * of failures and the retry delays (retry.ts), start()'s verdict after its retry bound, and an
 * informer and a source driven by a scripted client (connection refused for a while, 403 while the
 * RBAC caches of a new apiserver sync, an accepted watch, a dropped connection).
 */

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../src/config/load.ts';
import { PassDiagnosticsError, PassError } from '../../src/shared/errors.ts';
import type { Logger } from '../../src/shared/logger.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import { KubeApiError, KubeClient, loadKubeConfig, parseRetryAfter, type RequestOptions, type WatchEvent, type WatchOptions } from '../../src/sources/kubernetes/client.ts';
import { ENDPOINT_SLICE, INGRESS, INGRESS_CLASS, Informer, SERVICE } from '../../src/sources/kubernetes/informer.ts';
import {
  DEFAULT_BACKOFF,
  classifyFailure,
  describeFailure,
  formatDuration,
  rbacResource,
  retriedBeforeSync,
  retryDelayMs,
  startupVerdict,
  type FailureKind,
  type RetriedFailure,
} from '../../src/sources/kubernetes/retry.ts';
import { KubernetesSource } from '../../src/sources/kubernetes/source.ts';

const refusedConn = (): KubeApiError => new KubeApiError(0, 'GET /x: connect ECONNREFUSED 127.0.0.1:6443', undefined);
const status = (code: number, retryAfterMs?: number): KubeApiError => new KubeApiError(code, `GET /x: HTTP ${code}`, undefined, undefined, retryAfterMs);

describe('failure classification', () => {
  const cases: [unknown, FailureKind][] = [
    [refusedConn(), 'unreachable'],
    [new KubeApiError(0, 'watch /x: nothing received for 150000 ms', 'Timeout'), 'unreachable'],
    [status(401), 'refused'],
    [status(403), 'refused'],
    [status(429), 'throttled'],
    [status(408), 'unavailable'],
    [status(500), 'unavailable'],
    [status(503), 'unavailable'],
    [status(504), 'unavailable'],
    [status(400), 'rejected'],
    [status(404), 'rejected'],
    [status(422), 'rejected'],
    [new Error('a handler threw'), 'unavailable'],
  ];
  for (const [err, kind] of cases) {
    test(`${err instanceof KubeApiError ? `HTTP ${err.status}${err.reason ? ` ${err.reason}` : ''}` : 'a plain Error'} is ${kind}`, () => {
      assert.equal(classifyFailure(err), kind);
    });
  }

  test('before the first sync, everything a restarting apiserver answers is retried; a rejected request is not', () => {
    for (const kind of ['unreachable', 'refused', 'throttled', 'unavailable'] as const) assert.equal(retriedBeforeSync(kind), true, kind);
    assert.equal(retriedBeforeSync('rejected'), false);
  });

  test('the log line says what the apiserver did, not what the RBAC is', () => {
    assert.equal(`${describeFailure('refused', status(403))}; retrying`, 'the apiserver refused (HTTP 403); retrying');
    assert.equal(describeFailure('unreachable', refusedConn()), 'the apiserver is unreachable');
    assert.equal(describeFailure('throttled', status(429)), 'the apiserver is throttling (HTTP 429)');
    assert.equal(describeFailure('unavailable', status(503)), 'the apiserver failed (HTTP 503)');
  });

  test('RBAC resource names', () => {
    assert.equal(rbacResource(SERVICE), 'services');
    assert.equal(rbacResource(ENDPOINT_SLICE), 'endpointslices.discovery.k8s.io');
    assert.equal(rbacResource(INGRESS_CLASS), 'ingressclasses.networking.k8s.io');
  });
});

describe('retry delays', () => {
  const low = (): number => 0;
  const high = (): number => 0.999_999;

  test('the first retry of any run is short: 250 ms ± 20 %', () => {
    for (const kind of ['unreachable', 'refused', 'throttled', 'unavailable', 'rejected'] as const) {
      assert.equal(retryDelayMs(kind, 1, DEFAULT_BACKOFF, undefined, low), 200, kind);
      assert.ok(retryDelayMs(kind, 1, DEFAULT_BACKOFF, undefined, high) <= 300, kind);
    }
  });

  test('an unreachable apiserver is retried at least every 1.2 s however long it has been down', () => {
    assert.equal(retryDelayMs('unreachable', 2, DEFAULT_BACKOFF, undefined, low), 400);
    for (const n of [3, 5, 10, 100, 10_000]) assert.ok(retryDelayMs('unreachable', n, DEFAULT_BACKOFF, undefined, high) <= 1200, String(n));
  });

  test('HTTP failures back off exponentially up to 10 s (± 20 %)', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelayMs('refused', n, DEFAULT_BACKOFF, undefined, () => 0.5));
    assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    assert.ok(retryDelayMs('unavailable', 50, DEFAULT_BACKOFF, undefined, high) <= 12_000);
  });

  test('Retry-After of a 429 or 503 is a floor (capped at 60 s); other statuses ignore it', () => {
    assert.equal(retryDelayMs('throttled', 1, DEFAULT_BACKOFF, 1000, low), 1000);
    assert.ok(retryDelayMs('throttled', 1, DEFAULT_BACKOFF, 1000, high) <= 1200);
    assert.equal(retryDelayMs('unavailable', 1, DEFAULT_BACKOFF, 3000, low), 3000);
    assert.equal(retryDelayMs('throttled', 1, DEFAULT_BACKOFF, 3_600_000, low), 60_000);
    // A long run's backoff is longer than the advice: the backoff wins.
    assert.equal(retryDelayMs('throttled', 6, DEFAULT_BACKOFF, 1000, () => 0.5), 8000);
    assert.equal(retryDelayMs('refused', 1, DEFAULT_BACKOFF, 5000, low), 200);
  });

  test('Retry-After: delay-seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter(' 120 ', now), 120_000);
    assert.equal(parseRetryAfter(['2', '9'], now), 2000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-1', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('durations in messages', () => {
    assert.equal(formatDuration(750), '750 ms');
    assert.equal(formatDuration(1500), '1.5 s');
    assert.equal(formatDuration(60_000), '60 s');
    assert.equal(formatDuration(120_000), '2 min');
  });
});

describe("start()'s verdict", () => {
  const now = 1_000_000;
  const failure = (kind: FailureKind, error: Error, verb: 'list' | 'watch' = 'list', forMs = 5000): RetriedFailure => ({ error, kind, verb, count: 3, since: now - forMs });

  test('refused, within the bound: keep retrying', () => {
    assert.equal(startupVerdict([{ type: SERVICE, namespace: undefined, failure: failure('refused', status(403)) }], 119_000, 120_000, now), undefined);
  });

  test('refused until the bound: PASS_KUBE_FORBIDDEN naming the bound, the verb and the resource', () => {
    const err = startupVerdict(
      [
        { type: ENDPOINT_SLICE, namespace: undefined, failure: failure('refused', status(403), 'list', 120_000) },
        { type: INGRESS, namespace: 'web', failure: undefined },
      ],
      120_000,
      120_000,
      now,
    );
    assert.ok(err instanceof PassError);
    assert.equal(err.code, 'PASS_KUBE_FORBIDDEN');
    assert.equal(err.field, 'kubernetes.startupRetry');
    assert.match(err.message, /kept refusing access for 2 min after start/);
    assert.match(err.message, /list endpointslices\.discovery\.k8s\.io in all namespaces \(refused for 2 min\): GET \/x: HTTP 403/);
    assert.match(err.message, /may list endpointslices\.discovery\.k8s\.io \(deploy\/base\/rbac\.yaml\)/);
  });

  test('unreachable until the bound: PASS_KUBE_SYNC, not an RBAC verdict', () => {
    const err = startupVerdict([{ type: INGRESS, namespace: 'web', failure: failure('unreachable', refusedConn()) }, { type: SERVICE, namespace: 'web', failure: undefined }], 60_000, 60_000, now);
    assert.equal(err?.code, 'PASS_KUBE_SYNC');
    assert.match(err?.message ?? '', /could not be listed within 60 s .*Ingress in namespace web: GET \/x: connect ECONNREFUSED.*Service in namespace web: no answer yet/);
  });

  test('a rejected request fails at once', () => {
    const err = startupVerdict([{ type: INGRESS, namespace: undefined, failure: failure('rejected', status(400), 'list', 10) }], 10, 120_000, now);
    assert.equal(err?.code, 'PASS_KUBE_API');
    assert.match(err?.message ?? '', /rejected the list of ingresses\.networking\.k8s\.io in all namespaces/);
  });

  test('nothing pending: no verdict', () => {
    assert.equal(startupVerdict([], 1e9, 1000, now), undefined);
  });
});

describe('[kubernetes] startupRetry', () => {
  test('default 2 min; a duration; at least 1 s', () => {
    assert.equal(parseConfig('', '/etc/passerelle/p.toml').kubernetes.startupRetry, 120_000);
    assert.equal(parseConfig('[kubernetes]\nstartupRetry = "30s"', '/etc/passerelle/p.toml').kubernetes.startupRetry, 30_000);
    assert.throws(
      () => parseConfig('[kubernetes]\nstartupRetry = "500ms"', '/etc/passerelle/p.toml'),
      (err: unknown) => err instanceof PassDiagnosticsError && err.diagnostics.some((d) => d.code === 'PASS_CONFIG_BAD_DURATION' && d.field === 'kubernetes.startupRetry'),
    );
  });
});

// ---- a scripted apiserver ------------------------------------------------------------------------

interface Line {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

function recorder(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const push = (level: string) => (obj: object, msg?: string) => lines.push({ level, msg: msg ?? '', fields: { ...bindings, ...obj } });
    return { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error'), child: (b) => make({ ...bindings, ...b }) };
  };
  return Object.assign(make({}), { lines });
}

/** What the scripted apiserver does with a list (n: the how-manieth list of that path, from 0). */
type ListScript = (path: string, n: number) => Promise<unknown>;
/** What it does with a watch: resolve (server ended it), reject, or call onOpen and stream. */
type WatchScript = (path: string, n: number, onEvent: (e: WatchEvent) => void, options: WatchOptions) => Promise<void>;

/** A KubeClient whose requests are answered by scripts, not by a server. */
class ScriptedClient extends KubeClient {
  readonly #lists = new Map<string, number>();
  readonly #watches = new Map<string, number>();
  readonly #list: ListScript;
  readonly #watch: WatchScript;

  constructor(kubeconfig: string, list: ListScript, watch: WatchScript) {
    super(loadKubeConfig({ kubeconfig }));
    this.#list = list;
    this.#watch = watch;
  }

  override async request<T = unknown>(method: string, path: string, _options: RequestOptions = {}): Promise<T> {
    assert.equal(method, 'GET');
    const n = this.#lists.get(path) ?? 0;
    this.#lists.set(path, n + 1);
    return (await this.#list(path, n)) as T;
  }

  override async watch(path: string, onEvent: (event: WatchEvent) => void, options: WatchOptions): Promise<void> {
    const n = this.#watches.get(path) ?? 0;
    this.#watches.set(path, n + 1);
    return this.#watch(path, n, onEvent, options);
  }
}

const emptyList = async (): Promise<unknown> => ({ metadata: { resourceVersion: '10' }, items: [] as KubeObject[] });

/** A watch that is accepted and then stays open until aborted. */
function hang(options: WatchOptions): Promise<void> {
  options.onOpen?.();
  return new Promise((_resolve, reject) => {
    const signal = options.signal;
    if (signal?.aborted) reject(new KubeApiError(0, 'aborted', undefined));
    signal?.addEventListener('abort', () => reject(new KubeApiError(0, 'aborted', undefined)), { once: true });
  });
}

const bookmark = (rv: string): WatchEvent => ({ type: 'BOOKMARK', object: { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: rv } } });

/** The failures an informer logged: their run length and the delay it chose. */
const retries = (log: { lines: Line[] }): { kind: string; failures: number; retryInMs: number }[] =>
  log.lines.filter((l) => l.msg.endsWith('; retrying')).map((l) => ({ kind: l.msg.replace(/; retrying$/, ''), failures: Number(l.fields['failures']), retryInMs: Number(l.fields['retryInMs']) }));

describe('an informer after an outage (scripted apiserver)', () => {
  let dir: string;
  let kubeconfig: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passerelle-kube-retry-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n',
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Short delays, the same shape as the defaults (cap of an unreachable apiserver 4× the first delay).
  const fast = { initialBackoffMs: 5, maxBackoffMs: 400, maxUnreachableBackoffMs: 20 } as const;

  test('an accepted watch resets the backoff: one dropped connection after an outage is retried after the shortest delay', async () => {
    let dropped = 0;
    const log = recorder();
    const client = new ScriptedClient(kubeconfig, emptyList, async (_path, n, onEvent, options) => {
      // Watches 0-7: the apiserver is down. Watch 8: accepted, a bookmark, then the connection is reset.
      if (n < 8) throw refusedConn();
      if (n === 8) {
        options.onOpen?.();
        onEvent(bookmark('11'));
        await sleep(5);
        dropped = Date.now();
        throw new KubeApiError(0, 'watch /x: read ECONNRESET', undefined);
      }
      return hang(options);
    });
    const informer = new Informer({ client, type: SERVICE, logger: log, ...fast });
    informer.start();
    await informer.synced;
    const deadline = Date.now() + 10_000;
    while (informer.stats.watches < 10 && Date.now() < deadline) await sleep(5);
    await informer.stop();
    const r = retries(log);
    assert.equal(r.length, 9, JSON.stringify(r));
    assert.deepEqual(r.slice(0, 8).map((x) => x.failures), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(r.slice(2, 8).every((x) => x.retryInMs <= 24), 'an unreachable apiserver is retried at the short cap');
    const last = r[8];
    assert.equal(last?.failures, 1, 'the drop starts a new run');
    assert.ok((last?.retryInMs ?? Infinity) <= 6, `first retry after the drop: ${last?.retryInMs} ms`);
    assert.equal(informer.stats.recoveries, 2, 'after the outage, and after the drop');
    assert.equal(informer.failure, undefined, 'the next accepted watch cleared the failure');
    assert.ok(dropped > 0);
    assert.ok(log.lines.some((l) => l.level === 'info' && l.msg === 'watch accepted again: the apiserver answers' && l.fields['failures'] === 8));
  });

  test('a new kind of failure starts a new run: the 403s after a refused connection are retried quickly', async () => {
    const log = recorder();
    const client = new ScriptedClient(
      kubeconfig,
      async (_path, n) => {
        if (n < 6) throw refusedConn();
        if (n < 8) throw status(403);
        return emptyList();
      },
      async (_path, _n, _onEvent, options) => hang(options),
    );
    const informer = new Informer({ client, type: SERVICE, logger: log, ...fast });
    informer.start();
    await informer.synced;
    await informer.stop();
    const r = retries(log);
    assert.deepEqual(r.map((x) => [x.kind, x.failures]), [
      ...[1, 2, 3, 4, 5, 6].map((n) => ['the apiserver is unreachable', n]),
      ['the apiserver refused (HTTP 403)', 1],
      ['the apiserver refused (HTTP 403)', 2],
    ]);
    assert.ok((r[6]?.retryInMs ?? Infinity) <= 6);
    const warned = log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.deepEqual(warned, ['the apiserver is unreachable; retrying', 'the apiserver refused (HTTP 403); retrying'], 'one warning per run (the rest are debug)');
  });

  test('a watch accepted and dropped at once, with nothing in it, does not reset the backoff (a flapping proxy)', async () => {
    const log = recorder();
    const client = new ScriptedClient(kubeconfig, emptyList, async (_path, n, _onEvent, options) => {
      if (n < 4) throw refusedConn();
      if (n < 6) {
        options.onOpen?.();
        throw new KubeApiError(0, 'watch /x: socket hang up', undefined);
      }
      return hang(options);
    });
    const informer = new Informer({ client, type: SERVICE, logger: log, ...fast });
    informer.start();
    const deadline = Date.now() + 10_000;
    while (informer.stats.watches < 7 && Date.now() < deadline) await sleep(5);
    await informer.stop();
    assert.deepEqual(retries(log).map((x) => x.failures), [1, 2, 3, 4, 5, 6]);
  });

  test('429 with Retry-After: the advice is followed', async () => {
    const log = recorder();
    const client = new ScriptedClient(
      kubeconfig,
      async (_path, n) => {
        if (n === 0) throw status(429, 300);
        return emptyList();
      },
      async (_path, _n, _onEvent, options) => hang(options),
    );
    const informer = new Informer({ client, type: SERVICE, logger: log, ...fast });
    const started = Date.now();
    informer.start();
    await informer.synced;
    const took = Date.now() - started;
    await informer.stop();
    assert.ok(took >= 290, `waited ${took} ms`);
    assert.equal(retries(log)[0]?.kind, 'the apiserver is throttling (HTTP 429)');
  });

  const source = (client: KubeClient, startupRetryMs: number, logger: Logger): KubernetesSource =>
    new KubernetesSource({
      client,
      translate: { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: false },
      readOnly: true,
      startupRetryMs,
      logger,
    });

  test('source: a 403 while the apiserver starts is retried, warned about, and start() succeeds', async () => {
    const log = recorder();
    const since = Date.now();
    const client = new ScriptedClient(
      kubeconfig,
      async () => {
        // Refused for 400 ms: a new apiserver whose RBAC caches have not synced.
        if (Date.now() - since < 400) throw status(403);
        return emptyList();
      },
      async (_path, _n, _onEvent, options) => hang(options),
    );
    const s = source(client, 5000, log);
    await s.start();
    await s.stop();
    assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg === 'the apiserver refused (HTTP 403); retrying'));
    assert.ok(!log.lines.some((l) => l.level === 'error'));
  });

  test('source: refused for longer than startupRetry fails with PASS_KUBE_FORBIDDEN, after the warnings', async () => {
    const log = recorder();
    const client = new ScriptedClient(
      kubeconfig,
      async (p) => {
        if (p.includes('endpointslices')) throw new KubeApiError(403, `GET ${p}: endpointslices.discovery.k8s.io is forbidden`, 'Forbidden');
        return emptyList();
      },
      async (_path, _n, _onEvent, options) => hang(options),
    );
    const s = source(client, 1000, log);
    const started = Date.now();
    await assert.rejects(s.start(), (err: unknown) => {
      assert.ok(err instanceof PassError);
      assert.equal(err.code, 'PASS_KUBE_FORBIDDEN');
      assert.match(err.message, /kept refusing access for 1 s after start.*list endpointslices\.discovery\.k8s\.io in all namespaces/);
      return true;
    });
    assert.ok(Date.now() - started >= 1000, 'not before the bound');
    assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg === 'the apiserver refused (HTTP 403); retrying' && l.fields['informer'] === 'EndpointSlice'));
  });

  test('source: a rejected request (bad label selector) fails at once with PASS_KUBE_API', async () => {
    const client = new ScriptedClient(
      kubeconfig,
      async (p) => {
        if (p.includes('ingresses')) throw new KubeApiError(400, `GET ${p}: unable to parse requirement`, 'BadRequest');
        return emptyList();
      },
      async (_path, _n, _onEvent, options) => hang(options),
    );
    const s = source(client, 60_000, recorder());
    const started = Date.now();
    await assert.rejects(s.start(), (err: unknown) => err instanceof PassError && err.code === 'PASS_KUBE_API' && /rejected the list of ingresses/.test(err.message));
    assert.ok(Date.now() - started < 5000);
  });
});
