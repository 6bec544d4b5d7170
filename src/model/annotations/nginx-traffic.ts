/*
 * The ingress-nginx annotations about traffic to the backend: limits, timeouts, upstream options,
 * affinity, CORS, HSTS and canaries, with ingress-nginx's defaults. Pure; nginx.ts calls readTraffic.
 */

import { bool, cookieName, headerName, headerNames, headerValue, hostPort, integer, methods, oneOf, origins, size } from './grammar.ts';
import type { NginxName } from './nginx-catalogue.ts';
import type { DialectReader } from './reader.ts';

type Reader = DialectReader<NginxName>;

const DEFAULT_COOKIE = 'INGRESSCOOKIE';
const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'];
const CORS_HEADERS = ['DNT', 'Keep-Alive', 'User-Agent', 'X-Requested-With', 'If-Modified-Since', 'Cache-Control', 'Content-Type', 'Range', 'Authorization'];
const CORS_MAX_AGE = 1728000;
const HSTS_MAX_AGE = 31536000;
/** Seconds a timeout may have: in milliseconds it still fits HAProxy's 31-bit timeouts. */
const MAX_TIMEOUT_SECONDS = 2147483;
const MAX_INT32 = 2147483647;

function limits(r: Reader): void {
  const body = r.read('proxy-body-size', size);
  if (body.state === 'ok') r.set('maxBodyBytes', body.value, ['proxy-body-size']);
  const rps = r.read('limit-rps', integer(0, 1000000));
  if (rps.state === 'ok') r.set('rps', rps.value === 0 ? null : rps.value, ['limit-rps']);
  const conns = r.read('limit-connections', integer(0, 1000000));
  if (conns.state === 'ok') r.set('connections', conns.value === 0 ? null : conns.value, ['limit-connections']);
  for (const [name, key] of [['proxy-connect-timeout', 'connectTimeout'], ['proxy-send-timeout', 'sendTimeout'], ['proxy-read-timeout', 'readTimeout']] as const) {
    const seconds = r.read(name, integer(1, MAX_TIMEOUT_SECONDS));
    if (seconds.state === 'ok') r.set(key, seconds.value * 1000, [name]);
  }
}

function upstream(r: Reader): void {
  const protocol = r.read('backend-protocol', oneOf(['HTTP', 'HTTPS', 'GRPC', 'GRPCS', 'AUTO_HTTP', 'FCGI'], true));
  if (protocol.state === 'ok') {
    if (protocol.value === 'AUTO_HTTP' || protocol.value === 'FCGI') r.unsupported('backend-protocol', `${protocol.value} is not supported (HTTP, HTTPS, GRPC and GRPCS are)`);
    else r.set('protocol', protocol.value === 'HTTP' ? 'http' : protocol.value === 'HTTPS' ? 'https' : protocol.value === 'GRPC' ? 'grpc' : 'grpcs', ['backend-protocol']);
  }
  const vhost = r.read('upstream-vhost', hostPort);
  if (vhost.state === 'ok') r.set('vhost', vhost.value, ['upstream-vhost']);
  const balance = r.read('load-balance', oneOf(['round_robin', 'ewma', 'least_conn', 'chash', 'chashsubset', 'sticky_balanced', 'sticky_persistent']));
  if (balance.state === 'ok') {
    if (balance.value === 'round_robin' || balance.value === 'ewma' || balance.value === 'least_conn') r.set('loadBalance', balance.value, ['load-balance']);
    else r.unsupported('load-balance', `${balance.value} is not supported (round_robin and ewma are)`);
    if (balance.value === 'least_conn') r.noted('load-balance', 'different', 'least_conn is no longer accepted by ingress-nginx; Passerelle sends each request to the endpoint with the fewest requests in flight');
  }
  const tries = r.read('proxy-next-upstream-tries', integer(0, 100));
  if (tries.state === 'ok') {
    if (tries.value === 0) r.unsupported('proxy-next-upstream-tries', '0 (no limit in nginx) is not supported: give the number of attempts');
    else r.set('tries', tries.value, ['proxy-next-upstream-tries']);
  }
  affinity(r);
}

function affinity(r: Reader): void {
  const type = r.read('affinity', oneOf(['cookie']));
  const mode = r.read('affinity-mode', oneOf(['balanced', 'persistent']));
  const name = r.read('session-cookie-name', cookieName);
  const maxAge = r.read('session-cookie-max-age', integer(1, MAX_INT32));
  const sameSite = r.read('session-cookie-samesite', oneOf(['None', 'Lax', 'Strict'], true));
  const members = ['affinity', 'affinity-mode', 'session-cookie-name', 'session-cookie-max-age', 'session-cookie-samesite'] as const;
  if (type.state === 'absent') {
    r.ignoreAll(members, 'affinity is not set');
    return;
  }
  if (!r.together([['affinity', type], ['affinity-mode', mode], ['session-cookie-name', name], ['session-cookie-max-age', maxAge], ['session-cookie-samesite', sameSite]])) return;
  if (mode.state === 'ok' && mode.value === 'persistent') r.unsupported('affinity-mode', 'persistent is not supported: sessions are rebalanced when endpoints are added (balanced)');
  r.set(
    'affinity',
    { cookie: name.state === 'ok' ? name.value : DEFAULT_COOKIE, ...(maxAge.state === 'ok' ? { maxAgeSeconds: maxAge.value } : {}), ...(sameSite.state === 'ok' ? { sameSite: sameSite.value } : {}) },
    members,
  );
}

function cors(r: Reader): void {
  const enable = r.read('enable-cors', bool);
  const origin = r.read('cors-allow-origin', origins);
  const method = r.read('cors-allow-methods', methods);
  const header = r.read('cors-allow-headers', headerNames);
  const credentials = r.read('cors-allow-credentials', bool);
  const maxAge = r.read('cors-max-age', integer(0, MAX_INT32));
  const rest = [['cors-allow-origin', origin], ['cors-allow-methods', method], ['cors-allow-headers', header], ['cors-allow-credentials', credentials], ['cors-max-age', maxAge]] as const;
  if (enable.state !== 'ok' || !enable.value) {
    if (enable.state === 'bad') r.together([['enable-cors', enable], ...rest]);
    else r.ignoreAll(rest.map(([name]) => name), 'enable-cors is not "true"');
    if (enable.state === 'ok') r.set('cors', null, ['enable-cors']);
    return;
  }
  if (!r.together([['enable-cors', enable], ...rest])) return;
  r.set(
    'cors',
    {
      allowOrigins: origin.state === 'ok' ? origin.value : ['*'],
      allowMethods: method.state === 'ok' ? method.value : CORS_METHODS,
      allowHeaders: header.state === 'ok' ? header.value : CORS_HEADERS,
      allowCredentials: credentials.state === 'ok' ? credentials.value : true,
      maxAgeSeconds: maxAge.state === 'ok' ? maxAge.value : CORS_MAX_AGE,
    },
    ['enable-cors', ...rest.map(([name]) => name)],
  );
}

function hsts(r: Reader): void {
  const on = r.read('hsts', bool);
  const maxAge = r.read('hsts-max-age', integer(0, MAX_INT32));
  const subdomains = r.read('hsts-include-subdomains', bool);
  const preload = r.read('hsts-preload', bool);
  const rest = [['hsts-max-age', maxAge], ['hsts-include-subdomains', subdomains], ['hsts-preload', preload]] as const;
  if (on.state === 'ok' && !on.value) {
    r.ignoreAll(rest.map(([name]) => name), 'hsts is "false"');
    r.set('hsts', null, ['hsts']);
    return;
  }
  if (!r.together([['hsts', on], ...rest]) || [on, ...rest.map(([, read]) => read)].every((read) => read.state === 'absent')) return;
  r.set(
    'hsts',
    {
      maxAgeSeconds: maxAge.state === 'ok' ? maxAge.value : HSTS_MAX_AGE,
      includeSubdomains: subdomains.state === 'ok' ? subdomains.value : true,
      preload: preload.state === 'ok' ? preload.value : false,
    },
    ['hsts', ...rest.map(([name]) => name)],
  );
}

function canary(r: Reader): void {
  const on = r.read('canary', bool);
  const header = r.read('canary-by-header', headerName);
  const value = r.read('canary-by-header-value', headerValue);
  const cookie = r.read('canary-by-cookie', cookieName);
  const weight = r.read('canary-weight', integer(0, 100));
  const total = r.read('canary-weight-total', integer(1, MAX_INT32));
  const rest = [['canary-by-header', header], ['canary-by-header-value', value], ['canary-by-cookie', cookie], ['canary-weight', weight], ['canary-weight-total', total]] as const;
  if (on.state !== 'ok' || !on.value) {
    if (on.state === 'bad') r.together([['canary', on], ...rest]);
    else for (const [name] of rest) r.incomplete(name, 'canary is not "true" (ingress-nginx refuses canary-* annotations without it)');
    return;
  }
  if (!r.together([['canary', on], ...rest])) return;
  if (total.state === 'ok' && total.value !== 100) {
    r.unsupported('canary-weight-total', 'only 100 is supported');
    for (const [name] of [['canary', on], ...rest] as const) if (name !== 'canary-weight-total') r.incomplete(name, 'canary-weight-total is not supported');
    return;
  }
  if (header.state !== 'ok') r.ignored('canary-by-header-value', 'canary-by-header is not set');
  r.set(
    'canary',
    {
      ...(header.state === 'ok' ? { header: header.value } : {}),
      ...(header.state === 'ok' && value.state === 'ok' ? { headerValue: value.value } : {}),
      ...(cookie.state === 'ok' ? { cookie: cookie.value } : {}),
      ...(weight.state === 'ok' ? { weight: weight.value } : {}),
    },
    ['canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'],
  );
}

/**
 * Reads the limits, timeouts, upstream, affinity, CORS, HSTS and canary annotations into their slots.
 *
 * @param r the reader of the ingress-nginx annotations of one Ingress
 */
export function readTraffic(r: Reader): void {
  limits(r);
  upstream(r);
  cors(r);
  hsts(r);
  canary(r);
}
