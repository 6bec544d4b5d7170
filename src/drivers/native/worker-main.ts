/*
 * The entry point of one `[proxy] workers` thread (see workers.ts): a NativeDriver whose listeners
 * bind with SO_REUSEPORT, answering the primary's requests; HTTP-01 tokens, TLS-ALPN-01 challenge
 * certificates and onDemand certificates are asked of the primary, request records and log lines are
 * sent to it.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { deserialize } from 'node:v8';
import { PassError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import type { RoutingModel } from '../../model/types.ts';
import type { RequestRecord } from '../types.ts';
import { NativeDriver } from './index.ts';
import type { KeyPair } from './tls.ts';
import type { DistributiveOmit, WorkerInit, WorkerMessage, WorkerRequest } from './workers.ts';

const port = parentPort;
if (port === null) throw new Error('worker-main.ts runs in a worker thread');
const init = workerData as WorkerInit;

function send(m: WorkerMessage): void {
  try {
    port!.postMessage(m);
  } catch {
    // A log object that cannot be cloned (a socket, ...): its message goes alone.
    if (m.type === 'log') port!.postMessage({ type: 'log', level: m.level, obj: { worker: init.index }, ...defined({ msg: m.msg }) } satisfies WorkerMessage);
  }
}

/** A logger whose lines the primary writes (one log stream for every thread). */
function forwardingLogger(bindings: Record<string, unknown>): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (obj: object, msg?: string): void =>
      send({ type: 'log', level, obj: { ...bindings, ...obj }, ...defined({ msg }) });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => forwardingLogger({ ...bindings, ...b }) };
}

// Records go in batches: one message per request would cost more than the request.
let batch: RequestRecord[] = [];
let flushTimer: NodeJS.Timeout | undefined;
function flush(): void {
  if (flushTimer !== undefined) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (batch.length === 0) return;
  send({ type: 'records', records: batch });
  batch = [];
}
function observe(record: RequestRecord): void {
  batch.push(record);
  if (batch.length >= 256) flush();
  else flushTimer ??= setTimeout(flush, 100);
}

type Ask = Extract<WorkerMessage, { type: 'acme' | 'tls-alpn' | 'server-name' }>;
type AskAnswer = Extract<WorkerRequest, { type: 'acme-answer' | 'tls-alpn-answer' | 'server-name-answer' }>;

/** Questions to the primary awaiting its answer, by id. */
const waiting = new Map<number, (answer: AskAnswer) => void>();
let askNext = 0;

/** Asks the primary; `fallback` when it has not answered within `timeoutMs`. */
function ask<T>(question: DistributiveOmit<Ask, 'id'>, timeoutMs: number, fallback: T, read: (answer: AskAnswer) => T): Promise<T> {
  const id = ++askNext;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      resolve(fallback);
    }, timeoutMs);
    waiting.set(id, (answer) => {
      clearTimeout(timer);
      resolve(read(answer));
    });
    send({ ...question, id } as Ask);
  });
}

function askAcme(token: string): Promise<string | undefined> {
  return ask({ type: 'acme', token }, init.acmeTimeoutMs, undefined, (a) => (a.type === 'acme-answer' ? a.answer : undefined));
}

function askChallengeCertificate(serverName: string): Promise<KeyPair | undefined> {
  return ask({ type: 'tls-alpn', serverName }, init.acmeTimeoutMs, undefined, (a) => (a.type === 'tls-alpn-answer' ? a.pair : undefined));
}

// The driver gives up on its own after unknownServerNameTimeoutMs; the entry is dropped a little later.
function askServerName(serverName: string): Promise<boolean> {
  return ask({ type: 'server-name', serverName }, (init.unknownServerNameTimeoutMs ?? 30_000) + 1000, false, (a) => a.type === 'server-name-answer' && a.served);
}

const driver = new NativeDriver({
  reusePort: true,
  defaultCertificate: init.defaultCertificate,
  limitTable: init.limitTable,
  // The driver adds { driver: 'native' } itself.
  logger: forwardingLogger({ worker: init.index }),
  ...defined({
    connectTimeoutMs: init.connectTimeoutMs,
    readTimeoutMs: init.readTimeoutMs,
    upstreamKeepAliveMs: init.upstreamKeepAliveMs,
    connectionsPerEndpoint: init.connectionsPerEndpoint,
    authTimeoutMs: init.authTimeoutMs,
    forwardedHeader: init.forwardedHeader,
    removedListenerGraceMs: init.removedListenerGraceMs,
    acmeChallenge: init.acme ? askAcme : undefined,
    acmeTlsAlpn: init.tlsAlpn ? askChallengeCertificate : undefined,
    onUnknownServerName: init.onDemand ? askServerName : undefined,
    unknownServerNameTimeoutMs: init.unknownServerNameTimeoutMs,
    observe: init.observe ? observe : undefined,
  }),
});

async function answer(m: WorkerRequest): Promise<unknown> {
  switch (m.type) {
    case 'apply':
      return driver.apply(deserialize(m.model) as RoutingModel);
    case 'probe':
      return driver.probe();
    case 'states':
      return [...(await driver.endpointStates())];
    case 'count':
      return driver.requestCount;
    case 'add-certificate':
      return driver.addCertificate(m.cert);
    case 'stop':
      await driver.stop(m.graceMs);
      flush();
      return undefined;
    case 'acme-answer':
    case 'tls-alpn-answer':
    case 'server-name-answer':
      return undefined;
  }
}

port.on('message', (m: WorkerRequest) => {
  if (m.type === 'acme-answer' || m.type === 'tls-alpn-answer' || m.type === 'server-name-answer') {
    const answered = waiting.get(m.id);
    waiting.delete(m.id);
    answered?.(m);
    return;
  }
  answer(m).then(
    (value) => {
      send({ type: 'reply', id: m.id, value });
      // Stopped: nothing is left to serve; the port closing lets the thread end.
      if (m.type === 'stop') port.close();
    },
    (err: unknown) => {
      const e = err instanceof PassError ? { code: err.code, message: err.message, ...defined({ field: err.field }) } : { code: 'PASS_NATIVE_LISTEN', message: err instanceof Error ? err.message : String(err) };
      send({ type: 'reply', id: m.id, error: e });
    },
  );
});
