/*
 * The DNS names a listener certificate covers (its leaf's subjectAltName), as model certificate hosts:
 * a listener without hostname serves its certificate for every name, and the SNI tables of the three
 * modes select a certificate by name; its own names are those a verifying client accepts it for.
 */

import { X509Certificate } from 'node:crypto';
import { compareText } from '../object.ts';

const LEAF = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** An exact name or a `*.domain` wildcard of `[a-z0-9-]` labels (what a model certificate host may be). */
function isModelHost(name: string): boolean {
  const plain = name.startsWith('*.') ? name.slice(2) : name;
  return plain.length > 0 && plain.length <= 253 && plain.split('.').every((l) => LABEL.test(l));
}

/**
 * The DNS names of the leaf of a PEM chain usable as certificate hosts (lower-case, sorted, no
 * duplicates); none when the leaf cannot be read. A bare `*` or an IP address is left out.
 */
export function certificateNames(chainPem: string): string[] {
  const leaf = LEAF.exec(chainPem)?.[0];
  if (leaf === undefined) return [];
  let san: string | undefined;
  try {
    san = new X509Certificate(leaf).subjectAltName;
  } catch {
    return [];
  }
  const names = (san ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase())
    .filter(isModelHost);
  return [...new Set(names)].sort(compareText);
}
