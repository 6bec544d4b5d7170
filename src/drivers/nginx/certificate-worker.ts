// Checks certificate pairs for certificateChecker's prefetch (src/drivers/nginx/certificates.ts), off the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { certificateProblem } from './certificates.ts';

const pairs = workerData as [string, string][];
// null, not undefined: the answer crosses threads by structured clone inside an array.
parentPort?.postMessage(pairs.map(([certPem, keyPem]) => certificateProblem(certPem, keyPem) ?? null));
