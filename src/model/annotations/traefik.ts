/*
 * The Traefik 1.x dialect (`ingress.kubernetes.io/`, `traefik.ingress.kubernetes.io/` and the older
 * `traefik.frontend.*` labels): annotations → slots and findings, with Traefik 1.7's defaults and
 * precedences (provider/kubernetes/kubernetes.go, middlewares/redirect, unrolled/secure). Pure.
 */

import { addressRanges, bool, headerName, headerNames, headerValue, httpUrl, integer, oneOf, path, rewriteTarget, secretRef, show } from './grammar.ts';
import type { Grammar, Parse } from './grammar.ts';
import { DialectReader, directFinding } from './reader.ts';
import type { DialectRead, Present } from './reader.ts';
import { TRAEFIK_CATALOGUE, TRAEFIK_LABEL_PREFIXES, TRAEFIK_PREFIXES, TRAEFIK_UNKNOWN_NOTE } from './traefik-catalogue.ts';
import type { TraefikName } from './traefik-catalogue.ts';
import type { AnnotationContext, AnnotationFinding } from './types.ts';

type Reader = DialectReader<TraefikName>;

/** The only realm of Traefik 1's basic auth. */
const TRAEFIK_REALM = 'traefik';
const MAX_INT32 = 2147483647;

/** The compat label → the name it stands for. */
const COMPAT: ReadonlyMap<string, TraefikName> = new Map(
  (Object.entries(TRAEFIK_CATALOGUE) as [TraefikName, { readonly compat?: string }][]).flatMap(([name, e]) => (e.compat === undefined ? [] : [[e.compat, name] as const])),
);

const fail = <T>(problem: string): Parse<T> => ({ ok: false, problem });

/** An entry point name, as the traefik.toml sections name them. */
const entryPoint: Grammar<string> = (v) => (/^[A-Za-z0-9_-]{1,64}$/.test(v) ? { ok: true, value: v } : fail('is not an entry point name (letters, digits, - and _)'));

/** auth-realm: Traefik 1 supports only its own. */
const traefikRealm: Grammar<string> = (v) => (v === TRAEFIK_REALM ? { ok: true, value: v } : fail('is not "traefik": Traefik 1 supports no other realm (it skips such an Ingress)'));

/** request-modifier: `Kind: value`, only ReplacePath's value read as a path. */
const modifier: Grammar<{ readonly kind: string; readonly value: string }> = (v) => {
  const m = /^[ \t]*(AddPrefix|ReplacePath|ReplacePathRegex)[ \t]*:[ \t]*(.*?)[ \t]*$/.exec(v);
  if (m === null) return fail('is not "ReplacePath: /path" (or AddPrefix, ReplacePathRegex)');
  const kind = m[1] ?? '';
  const value = m[2] ?? '';
  if (kind !== 'ReplacePath') return { ok: true, value: { kind, value } };
  const p = path(value);
  return p.ok ? { ok: true, value: { kind, value: p.value } } : fail(`has a ReplacePath value that ${p.problem}`);
};

/** custom-*-headers: `Name:value||Name2:value2`, names unique without regard to case. */
const headerMap: Grammar<Record<string, string>> = (v) => {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const part of v.split('||')) {
    const colon = part.indexOf(':');
    if (colon === -1) return fail(`has the item ${show(part)} without ":": expected Name:value||Name2:value2`);
    const name = part.slice(0, colon).replace(/^[ \t]+|[ \t]+$/g, '');
    const value = part.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    const n = headerName(name);
    if (!n.ok) return fail(`has the header name ${show(name)}, which ${n.problem}`);
    if (value === '') return fail(`gives ${name} an empty value, which Traefik 1 reads as "remove the header": not supported`);
    const val = headerValue(value);
    if (!val.ok) return fail(`gives ${name} the value ${show(value)}, which ${val.problem}`);
    if (seen.has(name.toLowerCase())) return fail(`sets ${name} twice`);
    seen.add(name.toLowerCase());
    out[name] = val.value;
  }
  return { ok: true, value: out };
};

/** service-weights: YAML lines `service: 12.5%` (a block mapping; quotes and `%` optional). */
const weights: Grammar<Record<string, number>> = (v) => {
  const out: Record<string, number> = {};
  for (const line of v.split(/\r?\n/)) {
    if (/^[ \t]*$/.test(line)) continue;
    const m = /^[ \t]*([a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)[ \t]*:[ \t]*("?)([0-9]{1,3}(?:\.[0-9]{1,3})?)%?\2[ \t]*$/.exec(line);
    const service = m?.[1] ?? '';
    const percent = Number(m?.[3]);
    if (m === null || percent > 100) return fail(`has the line ${show(line)}: expected "service: percent" with a Service name and 0 to 100 (up to 3 decimals)`);
    if (Object.hasOwn(out, service)) return fail(`lists ${service} twice`);
    out[service] = percent;
  }
  return Object.keys(out).length === 0 ? fail('lists no service') : { ok: true, value: out };
};

function redirects(r: Reader): void {
  const entry = r.read('redirect-entry-point', entryPoint);
  const permanent = r.read('redirect-permanent', bool);
  const ssl = r.read('ssl-redirect', bool);
  const temporary = r.read('ssl-temporary-redirect', bool);
  if (entry.state === 'absent' && !r.has('app-root')) r.ignored('redirect-permanent', 'neither redirect-entry-point nor app-root is set');
  if (entry.state !== 'absent' && r.together([['redirect-entry-point', entry], ['redirect-permanent', permanent]]) && entry.state === 'ok') {
    if (entry.value !== 'https') r.unsupported('redirect-entry-point', `a redirect to the entry point ${show(entry.value)} is not supported (only https)`);
    else r.set('sslRedirect', { status: permanent.state === 'ok' && permanent.value ? 308 : 307 }, ['redirect-entry-point', 'redirect-permanent']);
  }
  if (ssl.state !== 'ok' || !ssl.value) {
    if (ssl.state === 'bad') r.together([['ssl-redirect', ssl], ['ssl-temporary-redirect', temporary]]);
    else r.ignored('ssl-temporary-redirect', 'ssl-redirect is not "true"');
    if (ssl.state === 'ok') r.set('sslRedirect', null, ['ssl-redirect']);
  } else if (r.together([['ssl-redirect', ssl], ['ssl-temporary-redirect', temporary]])) {
    r.set('sslRedirect', { status: temporary.state === 'ok' && temporary.value ? 307 : 301 }, ['ssl-redirect', 'ssl-temporary-redirect']);
  }
  const root = r.read('app-root', path);
  if (root.state !== 'ok') return;
  r.set('appRoot', root.value, ['app-root']);
  if (permanent.state === 'ok' && permanent.value) r.noted('app-root', 'different', 'redirects with 302, where Traefik 1 with redirect-permanent sends 301');
}

function rewrites(r: Reader): void {
  const rule = r.read('rule-type', oneOf(['PathPrefix', 'PathPrefixStrip', 'Path', 'PathStrip', 'ReplacePath']));
  const exact = 'the path matches by its pathType (Traefik 1 matches it exactly: write pathType: Exact)';
  if (rule.state === 'ok') {
    if (rule.value === 'PathPrefixStrip' || rule.value === 'PathStrip') r.set('rewrite', { kind: 'policy', rewrite: { kind: 'strip-prefix' } }, ['rule-type']);
    if (rule.value === 'PathStrip') r.noted('rule-type', 'different', `${exact}, then it is removed`);
    if (rule.value === 'Path') r.noted('rule-type', 'different', exact);
    if (rule.value === 'ReplacePath') r.unsupported('rule-type', 'ReplacePath (deprecated in Traefik 1.7) is not supported: use request-modifier: "ReplacePath: /x"');
  }
  const target = r.read('rewrite-target', rewriteTarget(false));
  if (target.state === 'ok') {
    // Traefik 1 trims the target's trailing "/" before appending the rest of the path.
    const base = target.value.replace(/\/+$/, '');
    r.set('rewrite', { kind: 'policy', rewrite: base === '' ? { kind: 'strip-prefix' } : { kind: 'prefix', target: base } }, ['rewrite-target']);
  }
  const mod = r.read('request-modifier', modifier);
  if (mod.state !== 'ok') return;
  if (mod.value.kind === 'ReplacePath') r.set('rewrite', { kind: 'policy', rewrite: { kind: 'replace-path', path: mod.value.value } }, ['request-modifier']);
  else r.unsupported('request-modifier', `${mod.value.kind} is not supported (ReplacePath is)`);
}

function auth(r: Reader, context: AnnotationContext): void {
  const type = r.read('auth-type', oneOf(['basic', 'digest', 'forward'], true));
  const secret = r.read('auth-secret', secretRef(false));
  const theRealm = r.read('auth-realm', traefikRealm);
  const url = r.read('auth-url', httpUrl);
  const headers = r.read('auth-response-headers', headerNames);
  if (type.state === 'absent') {
    r.incomplete('auth-secret', 'auth-type is not set (Traefik 1 then serves the paths without authentication): add auth-type: basic');
    r.incomplete('auth-url', 'auth-type is not set (Traefik 1 then serves the paths without authentication): add auth-type: forward');
    r.ignoreAll(['auth-realm', 'auth-response-headers'], 'auth-type is not set');
    return;
  }
  if (type.state !== 'ok') {
    r.together([['auth-type', type], ['auth-secret', secret], ['auth-realm', theRealm], ['auth-url', url], ['auth-response-headers', headers]]);
    return;
  }
  const kind = type.value.toLowerCase();
  if (kind !== 'forward') r.ignoreAll(['auth-url', 'auth-response-headers'], 'auth-type is not forward');
  if (kind === 'forward') r.ignoreAll(['auth-secret', 'auth-realm'], 'auth-type is forward');
  if (kind === 'digest') {
    r.unsupported('auth-type', 'digest authentication is not supported, so the paths are not protected: use basic');
    r.incomplete('auth-secret', 'auth-type digest is not supported');
    return;
  }
  if (kind === 'basic' && r.together([['auth-type', type], ['auth-secret', secret], ['auth-realm', theRealm]])) {
    const annotation = r.present.get('auth-secret')?.annotation ?? '';
    if (secret.state === 'ok') r.set('authSecret', { namespace: context.namespace, name: secret.value.name, realm: TRAEFIK_REALM, form: 'auth-file', annotation }, ['auth-type', 'auth-secret', 'auth-realm']);
    else r.incomplete('auth-type', 'auth-secret is not set');
  }
  if (kind === 'forward' && r.together([['auth-type', type], ['auth-url', url], ['auth-response-headers', headers]])) {
    if (url.state === 'ok') r.set('externalAuth', { url: url.value, responseHeaders: headers.state === 'ok' ? headers.value : [] }, ['auth-type', 'auth-url', 'auth-response-headers']);
    else r.incomplete('auth-type', 'auth-url is not set');
  }
}

function headersAndHsts(r: Reader): void {
  const request = r.read('custom-request-headers', headerMap);
  if (request.state === 'ok') r.set('requestHeaders', request.value, ['custom-request-headers']);
  const response = r.read('custom-response-headers', headerMap);
  if (response.state === 'ok') r.set('responseHeaders', response.value, ['custom-response-headers']);
  const maxAge = r.read('hsts-max-age', integer(0, MAX_INT32));
  const subdomains = r.read('hsts-include-subdomains', bool);
  const preload = r.read('hsts-preload', bool);
  if (maxAge.state === 'absent') r.ignoreAll(['hsts-include-subdomains', 'hsts-preload'], 'hsts-max-age is not set');
  if (!r.together([['hsts-max-age', maxAge], ['hsts-include-subdomains', subdomains], ['hsts-preload', preload]]) || maxAge.state !== 'ok') return;
  if (maxAge.value === 0) {
    r.ignoreAll(['hsts-include-subdomains', 'hsts-preload'], 'hsts-max-age is 0');
    r.set('hsts', null, ['hsts-max-age']);
    return;
  }
  r.set(
    'hsts',
    { maxAgeSeconds: maxAge.value, includeSubdomains: subdomains.state === 'ok' && subdomains.value, preload: preload.state === 'ok' && preload.value },
    ['hsts-max-age', 'hsts-include-subdomains', 'hsts-preload'],
  );
}

function backends(r: Reader): void {
  const split = r.read('service-weights', weights);
  if (split.state === 'ok') r.set('serviceWeights', split.value, ['service-weights']);
  const priority = r.read('priority', integer(0, MAX_INT32));
  if (priority.state === 'ok') r.set('priority', priority.value, ['priority']);
  const protocol = r.read('protocol', oneOf(['http', 'https', 'h2c']));
  if (protocol.state !== 'ok') return;
  r.set('protocol', protocol.value === 'h2c' ? 'grpc' : protocol.value, ['protocol']);
  if (protocol.value === 'h2c') r.noted('protocol', 'applied', 'h2c: HTTP/2 without TLS to the pod (the policy\'s grpc protocol)');
}

/** The form an annotation name takes: its catalogue name and rank (the order Traefik 1 reads them). */
function formOf(annotation: string): { readonly name: string; readonly rank: number } | undefined {
  for (const [rank, prefix] of TRAEFIK_PREFIXES.entries()) if (annotation.startsWith(prefix)) return { name: annotation.slice(prefix.length), rank };
  const compat = COMPAT.get(annotation);
  if (compat !== undefined) return { name: compat, rank: TRAEFIK_PREFIXES.length };
  return TRAEFIK_LABEL_PREFIXES.some((p) => annotation.startsWith(p)) ? { name: '', rank: -1 } : undefined;
}

/**
 * Reads the Traefik 1 annotations of one Ingress. When a setting is written in several forms,
 * the one Traefik 1 reads first decides; the others get the same finding (same value) or `conflict`.
 *
 * @param annotations every annotation of the Ingress
 * @param context its namespace
 * @returns the slots decided and one finding per annotation of the dialect's prefixes
 */
export function readTraefik(annotations: Readonly<Record<string, string>>, context: AnnotationContext): DialectRead {
  const findings = new Map<string, AnnotationFinding>();
  const forms = new Map<TraefikName, { readonly rank: number; readonly present: Present }[]>();
  for (const [annotation, value] of Object.entries(annotations)) {
    const form = formOf(annotation);
    if (form === undefined) continue;
    if (form.rank === -1 || !Object.hasOwn(TRAEFIK_CATALOGUE, form.name)) {
      findings.set(annotation, directFinding(annotation, 'traefik', 'unsupported', TRAEFIK_UNKNOWN_NOTE, 'PASS_ANNOTATION_UNSUPPORTED'));
      continue;
    }
    const name = form.name as TraefikName;
    forms.set(name, [...(forms.get(name) ?? []), { rank: form.rank, present: { annotation, value } }].sort((a, b) => a.rank - b.rank));
  }
  const present = new Map<TraefikName, Present>();
  for (const [name, list] of forms) if (list[0] !== undefined) present.set(name, list[0].present);
  const r = new DialectReader('traefik', TRAEFIK_CATALOGUE, present);
  redirects(r);
  rewrites(r);
  const range = r.read('whitelist-source-range', addressRanges);
  if (range.state === 'ok') r.set('allowSourceRange', range.value, ['whitelist-source-range']);
  auth(r, context);
  headersAndHsts(r);
  backends(r);
  const read = r.findings();
  for (const [annotation, finding] of read) findings.set(annotation, finding);
  for (const list of forms.values()) {
    const [first, ...others] = list;
    const decided = first === undefined ? undefined : read.get(first.present.annotation);
    if (first === undefined || decided === undefined) continue;
    for (const { present: p } of others) {
      const same = p.value === first.present.value;
      const note = same
        ? `${p.annotation}: the same value as ${first.present.annotation}, which Traefik 1 reads first (${decided.status})`
        : `${p.annotation}: ${first.present.annotation} is read first (as Traefik 1) and has another value; this one is ignored`;
      findings.set(p.annotation, same ? { ...decided, annotation: p.annotation, note } : { ...decided, annotation: p.annotation, status: 'conflict', note, code: 'PASS_ANNOTATION_CONFLICT' });
    }
  }
  return { slots: r.slots(), findings };
}
