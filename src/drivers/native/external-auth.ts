/*
 * `externalAuth` (ingress-nginx's auth-url, auth-response-headers, auth-signin) in the native
 * proxy: before a request is proxied, the auth URL is asked with the request's method and headers
 * (no body), as nginx's auth_request subrequest in ingress-nginx's template: X-Original-URL,
 * X-Original-Method, X-Auth-Request-Redirect, and the client's X-Forwarded-For / X-Real-IP as the
 * entry point computes them. A 2xx lets the request through with the listed headers of the answer;
 * 401 is answered 401 (or 302 to auth-signin with rd= the original URL), 403 is 403, and anything
 * else, an unreachable auth service or one too slow, is 500.
 */

import { request } from 'undici';
import type { Dispatcher } from 'undici';
import type { ExternalAuthPolicy } from '../../model/policy.ts';
import { dropNames } from './headers.ts';
import type { Verdict } from './middlewares.ts';

/** How long the auth request may take in all, by default (connect, answer and its body). */
export const DEFAULT_AUTH_TIMEOUT_MS = 15_000;

const TEXT = 'text/plain; charset=utf-8';

/** What the auth request says of the request it asks about. */
export interface AuthRequestContext {
  /** The scheme the client used. */
  readonly scheme: 'http' | 'https';
  /** The Host the client sent (port included when it named one). */
  readonly host: string;
  /** Path and query of the request. */
  readonly uri: string;
  readonly method: string;
  /** The forwarding headers the entry point computes for this client (`x-forwarded-for`, `x-real-ip`, ...), flat. */
  readonly forwarded: readonly string[];
}

/**
 * Client headers the auth request does not pass on: the framing of a body it does not carry, the
 * Host (the auth URL's own is sent), and what the proxy sets itself (a client cannot forge them).
 */
const NOT_PASSED = [
  'host',
  'content-length',
  'transfer-encoding',
  'expect',
  'upgrade',
  'connection',
  'x-original-url',
  'x-original-method',
  'x-auth-request-redirect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'forwarded',
];

/** The URL the client asked for: `scheme://host/uri`. */
export function originalUrl(ctx: AuthRequestContext): string {
  return `${ctx.scheme}://${ctx.host}${ctx.uri}`;
}

/**
 * The headers of the auth request, flat: the client's end-to-end headers (`client`, hop-by-hop
 * already removed) without {@link NOT_PASSED}, then the proxy's own.
 */
export function authRequestHeaders(client: readonly string[], ctx: AuthRequestContext): string[] {
  const out = client.slice();
  dropNames(out, [...NOT_PASSED, ...namesOf(ctx.forwarded)]);
  out.push('x-original-url', originalUrl(ctx), 'x-original-method', ctx.method, 'x-auth-request-redirect', ctx.uri, ...ctx.forwarded);
  return out;
}

function namesOf(flat: readonly string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < flat.length; i += 2) names.push(flat[i]!.toLowerCase());
  return names;
}

/** Where a 401 sends the browser with auth-signin: the sign-in URL with `rd=` the original URL (before any fragment). */
export function signinLocation(signin: string, original: string): string {
  const hash = signin.indexOf('#');
  const base = hash === -1 ? signin : signin.slice(0, hash);
  const fragment = hash === -1 ? '' : signin.slice(hash);
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}rd=${encodeURIComponent(original)}${fragment}`;
}

/** What the auth answer decides. */
export type AuthOutcome =
  /** Proxy, with these headers (flat) set on the upstream request. */
  | { readonly allow: true; readonly headers: readonly string[] }
  /** Answer this instead. */
  | { readonly allow: false; readonly verdict: Verdict };

/** A header of the auth answer, its values joined as nginx joins repeated headers. */
function answerHeader(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.join(', ');
  return v === '' ? undefined : v;
}

/** The failure answer (ingress-nginx: an auth subrequest that fails makes the request fail with 500). */
export const AUTH_ERROR: Verdict = { status: 500, headers: { 'content-type': TEXT }, body: 'Internal Server Error: the authentication service did not answer\n' };

/** Decides from the auth answer's status and headers (`headers` with lower-case names, as undici gives them). */
export function authOutcome(policy: ExternalAuthPolicy, status: number, headers: Readonly<Record<string, string | string[] | undefined>>, original: string): AuthOutcome {
  if (status >= 200 && status < 300) {
    const granted: string[] = [];
    for (const name of policy.responseHeaders) {
      const value = answerHeader(headers, name);
      if (value !== undefined) granted.push(name, value);
    }
    return { allow: true, headers: granted };
  }
  if (status === 401) {
    if (policy.signin !== undefined) {
      const location = signinLocation(policy.signin, original);
      return { allow: false, verdict: { status: 302, headers: { location, 'content-type': TEXT }, body: `Redirecting to ${location}\n` } };
    }
    // As nginx's auth_request: the WWW-Authenticate of the auth answer reaches the client.
    const challenge = answerHeader(headers, 'www-authenticate');
    return { allow: false, verdict: { status: 401, headers: { 'content-type': TEXT, ...(challenge === undefined ? {} : { 'www-authenticate': challenge }) }, body: 'Unauthorized\n' } };
  }
  if (status === 403) return { allow: false, verdict: { status: 403, headers: { 'content-type': TEXT }, body: 'Forbidden\n' } };
  return { allow: false, verdict: AUTH_ERROR };
}

/**
 * Sets the granted headers on the upstream request: every copy of the listed names the client
 * sent is removed first, granted or not (a client cannot forge what the auth service vouches for).
 */
export function applyAuthHeaders(out: string[], names: readonly string[], granted: readonly string[]): void {
  dropNames(
    out,
    names.map((n) => n.toLowerCase()),
  );
  out.push(...granted);
}

/** Why an auth request failed, for the log. */
export interface AuthFailure {
  readonly error: Error;
}

/**
 * Asks the auth URL about a request.
 * @returns the outcome, or the failure (answered with {@link AUTH_ERROR}); undefined when `signal`
 * aborted it (the client went away).
 */
export async function askExternalAuth(
  dispatcher: Dispatcher,
  policy: ExternalAuthPolicy,
  clientHeaders: readonly string[],
  ctx: AuthRequestContext,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AuthOutcome | AuthFailure | undefined> {
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    const answer = await request(policy.url, {
      dispatcher,
      method: ctx.method as Dispatcher.HttpMethod,
      headers: authRequestHeaders(clientHeaders, ctx),
      signal: AbortSignal.any([signal, deadline]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    // The body says nothing the decision needs; it is read and dropped so the connection is reused.
    await answer.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    return authOutcome(policy, answer.statusCode, answer.headers, originalUrl(ctx));
  } catch (err) {
    if (signal.aborted) return undefined;
    return { error: deadline.aborted ? Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }) : (err as Error) };
  }
}
