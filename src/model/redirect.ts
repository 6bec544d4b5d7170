import type { WwwRedirectPolicy } from './policy.ts';
import type { RedirectMiddleware } from './types.ts';

/** The path prefix answered by the controller itself for ACME HTTP-01, before any middleware. */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * The scheme and port a {@link WwwRedirectPolicy} sends a request to, through a TLS entry point or not
 * whose public port is `publicPort`: the port is undefined when it is the scheme's default (left out
 * of the URL, as the Gateway API asks).
 */
export function redirectParts(policy: WwwRedirectPolicy, tls: boolean, publicPort: number): { readonly scheme: 'http' | 'https'; readonly port: number | undefined } {
  const scheme = policy.scheme ?? (tls ? 'https' : 'http');
  const port = policy.port ?? (policy.scheme !== undefined ? undefined : publicPort);
  return { scheme, port: port === (scheme === 'https' ? 443 : 80) ? undefined : port };
}

/**
 * The Location of an entry-point redirect: the target scheme, the request's host (without its port),
 * the target port unless it is the scheme's default, and the original path and query.
 */
export function redirectLocation(mw: RedirectMiddleware, host: string, pathAndQuery: string): string {
  const defaultPort = mw.scheme === 'https' ? 443 : 80;
  const port = mw.port === defaultPort ? '' : `:${mw.port}`;
  return `${mw.scheme}://${host}${port}${pathAndQuery}`;
}
