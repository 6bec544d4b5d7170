import type { RoutingModel } from '../../model/types.ts';
import { PassError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';
import type { AcmeChallengeHook, ProxyDriver } from '../types.ts';
import { Listener } from './listeners.ts';
import type { ListenerHandlers } from './listeners.ts';
import { handleRequest } from './proxy.ts';
import type { ProxyState } from './proxy.ts';
import { Router, upstreamKeys } from './router.ts';
import { CertificateCompiler, generateDefaultCertificate } from './tls.ts';
import type { CertificateTable, KeyPair } from './tls.ts';
import { UpstreamRegistry } from './upstream.ts';
import { handleUpgrade } from './websocket.ts';

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
  /** Add an RFC 7239 `Forwarded` element besides X-Forwarded-* (default false). */
  readonly forwardedHeader?: boolean;
  /** How long listeners removed by `apply` may finish their requests (default 10 s). */
  readonly removedListenerGraceMs?: number;
  readonly logger?: Logger;
  /** Answers `/.well-known/acme-challenge/TOKEN` on every entry point, before redirect and auth. */
  readonly acmeChallenge?: AcmeChallengeHook;
  /** Certificate for unknown SNI names; generated (self-signed, in memory) when absent. */
  readonly defaultCertificate?: KeyPair;
}

const EMPTY_MODEL: RoutingModel = { entryPoints: [], virtualHosts: [], backends: {}, certificates: [], diagnostics: [] };

/** The native driver: a Node.js reverse proxy serving the model from memory. */
export class NativeDriver implements ProxyDriver {
  readonly name = 'native';
  readonly #options: NativeDriverOptions;
  readonly #logger: Logger;
  readonly #upstreams: UpstreamRegistry;
  readonly #state: ProxyState;
  readonly #listeners = new Map<string, Listener>();
  readonly #draining = new Set<Promise<void>>();
  #certs: CertificateTable | undefined;
  #compiler: CertificateCompiler | undefined;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: NativeDriverOptions = {}) {
    this.#options = options;
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
      router: new Router(EMPTY_MODEL, this.#upstreams),
      forwardedHeader: options.forwardedHeader ?? false,
      acmeChallenge: options.acmeChallenge,
      logger: this.#logger,
    };
  }

  readonly #handlers: ListenerHandlers = {
    request: (listener, req, res) => handleRequest(this.#state, listener, req, res),
    upgrade: (listener, req, socket, head) => handleUpgrade(this.#state, listener, req, socket, head, this.#options.connectTimeoutMs ?? 5000),
    selectCertificate: (name) => this.#certs!.select(name),
  };

  /** Compiles the model and swaps it in; listeners are opened or closed by address. Applies run one at a time. */
  apply(model: RoutingModel): Promise<void> {
    const run = this.#queue.then(() => this.#apply(model));
    this.#queue = run.catch(() => undefined);
    return run;
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
    const router = new Router(model, this.#upstreams);
    const certs = this.#compiler?.compile(model.certificates);

    const opened: Listener[] = [];
    try {
      for (const [key, cep] of router.entryPoints) {
        if (this.#listeners.has(key)) continue;
        opened.push(await Listener.open(key, cep.entryPoint, router, this.#handlers, this.#defaultPair));
      }
    } catch (err) {
      for (const l of opened) void l.close(0);
      this.#upstreams.retain(upstreamKeys(previous));
      throw new PassError('PASS_NATIVE_LISTEN', `cannot listen: ${(err as Error).message}`, { cause: err });
    }

    // The swap: requests already routed keep their router; every new one sees this one.
    if (certs !== undefined) this.#certs = certs;
    this.#state.router = router;
    for (const l of opened) this.#listeners.set(l.context.key, l);

    for (const [key, l] of this.#listeners) {
      if (router.entryPoints.has(key)) continue;
      this.#listeners.delete(key);
      this.#track(l.close(this.#options.removedListenerGraceMs ?? 10_000));
    }
    this.#upstreams.retain(upstreamKeys(router));
    this.#logger.info(
      { entryPoints: router.entryPoints.size, virtualHosts: model.virtualHosts.length, backends: router.backends.size },
      'native proxy configuration applied',
    );
  }

  #defaultPair: KeyPair | undefined;

  #track(p: Promise<void>): void {
    this.#draining.add(p);
    void p.finally(() => this.#draining.delete(p));
  }

  /** Stops accepting, lets in-flight requests finish for up to `graceMs` (default 10 s), then closes everything. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    await this.#queue;
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all([...listeners.map((l) => l.close(graceMs)), ...this.#draining]);
    await this.#upstreams.close(Math.min(graceMs, 1000));
  }
}

/** Creates the native proxy driver; nothing listens until the first `apply`. */
export function createNativeDriver(options: NativeDriverOptions = {}): NativeDriver {
  return new NativeDriver(options);
}
