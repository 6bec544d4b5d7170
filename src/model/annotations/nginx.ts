/*
 * The ingress-nginx dialect (`nginx.ingress.kubernetes.io/`): annotations → slots and findings, with
 * ingress-nginx's defaults and precedences (internal/ingress/annotations/*, v1.x). Pure.
 */

import type { RedirectStatus } from '../policy.ts';
import { addressRanges, bool, headerNames, httpUrl, oneOf, path, realm, rewriteTarget, secretRef } from './grammar.ts';
import type { Grammar } from './grammar.ts';
import { closest } from '../../shared/closest.ts';
import { NGINX_CATALOGUE, NGINX_PREFIX, NGINX_SNIPPET_NOTE, NGINX_UNKNOWN_NOTE } from './nginx-catalogue.ts';
import type { NginxName } from './nginx-catalogue.ts';
import { readTraffic } from './nginx-traffic.ts';
import { DialectReader, directFinding } from './reader.ts';
import type { DialectRead, Present } from './reader.ts';
import type { AnnotationContext, AnnotationFinding } from './types.ts';

type Reader = DialectReader<NginxName>;

/** ingress-nginx's http-redirect-code, for ssl-redirect and force-ssl-redirect. */
const SSL_REDIRECT_STATUS = 308;
/** Passerelle's realm when auth-realm is absent (ingress-nginx writes an empty one). */
export const DEFAULT_REALM = 'Authentication Required';

/** On a canary Ingress, ingress-nginx reads only these besides canary-*: the rest comes from the main Ingress. */
const CANARY_KEEPS = /^(canary|load-balance|affinity|session-cookie-|upstream-hash-by)/;

/**
 * A redirect status among `codes`.
 *
 * @param codes the statuses accepted
 * @returns the grammar
 */
function redirectCode(codes: readonly RedirectStatus[]): Grammar<RedirectStatus> {
  return (v) => {
    const found = codes.find((c) => String(c) === v);
    return found !== undefined ? { ok: true, value: found } : { ok: false, problem: `is not one of ${codes.join(', ')}` };
  };
}

/**
 * auth-signin: an {@link httpUrl}, after dropping an `rd=` parameter made of nginx variables
 * (`?rd=$escaped_request_uri`), since Passerelle adds `rd=` with the original URL itself.
 */
const signinUrl: Grammar<{ readonly url: string; readonly dropped: boolean }> = (v) => {
  const q = v.indexOf('?');
  const params = q === -1 ? [] : v.slice(q + 1).split('&');
  const kept = params.filter((p) => !(p.startsWith('rd=') && p.includes('$')));
  const url = q === -1 ? v : kept.length === 0 ? v.slice(0, q) : `${v.slice(0, q)}?${kept.join('&')}`;
  const r = httpUrl(url);
  return r.ok ? { ok: true, value: { url: r.value, dropped: kept.length !== params.length } } : r;
};

function sslRedirect(r: Reader, context: AnnotationContext, canary: boolean): void {
  const force = r.read('force-ssl-redirect', bool);
  const plain = r.read('ssl-redirect', bool);
  if (!r.together([['force-ssl-redirect', force], ['ssl-redirect', plain]])) return;
  const redirect = { status: SSL_REDIRECT_STATUS } as const;
  if (force.state === 'ok' && force.value) {
    if (plain.state === 'ok' && !plain.value) r.ignored('ssl-redirect', 'force-ssl-redirect is "true"');
    r.set('sslRedirect', redirect, ['force-ssl-redirect']);
  } else if (plain.state === 'ok') {
    if (!plain.value) r.set('sslRedirect', null, ['ssl-redirect']);
    else if (context.hasTls) r.set('sslRedirect', redirect, ['ssl-redirect']);
    else r.ignored('ssl-redirect', 'the Ingress has no spec.tls (force-ssl-redirect redirects without it)');
  } else if (context.hasTls && !canary && context.sslRedirectDefault !== false) {
    r.set('sslRedirect', redirect, [], true);
  }
}

function urlRedirect(r: Reader): void {
  const temporal = r.read('temporal-redirect', httpUrl);
  const temporalCode = r.read('temporal-redirect-code', redirectCode([301, 302, 303, 307]));
  const permanent = r.read('permanent-redirect', httpUrl);
  const permanentCode = r.read('permanent-redirect-code', redirectCode([301, 302, 303, 307, 308]));
  if (temporal.state !== 'absent') {
    r.ignoreAll(['permanent-redirect', 'permanent-redirect-code'], 'temporal-redirect takes precedence');
    if (!r.together([['temporal-redirect', temporal], ['temporal-redirect-code', temporalCode]]) || temporal.state !== 'ok') return;
    r.set('redirect', { url: temporal.value, status: temporalCode.state === 'ok' ? temporalCode.value : 302 }, ['temporal-redirect', 'temporal-redirect-code']);
  } else {
    r.ignored('temporal-redirect-code', 'temporal-redirect is not set');
    if (permanent.state === 'absent') r.ignored('permanent-redirect-code', 'permanent-redirect is not set');
    if (!r.together([['permanent-redirect', permanent], ['permanent-redirect-code', permanentCode]]) || permanent.state !== 'ok') return;
    r.set('redirect', { url: permanent.value, status: permanentCode.state === 'ok' ? permanentCode.value : 301 }, ['permanent-redirect', 'permanent-redirect-code']);
  }
}

function rewrite(r: Reader): void {
  const appRoot = r.read('app-root', path);
  if (appRoot.state === 'ok') r.set('appRoot', appRoot.value, ['app-root']);
  const www = r.read('from-to-www-redirect', bool);
  if (www.state === 'ok') r.set('wwwRedirect', www.value ? true : null, ['from-to-www-redirect']);
  const regex = r.read('use-regex', bool);
  if (regex.state === 'ok' && regex.value) r.set('regexPaths', true, ['use-regex']);
  // rewrite-target always makes ingress-nginx's locations regexes, so $1..$9 are allowed here.
  const target = r.read('rewrite-target', rewriteTarget(true));
  if (target.state !== 'ok') return;
  if (/\$[1-9]/.test(target.value)) r.set('rewrite', { kind: 'regex', target: target.value }, ['rewrite-target']);
  else r.set('rewrite', { kind: 'policy', rewrite: { kind: 'replace-path', path: target.value } }, ['rewrite-target']);
}

function sourceRange(r: Reader): void {
  const allow = r.read('allowlist-source-range', addressRanges);
  const white = r.read('whitelist-source-range', addressRanges);
  if (allow.state === 'absent') {
    if (white.state === 'ok') r.set('allowSourceRange', white.value, ['whitelist-source-range']);
    return;
  }
  if (allow.state === 'ok') r.set('allowSourceRange', allow.value, ['allowlist-source-range']);
  if (white.state !== 'ok') return;
  if (allow.state === 'bad') r.incomplete('whitelist-source-range', 'allowlist-source-range, which takes precedence, is invalid');
  else if (allow.value.join() === white.value.join()) r.noted('whitelist-source-range', 'applied', 'the same ranges as allowlist-source-range, which takes precedence');
  else r.conflict('whitelist-source-range', 'allowlist-source-range takes precedence (as in ingress-nginx) and lists other ranges');
}

function basicAuth(r: Reader, context: AnnotationContext): void {
  const type = r.read('auth-type', oneOf(['basic', 'digest']));
  const secret = r.read('auth-secret', secretRef(true));
  const form = r.read('auth-secret-type', oneOf(['auth-file', 'auth-map']));
  const theRealm = r.read('auth-realm', realm);
  const rest = [['auth-secret', secret], ['auth-secret-type', form], ['auth-realm', theRealm]] as const;
  if (type.state === 'absent') {
    r.incomplete('auth-secret', 'auth-type is not set (ingress-nginx then serves the paths without authentication): add auth-type: basic');
    r.ignoreAll(['auth-secret-type', 'auth-realm'], 'auth-type is not set');
    return;
  }
  if (type.state === 'ok' && type.value === 'digest') {
    r.unsupported('auth-type', 'digest authentication is not supported, so the paths are not protected: use basic');
    for (const [name] of rest) r.incomplete(name, 'auth-type digest is not supported');
    return;
  }
  if (!r.together([['auth-type', type], ...rest])) return;
  if (secret.state !== 'ok') {
    r.incomplete('auth-type', 'auth-secret is not set');
    r.ignoreAll(['auth-secret-type', 'auth-realm'], 'auth-secret is not set');
    return;
  }
  const namespace = secret.value.namespace ?? context.namespace;
  if (namespace !== context.namespace) {
    r.noted('auth-secret', 'different', `the Secret is read from the namespace ${namespace}: ingress-nginx refuses another namespace unless allow-cross-namespace-resources is on`);
  }
  const annotation = r.present.get('auth-secret')?.annotation ?? '';
  r.set(
    'authSecret',
    { namespace, name: secret.value.name, realm: theRealm.state === 'ok' ? theRealm.value : DEFAULT_REALM, form: form.state === 'ok' ? form.value : 'auth-file', annotation },
    ['auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm'],
  );
}

/** custom-headers: a ConfigMap (`name` or `namespace/name`) of response headers; translate reads it. */
function customHeaders(r: Reader, context: AnnotationContext): void {
  const ref = r.read('custom-headers', secretRef(true, 'ConfigMap'));
  if (ref.state !== 'ok') return;
  const namespace = ref.value.namespace ?? context.namespace;
  const annotation = r.present.get('custom-headers')?.annotation ?? '';
  r.set('customHeaders', { namespace, name: ref.value.name, annotation }, ['custom-headers']);
}

function externalAuth(r: Reader): void {
  const url = r.read('auth-url', httpUrl);
  const headers = r.read('auth-response-headers', headerNames);
  const signin = r.read('auth-signin', signinUrl);
  if (url.state === 'absent') {
    r.ignoreAll(['auth-response-headers', 'auth-signin'], 'auth-url is not set');
    return;
  }
  if (!r.together([['auth-url', url], ['auth-response-headers', headers], ['auth-signin', signin]]) || url.state !== 'ok') return;
  if (signin.state === 'ok' && signin.value.dropped) r.noted('auth-signin', 'applied', 'its rd= parameter of nginx variables is dropped: Passerelle adds rd= with the original URL');
  r.set(
    'externalAuth',
    { url: url.value, responseHeaders: headers.state === 'ok' ? headers.value : [], ...(signin.state === 'ok' ? { signin: signin.value.url } : {}) },
    ['auth-url', 'auth-response-headers', 'auth-signin'],
  );
}

/** The catalogue's names, for a misspelling's hint. */
const NGINX_NAMES = Object.keys(NGINX_CATALOGUE);

/**
 * Reads the `nginx.ingress.kubernetes.io/` annotations of one Ingress.
 *
 * @param annotations every annotation of the Ingress
 * @param context its namespace and whether it has TLS
 * @returns the slots decided and one finding per annotation under the prefix
 */
export function readNginx(annotations: Readonly<Record<string, string>>, context: AnnotationContext): DialectRead {
  const present = new Map<NginxName, Present>();
  const findings = new Map<string, AnnotationFinding>();
  const isCanary = annotations[`${NGINX_PREFIX}canary`] === 'true';
  for (const [annotation, value] of Object.entries(annotations)) {
    if (!annotation.startsWith(NGINX_PREFIX)) continue;
    const name = annotation.slice(NGINX_PREFIX.length);
    if (!Object.hasOwn(NGINX_CATALOGUE, name)) {
      const snippet = name.endsWith('-snippet');
      const hint = snippet ? undefined : closest(name, NGINX_NAMES);
      const note = snippet ? NGINX_SNIPPET_NOTE : hint === undefined ? NGINX_UNKNOWN_NOTE : `${NGINX_UNKNOWN_NOTE}; did you mean ${NGINX_PREFIX}${hint}?`;
      findings.set(annotation, directFinding(annotation, 'nginx', snippet ? 'refused' : 'unsupported', note, snippet ? 'PASS_ANNOTATION_SNIPPET' : 'PASS_ANNOTATION_UNSUPPORTED'));
      continue;
    }
    const known = name as NginxName;
    const entry = NGINX_CATALOGUE[known];
    // A canary Ingress borrows the main Ingress's policy: ingress-nginx ignores its other annotations.
    if (isCanary && !CANARY_KEEPS.test(name) && (entry.status === 'applied' || entry.status === 'different')) {
      findings.set(annotation, directFinding(annotation, 'nginx', 'applied', 'no effect: on a canary Ingress ingress-nginx takes it from the main Ingress', 'PASS_ANNOTATION_IGNORED', entry.policy));
      continue;
    }
    present.set(known, { annotation, value });
  }
  const r = new DialectReader('nginx', NGINX_CATALOGUE, present);
  sslRedirect(r, context, isCanary);
  urlRedirect(r);
  rewrite(r);
  sourceRange(r);
  basicAuth(r, context);
  externalAuth(r);
  customHeaders(r, context);
  readTraffic(r);
  for (const [annotation, finding] of r.findings()) findings.set(annotation, finding);
  return { slots: r.slots(), findings };
}
