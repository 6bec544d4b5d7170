/* Reading issued certificates: validity, names, and the ARI certificate identifier. */

import { X509Certificate } from 'node:crypto';
import { AuthorityKeyIdentifierExtension, X509Certificate as PeculiarCertificate } from '@peculiar/x509';
import { defined } from '../shared/optional.ts';

/** What the manager needs from a leaf certificate. */
export interface LeafInfo {
  readonly notBefore: string;
  readonly notAfter: string;
  /** DNS names of the subjectAltName extension, lower-case. */
  readonly names: readonly string[];
  /** `base64url(AKI keyIdentifier).base64url(serial)` (RFC 9773), when the leaf has an AKI. */
  readonly ariId?: string;
}

/** The first certificate of a PEM chain. */
export function firstPem(chainPem: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(chainPem);
  if (m === null) throw new Error('no PEM certificate found');
  return m[0];
}

/** The serial number as the DER INTEGER's content octets (a leading zero when the high bit is set). */
function serialBytes(hex: string): Buffer {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  const b = Buffer.from(even, 'hex');
  return (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/** Reads the leaf of a PEM chain; throws when it is not a certificate. */
export function readLeaf(chainPem: string): LeafInfo {
  const pem = firstPem(chainPem);
  const x = new X509Certificate(pem);
  const names = (x.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  let ariId: string | undefined;
  try {
    const aki = new PeculiarCertificate(pem).getExtension(AuthorityKeyIdentifierExtension);
    if (aki?.keyId !== undefined) {
      ariId = `${Buffer.from(aki.keyId, 'hex').toString('base64url')}.${serialBytes(x.serialNumber).toString('base64url')}`;
    }
  } catch {
    // No usable AKI: no ARI for this certificate.
  }
  return {
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    names,
    ...defined({ ariId }),
  };
}

/** notBefore/notAfter of a PEM chain's leaf, or undefined when unreadable. */
export function certDates(chainPem: string): { notBefore: string; notAfter: string } | undefined {
  try {
    const { notBefore, notAfter } = readLeaf(chainPem);
    return { notBefore, notAfter };
  } catch {
    return undefined;
  }
}
