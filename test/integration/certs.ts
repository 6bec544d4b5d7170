/* Certificates for the driver tests: a self-signed one per host, and what a TLS handshake gets. */

import { connect as tlsConnect } from 'node:tls';
import { generate } from 'selfsigned';
import type { Certificate } from '../../src/model/types.ts';

/** A self-signed certificate for `host`, its common name `"<host> <id>"`. */
export async function cert(id: string, host: string): Promise<Certificate> {
  const pems = await generate([{ name: 'commonName', value: `${host} ${id}` }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: host }] }] });
  return { id, hosts: [host], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: id.split('/')[1] ?? id } };
}

/** The certificate a handshake with `servername` gets (at `host`, default 127.0.0.1): its common name and SHA-256 fingerprint. */
export function served(port: number, servername: string, host = '127.0.0.1'): Promise<{ cn: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate();
      const cn = peer.subject?.CN ?? '';
      socket.end();
      resolve({ cn: Array.isArray(cn) ? cn.join(',') : cn, fingerprint: peer.fingerprint256 });
    });
    socket.on('error', reject);
  });
}

/** The common name of the certificate a handshake with `servername` gets (at `host`, default 127.0.0.1). */
export async function servedCN(port: number, servername: string, host?: string): Promise<string> {
  return (await served(port, servername, host)).cn;
}
