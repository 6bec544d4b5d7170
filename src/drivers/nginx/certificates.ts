/*
 * nginx reads a certificate named by a variable at each handshake, not when it loads: `nginx -t`
 * no longer catches one that does not load, so the driver checks each pair before rendering.
 */

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Why a PEM chain and key would not load in a TLS handshake, or undefined when they would. */
export function certificateProblem(certPem: string, keyPem: string): string | undefined {
  try {
    const blocks = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) return 'it holds no PEM certificate';
    const chain = blocks.map((b) => new X509Certificate(b));
    const key = createPrivateKey(keyPem);
    if (!chain[0]!.checkPrivateKey(key)) return 'its private key does not match the certificate';
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

/** {@link certificateProblem} with a memory; see {@link certificateChecker}. */
export interface CertificateChecker {
  (certPem: string, keyPem: string): string | undefined;
  /**
   * Checks the pairs not known yet, on worker threads beside this one when there are many (the
   * first configuration of 10,000 TLS hosts: ~90 µs each), so that the calls that follow find them.
   */
  prefetch(pairs: readonly PemPair[]): Promise<void>;
}

/** Below this many unknown pairs, starting threads costs more than it saves. */
const PARALLEL_FROM = 500;
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './certificate-worker.ts' : './certificate-worker.js', import.meta.url);

/** Checks pairs on one worker thread. */
async function checkOnWorker(pairs: readonly PemPair[]): Promise<(string | undefined)[]> {
  const worker = new Worker(WORKER_URL, { workerData: pairs.map((p) => [p.certPem, p.keyPem]), execArgv: [] });
  try {
    const [problems] = (await once(worker, 'message')) as [(string | null)[]];
    return problems.map((p) => p ?? undefined);
  } finally {
    void worker.terminate();
  }
}

/**
 * {@link certificateProblem}, remembered by content digest (a change re-checks only new pairs);
 * pairs not asked for by the last `keep` calls' worth of entries are forgotten. `checkHere` checks
 * a pair the memory does not have (tests count its calls).
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
  const prefetch = async (pairs: readonly PemPair[]): Promise<void> => {
    const unknown = new Map<string, PemPair>();
    for (const p of pairs) {
      const digest = digestOf(p.certPem, p.keyPem);
      if (!known.has(digest)) unknown.set(digest, p);
    }
    const threads = Math.min(availableParallelism(), 4);
    if (unknown.size < PARALLEL_FROM || threads < 2) return;
    const entries = [...unknown];
    const size = Math.ceil(entries.length / threads);
    const chunks = Array.from({ length: threads }, (_, i) => entries.slice(i * size, (i + 1) * size));
    // This thread takes the last share while the workers start and check the others.
    const pending = chunks.slice(0, -1).map((c) => checkOnWorker(c.map(([, p]) => p)));
    for (const [digest, p] of chunks.at(-1) ?? []) remember(digest, certificateProblem(p.certPem, p.keyPem));
    const results = await Promise.all(pending);
    results.forEach((problems, i) => chunks[i]?.forEach(([digest], j) => remember(digest, problems[j])));
  };
  return Object.assign(check, { prefetch });
}
