import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { acmeRequests } from '../../src/acme/requests.ts';
import { FileCertificateStore, stateFromJson } from '../../src/acme/store/file.ts';
import { acmeCertificateId } from '../../src/acme/types.ts';
import type { ChallengeConfig } from '../../src/acme/dns/choice.ts';
import type { StoredCertificate } from '../../src/acme/types.ts';
import type { AcmeIssuance } from '../../src/model/translate/intents.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import { emptySnapshot } from '../../src/model/k8s.ts';
import { translate } from '../../src/model/translate/index.ts';
import type { TranslateInput, TranslateOptions } from '../../src/model/translate/index.ts';

const options: TranslateOptions = { entryPoints: [], ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: true };

function ingress(name: string, hosts: string[], tls?: { hosts?: string[]; secretName?: string }[], annotations?: Record<string, string>, created = '2024-01-01T00:00:00Z'): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'web', creationTimestamp: created, ...(annotations ? { annotations } : {}) },
    spec: {
      rules: hosts.map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { number: 80 } } } }] } })),
      ...(tls ? { tls } : {}),
    },
  };
}

const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
function secret(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'web' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(PEM_CERT).toString('base64'), 'tls.key': Buffer.from(PEM_KEY).toString('base64') } };
}

function run(snapshot: Partial<TranslateInput>, onHostRule: boolean, domains: { main: string; sans: string[] }[] = [], challenge?: ChallengeConfig) {
  const snap: TranslateInput = { ...emptySnapshot, ...snapshot };
  // translate knows of [acme] what the CLI tells it (cli/acme.ts acmeIssuance): onHostRule, and whether wildcards can be ordered.
  const acme: AcmeIssuance = { onHostRule, wildcards: challenge?.dnsProvider !== undefined };
  const model = translate(snap, { ...options, acme });
  return { model, set: acmeRequests(model, { onHostRule, domains, ...(challenge === undefined ? {} : { challenge }) }) };
}

const names = (r: { requests: readonly { names: readonly string[] }[] }): string[][] => r.requests.map((q) => [...q.names]);

test('acme requests: one certificate per TLS entry (hosts as SANs), Traefik-style one per rule host outside TLS', () => {
  const { set } = run({ ingresses: [ingress('a', ['a.example.com', 'www.a.example.com', 'plain.example.com'], [{ hosts: ['www.a.example.com', 'a.example.com'], secretName: 'missing' }])] }, true);
  assert.deepEqual(names(set), [['www.a.example.com', 'a.example.com'], ['plain.example.com']]);
  assert.equal(set.requests[0]?.id, acmeCertificateId('www.a.example.com'));
});

test('acme requests: hosts a valid Secret covers are left to it; a TLS entry without secretName is ordered', () => {
  const { set } = run({ ingresses: [ingress('a', ['s.example.com', 'n.example.com'], [{ hosts: ['s.example.com'], secretName: 'good' }, { hosts: ['n.example.com'] }])], secrets: [secret('good')] }, true);
  assert.deepEqual(names(set), [['n.example.com']]);
});

test('acme requests: off without onHostRule unless the Ingress opts in; "false" opts out', () => {
  const ings = [ingress('in', ['in.example.com'], undefined, { 'kubernetes.io/tls-acme': 'true' }), ingress('out', ['out.example.com'], undefined, { 'kubernetes.io/tls-acme': 'false' }), ingress('plain', ['plain.example.com'])];
  assert.deepEqual(names(run({ ingresses: ings }, false).set), [['in.example.com']]);
  assert.deepEqual(names(run({ ingresses: ings }, true).set), [['in.example.com'], ['plain.example.com']]);
});

test('acme requests: [[acme.domains]] first; a name is claimed once (older wins); wildcards reported', () => {
  const { set } = run(
    { ingresses: [ingress('young', ['x.example.com'], undefined, undefined, '2024-02-01T00:00:00Z'), ingress('old', ['x.example.com', 'y.example.com'], [{ hosts: ['*.w.example.com'] }])] },
    true,
    [{ main: 'example.com', sans: ['www.example.com', '*.example.com'] }],
  );
  assert.deepEqual(names(set), [['example.com', 'www.example.com'], ['x.example.com'], ['y.example.com']]);
  assert.deepEqual(set.diagnostics.map((d) => d.code), ['PASS_ACME_WILDCARD', 'PASS_ACME_WILDCARD']);
  assert.match(set.diagnostics[0]?.message ?? '', /only DNS-01 proves it, and \[acme.dnsChallenge\] sets no provider/);
});

test('acme requests: with a DNS-01 provider, wildcard names are ordered with the other names of their entry; a Secret that covers them still wins', () => {
  const dns: ChallengeConfig = { challenge: 'http-01', dnsProvider: 'rfc2136' };
  const { set, model } = run(
    { ingresses: [ingress('wild', ['*.w.example.com', 'w.example.com'], [{ hosts: ['*.w.example.com', 'w.example.com'], secretName: 'gone' }]), ingress('covered', ['*.s.example.com'], [{ hosts: ['*.s.example.com'], secretName: 'good' }])], secrets: [secret('good')] },
    true,
    [{ main: 'example.com', sans: ['*.example.com'] }],
    dns,
  );
  assert.deepEqual(names(set), [['example.com', '*.example.com'], ['*.w.example.com', 'w.example.com']]);
  assert.deepEqual(set.diagnostics, []);
  // The missing Secret of the wildcard entry ACME orders is a warning (translate says so itself).
  const tls = model.diagnostics.filter((d) => d.code.includes('SECRET'));
  assert.deepEqual(tls.map((d) => `${d.severity} ${d.code} ${d.object?.name} ${d.field}`), ['warning PASS_INGRESS_MISSING_SECRET wild spec.tls[0].secretName']);
});

test('missing TLS Secret: a warning when ACME certifies the whole entry, else the error', () => {
  const ings = [
    ingress('acme', ['a.example.com', 'b.example.com'], [{ hosts: ['a.example.com', 'b.example.com'], secretName: 'gone' }]),
    ingress('wild', ['*.w.example.com'], [{ hosts: ['*.w.example.com'], secretName: 'gone' }]),
    ingress('out', ['o.example.com'], [{ hosts: ['o.example.com'], secretName: 'gone' }], { 'kubernetes.io/tls-acme': 'false' }),
    ingress('bad', ['c.example.com'], [{ hosts: ['c.example.com', 'not a host'], secretName: 'gone' }]),
  ];
  const shown = (m: { diagnostics: readonly { severity: string; code: string; object?: { name: string }; message: string }[] }): string[] =>
    m.diagnostics.filter((d) => d.code === 'PASS_INGRESS_MISSING_SECRET').map((d) => `${d.severity} ${d.object?.name}: ${d.message}`);
  assert.deepEqual(shown(run({ ingresses: ings }, true).model), [
    'warning acme: Secret web/gone does not exist: the certificate is issued by ACME',
    'error bad: Secret web/gone does not exist; these hosts use the default certificate',
    'error out: Secret web/gone does not exist; these hosts use the default certificate',
    // Without a DNS-01 provider ACME cannot order the wildcard.
    'error wild: Secret web/gone does not exist; these hosts use the default certificate',
  ]);
  // The annotation opts in without onHostRule; with no [acme] at all, every missing Secret is an error.
  const optIn = ingress('in', ['i.example.com'], [{ hosts: ['i.example.com'], secretName: 'gone' }], { 'kubernetes.io/tls-acme': 'true' });
  assert.deepEqual(shown(run({ ingresses: [ings[0]!, optIn] }, false).model).map((l) => l.split(':')[0]), ['error acme', 'warning in']);
  assert.deepEqual(shown(translate({ ...emptySnapshot, ingresses: [optIn] }, options)).map((l) => l.split(':')[0]), ['error in']);
});

test('acme requests: Ingresses of another class are ignored', () => {
  const other = { ...ingress('other', ['o.example.com']), spec: { ingressClassName: 'nginx', rules: [] } } as KubeObject;
  assert.deepEqual(names(run({ ingresses: [other] }, true).set), []);
});

function stored(names: string[], notAfter = '2999-01-01T00:00:00Z'): StoredCertificate {
  return { id: acmeCertificateId(names[0]!), names, certPem: PEM_CERT, keyPem: PEM_KEY, notBefore: '2024-01-01T00:00:00Z', notAfter, issuedAt: '2024-01-01T00:00:00Z' };
}

test('issued certificates (translate input): served for the hosts no Secret covers, after the Secret ones; still requested, so renewed', () => {
  const ings = [ingress('a', ['s.example.com', 'n.example.com'], [{ hosts: ['s.example.com'], secretName: 'good' }])];
  const { model: without } = run({ ingresses: ings, secrets: [secret('good')] }, true);
  const { model: out, set } = run({ ingresses: ings, secrets: [secret('good')], issuedCertificates: [stored(['s.example.com']), stored(['n.example.com']), stored(['x.example.com'])] }, true);
  assert.deepEqual(out.certificates.map((c) => [c.id, c.hosts, c.source.kind]), [
    ['web/good', ['s.example.com'], 'Secret'],
    ['acme.passerelle/n.example.com', ['n.example.com'], 'AcmeCertificate'],
    // A name no Ingress routes ([[acme.domains]]) is served too.
    ['acme.passerelle/x.example.com', ['x.example.com'], 'AcmeCertificate'],
  ]);
  assert.equal(out.virtualHosts.find((v) => v.host === 'n.example.com')?.certificate, 'acme.passerelle/n.example.com');
  assert.equal(out.virtualHosts.find((v) => v.host === 's.example.com')?.certificate, 'web/good');
  // The certificate it serves does not make ACME stop wanting (renewing) it.
  assert.deepEqual(names(set), [['n.example.com']]);
  assert.deepEqual(out.diagnostics, without.diagnostics);
  assert.deepEqual(run({ ingresses: ings, secrets: [secret('good')], issuedCertificates: [] }, true).model, without);
});

test('issued certificates: a wildcard one serves its wildcard host and the exact hosts one label below it that have none', () => {
  const out = run({ ingresses: [ingress('a', ['*.w.example.com', 'app.w.example.com', 'w.example.com', 'deep.app.w.example.com'])], issuedCertificates: [stored(['*.w.example.com', 'w.example.com'])] }, true).model;
  const certOf = (h: string): string | undefined => out.virtualHosts.find((v) => v.host === h)?.certificate;
  assert.equal(certOf('*.w.example.com'), 'acme.passerelle/_.w.example.com');
  assert.equal(certOf('app.w.example.com'), 'acme.passerelle/_.w.example.com');
  assert.equal(certOf('w.example.com'), 'acme.passerelle/_.w.example.com');
  assert.equal(certOf('deep.app.w.example.com'), undefined, 'two labels below: not covered');
});

test('file store: atomic JSON (0600) + PEM files, round trip, reads a Traefik 1.x acme.json', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'acme.json');
  const dates = () => ({ notBefore: '2024-01-01T00:00:00.000Z', notAfter: '2024-04-01T00:00:00.000Z' });
  const store = new FileCertificateStore({ file, certDates: dates });
  assert.deepEqual(await store.load(), { certificates: {}, orders: {}, backoff: {}, issuances: [] });
  const c = stored(['a.example.com', 'b.example.com']);
  const state = {
    account: { caServer: 'https://ca/dir', keyPem: PEM_KEY, url: 'https://ca/acct/1', email: 'ops@example.net' },
    certificates: { [c.id]: c },
    orders: { o: { id: 'o', names: ['o.example.com'], orderUrl: 'https://ca/order/9', keyPem: PEM_KEY, createdAt: '2024-01-01T00:00:00Z' } },
    backoff: { 'f.example.com': { failures: 2, nextAttemptAt: '2024-01-01T00:05:00Z' } },
    issuances: [{ names: ['a.example.com'], at: '2024-01-01T00:00:00Z', renewal: false }],
  };
  await store.save(state);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await store.load(), state);
  assert.equal(await readFile(path.join(dir, 'certs', 'a.example.com.pem'), 'utf8'), `${PEM_CERT}${PEM_KEY}`);
  assert.equal((await stat(path.join(dir, 'certs', 'a.example.com.key'))).mode & 0o777, 0o600);
  // Removing a certificate removes its PEM files.
  await store.save({ ...state, certificates: {} });
  await assert.rejects(stat(path.join(dir, 'certs', 'a.example.com.pem')));

  const traefik = {
    Email: 'lefevre.kevin@gmail.com',
    Registration: { body: { resource: 'reg' }, uri: 'https://acme-staging.api.letsencrypt.org/acme/reg/359553' },
    DomainsCertificate: { Certs: [{ Domains: { Main: 'archifleks.net', SANs: null }, Certificate: { Domain: 'archifleks.net', Certificate: Buffer.from(PEM_CERT).toString('base64'), PrivateKey: Buffer.from(PEM_KEY).toString('base64') } }] },
  };
  const s = stateFromJson(JSON.stringify(traefik), dates);
  assert.deepEqual(Object.keys(s.certificates), ['acme.passerelle/archifleks.net']);
  assert.equal(s.account, undefined);
  await writeFile(file, '{ broken');
  await assert.rejects(store.load(), /not valid JSON/);
});
