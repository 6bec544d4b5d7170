/*
 * ACME protocol IO over acme-client: the account (created once, reused), orders (placed, resumed,
 * finalized), HTTP-01 through the token store, ACME Renewal Information, and CA problems turned
 * into a plain-language cause.
 */

import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { Authorization, Order } from 'acme-client';
import { PassError } from '../shared/errors.ts';
import { defined } from '../shared/optional.ts';
import type { AcmeChallenges } from './challenges.ts';
import type { AnyChallenge } from './dns/choice.ts';
import { solveDns01 } from './dns/solver.ts';
import type { DnsSolver } from './dns/solver.ts';
import { challengeRecord, DnsProviderError } from './dns/types.ts';
import type { AccountRecord, AcmeProblem, ChallengeType, RenewalWindow } from './types.ts';

/** Options of {@link AcmeClient}. */
export interface AcmeClientOptions {
  /** The CA's directory URL (`caServer`). */
  readonly directoryUrl: string;
  readonly email?: string;
  /**
   * `acceptTermsOfService`: a CA with terms refuses accounts that do not agree to them. True (the
   * default, as Traefik, Caddy and cert-manager do): they are agreed on the user's behalf and their
   * URL is reported through `onTermsAgreed`; false: the account is refused before asking the CA.
   */
  readonly termsAccepted: boolean;
  /** Told the URL of the CA's terms when an account is created agreeing to them (to log it). */
  readonly onTermsAgreed?: (url: string) => void;
  readonly eab?: { readonly kid: string; readonly hmacKey: string };
  /** Extra PEM roots trusted for the CA's HTTPS (Pebble serves its own certificate). */
  readonly caBundlePem?: string;
  /** Status polling: attempts, first and largest delay (default 12, 500 ms, 5 s). */
  readonly pollAttempts?: number;
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
  /** Retries of one HTTP request on 5xx or a network error, 1 s apart times the attempt (default 2). */
  readonly httpRetries?: number;
}

/** Progress of an order, for the caller to persist. */
export interface OrderEvents {
  /** The order exists at the CA: record it before going on (a crash then resumes it). */
  created(orderUrl: string): Promise<void>;
}

/** An issued certificate. */
export interface IssuedChain {
  readonly certPem: string;
  readonly orderUrl: string;
}

/** An ACME failure with the CA's problem document when there was one. */
export class AcmeOrderError extends PassError {
  readonly problem: AcmeProblem;
  /** The order cannot go on: forget it and place a new one next time. */
  readonly orderDead: boolean;

  constructor(problem: AcmeProblem, orderDead: boolean, cause?: unknown) {
    super('PASS_ACME_ORDER_FAILED', `${problem.detail} (${problem.cause})`, defined({ cause }));
    this.problem = problem;
    this.orderDead = orderDead;
  }
}

const extraRoots = new Set<string>();

/**
 * acme-client sends every request through one shared axios instance: the trust store (system roots
 * plus every caBundle seen) and the retry policy are set on it, for the whole process.
 */
function configureHttp(caBundlePem: string | undefined, retries: number): void {
  const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
  settings.retryMaxAttempts = retries;
  settings.retryDefaultDelay = 1;
  acme.axios.defaults.timeout = 30_000;
  if (caBundlePem === undefined || extraRoots.has(caBundlePem)) return;
  extraRoots.add(caBundlePem);
  acme.axios.defaults.httpsAgent = new Agent({ keepAlive: true, ca: [...rootCertificates, ...extraRoots] });
}

/** A plain-language cause for a CA problem or a transport error; `challenge`: the challenge type that failed. */
export function explainProblem(type: string | undefined, detail: string, stage: 'account' | 'order' | 'challenge' | 'finalize' | 'network', challenge?: AnyChallenge): string {
  const d = detail.toLowerCase();
  const t = (type ?? '').replace('urn:ietf:params:acme:error:', '');
  if (stage === 'challenge' && challenge === 'dns-01') {
    if (t === 'unauthorized' || t === 'incorrectResponse' || d.includes('txt')) {
      return 'the CA did not find the expected TXT record at _acme-challenge: check that the DNS provider writes to the zone the CA resolves (its public name servers), and delayBeforeCheck when the zone has several servers';
    }
    if (t === 'dns' || d.includes('servfail') || d.includes('nxdomain')) return 'DNS: the CA could not look up the _acme-challenge TXT record of the name';
  }
  if (stage === 'challenge' && challenge === 'tls-alpn-01') {
    if (t === 'dns' || d.includes('nxdomain') || d.includes('dns problem') || d.includes('servfail')) {
      return 'DNS: the name does not resolve (or not to this proxy) from the CA; check its A/AAAA records';
    }
    if (t === 'connection' || t === 'tls' || d.includes('connection refused') || d.includes('timeout') || d.includes('connection reset') || d.includes('handshake')) {
      return 'the CA could not complete a TLS handshake offering acme-tls/1 with the name on port 443: check that it resolves to this proxy, that the TLS entry point is reachable, and that nothing in front of Passerelle terminates TLS';
    }
    if (t === 'unauthorized' || t === 'incorrectResponse' || d.includes('acmeidentifier') || d.includes('alpn') || d.includes('certificate')) {
      return 'the challenge certificate was not the expected one: something in front of Passerelle terminates TLS (TLS-ALPN-01 needs Passerelle to see the handshake), or another server answers the name on port 443';
    }
  }
  if (stage === 'network' || /econnrefused|enotfound|etimedout|econnreset|socket hang up|self[- ]signed|unable to verify|certificate/.test(d) && stage !== 'challenge') {
    return 'the CA cannot be reached: check caServer, the network, and caBundle when the CA uses a private certificate';
  }
  if (t === 'rateLimited' || d.includes('rate limit') || d.includes('too many')) return "the CA's rate limit was hit: orders for this name wait";
  if (t === 'rejectedIdentifier' || d.includes('policy forbids') || d.includes('blocked')) return 'the CA refuses to issue for this name (its policy or blocklist)';
  if (t === 'externalAccountRequired' || d.includes('external account')) return 'the CA needs an external account binding: set [acme.eab] kid and hmacKey';
  if (t === 'userActionRequired' || d.includes('terms of service')) return 'the CA wants its terms of service accepted: remove acceptTermsOfService = false from [acme]';
  if (t === 'dns' || d.includes('nxdomain') || d.includes('no valid a records') || d.includes('dns problem') || d.includes('servfail')) {
    return 'DNS: the name does not resolve (or not to this proxy) from the CA; check its A/AAAA records';
  }
  if (/\b30[1278]\b/.test(d) || d.includes('redirect')) {
    return 'the challenge path was redirected: something in front of the proxy redirects /.well-known/acme-challenge/ (Passerelle answers it before any redirect)';
  }
  if (/\b40[13]\b/.test(d)) return 'the challenge path is behind authentication or forbidden: something in front of the proxy does not let /.well-known/acme-challenge/ through';
  if (/\b404\b/.test(d)) return 'the challenge token was not found: the name resolves to another server, or a proxy in front does not forward /.well-known/acme-challenge/ to Passerelle';
  if (t === 'connection' || d.includes('connection refused') || d.includes('timeout') || d.includes('connection reset') || d.includes('fetching')) {
    return 'the CA could not connect to the name on the HTTP port: check that it resolves to this proxy and that port 80 (the http entry point) is reachable';
  }
  if (t === 'unauthorized' || t === 'incorrectResponse' || d.includes('key authorization') || d.includes('did not match')) {
    return 'the challenge answer was wrong: another server (or another ACME client) answers /.well-known/acme-challenge/ for this name';
  }
  if (t === 'badCSR') return 'the CA refused the certificate request';
  if (t === 'orderNotReady') return 'the order was not ready to finalize';
  if (t === 'serverInternal' || /\b5\d\d\b/.test(d)) return 'the CA failed internally: retried later';
  return stage === 'challenge' ? 'the challenge failed' : 'the CA refused the request';
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function problemOf(err: unknown, stage: 'account' | 'order' | 'challenge' | 'finalize', type?: string, challenge?: AnyChallenge): AcmeProblem {
  let detail = errorText(err);
  const code = (err as { code?: unknown }).code;
  // acme-client's retry interceptor ends a request that never got a response with this TypeError.
  const lostResponse = err instanceof TypeError && /reading 'config'/.test(detail);
  if (lostResponse) detail = 'no answer from the CA (connection refused, reset or timed out)';
  const network = lostResponse || (typeof code === 'string' && /^E[A-Z]+|^ERR_/.test(code) && (err as { response?: unknown }).response === undefined);
  return { ...defined({ type }), detail, cause: explainProblem(type, detail, network ? 'network' : stage, challenge), at: new Date().toISOString() };
}

interface ChallengeLike {
  readonly type: string;
  readonly url: string;
  readonly status: string;
  readonly token?: string;
  readonly error?: { readonly type?: string; readonly detail?: string };
}

/** The challenge type of a CA challenge, when it is one Passerelle answers. */
function challengeOf(type: string | undefined): AnyChallenge | undefined {
  return type === 'tls-alpn-01' || type === 'http-01' || type === 'dns-01' ? type : undefined;
}

/** One CA account's protocol client. */
export class AcmeClient {
  readonly #o: AcmeClientOptions;
  #client: acme.Client | undefined;

  constructor(options: AcmeClientOptions) {
    this.#o = options;
    configureHttp(options.caBundlePem, options.httpRetries ?? 2);
  }

  get directoryUrl(): string {
    return this.#o.directoryUrl;
  }

  #make(keyPem: string, accountUrl?: string): acme.Client {
    return new acme.Client({
      directoryUrl: this.#o.directoryUrl,
      accountKey: keyPem,
      ...defined({
        accountUrl,
        externalAccountBinding: this.#o.eab === undefined ? undefined : { kid: this.#o.eab.kid, hmacKey: this.#o.eab.hmacKey },
      }),
      backoffAttempts: this.#o.pollAttempts ?? 12,
      backoffMin: this.#o.pollMinMs ?? 500,
      backoffMax: this.#o.pollMaxMs ?? 5000,
    });
  }

  /**
   * The account: reused when `stored` is for this CA and registered; otherwise a key is made (or
   * kept) and the account created. Returns the record to store.
   */
  async account(stored: AccountRecord | undefined): Promise<AccountRecord> {
    const sameCa = stored !== undefined && stored.caServer === this.#o.directoryUrl;
    if (sameCa && stored.url !== undefined) {
      this.#client = this.#make(stored.keyPem, stored.url);
      return stored;
    }
    const keyPem = sameCa ? stored.keyPem : (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const client = this.#make(keyPem);
    let tos: string | undefined;
    try {
      tos = (await client.getTermsOfServiceUrl()) ?? undefined;
    } catch (err) {
      throw new AcmeOrderError(problemOf(err, 'account'), false, err);
    }
    if (tos !== undefined && tos !== null && !this.#o.termsAccepted) {
      const detail = `the CA at ${this.#o.directoryUrl} has terms of service (${tos}) and acceptTermsOfService = false refuses them`;
      throw new AcmeOrderError({ type: 'urn:ietf:params:acme:error:userActionRequired', detail, cause: 'no account is created: remove acceptTermsOfService = false (or set it to true) in [acme] to agree to them', at: new Date().toISOString() }, false);
    }
    if (tos !== undefined && tos !== null) this.#o.onTermsAgreed?.(tos);
    try {
      await client.createAccount({
        termsOfServiceAgreed: this.#o.termsAccepted,
        ...defined({ contact: this.#o.email === undefined ? undefined : [`mailto:${this.#o.email}`] }),
      });
    } catch (err) {
      throw new AcmeOrderError(problemOf(err, 'account'), false, err);
    }
    this.#client = client;
    return { caServer: this.#o.directoryUrl, keyPem, url: client.getAccountUrl(), ...defined({ email: this.#o.email }) };
  }

  #c(): acme.Client {
    if (this.#client === undefined) throw new PassError('PASS_ACME_ACCOUNT', 'no ACME account yet');
    return this.#client;
  }

  /** Places a new order for `names`; `replaces` (an ARI id) marks it as the renewal of that certificate. */
  async placeOrder(names: readonly string[], replaces?: string): Promise<string> {
    const identifiers = names.map((value) => ({ type: 'dns', value }));
    try {
      const order = await this.#c().createOrder({ identifiers, ...defined({ replaces }) } as { identifiers: typeof identifiers });
      return order.url;
    } catch (err) {
      if (replaces !== undefined) {
        // A CA may refuse `replaces` (already replaced, unknown certificate): order without it.
        const order = await this.#c().createOrder({ identifiers }).catch((e: unknown) => {
          throw new AcmeOrderError(problemOf(e, 'order'), true, e);
        });
        return order.url;
      }
      throw new AcmeOrderError(problemOf(err, 'order'), true, err);
    }
  }

  /**
   * Carries an order to its certificate: answers each authorization with the first type of `types`
   * the CA offers (HTTP-01 and TLS-ALPN-01 through `challenges`, DNS-01 through `dns`), waits for the
   * authorizations, finalizes with a CSR made with `keyPem`, and downloads the chain.
   */
  async completeOrder(orderUrl: string, names: readonly string[], keyPem: string, challenges: AcmeChallenges, types: readonly AnyChallenge[] = ['http-01'], dns?: DnsSolver): Promise<IssuedChain> {
    const client = this.#c();
    let order: Order;
    try {
      order = await client.getOrder({ url: orderUrl } as Order);
    } catch (err) {
      // An order the CA no longer knows (expired, CA restarted) is dead.
      throw new AcmeOrderError(problemOf(err, 'order'), true, err);
    }
    if (order.status === 'invalid') {
      const problem = await this.#authzProblem(order);
      throw new AcmeOrderError(problem ?? problemOf(new Error('the order is invalid'), 'order'), true);
    }
    if (order.status === 'pending') {
      const authzs = await client.getAuthorizations(order).catch((err: unknown) => {
        throw new AcmeOrderError(problemOf(err, 'order'), false, err);
      });
      await Promise.all(authzs.map((a) => this.#authorize(client, a, challenges, types, dns)));
      order = await this.#waitOrder(client, order, ['ready', 'valid', 'processing']);
    }
    if (order.status === 'ready') {
      const [, csr] = await acme.crypto.createCsr({ commonName: names[0] ?? '', altNames: [...names] }, keyPem);
      try {
        order = await client.finalizeOrder(order, csr);
      } catch (err) {
        throw new AcmeOrderError(problemOf(err, 'finalize'), false, err);
      }
    }
    try {
      const certPem = await client.getCertificate(order);
      return { certPem, orderUrl };
    } catch (err) {
      throw new AcmeOrderError(problemOf(err, 'finalize'), false, err);
    }
  }

  async #waitOrder(client: acme.Client, order: Order, until: readonly string[]): Promise<Order> {
    const attempts = this.#o.pollAttempts ?? 12;
    let delay = this.#o.pollMinMs ?? 500;
    for (let i = 0; ; i++) {
      const o = await client.getOrder(order).catch((err: unknown) => {
        throw new AcmeOrderError(problemOf(err, 'order'), false, err);
      });
      if (until.includes(o.status)) return o;
      if (o.status === 'invalid') {
        const problem = await this.#authzProblem(o);
        throw new AcmeOrderError(problem ?? problemOf(new Error('the order became invalid'), 'order'), true);
      }
      if (i >= attempts) throw new AcmeOrderError(problemOf(new Error(`the order stayed ${o.status}`), 'order'), false);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, this.#o.pollMaxMs ?? 5000);
    }
  }

  async #authorize(client: acme.Client, authz: Authorization, challenges: AcmeChallenges, types: readonly AnyChallenge[], dns: DnsSolver | undefined): Promise<void> {
    if (authz.status === 'valid') return;
    const offered = authz.challenges as unknown as readonly ChallengeLike[];
    let chosen: ChallengeLike | undefined;
    for (const t of types) {
      chosen = offered.find((c) => c.type === t && c.token !== undefined);
      if (chosen !== undefined) break;
    }
    const name = authz.identifier.value;
    if (authz.status !== 'pending' || chosen === undefined || chosen.token === undefined) {
      const failed = offered.find((c) => c.error !== undefined);
      const detail = failed?.error?.detail ?? (chosen === undefined ? `the CA offers no ${types.join(' or ')} challenge for ${name}` : `authorization for ${name} is ${authz.status}`);
      throw new AcmeOrderError(problemOf(new Error(detail), 'challenge', failed?.error?.type, challengeOf(failed?.type)), true);
    }
    if (chosen.type === 'dns-01') return this.#authorizeDns(client, authz, chosen, dns);
    const type: ChallengeType = chosen.type === 'tls-alpn-01' ? 'tls-alpn-01' : 'http-01';
    const keyAuthorization = await client.getChallengeKeyAuthorization(chosen as never);
    const own = { type, name: name.toLowerCase(), token: chosen.token, keyAuthorization };
    // Answered (and, with several replicas, published to all of them) before the CA is told to validate.
    await challenges.add(own);
    try {
      await this.#validate(client, authz, chosen, type);
    } finally {
      await challenges.remove(own);
    }
  }

  /** Tells the CA to validate `chosen` and waits for the authorization; a failure carries the CA's problem. */
  async #validate(client: acme.Client, authz: Authorization, chosen: ChallengeLike, type: AnyChallenge): Promise<void> {
    const name = authz.identifier.value;
    if (chosen.status === 'pending') {
      await client.completeChallenge(chosen as never).catch((err: unknown) => {
        throw new AcmeOrderError(problemOf(err, 'challenge', undefined, type), false, err);
      });
    }
    try {
      await client.waitForValidStatus(authz);
    } catch (err) {
      const fresh = await client.getAuthorizations({ authorizations: [authz.url] } as Order).catch(() => [] as Authorization[]);
      const c = (fresh[0]?.challenges as unknown as readonly ChallengeLike[] | undefined)?.find((x) => x.error !== undefined);
      const problem = c?.error ? problemOf(new Error(`${name}: ${c.error.detail ?? 'challenge failed'}`), 'challenge', c.error.type, type) : problemOf(err, 'challenge', undefined, type);
      throw new AcmeOrderError(problem, fresh[0]?.status === 'invalid', err);
    }
  }

  /** DNS-01: the TXT record written by the provider, seen, validated, removed. */
  async #authorizeDns(client: acme.Client, authz: Authorization, chosen: ChallengeLike, dns: DnsSolver | undefined): Promise<void> {
    const name = `${authz.wildcard === true ? '*.' : ''}${authz.identifier.value.toLowerCase()}`;
    if (dns === undefined) throw new AcmeOrderError(problemOf(new Error(`${name}: DNS-01 needs a provider ([acme.dnsChallenge])`), 'challenge', undefined, 'dns-01'), false);
    // For dns-01, acme-client returns the TXT value: base64url(SHA-256(key authorization)).
    const value = await client.getChallengeKeyAuthorization(chosen as never);
    try {
      await solveDns01(dns, challengeRecord(name, value), () => this.#validate(client, authz, chosen, 'dns-01'));
    } catch (err) {
      if (!(err instanceof DnsProviderError)) throw err;
      // The record could not be written or seen: the order stays pending and is resumed after the backoff.
      const problem: AcmeProblem = { detail: `${name}: ${err.message}`, cause: `the DNS-01 record could not be written or seen through ${dns.provider.name}: check its settings and credentials`, at: new Date().toISOString() };
      throw new AcmeOrderError(problem, false, err);
    }
  }

  async #authzProblem(order: Order): Promise<AcmeProblem | undefined> {
    try {
      const authzs = await this.#c().getAuthorizations(order);
      for (const a of authzs) {
        const c = (a.challenges as unknown as readonly ChallengeLike[]).find((x) => x.error !== undefined);
        if (c?.error) return problemOf(new Error(`${a.identifier.value}: ${c.error.detail ?? 'challenge failed'}`), 'challenge', c.error.type, challengeOf(c.type));
      }
    } catch {
      // fall through
    }
    return undefined;
  }

  /** The CA's renewal window for a certificate (RFC 9773), or undefined when the CA has no ARI. */
  async renewalInfo(ariId: string): Promise<RenewalWindow | undefined> {
    const dir = await acme.axios.get<Record<string, unknown>>(this.#o.directoryUrl, { validateStatus: (s) => s === 200 });
    const base = dir.data['renewalInfo'];
    if (typeof base !== 'string') return undefined;
    const res = await acme.axios.get<{ suggestedWindow?: { start?: string; end?: string }; explanationURL?: string }>(`${base.replace(/\/$/, '')}/${ariId}`, {
      validateStatus: (s) => s === 200,
    });
    const w = res.data.suggestedWindow;
    if (w?.start === undefined || w.end === undefined) return undefined;
    const retryAfter = Number(res.headers['retry-after']);
    const next = Date.now() + (Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 24 * 3600) : 6 * 3600) * 1000;
    return {
      start: new Date(w.start).toISOString(),
      end: new Date(w.end).toISOString(),
      nextCheck: new Date(next).toISOString(),
      ...defined({ explanationURL: res.data.explanationURL }),
    };
  }

  /** A new private key for a certificate (ECDSA P-256), PEM. */
  static async newKey(): Promise<string> {
    return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
  }
}
