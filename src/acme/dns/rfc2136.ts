/*
 * RFC 2136 dynamic updates, signed with TSIG (BIND, Knot, PowerDNS, many appliances), sent by BIND's
 * own `nsupdate` (Debian's bind9-dnsutils): its wire format and TSIG are the reference ones. The key
 * goes through its standard input, never its arguments (visible in ps) nor a log.
 */

import { execa } from 'execa';
import type { ChallengeRecord, DnsProvider } from './types.ts';
import { DnsProviderError } from './types.ts';

/** A TSIG key, as `tsig-keygen` prints it. */
export interface TsigKey {
  readonly name: string;
  /** e.g. `hmac-sha256` (nsupdate's names). */
  readonly algorithm: string;
  /** Base64. */
  readonly secret: string;
}

/** Options of {@link Rfc2136Provider}. */
export interface Rfc2136Options {
  /** `host` or `host:port` of the primary server that takes updates (port 53 by default). */
  readonly nameserver: string;
  /** The zone to update; without it, nsupdate asks the server for the SOA of the name. */
  readonly zone?: string;
  readonly tsig?: TsigKey;
  /** TTL of the TXT records (default 60 s). */
  readonly ttlSeconds?: number;
  /** Per update (default 10 s). */
  readonly timeoutMs?: number;
  /** The nsupdate binary (default `nsupdate` on the PATH). */
  readonly command?: string;
}

const KEY_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,253})$/;
const ALGORITHMS = new Set(['hmac-md5', 'hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512']);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ZONE = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.?$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;

/** Splits `host[:port]` (`[v6]:port` for IPv6). */
function splitServer(server: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(server);
  const host = m?.[1]?.replace(/^\[|\]$/g, '') ?? '';
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (m === null || !HOST.test(m[1] ?? '') || port < 1 || port > 65535) throw new DnsProviderError(`rfc2136: nameserver "${server}" is not host or host:port`);
  return { host, port };
}

/** The RFC 2136 provider: see the file comment. */
export class Rfc2136Provider implements DnsProvider {
  readonly name = 'rfc2136';
  readonly #o: Rfc2136Options;
  readonly #server: { host: string; port: number };

  constructor(options: Rfc2136Options) {
    this.#server = splitServer(options.nameserver);
    if (options.zone !== undefined && !ZONE.test(options.zone.toLowerCase())) throw new DnsProviderError(`rfc2136: zone "${options.zone}" is not a DNS name`);
    const k = options.tsig;
    if (k !== undefined) {
      if (!KEY_NAME.test(k.name)) throw new DnsProviderError(`rfc2136: the TSIG key name "${k.name}" is not a DNS name`);
      if (!ALGORITHMS.has(k.algorithm.toLowerCase())) throw new DnsProviderError(`rfc2136: TSIG algorithm "${k.algorithm}" is not one of ${[...ALGORITHMS].join(', ')}`);
      // The secret is never echoed, even in an error.
      if (!BASE64.test(k.secret)) throw new DnsProviderError(`rfc2136: the TSIG secret of key ${k.name} is not base64`);
    }
    this.#o = options;
  }

  present(record: ChallengeRecord): Promise<void> {
    return this.#update(record, `update add ${record.fqdn} ${this.#o.ttlSeconds ?? 60} TXT "${record.value}"`, 'add');
  }

  cleanup(record: ChallengeRecord): Promise<void> {
    return this.#update(record, `update delete ${record.fqdn} TXT "${record.value}"`, 'delete');
  }

  async #update(record: ChallengeRecord, line: string, what: string): Promise<void> {
    const { host, port } = this.#server;
    const k = this.#o.tsig;
    const script = [
      `server ${host} ${port}`,
      ...(this.#o.zone === undefined ? [] : [`zone ${this.#o.zone}`]),
      ...(k === undefined ? [] : [`key ${k.algorithm.toLowerCase()}:${k.name} ${k.secret}`]),
      line,
      'send',
      '',
    ].join('\n');
    const zone = this.#o.zone ?? `the zone of ${record.fqdn}`;
    const timeoutMs = this.#o.timeoutMs ?? 10_000;
    let r;
    try {
      // -v: TCP (an update is never truncated); -t: nsupdate's own timeout, in seconds.
      r = await execa(this.#o.command ?? 'nsupdate', ['-v', '-t', String(Math.max(1, Math.ceil(timeoutMs / 1000)))], { input: script, reject: false, timeout: timeoutMs + 5000, stripFinalNewline: true });
    } catch (err) {
      throw new DnsProviderError(`rfc2136: cannot run nsupdate (Debian package bind9-dnsutils): ${(err as Error).message}`, err);
    }
    if (r.failed || r.exitCode !== 0) {
      const said = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.includes(k?.secret ?? '\u0000'));
      const cause = r.exitCode === undefined && r.code === 'ENOENT' ? 'nsupdate is not installed (Debian package bind9-dnsutils)' : said.join('; ') || `nsupdate exited with ${String(r.exitCode ?? r.signal)}`;
      throw new DnsProviderError(`rfc2136: could not ${what} the TXT record ${record.fqdn} in ${zone} at ${host}:${port}: ${cause}`);
    }
  }
}
