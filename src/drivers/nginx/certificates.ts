/*
 * nginx reads a certificate named by a variable at each handshake, not when it loads: `nginx -t`
 * no longer catches one that does not load, so the driver checks each pair before rendering.
 */

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';

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

/**
 * {@link certificateProblem}, remembered by content digest (a change re-checks only new pairs);
 * pairs not asked for by the last `keep` calls' worth of entries are forgotten.
 */
export function certificateChecker(keep = 20_000): (certPem: string, keyPem: string) => string | undefined {
  let known = new Map<string, string | undefined>();
  return (certPem, keyPem) => {
    const digest = createHash('sha256').update(certPem).update('\0').update(keyPem).digest('base64');
    if (known.has(digest)) return known.get(digest);
    const problem = certificateProblem(certPem, keyPem);
    if (known.size >= keep) known = new Map();
    known.set(digest, problem);
    return problem;
  };
}
