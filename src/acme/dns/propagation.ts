/*
 * The propagation check of DNS-01: before the CA is told to validate, the TXT value must be seen by
 * the zone's authoritative servers (or by the configured `resolvers`, Traefik 1's option), else the
 * CA may look first and fail the order.
 */

import { Resolver } from 'node:dns/promises';
import type { ChallengeRecord } from './types.ts';
import { DnsProviderError } from './types.ts';

/** Options of {@link waitForRecord}. */
export interface PropagationOptions {
  /** `host[:port]` servers asked for the TXT record; none: the zone's authoritative servers, found through the system resolver. */
  readonly resolvers?: readonly string[];
  /** Waited before the first check (Traefik's `delayBeforeCheck`); default 0. */
  readonly delayBeforeCheckMs?: number;
  /** Given up after (default 120 s). */
  readonly timeoutMs?: number;
  /** Between two checks (default 2 s). */
  readonly intervalMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The authoritative name servers of the zone holding `fqdn`, as `address` strings. */
async function authoritativeServers(fqdn: string): Promise<string[]> {
  const system = new Resolver({ timeout: 3000, tries: 2 });
  const labels = fqdn.replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const zone = labels.slice(i).join('.');
    let names: string[];
    try {
      names = await system.resolveNs(zone);
    } catch {
      continue;
    }
    const addresses = (await Promise.all(names.map(async (n) => [...(await system.resolve4(n).catch(() => [])), ...(await system.resolve6(n).catch(() => []))]))).flat();
    if (addresses.length > 0) return [...new Set(addresses)];
  }
  throw new DnsProviderError(`no authoritative name server found for ${fqdn} through the system resolver; set [acme.dnsChallenge] resolvers`);
}

/** What one server answers for the record: seen, or why not. */
async function sees(server: string, record: ChallengeRecord): Promise<true | string> {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([server]);
  try {
    const txt = await r.resolveTxt(record.fqdn.replace(/\.$/, ''));
    return txt.some((chunks) => chunks.join('') === record.value) ? true : `${server} answers other values`;
  } catch (err) {
    return `${server}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

/**
 * Resolves when every server sees the record's value; throws a {@link DnsProviderError} naming the
 * servers that do not after the timeout.
 */
export async function waitForRecord(record: ChallengeRecord, options: PropagationOptions = {}): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  if ((options.delayBeforeCheckMs ?? 0) > 0) await sleep(options.delayBeforeCheckMs ?? 0);
  const servers = options.resolvers !== undefined && options.resolvers.length > 0 ? [...options.resolvers] : await authoritativeServers(record.fqdn);
  const deadline = now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const answers = await Promise.all(servers.map((s) => sees(s, record)));
    const missing = answers.filter((a): a is string => a !== true);
    if (missing.length === 0) return;
    if (now() >= deadline) throw new DnsProviderError(`the TXT record ${record.fqdn} was not seen in time (${missing.join('; ')})`);
    await sleep(options.intervalMs ?? 2000);
  }
}
