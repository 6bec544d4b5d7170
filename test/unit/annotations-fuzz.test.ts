// Property test of readAnnotations: random values (newlines, ;, quotes, $, braces, #, spaces, unicode)
// for every annotation never reach a policy field a renderer pastes into a configuration, never throw,
// and always give one single-line finding per annotation. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readAnnotations } from '../../src/model/annotations/index.ts';
import { NGINX_CATALOGUE, NGINX_PREFIX } from '../../src/model/annotations/nginx-catalogue.ts';
import { TRAEFIK_CATALOGUE, TRAEFIK_PREFIXES } from '../../src/model/annotations/traefik-catalogue.ts';

const NAMES: readonly string[] = [
  ...Object.keys(NGINX_CATALOGUE).map((n) => `${NGINX_PREFIX}${n}`),
  ...Object.keys(TRAEFIK_CATALOGUE).flatMap((n) => TRAEFIK_PREFIXES.map((p) => `${p}${n}`)),
  ...Object.values(TRAEFIK_CATALOGUE).flatMap((e) => (e.compat === undefined ? [] : [e.compat])),
];

/** The catalogue example of each name, to start from, so that mutations reach the deep branches of the grammars. */
const EXAMPLES = new Map<string, string>();
for (const [n, e] of Object.entries(NGINX_CATALOGUE)) if (e.example !== undefined) EXAMPLES.set(`${NGINX_PREFIX}${n}`, e.example);
for (const [n, e] of Object.entries(TRAEFIK_CATALOGUE)) for (const p of TRAEFIK_PREFIXES) if (e.example !== undefined) EXAMPLES.set(`${p}${n}`, e.example);

/** Annotations other annotations need to take effect, added to some Ingresses as they are. */
const COMPANIONS: readonly Readonly<Record<string, string>>[] = [
  { [`${NGINX_PREFIX}auth-type`]: 'basic', [`${NGINX_PREFIX}auth-secret`]: 'users' },
  { [`${NGINX_PREFIX}enable-cors`]: 'true', [`${NGINX_PREFIX}affinity`]: 'cookie', [`${NGINX_PREFIX}auth-url`]: 'https://auth.example/check' },
  { [`${NGINX_PREFIX}canary`]: 'true' },
  { 'ingress.kubernetes.io/auth-type': 'forward', 'ingress.kubernetes.io/hsts-max-age': '100', 'ingress.kubernetes.io/ssl-redirect': 'true' },
  { 'ingress.kubernetes.io/auth-type': 'basic', 'ingress.kubernetes.io/auth-secret': 'users' },
];

const NASTY = ['\n', '\r', ';', '"', "'", '`', '$', '{', '}', '#', ' ', '\t', '\\', 'é', '\u2028', '\u0000', '%', '/', ':', ',', '||', '*', '..', '$1', '${x}', '@', '?'];

/** A value for an annotation: its example with nasty pieces spliced in, nasty pieces alone, or any string. */
function valueFor(name: string): fc.Arbitrary<string> {
  const seed = EXAMPLES.get(name) ?? 'true';
  return fc.oneof(
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...NASTY)), { maxLength: 3 }).map((cuts) =>
      cuts.reduce((s, [at, piece]) => s.slice(0, at % (s.length + 1)) + piece + s.slice(at % (s.length + 1)), seed),
    ),
    fc.array(fc.constantFrom(...NASTY, 'a', '1', 'GET', seed), { maxLength: 6 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
}

const entry = fc.constantFrom(...NAMES).chain((name) => fc.tuple(fc.constant(name), valueFor(name)));
const ingress = fc
  .tuple(fc.array(entry, { minLength: 1, maxLength: 8 }), fc.option(fc.constantFrom(...COMPANIONS)))
  .map(([entries, companions]) => ({ ...companions, ...Object.fromEntries(entries) }));

/** Never in any string of a policy: what nginx or HAProxy could read as syntax, and anything outside printable ASCII. */
const NEVER = /[^\x20-\x7e]|["\\{};]/;
/** Also never outside the free-text fields (realm, header values): spaces, comments, quotes. */
const NEVER_STRICT = /[ #'`]/;
/** The fields that are free text (a realm, header values: a header name may hold dots, `..X-Env`). */
const FREE_TEXT = /^(refs\.authSecret\.realm|policy\.headers\.(request|response)\..+|refs\.canary\.headerValue)$/;

/** Every string leaf and every record key of a value, with its path. */
function strings(value: unknown, at: string, out: [string, string][]): [string, string][] {
  if (typeof value === 'string') out.push([at, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${at}.${i}`, out));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([`${at}#key`, k]);
      strings(v, `${at}.${k}`, out);
    }
  }
  return out;
}

test('random annotation values never put configuration syntax into a policy', () => {
  fc.assert(
    fc.property(ingress, fc.boolean(), (annotations, hasTls) => {
      const r = readAnnotations(annotations, { namespace: 'default', hasTls });
      assert.equal(r.findings.length, Object.keys(annotations).length);
      for (const f of r.findings) assert.match(f.note, /^[\x20-\x7e]+$/, f.annotation);
      for (const [at, s] of strings({ policy: r.policy, refs: r.refs }, '', [])) {
        const field = at.slice(1);
        if (field.endsWith('.annotation')) continue;
        assert.doesNotMatch(s, NEVER, `${field}: ${JSON.stringify(s)}`);
        if (!FREE_TEXT.test(field)) assert.doesNotMatch(s, NEVER_STRICT, `${field}: ${JSON.stringify(s)}`);
        const dollars = field === 'refs.regexPaths.rewriteTarget' ? s.replace(/\$[1-9]/g, '') : s;
        assert.ok(!dollars.includes('$'), `${field}: ${JSON.stringify(s)}`);
      }
    }),
    { numRuns: 1500 },
  );
});

test('every annotation with a random value still gets exactly one finding', () => {
  fc.assert(
    fc.property(entry, ([name, v]) => {
      const r = readAnnotations({ [name]: v }, { namespace: 'default', hasTls: true });
      assert.deepEqual(r.findings.map((f) => f.annotation), [name]);
    }),
    { numRuns: 1000 },
  );
});
