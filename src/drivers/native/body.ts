/*
 * Request bodies on their way to the upstream: the route's size limit (`limits.maxBodyBytes`, for
 * a body without Content-Length to check first), and `timeouts.send` (ingress-nginx's proxy-send-timeout): the time allowed between two writes of the
 * request body to the upstream. nginx arms it only while a write waits for the upstream to take
 * data; here, while body data waits that the upstream side did not take (a full buffer, or the
 * tail of the body). A client that is slow to send arms nothing: the entry point's body timeout
 * watches that.
 */

import { Readable, Transform } from 'node:stream';
import { SEND_TIMEOUT } from './upstream.ts';

/** The error a stalled upload fails with. */
export function sendTimeoutError(ms: number): Error {
  return Object.assign(new Error(`the upstream took no request body data for ${ms} ms (send timeout)`), { code: SEND_TIMEOUT });
}

/**
 * The request body as the upstream request reads it: `source`'s data, failing with
 * {@link sendTimeoutError} when data waits longer than `ms` for the reader.
 */
export function watchSend(source: Readable, ms: number): Readable {
  let timer: NodeJS.Timeout | undefined;
  const disarm = (): void => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
  };
  const arm = (): void => {
    timer ??= setTimeout(() => out.destroy(sendTimeoutError(ms)), ms);
  };
  const onData = (chunk: Buffer): void => {
    if (!out.push(chunk)) {
      source.pause();
      arm();
    }
  };
  const onEnd = (): void => {
    out.push(null);
    // The tail still waits for the reader: it is watched until taken.
    if (out.readableLength > 0) arm();
  };
  const onError = (err: Error): void => {
    out.destroy(err);
  };
  const out: Readable = new Readable({
    read() {
      disarm();
      source.resume();
    },
    destroy(err, done) {
      disarm();
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      done(err);
    },
  });
  out.once('end', disarm);
  source.on('data', onData);
  source.once('end', onEnd);
  source.once('error', onError);
  source.pause();
  return out;
}

/**
 * The request body, cut with an error once it passes `max` bytes (a chunked body has no
 * Content-Length to check first); `onTooLarge` is told before the error.
 */
export function limitBody(source: Readable, max: number, onTooLarge: () => void): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform: (chunk: Buffer, _encoding, done) => {
      seen += chunk.length;
      if (seen <= max) return done(null, chunk);
      onTooLarge();
      done(new Error(`request body larger than ${max} bytes`));
    },
  });
  source.on('error', (err) => limiter.destroy(err));
  return source.pipe(limiter);
}
