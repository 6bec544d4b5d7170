/*
 * Request mirroring (Gateway API RequestMirror): a copy of a request to other backends, their answers
 * read and discarded. The copy never holds the request back: its body is a tee that is dropped (the
 * copy aborted) when the mirror falls more than MIRROR_BUFFER bytes behind the client.
 */

import { PassThrough, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../shared/logger.ts';
import type { MirrorPolicy } from '../../model/policy.ts';
import { pickUpstream, type CompiledBackend } from './balance.ts';

/** How far (bytes) a copy's body may lag the client before the copy is given up. */
export const MIRROR_BUFFER = 1024 * 1024;

/**
 * The backends a request is copied to: each target drawn by its percent (`random()` in [0, 1) per
 * target), those without endpoints left out.
 */
export function pickMirrors(mirror: MirrorPolicy, backends: ReadonlyMap<string, CompiledBackend>, random: () => number = Math.random): CompiledBackend[] {
  const out: CompiledBackend[] = [];
  for (const t of mirror.targets) {
    if (t.percent < 100 && random() * 100 >= t.percent) continue;
    const b = backends.get(t.backend);
    if (b !== undefined && b.cycle.length > 0) out.push(b);
  }
  return out;
}

/**
 * Splits a request body into the stream the backend reads (with the client's backpressure) and one
 * stream per copy; a copy whose reader lags by more than `limit` bytes is destroyed, never paused on.
 */
export function teeBody(body: Readable, copies: number, limit: number = MIRROR_BUFFER): { readonly main: Readable; readonly copies: readonly Readable[] } {
  const main = new PassThrough();
  const out = Array.from({ length: copies }, () => {
    const c = new PassThrough({ highWaterMark: limit });
    // A dropped copy must not take the process down before undici listens to it.
    c.on('error', () => undefined);
    return c;
  });
  body.pipe(main);
  // Both listeners attach in this tick, before any chunk flows.
  body.on('data', (chunk: Buffer) => {
    for (const c of out) {
      if (c.destroyed) continue;
      c.write(chunk);
      if (c.writableLength > limit) c.destroy(new Error('the mirror fell behind the request body'));
    }
  });
  body.once('end', () => {
    for (const c of out) if (!c.destroyed) c.end();
  });
  body.once('close', () => {
    for (const c of out) if (!c.writableEnded && !c.destroyed) c.destroy(new Error('the request body was cut'));
  });
  return { main, copies: out };
}

/** Reads a mirror's answer and throws it away; a failure is a debug line. */
class Discard implements Dispatcher.DispatchHandler {
  readonly #log: (err: Error) => void;
  constructor(log: (err: Error) => void) {
    this.#log = log;
  }
  onConnect(): void {}
  onHeaders(): boolean {
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {}
  onError(err: Error): void {
    this.#log(err);
  }
}

/** What a copy sends: the request line, the headers the backend gets, and the body (a tee) if any. */
export interface MirrorRequest {
  readonly method: string;
  readonly target: string;
  /** Flat `[name, value, ...]`, as the backend's request. */
  readonly headers: readonly string[];
  readonly body: Readable | null;
}

/** Sends a copy to an endpoint of `backend` (round robin), fire and forget. */
export function sendMirror(backend: CompiledBackend, request: MirrorRequest, logger: Logger): void {
  const upstream = backend.upstreams[pickUpstream(backend)]!;
  const opts: Dispatcher.DispatchOptions = { path: request.target, method: request.method, headers: [...request.headers], body: request.body };
  upstream.pool(false).dispatch(
    opts,
    new Discard((err) => logger.debug({ backend: backend.id, upstream: upstream.key, cause: err.message }, `the mirrored copy to ${upstream.key} (${backend.id}) failed: ${err.message}`)),
  );
}
