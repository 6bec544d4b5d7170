import { createHash } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { normalizeHost } from '../../model/match.ts';
import type { Certificate } from '../../model/types.ts';
import type { Logger } from '../../shared/logger.ts';
import type { KeyPair } from '../default-certificate.ts';

export type { KeyPair } from '../default-certificate.ts';
export { generateDefaultCertificate } from '../default-certificate.ts';

/** Certificates by SNI name: exact names, then one-label wildcards, then the default. */
export class CertificateTable {
  readonly #exact = new Map<string, SecureContext>();
  readonly #wildcard = new Map<string, SecureContext>();
  readonly defaultContext: SecureContext;

  constructor(exact: Map<string, SecureContext>, wildcard: Map<string, SecureContext>, defaultContext: SecureContext) {
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.defaultContext = defaultContext;
  }

  /** The context for a server name (already lower-case or not). */
  select(serverName: string): SecureContext {
    return this.lookup(serverName) ?? this.defaultContext;
  }

  /** The context of a configured certificate for a server name, or undefined when only the default would serve it. */
  lookup(serverName: string): SecureContext | undefined {
    const name = normalizeHost(serverName);
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wild = this.#wildcard.get(name.slice(dot));
      if (wild !== undefined) return wild;
    }
    return undefined;
  }

  /** A copy of this table where `ctx` also serves the exact `hosts` no certificate of this table names. */
  withExact(hosts: readonly string[], ctx: SecureContext): CertificateTable {
    const exact = new Map(this.#exact);
    for (const h of hosts) {
      const name = h.toLowerCase();
      if (!name.startsWith('*.') && !exact.has(name)) exact.set(name, ctx);
    }
    return new CertificateTable(exact, this.#wildcard, this.defaultContext);
  }
}

/** Builds certificate tables, reusing the SecureContext of a certificate whose PEMs did not change. */
export class CertificateCompiler {
  readonly #logger: Logger;
  #cache = new Map<string, SecureContext>();
  readonly #default: SecureContext;

  constructor(defaultPair: KeyPair, logger: Logger) {
    this.#logger = logger;
    this.#default = createSecureContext({ cert: defaultPair.certPem, key: defaultPair.keyPem });
  }

  /** A SecureContext for one certificate outside a table (reused when the same PEMs were compiled); undefined when its PEMs do not load. */
  context(cert: Certificate): SecureContext | undefined {
    const digest = createHash('sha256').update(cert.certPem).update('\0').update(cert.keyPem).digest('base64');
    const cached = this.#cache.get(digest);
    if (cached !== undefined) return cached;
    try {
      return createSecureContext({ cert: cert.certPem, key: cert.keyPem });
    } catch (err) {
      this.#logger.warn({ err, certificate: cert.id }, 'certificate does not load');
      return undefined;
    }
  }

  /** A table for these certificates; a certificate whose PEMs do not load is skipped with a warning. */
  compile(certs: readonly Certificate[]): CertificateTable {
    const next = new Map<string, SecureContext>();
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const cert of certs) {
      const digest = createHash('sha256').update(cert.certPem).update('\0').update(cert.keyPem).digest('base64');
      let ctx = next.get(digest) ?? this.#cache.get(digest);
      if (ctx === undefined) {
        try {
          ctx = createSecureContext({ cert: cert.certPem, key: cert.keyPem });
        } catch (err) {
          this.#logger.warn({ err, certificate: cert.id }, 'certificate does not load; hosts fall back to the default certificate');
          continue;
        }
      }
      next.set(digest, ctx);
      for (const host of cert.hosts) {
        const h = host.toLowerCase();
        // The first certificate naming a host keeps it, as the model lists them in priority order.
        if (h.startsWith('*.')) {
          if (!wildcard.has(h.slice(1))) wildcard.set(h.slice(1), ctx);
        } else if (!exact.has(h)) {
          exact.set(h, ctx);
        }
      }
    }
    this.#cache = next;
    return new CertificateTable(exact, wildcard, this.#default);
  }
}
