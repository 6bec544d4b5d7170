// Checks certificate pairs for certificateChecker's start (src/drivers/nginx/certificates.ts), off the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { certificateProblem } from './certificates.ts';
import type { CheckShare } from './certificates.ts';

const { pairs, next, chunk } = workerData as CheckShare;
const claim = new Int32Array(next);
// Chunks are claimed from a counter shared with the main thread, which takes chunks too once it waits.
for (let start = Atomics.add(claim, 0, chunk); start < pairs.length; start = Atomics.add(claim, 0, chunk)) {
  // null, not undefined: the answer crosses threads by structured clone inside an array.
  const problems = pairs.slice(start, start + chunk).map(([certPem, keyPem]) => certificateProblem(certPem, keyPem) ?? null);
  parentPort?.postMessage({ start, problems });
}
