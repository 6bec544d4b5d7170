/*
 * The ingress-nginx corpus (test/fixtures/corpus/): real-world style Ingresses read the way a
 * migration reads them (classAliases: ["nginx"]). For each proxy mode, the migration report and the
 * diagnostics of translate are compared with test/golden/corpus/report-<mode>.txt (UPDATE_GOLDEN=1
 * rewrites them), and facts that must hold whatever the golden says are checked on the model:
 * snippets are refused, a route whose Ingress asks for an allowlist or authentication is never
 * served without it (the policy is set, or the route is denied), invalid values set no policy.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Snapshot } from '../../src/model/k8s.ts';
import { describeMigration, migrationReport } from '../../src/model/migration.ts';
import type { MigrationReport } from '../../src/model/migration.ts';
import { readAnnotations } from '../../src/model/annotations/index.ts';
import { NGINX_CATALOGUE, NGINX_PREFIX } from '../../src/model/annotations/nginx-catalogue.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { ProxyMode } from '../../src/model/policy-support.ts';
import { translate } from '../../src/model/translate/index.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';
import type { Route, RoutingModel } from '../../src/model/types.ts';
import { brief, deepFreeze } from './translate-helpers.ts';
import { golden } from './golden.ts';

const corpusDir = new URL('../fixtures/corpus/', import.meta.url);

const LIST_OF_KIND: Readonly<Record<string, keyof Snapshot>> = {
  Ingress: 'ingresses',
  IngressClass: 'ingressClasses',
  Service: 'services',
  Secret: 'secrets',
  ConfigMap: 'configMaps',
};

/** Every YAML file of the corpus, in name order, into one snapshot (objects carry their file and line). */
function loadCorpus(): Snapshot {
  const lists: Record<keyof Snapshot, unknown[]> = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [] };
  const files = readdirSync(corpusDir).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length > 0, 'the corpus has YAML files');
  for (const file of files) {
    const lineCounter = new LineCounter();
    for (const doc of parseAllDocuments(readFileSync(new URL(file, corpusDir), 'utf8'), { lineCounter })) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const obj: unknown = doc.toJS();
      if (typeof obj !== 'object' || obj === null) continue;
      const kind = (obj as { kind?: unknown }).kind;
      // EndpointSlices are the behaviour test's business (it points them at its upstreams).
      const list = typeof kind === 'string' ? LIST_OF_KIND[kind] : undefined;
      assert.ok(list, `${file}: unexpected kind ${String(kind)}`);
      lists[list].push({ ...obj, source: { file, line: lineCounter.linePos(doc.contents?.range[0] ?? 0).line } });
    }
  }
  return deepFreeze(lists as unknown as Snapshot);
}

const corpus = loadCorpus();

/** The options of a migration off ingress-nginx: our class, and `nginx` served beside it. */
function optionsFor(mode: ProxyMode): TranslateOptions {
  return { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: ['nginx'], watchIngressWithoutClass: false, mode };
}

const MODES: readonly ProxyMode[] = ['native', 'haproxy', 'nginx'];

interface IngressInfo {
  readonly key: string;
  readonly annotations: Readonly<Record<string, string>>;
}

function ingressInfo(obj: unknown): IngressInfo {
  const meta = (obj as { metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> } }).metadata ?? {};
  return { key: `${meta.namespace ?? 'default'}/${meta.name ?? ''}`, annotations: meta.annotations ?? {} };
}

const ingresses: readonly IngressInfo[] = corpus.ingresses.map(ingressInfo);
const annotationsOf = new Map(ingresses.map((i) => [i.key, i.annotations]));

/** The routes of the model with the `namespace/name` of the Ingress they come from. */
function routesOf(model: RoutingModel): { readonly host: string; readonly route: Route; readonly ingress: string }[] {
  return model.virtualHosts.flatMap((vh) => vh.routes.map((route) => ({ host: vh.host, route, ingress: `${route.source.namespace ?? ''}/${route.source.name}` })));
}

/** What the golden file holds: the report as `passerelle migrate` prints it, then severity, code, object and field of each diagnostic. */
function goldenText(mode: ProxyMode, report: MigrationReport, model: RoutingModel): string {
  return [
    `# The migration report of test/fixtures/corpus/ and the diagnostics of translate, ${mode} mode (test/unit/corpus-report.test.ts).`,
    ...describeMigration(report),
    '',
    'diagnostics:',
    ...brief(model.diagnostics),
    '',
  ].join('\n');
}


test('corpus: at least 30 Ingresses served through classAliases, the other classes left alone', () => {
  const options = optionsFor('native');
  const report = migrationReport(corpus, options);
  const served = new Set(translate(corpus, options).virtualHosts.flatMap((vh) => vh.sources.map((s) => `${s.namespace ?? ''}/${s.name}`)));
  const reported = new Set(report.ingresses.map((i) => `${i.ingress.namespace ?? ''}/${i.ingress.name}`));
  const others = ['other/intranet-haproxy', 'other/no-class'];
  for (const key of others) {
    assert.ok(annotationsOf.has(key), `${key} is in the corpus`);
    assert.equal(reported.has(key), false, `${key} is another controller's`);
    assert.equal(served.has(key), false, `${key} is another controller's`);
  }
  assert.ok(served.size >= 30, `${served.size} Ingresses served`);
  // In native mode every one of ours routes, the regex paths (api/regex-rewrite, api/regex-only) too.
  const routing = ingresses.map((i) => i.key).filter((k) => !others.includes(k));
  assert.deepEqual([...served].sort(), routing.sort());
  // In native mode, an Ingress is in the report when it has an annotation of either dialect.
  const annotated = ingresses.filter((i) => !others.includes(i.key) && Object.keys(i.annotations).some((a) => /^(nginx\.|traefik\.)?ingress\.kubernetes\.io\/|^traefik\.frontend\./.test(a)));
  assert.deepEqual([...reported].sort(), annotated.map((i) => i.key).sort());
  // The IngressClass nginx of ingress-nginx exists: by spec.ingressClassName or by annotation, each is taken over.
  assert.ok(report.ingresses.every((i) => i.takenOver), 'every Ingress served beside ingress-nginx leaves it the status');
  assert.ok(ingresses.some((i) => i.annotations['kubernetes.io/ingress.class'] === 'nginx'), 'the annotation form is in the corpus');
});

test('corpus: every ingress-nginx annotation that is applied (or applied differently) appears at least once', () => {
  const used = new Set(ingresses.flatMap((i) => Object.keys(i.annotations)));
  const missing = Object.entries(NGINX_CATALOGUE)
    .filter(([, entry]) => entry.status === 'applied' || entry.status === 'different')
    .map(([name]) => `${NGINX_PREFIX}${name}`)
    .filter((annotation) => !used.has(annotation));
  assert.deepEqual(missing, []);
});

for (const mode of MODES) {
  test(`corpus golden: the migration report and the diagnostics, ${mode} mode`, () => {
    const options = optionsFor(mode);
    golden(`report-${mode}.txt`, goldenText(mode, migrationReport(corpus, options), translate(corpus, options)), 'corpus');
  });
}

for (const mode of MODES) {
  test(`corpus: every *-snippet annotation is refused and reported, ${mode} mode`, () => {
    const options = optionsFor(mode);
    const report = migrationReport(corpus, options);
    const model = translate(corpus, options);
    const snippets = report.ingresses.flatMap((i) => i.findings.filter((f) => f.annotation.endsWith('-snippet')).map((f) => ({ ingress: i.ingress, finding: f })));
    const inCorpus = ingresses.filter((i) => i.key.split('/')[0] !== 'other').flatMap((i) => Object.keys(i.annotations).filter((a) => a.endsWith('-snippet')));
    assert.ok(inCorpus.length >= 3, 'the corpus has snippets');
    assert.equal(snippets.length, inCorpus.length, 'each snippet has a finding');
    for (const { ingress, finding } of snippets) {
      assert.equal(finding.status, 'refused', `${ingress.namespace ?? ''}/${ingress.name} ${finding.annotation}`);
      const field = `metadata.annotations['${finding.annotation}']`;
      assert.ok(
        model.diagnostics.some((d) => d.code === 'PASS_ANNOTATION_SNIPPET' && d.severity === 'error' && d.object?.name === ingress.name && d.object.namespace === ingress.namespace && d.field === field),
        `an error on ${field} of ${ingress.namespace ?? ''}/${ingress.name}`,
      );
    }
  });
}

/** The access annotations of both dialects and the policy each one asks for. */
const ACCESS_ANNOTATIONS: readonly { readonly pattern: RegExp; readonly field: 'allowSourceRange' | 'basicAuth' | 'externalAuth' }[] = [
  { pattern: /^nginx\.ingress\.kubernetes\.io\/(allowlist|whitelist)-source-range$/, field: 'allowSourceRange' },
  { pattern: /^(traefik\.)?ingress\.kubernetes\.io\/whitelist-source-range$/, field: 'allowSourceRange' },
  { pattern: /^(nginx\.|traefik\.)?ingress\.kubernetes\.io\/auth-(type|secret)$/, field: 'basicAuth' },
  { pattern: /^(nginx\.|traefik\.)?ingress\.kubernetes\.io\/auth-url$/, field: 'externalAuth' },
];

/** What an Ingress's annotations ask of access: the policy fields that must be set unless the route is denied. */
function accessAsked(annotations: Readonly<Record<string, string>>): Set<'allowSourceRange' | 'basicAuth' | 'externalAuth'> {
  const asked = new Set<'allowSourceRange' | 'basicAuth' | 'externalAuth'>();
  for (const [name, value] of Object.entries(annotations)) {
    for (const a of ACCESS_ANNOTATIONS) {
      if (!a.pattern.test(name)) continue;
      // auth-type forward is Traefik 1's external auth, with auth-url.
      asked.add(a.field === 'basicAuth' && /auth-type$/.test(name) && value.toLowerCase() === 'forward' ? 'externalAuth' : a.field);
    }
  }
  return asked;
}

for (const mode of MODES) {
  test(`corpus: no route of an Ingress with an allowlist or authentication is served without it, ${mode} mode`, () => {
    const model = translate(corpus, optionsFor(mode));
    let checked = 0;
    let enforced = 0;
    for (const { host, route, ingress } of routesOf(model)) {
      const asked = accessAsked(annotationsOf.get(ingress) ?? {});
      if (asked.size === 0) continue;
      checked++;
      const policy: RoutePolicy = route.policy ?? {};
      if (policy.denied !== undefined) continue;
      for (const field of asked) assert.notEqual(policy[field], undefined, `${ingress} ${host}${route.path}: ${field} is asked, the route is neither checked nor denied`);
      enforced++;
    }
    // wordpress-admin (2 paths), panel, grafana, kibana, jenkins, prometheus, legacy-tools, old-wiki, traefik-auth, mixed.
    assert.equal(checked, 11, 'the routes of the access Ingresses');
    // Whatever the mode renders, the missing Secret, the invalid range and digest auth are always denied.
    for (const key of ['admin/jenkins', 'admin/legacy-tools', 'admin/old-wiki']) {
      const routes = routesOf(model).filter((r) => r.ingress === key);
      assert.ok(routes.length > 0 && routes.every((r) => r.route.policy?.denied !== undefined), `${key} is denied`);
    }
    assert.ok(enforced > 0 || mode !== 'native', 'native renders allowlists and basic auth: some access routes are served with their checks');
  });
}

/** Ingresses with invalid values: the annotation, and what its policy would hold (which must stay unset). */
const INVALID_CASES: readonly { readonly name: string; readonly ingress: string; readonly annotation: string; readonly value: (p: RoutePolicy) => unknown; readonly denied: boolean }[] = [
  { name: 'proxy-body-size "8 MB"', ingress: 'legacy/bad-values', annotation: 'nginx.ingress.kubernetes.io/proxy-body-size', value: (p) => p.limits?.maxBodyBytes, denied: false },
  { name: 'proxy-read-timeout "60s"', ingress: 'legacy/bad-values', annotation: 'nginx.ingress.kubernetes.io/proxy-read-timeout', value: (p) => p.timeouts?.read, denied: false },
  { name: 'whitelist-source-range "10.0.0.0/33"', ingress: 'admin/legacy-tools', annotation: 'nginx.ingress.kubernetes.io/whitelist-source-range', value: (p) => p.allowSourceRange, denied: true },
];

for (const mode of MODES) {
  test(`corpus: invalid values are reported invalid and set no policy value, ${mode} mode`, () => {
    const options = optionsFor(mode);
    const report = migrationReport(corpus, options);
    const model = translate(corpus, options);
    for (const c of INVALID_CASES) {
      const [namespace = '', name = ''] = c.ingress.split('/');
      const finding = report.ingresses.find((i) => i.ingress.namespace === namespace && i.ingress.name === name)?.findings.find((f) => f.annotation === c.annotation);
      assert.equal(finding?.status, 'invalid', c.name);
      assert.ok(
        model.diagnostics.some((d) => d.code === 'PASS_ANNOTATION_INVALID' && d.object?.namespace === namespace && d.object.name === name && d.field === `metadata.annotations['${c.annotation}']`),
        `${c.name}: PASS_ANNOTATION_INVALID on the annotation`,
      );
      // The policy as read, before the mode drops what it does not render.
      const read = readAnnotations(annotationsOf.get(c.ingress) ?? {}, { namespace, hasTls: false });
      assert.equal(c.value(read.policy), undefined, `${c.name}: no policy value`);
      const routes = routesOf(model).filter((r) => r.ingress === c.ingress);
      assert.ok(routes.length > 0, `${c.ingress} has routes`);
      for (const { route } of routes) assert.equal(route.policy?.denied !== undefined, c.denied, `${c.name}: denied is ${String(c.denied)}`);
    }
    // Every invalid finding has its error on the annotation.
    for (const ing of report.ingresses) {
      for (const f of ing.findings.filter((x) => x.status === 'invalid')) {
        assert.ok(
          model.diagnostics.some(
            (d) => d.severity === 'error' && (d.code === 'PASS_ANNOTATION_INVALID' || d.code === 'PASS_ANNOTATION_INCOMPLETE') && d.object?.namespace === ing.ingress.namespace && d.object?.name === ing.ingress.name && d.field === `metadata.annotations['${f.annotation}']`,
          ),
          `${ing.ingress.namespace ?? ''}/${ing.ingress.name} ${f.annotation}`,
        );
      }
    }
  });
}
