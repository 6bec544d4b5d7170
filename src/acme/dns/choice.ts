/*
 * Which challenge proves a certificate's names: pure, so `passerelle check` shows the same choice
 * the manager makes. Wildcards can only be proved over DNS-01; other names use it when it is the
 * configured challenge or when the DNS provider's zone covers them.
 */

import type { ChallengeType } from '../types.ts';

/** A challenge type, DNS-01 included (answered by a DNS provider, not by the proxy). */
export type AnyChallenge = ChallengeType | 'dns-01';

/** What the configuration offers. */
export interface ChallengeConfig {
  /** `[acme] challenge`. */
  readonly challenge: AnyChallenge;
  /** The DNS provider's name, when `[acme.dnsChallenge]` sets one. */
  readonly dnsProvider?: string;
  /** The zone the provider is configured for, when it says (RFC 2136 `zone`). */
  readonly dnsZone?: string;
}

/** The challenge types of a certificate, in order of preference, and why; `types` empty: it cannot be ordered. */
export interface ChallengeChoice {
  readonly types: readonly AnyChallenge[];
  readonly why: string;
}

const inZone = (name: string, zone: string): boolean => {
  const z = zone.toLowerCase().replace(/\.$/, '');
  const n = name.toLowerCase().replace(/^\*\./, '');
  return n === z || n.endsWith(`.${z}`);
};

/** The challenge for a certificate of `names`. */
export function chooseChallenge(names: readonly string[], config: ChallengeConfig): ChallengeChoice {
  const wildcard = names.find((n) => n.startsWith('*.'));
  if (config.dnsProvider === undefined) {
    if (wildcard !== undefined) return { types: [], why: `${wildcard} is a wildcard: only DNS-01 proves it, and [acme.dnsChallenge] sets no provider` };
    if (config.challenge === 'dns-01') return { types: [], why: 'challenge = "dns-01" but [acme.dnsChallenge] sets no provider' };
  } else {
    if (wildcard !== undefined) return { types: ['dns-01'], why: `${wildcard} is a wildcard (DNS-01 through ${config.dnsProvider})` };
    if (config.challenge === 'dns-01') return { types: ['dns-01'], why: `challenge = "dns-01" (through ${config.dnsProvider})` };
    const zone = config.dnsZone;
    if (zone !== undefined && names.length > 0 && names.every((n) => inZone(n, zone))) return { types: ['dns-01'], why: `in zone ${zone} of the ${config.dnsProvider} provider` };
  }
  if (config.challenge === 'tls-alpn-01') return { types: ['tls-alpn-01', 'http-01'], why: 'challenge = "tls-alpn-01" (HTTP-01 when the CA does not offer it)' };
  return { types: ['http-01'], why: 'challenge = "http-01"' };
}

/** One line for `check` and the dashboard: `dns-01 (why)`, or `none (why)` when the names cannot be ordered. */
export function describeChoice(choice: ChallengeChoice): string {
  return `${choice.types[0] ?? 'none'} (${choice.why})`;
}
