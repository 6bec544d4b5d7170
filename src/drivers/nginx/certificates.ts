/*
 * nginx reads a certificate named by a variable at each handshake, not when it loads: `nginx -t`
 * no longer catches one that does not load, so the driver checks each pair before nginx serves it.
 */

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Chain certificates (intermediates) that parsed, by their PEM text: thousands of chains share a few. */
const parsedChain = new Set<string>();

const END_LINE_WITH_TEXT = /-----END [A-Z0-9 ]+-----[ \t]*[^\s]/;

/** Why a PEM chain and key would not load in a TLS handshake, or undefined when they would. */
export function certificateProblem(certPem: string, keyPem: string): string | undefined {
  // Node reads past text after an END line; OpenSSL (nginx) refuses it ("bad end line").
  if (END_LINE_WITH_TEXT.test(certPem) || END_LINE_WITH_TEXT.test(keyPem)) return 'a PEM END line has text after it';
  try {
    const blocks = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) return 'it holds no PEM certificate';
    const leaf = new X509Certificate(blocks[0]!);
    for (const b of blocks.slice(1)) {
      if (parsedChain.has(b)) continue;
      new X509Certificate(b);
      if (parsedChain.size >= 1000) parsedChain.clear();
      parsedChain.add(b);
    }
    const key = createPrivateKey(keyPem);
    if (!leaf.checkPrivateKey(key)) return 'its private key does not match the certificate';
    return undefined;
  } catch (err) {
    return `it does not load (${(err as Error).message})`;
  }
}

/** A certificate and key in PEM. */
export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Pairs being checked beside this thread; see {@link CertificateChecker.start}. */
export interface PendingChecks {
  /**
   * The answer for a pair when it is known; undefined (no problem) as a guess for a pair still being
   * checked, which {@link settle} verifies.
   */
  readonly check: (certPem: string, keyPem: string) => string | undefined;
  /**
   * Waits until every pair is checked, this thread taking the chunks no worker has taken yet:
   * true when every guess `check` gave was right, false when one had a problem.
   */
  settle(): Promise<boolean>;
}

/** {@link certificateProblem} with a memory; see {@link certificateChecker}. */
export interface CertificateChecker {
  (certPem: string, keyPem: string): string | undefined;
  /**
   * Starts checking the pairs not known yet on worker threads when there are many (the first
   * configuration of 10,000 TLS hosts), so that a rendering can go on meanwhile.
   */
  start(pairs: readonly PemPair[]): PendingChecks;
  /** Checks the pairs not known yet (on worker threads and this one when many), so that the calls that follow find them. */
  prefetch(pairs: readonly PemPair[]): Promise<void>;
}

/** What a certificate worker receives: every pair, and the counter from which it claims chunks of them. */
export interface CheckShare {
  readonly pairs: readonly (readonly [string, string])[];
  /** An Int32 at 0: the index of the next chunk not claimed. */
  readonly next: SharedArrayBuffer;
  readonly chunk: number;
}

/** Below this many unknown pairs, starting threads costs more than it saves. */
const PARALLEL_FROM = 500;
/** Pairs claimed at once (~5 ms of checks): small enough to share the tail evenly. */
const CHUNK = 64;
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './certificate-worker.ts' : './certificate-worker.js', import.meta.url);

/** Answers by index of the pairs given to {@link checkShared}: `answered[i]` is 1 once `results[i]` is. */
interface SharedChecks {
  readonly results: (string | undefined)[];
  readonly answered: Uint8Array;
  settle(): Promise<void>;
}

/**
 * Checks `pairs` on `workers` worker threads and, once {@link PendingChecks.settle} is called, on this
 * thread too: each takes chunks from a shared counter. A worker that fails leaves its chunks to this thread.
 */
function checkShared(pairs: readonly PemPair[], workers: number, checkHere: typeof certificateProblem): SharedChecks {
  const results: (string | undefined)[] = new Array<string | undefined>(pairs.length);
  const answered = new Uint8Array(pairs.length);
  const next = new SharedArrayBuffer(4);
  const claim = new Int32Array(next);
  const share: CheckShare = { pairs: pairs.map((p) => [p.certPem, p.keyPem] as const), next, chunk: CHUNK };
  const exited = Array.from({ length: workers }, () => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_URL, { workerData: share, execArgv: [] });
    } catch {
      return Promise.resolve();
    }
    worker.on('message', ({ start, problems }: { start: number; problems: (string | null)[] }) => {
      problems.forEach((p, i) => {
        results[start + i] = p ?? undefined;
        answered[start + i] = 1;
      });
    });
    // A worker that fails (no memory for a thread) is left out: what it claimed is not answered and is checked here.
    worker.on('error', () => undefined);
    return new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  });
  const settle = async (): Promise<void> => {
    for (let start = Atomics.add(claim, 0, CHUNK); start < pairs.length; start = Atomics.add(claim, 0, CHUNK)) {
      for (let i = start; i < Math.min(start + CHUNK, pairs.length); i++) {
        results[i] = checkHere(pairs[i]!.certPem, pairs[i]!.keyPem);
        answered[i] = 1;
      }
      // The workers' answers are read between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(exited);
    for (let i = 0; i < pairs.length; i++) if (answered[i] === 0) results[i] = checkHere(pairs[i]!.certPem, pairs[i]!.keyPem);
  };
  return { results, answered, settle };
}

/**
 * {@link certificateProblem}, remembered by content digest (a change re-checks only new pairs);
 * pairs not asked for by the last `keep` calls' worth of entries are forgotten. `checkHere` checks
 * a pair on this thread (tests count its calls).
 */
export function certificateChecker(keep = 20_000, checkHere = certificateProblem): CertificateChecker {
  let known = new Map<string, string | undefined>();
  const digestOf = (certPem: string, keyPem: string): string => createHash('sha256').update(certPem).update('\0').update(keyPem).digest('base64');
  const remember = (digest: string, problem: string | undefined): void => {
    if (known.size >= keep) known = new Map();
    known.set(digest, problem);
  };
  const check = (certPem: string, keyPem: string): string | undefined => {
    const digest = digestOf(certPem, keyPem);
    if (known.has(digest)) return known.get(digest);
    const problem = checkHere(certPem, keyPem);
    remember(digest, problem);
    return problem;
  };
  const start = (pairs: readonly PemPair[]): PendingChecks => {
    const unknown = new Map<string, PemPair>();
    for (const p of pairs) {
      const digest = digestOf(p.certPem, p.keyPem);
      if (!known.has(digest)) unknown.set(digest, p);
    }
    const threads = Math.min(availableParallelism(), 4);
    // Few pairs: checked here when the rendering asks for them.
    if (unknown.size < PARALLEL_FROM || threads < 2) return { check, settle: () => Promise.resolve(true) };
    const digests = [...unknown.keys()];
    const pending = [...unknown.values()];
    // This thread renders and writes meanwhile: one thread fewer than the cores.
    const shared = checkShared(pending, threads - 1, checkHere);
    // By the texts themselves (V8 keeps a string's hash): the rendering asks with the model's strings, no second digest.
    const index = new Map<string, Map<string, number>>();
    pending.forEach((p, i) => {
      let byKey = index.get(p.certPem);
      if (byKey === undefined) index.set(p.certPem, (byKey = new Map()));
      byKey.set(p.keyPem, i);
    });
    const guesses = new Set<number>();
    let settled: Promise<boolean> | undefined;
    const settle = (): Promise<boolean> =>
      (settled ??= shared.settle().then(() => {
        digests.forEach((digest, i) => remember(digest, shared.results[i]));
        return [...guesses].every((i) => shared.results[i] === undefined);
      }));
    const checkPending = (certPem: string, keyPem: string): string | undefined => {
      const i = index.get(certPem)?.get(keyPem);
      if (i === undefined) return check(certPem, keyPem);
      if (shared.answered[i] === 1) return shared.results[i];
      guesses.add(i);
      return undefined;
    };
    return { check: checkPending, settle };
  };
  const prefetch = async (pairs: readonly PemPair[]): Promise<void> => {
    await start(pairs).settle();
  };
  return Object.assign(check, { start, prefetch });
}
