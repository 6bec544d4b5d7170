import type { AcmeChallengeHook, ProxyDriver } from '../../src/drivers/types.ts';
import { createNativeDriver } from '../../src/drivers/native/index.ts';
import { createHaproxyDriver } from '../../src/drivers/haproxy/index.ts';
import { createNginxDriver } from '../../src/drivers/nginx/index.ts';

/** What a case may ask of any driver; each mode maps it onto its own options. */
export interface DriverSettings {
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly forwardedHeader?: boolean;
  readonly acmeChallenge?: AcmeChallengeHook;
}

export type DriverFactory = (settings: DriverSettings) => ProxyDriver | Promise<ProxyDriver>;

/** The settings without undefined fields (exactOptionalPropertyTypes). */
function defined(s: DriverSettings): DriverSettings {
  return {
    ...(s.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: s.connectTimeoutMs }),
    ...(s.readTimeoutMs === undefined ? {} : { readTimeoutMs: s.readTimeoutMs }),
    ...(s.forwardedHeader === undefined ? {} : { forwardedHeader: s.forwardedHeader }),
    ...(s.acmeChallenge === undefined ? {} : { acmeChallenge: s.acmeChallenge }),
  };
}

/** The drivers the behaviour suite runs against. */
export const modes: Readonly<Record<string, DriverFactory>> = {
  native: (s) => createNativeDriver(defined(s)),
  haproxy: (s) => createHaproxyDriver({ ...defined(s), gracePeriodMs: 5000 }),
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
}

const FULL: ModeCapabilities = { dropsConnectionListedHeaders: true, reloadKeepsIdleConnections: true };

/** Capabilities per mode; a mode not listed has them all. */
const CAPABILITIES: Readonly<Record<string, ModeCapabilities>> = {
  nginx: { dropsConnectionListedHeaders: false, reloadKeepsIdleConnections: false },
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
