import type { RedirectMiddleware } from './types.ts';

/** The path prefix answered by the controller itself for ACME HTTP-01, before any middleware. */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * The Location of an entry-point redirect: the target scheme, the request's host (without its port),
 * the target port unless it is the scheme's default, and the original path and query.
 */
export function redirectLocation(mw: RedirectMiddleware, host: string, pathAndQuery: string): string {
  const defaultPort = mw.scheme === 'https' ? 443 : 80;
  const port = mw.port === defaultPort ? '' : `:${mw.port}`;
  return `${mw.scheme}://${host}${port}${pathAndQuery}`;
}
