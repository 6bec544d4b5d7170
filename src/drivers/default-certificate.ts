import { generate } from 'selfsigned';

/** A PEM certificate and key. */
export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A self-signed certificate for SNI names no configured certificate covers (and clients without SNI). */
export async function generateDefaultCertificate(): Promise<KeyPair> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: 'PASSERELLE DEFAULT CERT' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 3600_000),
    notAfterDate: new Date(now + 365 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'passerelle.invalid' }] },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}
