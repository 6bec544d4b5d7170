import type { AcmeChallengeHook, ProxyDriver, RequestObserver } from '../../src/drivers/types.ts';
import type { Logger } from '../../src/shared/logger.ts';
import { createNativeDriver } from '../../src/drivers/native/index.ts';
import { createHaproxyDriver } from '../../src/drivers/haproxy/index.ts';
import { createNginxDriver } from '../../src/drivers/nginx/index.ts';

/** What a case may ask of any driver; each mode maps it onto its own options. */
export interface DriverSettings {
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly forwardedHeader?: boolean;
  readonly acmeChallenge?: AcmeChallengeHook;
  /** Told of every finished request (native: by the proxy; haproxy/nginx: from their log lines). */
  readonly observe?: RequestObserver;
  /** Where the driver logs (default: nowhere). */
  readonly logger?: Logger;
  /**
   * Plain HTTP sent to a TLS entry point gets a 400 saying to use https. Native and nginx always
   * answer it; HAProxy only with its `answerPlainHttpOnTls` option (a TCP frontend in front of the
   * `ssl` bind, which costs TLS throughput): by default it closes the connection.
   */
  readonly answerPlainHttpOnTls?: boolean;
}

export type DriverFactory = (settings: DriverSettings) => ProxyDriver | Promise<ProxyDriver>;

/** The settings without undefined fields (exactOptionalPropertyTypes). */
function defined(s: DriverSettings): DriverSettings {
  return {
    ...(s.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: s.connectTimeoutMs }),
    ...(s.readTimeoutMs === undefined ? {} : { readTimeoutMs: s.readTimeoutMs }),
    ...(s.forwardedHeader === undefined ? {} : { forwardedHeader: s.forwardedHeader }),
    ...(s.acmeChallenge === undefined ? {} : { acmeChallenge: s.acmeChallenge }),
    ...(s.observe === undefined ? {} : { observe: s.observe }),
    ...(s.logger === undefined ? {} : { logger: s.logger }),
  };
}

/** The drivers the behaviour suite runs against. */
export const modes: Readonly<Record<string, DriverFactory>> = {
  native: (s) => createNativeDriver(defined(s)),
  haproxy: (s) => createHaproxyDriver({ ...defined(s), gracePeriodMs: 5000, ...(s.answerPlainHttpOnTls === true ? { answerPlainHttpOnTls: true } : {}) }),
  nginx: (s) => createNginxDriver({ ...defined(s), gracePeriodMs: 5000 }),
};

/**
 * What a mode cannot do because its proxy binary cannot, documented in the README's status table.
 * Only real limitations of the binary go here; the cases assert the declared behaviour instead.
 */
export interface ModeCapabilities {
  /**
   * Headers named in a Connection header (other than keep-alive, close, upgrade) are dropped,
   * request and response (RFC 9110 §7.6.1). nginx's proxy module forwards every header but those
   * it sets itself and has no directive that removes a header by a name known only per request.
   */
  readonly dropsConnectionListedHeaders: boolean;
  /**
   * A reload keeps client connections that are idle at that moment open. nginx's old workers close
   * idle keep-alive connections when they get SIGHUP (ngx_close_idle_connections): a request a
   * client sends on one at that instant is refused unread (reset or closed before any byte of an
   * answer), and the client must retry it on a new connection (RFC 9112 §9.3.1).
   */
  readonly reloadKeepsIdleConnections: boolean;
  /**
   * The backend receives the normalised path with the escapes of reserved characters kept (`%3b`
   * reaches it as `%3B`). When false (nginx, declared in the contract) they arrive decoded (`%3B` as
   * `;`, `%2B` as `+`): nginx decodes every escape while parsing the URI (ngx_http_parse_complex_uri),
   * routes on that `$uri` and forwards it re-escaped by ngx_escape_uri, which escapes only space,
   * `"`, `#`, `%`, `?`, controls and non-ASCII; the only variable that keeps the client's escapes,
   * `$request_uri`, is not normalised.
   */
  readonly keepsReservedEscapes: boolean;
  /**
   * `allowEncodedSlashes` on an entry point keeps `%2F`/`%5C` encoded inside a segment. When false
   * (nginx, declared in the contract) such paths are still refused with 400: nginx decodes `%2F` into
   * `/` while parsing the URI, before any directive sees the path, so it cannot forward it encoded.
   */
  readonly keepsEncodedSlashes: boolean;
  /**
   * A request head not complete within the entry point's `requestHeader` timeout gets a 408 before
   * the connection closes. When false (nginx, declared in the contract) the connection is closed
   * without an answer: on client_header_timeout nginx finalises the request with 408 for its log but
   * sends nothing (ngx_http_read_request_header closes the connection).
   */
  readonly answersHeaderTimeout: boolean;
  /**
   * The status of a request whose header section is too large (431). HAProxy has no 431: a request
   * that does not fit its buffer (tune.bufsize) is a parse error, answered 400. nginx answers its
   * "400 Request Header Or Cookie Too Large" (internal code 494, sent as 400) when a header line
   * exceeds large_client_header_buffers.
   */
  readonly headerTooLargeStatus: number;
  /**
   * The status of a request whose request line is too long (414). HAProxy has no 414 either: the
   * request line that does not fit its buffer is a parse error like an oversized header, answered 400.
   */
  readonly uriTooLongStatus: number;
  /**
   * An absolute-form request whose Host differs from its authority is routed by the authority
   * (RFC 9112 §3.2.2). When false (HAProxy) it gets 400: HAProxy's HTTP/1 parser refuses an
   * authority that disagrees with Host before any rule runs (h1_parse_msg_hdrs), which is still one
   * meaning.
   */
  readonly routesMismatchedAbsoluteForm: boolean;
  /**
   * Two identical Host lines get 400 (RFC 9112 §3.2). When false (HAProxy) they are served: HAProxy's
   * parser folds identical Host lines into one before any rule can count them (two different ones
   * are refused), so the request still has one meaning.
   */
  readonly refusesRepeatedEqualHost: boolean;
  /**
   * A header value with a control character other than tab gets 400. When false (nginx) only NUL,
   * CR and LF are refused (by nginx's parser): nginx has no variable holding every request header
   * to test, and forwards the others unchanged; they never take part in routing.
   */
  readonly refusesControlCharacters: boolean;
}

const FULL: ModeCapabilities = {
  dropsConnectionListedHeaders: true,
  reloadKeepsIdleConnections: true,
  keepsReservedEscapes: true,
  keepsEncodedSlashes: true,
  answersHeaderTimeout: true,
  headerTooLargeStatus: 431,
  uriTooLongStatus: 414,
  routesMismatchedAbsoluteForm: true,
  refusesRepeatedEqualHost: true,
  refusesControlCharacters: true,
};

/** Capabilities per mode; a mode not listed has them all. */
const CAPABILITIES: Readonly<Record<string, ModeCapabilities>> = {
  haproxy: {
    ...FULL,
    headerTooLargeStatus: 400,
    uriTooLongStatus: 400,
    routesMismatchedAbsoluteForm: false,
    refusesRepeatedEqualHost: false,
  },
  nginx: {
    ...FULL,
    dropsConnectionListedHeaders: false,
    reloadKeepsIdleConnections: false,
    keepsReservedEscapes: false,
    keepsEncodedSlashes: false,
    answersHeaderTimeout: false,
    headerTooLargeStatus: 400,
    refusesControlCharacters: false,
  },
};

/** The mode under test: `PASSERELLE_MODE`, default `native`. */
export const mode: string = process.env['PASSERELLE_MODE'] ?? 'native';

/** The factory of the mode under test; fails loudly for an unknown mode. */
export function driverFactory(): DriverFactory {
  const f = modes[mode];
  if (f === undefined) throw new Error(`unknown PASSERELLE_MODE "${mode}" (known: ${Object.keys(modes).join(', ')})`);
  return f;
}

/** The capabilities of the mode under test. */
export const capabilities: ModeCapabilities = CAPABILITIES[mode] ?? FULL;
