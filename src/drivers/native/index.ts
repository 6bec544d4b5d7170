import { createSecureContext } from 'node:tls';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import type { SecureContext } from 'node:tls';
import type { Certificate, EntryPoint, RoutingModel } from '../../model/types.ts';
import { formatAddress } from '../../model/describe.ts';
import { PassError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import { defined } from '../../shared/optional.ts';
import { SerialQueue } from '../../shared/serial.ts';
import type { AcmeChallengeHook, EndpointLiveState, ProxyDriver, RequestObserver } from '../types.ts';
import { Listener } from './listeners.ts';
import type { ListenerHandlers } from './listeners.ts';
import { DEFAULT_AUTH_TIMEOUT_MS } from './external-auth.ts';
import { BasicAuthCache } from './middlewares.ts';
import { handleRequest } from './proxy.ts';
import type { AsyncAcmeChallengeHook, ProxyState } from './proxy.ts';
import { Router, upstreamKeys } from './router.ts';
import { CertificateCompiler, generateDefaultCertificate } from './tls.ts';
import type { CertificateTable, KeyPair } from './tls.ts';
import { UpstreamRegistry } from './upstream.ts';
import { handleUpgrade } from './websocket.ts';
import { LimitTable } from './limit-table.ts';

export type { KeyPair } from './tls.ts';

/** Options of the native proxy driver. */
export interface NativeDriverOptions {
  /** Upstream connect timeout (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Time to wait for the upstream's response headers, and between body chunks (default 60 s). */
  readonly readTimeoutMs?: number;
  /** Idle upstream keep-alive connections are closed after this (default 4 s). */
  readonly upstreamKeepAliveMs?: number;
  /** Maximum connections per endpoint (default unbounded). */
  readonly connectionsPerEndpoint?: number;
  /** How long a route's external authentication request may take in all, else 500 (default 15 s). */
  readonly authTimeoutMs?: number;
  /** Add an RFC 7239 `Forwarded` element besides X-Forwarded-* (default false). */
  readonly forwardedHeader?: boolean;
  /** How long listeners removed by `apply` may finish their requests (default 10 s). */
  readonly removedListenerGraceMs?: number;
  readonly logger?: Logger;
  /** Called once per finished request, the answers the proxy gives itself (4xx, 502/503/504) included. */
  readonly observe?: RequestObserver;
  /** Answers `/.well-known/acme-challenge/TOKEN` on every entry point, before redirect and auth. */
  readonly acmeChallenge?: AcmeChallengeHook | AsyncAcmeChallengeHook;
  /**
   * Bind listeners with SO_REUSEPORT, so that several drivers (the worker threads of
   * `[proxy] workers`) listen on the same addresses; the kernel spreads connections among them.
   */
  readonly reusePort?: boolean;
  /** Where route limits count (`limits.rps`, `limits.connections`): the worker threads of `[proxy] workers` share one; a new one otherwise. */
  readonly limitTable?: SharedArrayBuffer;
  /** Certificate for unknown SNI names; generated (self-signed, in memory) when absent. */
  readonly defaultCertificate?: KeyPair;
  /**
   * Called during a TLS handshake whose SNI name only the default certificate would serve (onDemand
   * ACME): the handshake waits for it (at most `unknownServerNameTimeoutMs`), then the certificate is
   * selected again, so a certificate it added with {@link NativeDriver.addCertificate} is served at
   * once. Resolving false (or failing, or timing out) serves the default certificate.
   */
  readonly onUnknownServerName?: (name: string) => Promise<boolean>;
  /** How long a handshake waits for `onUnknownServerName` (default 30 s). */
  readonly unknownServerNameTimeoutMs?: number;
  /**
   * TLS-ALPN-01 (RFC 8737): the challenge certificate for a handshake that offers ALPN `acme-tls/1`
   * for `serverName`, or undefined when no challenge is pending for it (the default certificate is
   * then served). When set, TLS listeners select ALPN themselves (`acme-tls/1`, else h2, else
   * http/1.1) and close an `acme-tls/1` connection right after its handshake.
   */
  readonly acmeTlsAlpn?: AcmeTlsAlpnHook;
}

/** The TLS-ALPN-01 challenge certificate for a server name, or undefined; see {@link NativeDriverOptions.acmeTlsAlpn}. */
export type AcmeTlsAlpnHook = (serverName: string) => KeyPair | Promise<KeyPair | undefined> | undefined;

const SNI_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

const EMPTY_MODEL: RoutingModel = { entryPoints: [], virtualHosts: [], backends: {}, certificates: [], diagnostics: [] };

/** The native driver: a Node.js reverse proxy serving the model from memory. */
export class NativeDriver implements ProxyDriver {
  readonly name = 'native';
  /** Every apply swaps in a new router (see {@link ProxyDriver.lastApply}). */
  readonly lastApply = 'swap' as const;
  readonly #options: NativeDriverOptions;
  readonly #logger: Logger;
  readonly #limits: LimitTable;
  readonly #upstreams: UpstreamRegistry;
  readonly #state: ProxyState;
  readonly #listeners = new Map<string, Listener>();
  readonly #draining = new Set<Promise<void>>();
  #certs: CertificateTable | undefined;
  #compiler: CertificateCompiler | undefined;
  readonly #queue = new SerialQueue();
  #stopped = false;

  constructor(options: NativeDriverOptions = {}) {
    this.#options = options;
    this.#limits = new LimitTable(options.limitTable);
    this.#logger = (options.logger ?? silentLogger).child({ driver: 'native' });
    this.#upstreams = new UpstreamRegistry(
      {
        connectTimeoutMs: options.connectTimeoutMs ?? 5000,
        readTimeoutMs: options.readTimeoutMs ?? 60_000,
        keepAliveTimeoutMs: options.upstreamKeepAliveMs ?? 4000,
        connectionsPerEndpoint: options.connectionsPerEndpoint,
      },
      this.#logger,
    );
    this.#state = {
      router: new Router(EMPTY_MODEL, this.#upstreams, this.#limits),
      forwardedHeader: options.forwardedHeader ?? false,
      acmeChallenge: options.acmeChallenge,
      authCache: new BasicAuthCache(),
      logger: this.#logger,
      observe: options.observe,
      // Auth services are verified (unlike pods): their answers grant access.
      authDispatcher: new Agent({ connectTimeout: options.connectTimeoutMs ?? 5000, keepAliveTimeout: options.upstreamKeepAliveMs ?? 4000 }),
      authTimeoutMs: options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    };
    this.#handlers = {
      request: (listener, req, res) => {
        this.#requests++;
        handleRequest(this.#state, listener, req, res);
      },
      upgrade: (listener, req, socket, head) => handleUpgrade(this.#state, listener, req, socket, head, this.#options.connectTimeoutMs ?? 5000),
      selectCertificate: (name) => this.#selectCertificate(name),
      ...defined({ selectChallengeCertificate: options.acmeTlsAlpn === undefined ? undefined : (name: string) => this.#selectChallengeCertificate(name) }),
    };
  }

  readonly #handlers: ListenerHandlers;
  #requests = 0;

  /** Requests received so far (HTTP/1.1 requests and HTTP/2 streams; upgrades excluded): a debugging counter. */
  get requestCount(): number {
    return this.#requests;
  }

  /** Challenge certificates by PEM (a validation makes a few handshakes with the same one). */
  readonly #challengeContexts = new Map<string, SecureContext>();

  #selectChallengeCertificate(serverName: string): SecureContext | Promise<SecureContext> {
    const fallback = (): SecureContext => {
      this.#logger.debug({ serverName }, 'acme-tls/1 handshake for a name without a pending TLS-ALPN-01 challenge: default certificate');
      return this.#certs!.defaultContext;
    };
    const toContext = (pair: KeyPair | undefined): SecureContext => {
      if (pair === undefined) return fallback();
      let ctx = this.#challengeContexts.get(pair.certPem);
      if (ctx === undefined) {
        ctx = createSecureContext({ cert: pair.certPem, key: pair.keyPem });
        if (this.#challengeContexts.size >= 64) this.#challengeContexts.clear();
        this.#challengeContexts.set(pair.certPem, ctx);
      }
      this.#logger.debug({ serverName }, 'answering a TLS-ALPN-01 validation handshake');
      return ctx;
    };
    const found = this.#options.acmeTlsAlpn?.(serverName.toLowerCase().replace(/\.$/, ''));
    return found instanceof Promise ? found.then(toContext) : toContext(found);
  }

  #selectCertificate(serverName: string): SecureContext | Promise<SecureContext> {
    const table = this.#certs!;
    const found = table.lookup(serverName);
    if (found !== undefined) return found;
    const hook = this.#options.onUnknownServerName;
    const name = serverName.toLowerCase().replace(/\.$/, '');
    if (hook === undefined || this.#stopped || name.length > 253 || !SNI_NAME.test(name)) return table.defaultContext;
    const timeoutMs = this.#options.unknownServerNameTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const asked = hook(name).catch((err: unknown) => {
      this.#logger.warn({ err, serverName: name }, 'onUnknownServerName failed; serving the default certificate');
      return false;
    });
    return Promise.race([asked, timeout]).then(() => {
      clearTimeout(timer);
      // Selected again whatever the answer: a certificate may have arrived meanwhile (e.g. an apply).
      return this.#certs!.select(name);
    });
  }

  /**
   * Serves `cert` from now on, without waiting for the next {@link apply}: its SecureContext is
   * compiled into the current certificate table for the exact names no certificate of the table
   * names yet (a certificate of the model keeps its names). It stays in every later table until a
   * model contains a certificate with the same id. Used for onDemand certificates, which the
   * handshake that asked for them cannot wait a re-sync for.
   */
  addCertificate(cert: Certificate): boolean {
    if (this.#compiler === undefined || this.#certs === undefined) return false;
    const ctx = this.#compiler.context(cert);
    if (ctx === undefined) return false;
    this.#added.set(cert.id, cert);
    this.#certs = this.#certs.withExact(cert.hosts, ctx);
    this.#logger.info({ certificate: cert.id, hosts: cert.hosts }, 'certificate added to the live table');
    return true;
  }

  readonly #added = new Map<string, Certificate>();

  /** Compiles the model and swaps it in; listeners are opened or closed by address. Applies run one at a time. */
  apply(model: RoutingModel): Promise<void> {
    return this.#queue.run(() => this.#apply(model));
  }

  async #apply(model: RoutingModel): Promise<void> {
    if (this.#stopped) throw new PassError('PASS_DRIVER_STOPPED', 'the native driver is stopped');
    const previous = this.#state.router;
    let defaultPair: KeyPair | undefined;
    if (this.#compiler === undefined && model.entryPoints.some((e) => e.tls)) {
      defaultPair = this.#options.defaultCertificate ?? (await generateDefaultCertificate());
      this.#compiler = new CertificateCompiler(defaultPair, this.#logger);
      this.#defaultPair = defaultPair;
    }
    const router = new Router(model, this.#upstreams, this.#limits);
    // Certificates added between applies stay until the model serves them itself (after its own).
    for (const c of model.certificates) this.#added.delete(c.id);
    const compiledAdded = new Set(this.#added.keys());
    const certs = this.#compiler?.compile(this.#added.size === 0 ? model.certificates : [...model.certificates, ...this.#added.values()]);

    const opened: Listener[] = [];
    let opening: EntryPoint | undefined;
    try {
      for (const [key, cep] of router.entryPoints) {
        const open = this.#listeners.get(key);
        if (open !== undefined) {
          open.configure(cep.entryPoint);
          continue;
        }
        opening = cep.entryPoint;
        opened.push(await Listener.open(key, cep.entryPoint, router, this.#handlers, this.#defaultPair, this.#options.reusePort ?? false));
      }
    } catch (err) {
      for (const l of opened) void l.close(0);
      this.#upstreams.retain(upstreamKeys(previous));
      throw new PassError('PASS_NATIVE_LISTEN', `cannot listen${opening === undefined ? '' : ` for entry point ${opening.name} on ${formatAddress(opening.address)}`}: ${listenCause(err)}`, {
        cause: err,
        ...defined({ field: opening === undefined ? undefined : `entryPoints.${opening.name}.address` }),
      });
    }

    // The swap: requests already routed keep their router; every new one sees this one.
    if (certs !== undefined) {
      let table = certs;
      // Added while this apply opened listeners.
      for (const [id, c] of this.#added) {
        if (compiledAdded.has(id)) continue;
        const ctx = this.#compiler?.context(c);
        if (ctx !== undefined) table = table.withExact(c.hosts, ctx);
      }
      this.#certs = table;
    }
    this.#state.router = router;
    for (const l of opened) this.#listeners.set(l.context.key, l);

    for (const [key, l] of this.#listeners) {
      if (router.entryPoints.has(key)) continue;
      this.#listeners.delete(key);
      this.#track(l.close(this.#options.removedListenerGraceMs ?? 10_000));
    }
    this.#upstreams.retain(upstreamKeys(router));
    this.#applied = true;
    this.#logger.info(
      { entryPoints: router.entryPoints.size, virtualHosts: model.virtualHosts.length, backends: router.backends.size },
      'native proxy configuration applied',
    );
  }

  #defaultPair: KeyPair | undefined;
  #applied = false;

  /** Readiness: a configuration was applied and the server of every entry point listens. */
  probe(): Promise<boolean> {
    if (this.#stopped || !this.#applied) return Promise.resolve(false);
    const listening = [...this.#state.router.entryPoints.keys()].every((key) => this.#listeners.get(key)?.server.listening === true);
    return Promise.resolve(listening);
  }

  /**
   * The upstream pools' view of every endpoint served: `down` after a failed connection until the
   * picker retries it, `up` once it answered; endpoints not contacted yet are left out. Keys as
   * `endpointKey` (drivers/types.ts) writes them.
   */
  endpointStates(): Promise<ReadonlyMap<string, EndpointLiveState>> {
    const states = new Map<string, EndpointLiveState>();
    for (const [id, backend] of this.#state.router.backends) {
      for (const u of backend.upstreams) {
        const live = u.liveState();
        // The upstream key is `host:port` with IPv6 in brackets, as endpointKey writes it.
        if (live !== undefined) states.set(`${id} ${u.key}`, live);
      }
    }
    return Promise.resolve(states);
  }

  #track(p: Promise<void>): void {
    this.#draining.add(p);
    void p.finally(() => this.#draining.delete(p));
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs` (default 10 s), then closes everything. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    await this.#queue.idle();
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all([...listeners.map((l) => l.close(graceMs)), ...this.#draining]);
    await Promise.all([this.#upstreams.close(Math.min(graceMs, 1000)), closeDispatcher(this.#state.authDispatcher, Math.min(graceMs, 1000))]);
  }
}

/** Closes a dispatcher, destroying it after `graceMs`. */
async function closeDispatcher(d: Dispatcher, graceMs: number): Promise<void> {
  const timer = setTimeout(() => void d.destroy().catch(() => undefined), graceMs);
  try {
    await d.close();
  } catch {
    // Destroyed at the deadline.
  } finally {
    clearTimeout(timer);
  }
}

/** Why a listener could not be opened, in words (the errno code kept). */
function listenCause(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EADDRINUSE':
      return 'the address is already in use (EADDRINUSE: another process listens there)';
    case 'EADDRNOTAVAIL':
      return 'the address is not one of this host (EADDRNOTAVAIL)';
    case 'EACCES':
      return 'permission denied (EACCES: ports below 1024 need root or CAP_NET_BIND_SERVICE)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name does not resolve (${code})`;
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** Creates the native proxy driver; nothing listens until the first `apply`. */
export function createNativeDriver(options: NativeDriverOptions = {}): NativeDriver {
  return new NativeDriver(options);
}
