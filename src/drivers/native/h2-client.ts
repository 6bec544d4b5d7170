/*
 * HTTP/2 connections to one endpoint (backend-protocol GRPC: h2c with prior knowledge; GRPCS: h2
 * over TLS, the pod's certificate not verified, as ingress-nginx). One session per endpoint and
 * connect timeout carries every stream (HTTP/2 multiplexes them); a new one is opened when it
 * closes, fails or is told to go away, and an idle one is closed after the keep-alive time.
 */

import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';

/** The error code of a connection not established within its connect timeout. */
export const CONNECT_TIMEOUT = 'ERR_UPSTREAM_CONNECT_TIMEOUT';

/** An error whose code says the connection could not be opened in time. */
export function connectTimeoutError(ms: number): Error {
  return Object.assign(new Error(`upstream connect timeout (${ms} ms)`), { code: CONNECT_TIMEOUT });
}

interface Entry {
  readonly session: ClientHttp2Session;
  /** Streams open on the session. */
  active: number;
}

/** The HTTP/2 session of one endpoint for one protocol and connect timeout. */
export class H2Client {
  readonly #origin: string;
  readonly #tls: boolean;
  readonly #connectTimeoutMs: number;
  readonly #idleMs: number;
  #entry: Entry | undefined;
  readonly #all = new Set<ClientHttp2Session>();
  #closed = false;

  /** `authority` is `host:port` (IPv6 in brackets). */
  constructor(authority: string, tls: boolean, connectTimeoutMs: number, idleMs: number) {
    this.#origin = `${tls ? 'https' : 'http'}://${authority}`;
    this.#tls = tls;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#idleMs = idleMs;
  }

  /**
   * A session to send a stream on, opened when there is none usable; the caller calls `done` once
   * its stream is closed (a session is closed idle only without streams).
   */
  session(): { readonly session: ClientHttp2Session; readonly done: () => void } {
    if (this.#closed) throw Object.assign(new Error('upstream closed'), { code: 'ERR_HTTP2_INVALID_SESSION' });
    let entry = this.#entry;
    if (entry === undefined || entry.session.closed || entry.session.destroyed) entry = this.#open();
    entry.active++;
    const e = entry;
    let counted = true;
    return {
      session: e.session,
      done: () => {
        if (!counted) return;
        counted = false;
        e.active--;
      },
    };
  }

  #open(): Entry {
    const ms = this.#connectTimeoutMs;
    const session = connect(this.#origin, this.#tls ? { rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: '' } : {});
    const entry: Entry = { session, active: 0 };
    this.#entry = entry;
    this.#all.add(session);
    const forget = (): void => {
      if (this.#entry === entry) this.#entry = undefined;
    };
    const timer = setTimeout(() => session.destroy(connectTimeoutError(ms)), ms);
    session.once('connect', () => clearTimeout(timer));
    // Stream errors say what failed; the session's own error event must not go unheard.
    session.on('error', forget);
    session.once('goaway', forget);
    session.once('close', () => {
      clearTimeout(timer);
      forget();
      this.#all.delete(session);
    });
    session.setTimeout(this.#idleMs, () => {
      if (entry.active === 0) {
        forget();
        session.close();
      }
    });
    return entry;
  }

  /** Closes the sessions once their streams are done. */
  close(): Promise<void> {
    this.#closed = true;
    this.#entry = undefined;
    const closing = [...this.#all].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', () => resolve());
          s.close();
        }),
    );
    return Promise.all(closing).then(() => undefined);
  }

  /** Destroys the sessions at once. */
  destroy(): void {
    this.#closed = true;
    this.#entry = undefined;
    for (const s of this.#all) s.destroy();
    this.#all.clear();
  }
}
