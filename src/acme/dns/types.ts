/*
 * DNS-01 providers: whatever writes the `_acme-challenge` TXT record of a name. One small interface
 * (present, cleanup) as lego's, so that RFC 2136, exec and the HTTP APIs plug in the same way.
 */

import { PassError } from '../../shared/errors.ts';

/** The TXT record of one DNS-01 challenge. */
export interface ChallengeRecord {
  /** The name being validated, e.g. `*.example.test` or `example.test`. */
  readonly domain: string;
  /** `_acme-challenge.` + the domain without `*.`, fully qualified (trailing dot). */
  readonly fqdn: string;
  /** The key authorization digest (base64url, RFC 8555 8.4). */
  readonly value: string;
}

/** Writes and removes challenge TXT records. */
export interface DnsProvider {
  /** For logs and diagnostics, e.g. `rfc2136`. */
  readonly name: string;
  /** Adds the record (beside any other value at the same name: a wildcard and its apex share it). */
  present(record: ChallengeRecord): Promise<void>;
  /** Removes this value only. */
  cleanup(record: ChallengeRecord): Promise<void>;
}

/** A record that could not be written or removed, with the zone or command and the cause. */
export class DnsProviderError extends PassError {
  constructor(message: string, cause?: unknown) {
    super('PASS_ACME_DNS_PROVIDER', message, cause === undefined ? {} : { cause });
  }
}

const FQDN = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+$/;
const VALUE = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * The record of a challenge for `domain` (wildcards share their apex's name). Throws on a name or
 * value outside the DNS grammar: what reaches a provider's command line or script is only these.
 */
export function challengeRecord(domain: string, value: string): ChallengeRecord {
  const apex = domain.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
  const fqdn = `_acme-challenge.${apex}.`;
  if (!FQDN.test(fqdn) || fqdn.length > 254) throw new DnsProviderError(`"${domain}" is not a DNS name a challenge record can be written for`);
  if (!VALUE.test(value)) throw new DnsProviderError(`the challenge value for ${domain} is not base64url`);
  return { domain, fqdn, value };
}
