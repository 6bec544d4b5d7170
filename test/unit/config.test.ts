import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassDiagnosticsError, PassError } from '../../src/shared/errors.ts';
import { defaultConfig, loadConfigFile, loadConfigResult, parseConfig, parseConfigResult } from '../../src/config/load.ts';
import { formatKeyPath, locateKeys } from '../../src/config/locate.ts';
import { describeConfig, parseDuration } from '../../src/config/schema.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.join(repo, 'test/fixtures/config');
const fixture = (name: string): string => path.join(fixtures, `${name}.toml`);

/** The diagnostics of a parse that must fail. */
function diagnosticsOf(text: string, file = '/etc/passerelle/passerelle.toml'): PassDiagnosticsError['diagnostics'] {
  try {
    parseConfig(text, file);
  } catch (err) {
    assert.ok(err instanceof PassDiagnosticsError, `expected PassDiagnosticsError, got ${String(err)}`);
    assert.equal(err.code, 'PASS_CONFIG_INVALID');
    return err.diagnostics;
  }
  assert.fail('expected the configuration to be rejected');
}

// The seed's digest, so that the check runs (never skips) where ../shared is not beside the repository.
const SEED_SHA256 = 'a7747d1ac34c5991883ccec39191c973fc54cd63201d07322a5980014103adb0';

test('seed traefik.toml: the fixture is a byte-for-byte copy of the seed (../shared/seed/traefik.toml when present, else its recorded digest)', () => {
  const copy = readFileSync(fixture('seed-traefik'));
  assert.equal(createHash('sha256').update(copy).digest('hex'), SEED_SHA256);
  const seed = path.join(repo, '../shared/seed/traefik.toml');
  if (existsSync(seed)) assert.deepEqual(copy, readFileSync(seed));
});

test('seed traefik.toml loads unchanged with the article values', async () => {
  const { config, warnings } = await loadConfigResult(fixture('seed-traefik'));
  assert.deepEqual(config.defaultEntryPoints, ['http', 'https']);
  assert.equal(config.entryPoints['http']?.address, ':80');
  assert.deepEqual(config.entryPoints['http']?.redirect, { entryPoint: 'https', permanent: false });
  assert.equal(config.entryPoints['http']?.tls, undefined);
  assert.equal(config.entryPoints['https']?.address, ':443');
  assert.deepEqual(config.entryPoints['https']?.tls, { certificates: [] });
  for (const name of ['http', 'https']) {
    assert.deepEqual(config.entryPoints[name]?.auth?.basic, {
      users: [{ user: 'klefevre', hash: '$apr1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/' }],
      realm: 'passerelle',
      removeHeader: false,
    });
  }
  const acme = config.acme;
  assert.ok(acme);
  assert.equal(acme.email, 'lefevre.kevin@gmail.com');
  assert.equal(acme.storage, '/acme/acme.json');
  assert.equal(acme.entryPoint, 'https');
  assert.equal(acme.onDemand, true);
  assert.equal(acme.onHostRule, true);
  assert.deepEqual(acme.domains, [{ main: 'archifleks.net', sans: [] }]);
  // The retired v1 staging directory loads, is replaced by its v2 successor, and says so.
  assert.equal(acme.caServer, 'https://acme-staging-v02.api.letsencrypt.org/directory');
  assert.deepEqual(
    warnings.map((w) => [w.severity, w.code, w.field, w.location?.line]),
    [['warning', 'PASS_CONFIG_ACME_V1', 'acme.caServer', 21]],
  );
  assert.equal(config.logLevel, 'info');
  assert.equal(config.proxy.mode, 'native');
  assert.equal(config.kubernetes.enabled, false);
});

/** What every entry point gets when its TOML table sets only an address. */
const EP_DEFAULTS = { timeouts: { requestHeader: 10_000, idle: 10_000, body: 60_000 }, forwardedHeaders: { trustedIPs: [] }, allowEncodedSlashes: false };

test('empty file: every default', () => {
  const config = parseConfig('', '/srv/conf/passerelle.toml');
  assert.deepEqual(config, {
    logLevel: 'info',
    defaultEntryPoints: ['http'],
    entryPoints: { http: { address: ':80', ...EP_DEFAULTS } },
    proxy: {
      mode: 'native',
      connectTimeout: 5000,
      readTimeout: 60000,
      gracePeriod: 10000,
      forwardedHeader: false,
      workDir: '/srv/conf/.passerelle',
      reload: 'bundled',
      answerPlainHttpOnTls: false,
    },
    kubernetes: {
      enabled: false,
      namespaces: [],
      ingressClass: 'passerelle',
      controllerName: 'passerelle.dev/ingress-controller',
      gatewayControllerName: 'passerelle.dev/gateway-controller',
      classAliases: ['traefik'],
      watchIngressWithoutClass: false,
      sslRedirect: true,
      gatewayAddressPool: [],
      leaderElection: true,
      leaseName: 'passerelle-leader',
      leaseDuration: 15000,
      recordEvents: true,
      startupRetry: 120000,
    },
    file: { watch: true },
    web: { enabled: false, address: ':8080' },
    log: {},
  });
  assert.equal(config.acme, undefined);
});

test('defaultConfig equals the parse of an empty file in the given folder', () => {
  assert.deepEqual(defaultConfig('/srv/conf'), parseConfig('', '/srv/conf/passerelle.toml'));
});

test('the parsed configuration is deeply frozen', () => {
  const config = parseConfig(readFileSync(fixture('seed-traefik'), 'utf8'), fixture('seed-traefik'));
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.entryPoints['http']?.auth?.basic?.users));
  assert.ok(Object.isFrozen(config.acme?.domains[0]));
  assert.throws(() => {
    (config.proxy as { mode: string }).mode = 'nginx';
  }, TypeError);
});

test('every key set: values kept, relative paths resolved against the file folder', () => {
  const file = fixture('full-relative-paths');
  const { config, warnings } = parseConfigResult(readFileSync(file, 'utf8'), file);
  assert.deepEqual(warnings, []);
  const at = (p: string): string => path.join(fixtures, p);
  assert.equal(config.logLevel, 'warn');
  assert.deepEqual(config.entryPoints['http'], { address: '127.0.0.1:8000', redirect: { entryPoint: 'https', permanent: true }, ...EP_DEFAULTS });
  assert.deepEqual(config.entryPoints['https']?.tls?.certificates, [{ certFile: at('certs/default.crt'), keyFile: '/etc/ssl/default.key' }]);
  assert.deepEqual(config.entryPoints['https']?.auth?.basic?.users.map((u) => u.user), ['alice', 'bob']);
  assert.equal(config.entryPoints['https']?.auth?.basic?.realm, 'private');
  assert.equal(config.entryPoints['https']?.auth?.basic?.removeHeader, true);
  assert.deepEqual(config.proxy, {
    mode: 'haproxy',
    connectTimeout: 500,
    readTimeout: 90000,
    gracePeriod: 60000,
    forwardedHeader: true,
    binary: 'haproxy',
    workDir: at('run'),
    reload: 'sidecar',
    templates: path.join(repo, 'test/fixtures/templates'),
    masterSocket: at('run/master.sock'),
    answerPlainHttpOnTls: true,
  });
  assert.equal(config.kubernetes.kubeconfig, at('kube/config'));
  assert.deepEqual(config.kubernetes.namespaces, ['default', 'apps']);
  assert.equal(config.kubernetes.publishService, 'edge/passerelle');
  assert.equal(config.kubernetes.leaderElection, false);
  assert.deepEqual(config.file, { directory: at('ingress'), watch: false });
  assert.equal(config.acme?.storage, at('state/acme.json'));
  assert.equal(config.acme?.caBundle, at('pebble.minica.pem'));
  assert.deepEqual(config.acme?.domains, [
    { main: 'example.net', sans: ['www.example.net'] },
    { main: '*.apps.example.net', sans: [] },
  ]);
  assert.deepEqual(config.acme?.eab, { kid: 'kid-1', hmacKey: 'c2VjcmV0' });
  assert.deepEqual(config.web, { enabled: true, address: '127.0.0.1:9090' });
});

const accepted: { name: string; text: string; check: (c: ReturnType<typeof parseConfig>) => void }[] = [
  { name: 'logLevel is case-insensitive ("DEBUG")', text: 'logLevel = "DEBUG"', check: (c) => assert.equal(c.logLevel, 'debug') },
  { name: 'logLevel "Warning" (logrus spelling) means warn', text: 'logLevel = "Warning"', check: (c) => assert.equal(c.logLevel, 'warn') },
  {
    name: 'durations in ms, s, m and plain milliseconds',
    text: '[proxy]\nconnectTimeout = "500ms"\nreadTimeout = 1500\ngracePeriod = "1m"',
    check: (c) => assert.deepEqual([c.proxy.connectTimeout, c.proxy.readTimeout, c.proxy.gracePeriod], [500, 1500, 60000]),
  },
  { name: 'storage is accepted as well as storageFile', text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]\nstorage = "/data/acme.json"', check: (c) => assert.equal(c.acme?.storage, '/data/acme.json') },
  {
    name: 'acme onDemand policy, renewal and budget defaults',
    text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]',
    check: (c) =>
      assert.deepEqual(
        [c.acme?.onDemandAsk, c.acme?.onDemandDomains, c.acme?.onDemandIngressHosts, c.acme?.onDemandRateLimit, c.acme?.renewBefore, c.acme?.weeklyBudget],
        [undefined, true, true, 10, 1 / 3, 50],
      ),
  },
  {
    name: 'acme challenge: http-01 by default, tls-alpn-01 in native mode',
    text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]',
    check: (c) => assert.equal(c.acme?.challenge, 'http-01'),
  },
  {
    name: 'acme challenge tls-alpn-01 (native mode, the default)',
    text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]\nchallenge = "tls-alpn-01"',
    check: (c) => assert.equal(c.acme?.challenge, 'tls-alpn-01'),
  },
  {
    name: 'acme onDemand policy, renewal and budget set',
    text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]\nonDemand = true\nonDemandAsk = "http://127.0.0.1:9000/allow"\nonDemandDomains = false\nonDemandIngressHosts = false\nonDemandRateLimit = 3\nrenewBefore = 0.5\nweeklyBudget = 20',
    check: (c) =>
      assert.deepEqual(
        [c.acme?.onDemandAsk, c.acme?.onDemandDomains, c.acme?.onDemandIngressHosts, c.acme?.onDemandRateLimit, c.acme?.renewBefore, c.acme?.weeklyBudget],
        ['http://127.0.0.1:9000/allow', false, false, 3, 0.5, 20],
      ),
  },
  { name: 'acme storage in Kubernetes Secrets is not a path', text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]\nstorage = "kubernetes:passerelle/certs"', check: (c) => assert.equal(c.acme?.storage, 'kubernetes:passerelle/certs') },
  { name: 'a storage file whose name starts with kubernetes is a path', text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]\nstorage = "kubernetes.json"', check: (c) => assert.equal(c.acme?.storage, '/etc/passerelle/kubernetes.json') },
  {
    name: 'kubernetes lease and Events settings',
    text: '[kubernetes]\nleaseName = "edge-leader"\nleaseNamespace = "edge"\nleaseDuration = "30s"\nrecordEvents = false',
    check: (c) => assert.deepEqual([c.kubernetes.leaseName, c.kubernetes.leaseNamespace, c.kubernetes.leaseDuration, c.kubernetes.recordEvents], ['edge-leader', 'edge', 30000, false]),
  },
  { name: 'acme storage defaults to acme.json beside the file', text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]', check: (c) => assert.equal(c.acme?.storage, '/etc/passerelle/acme.json') },
  {
    name: 'defaultEntryPoints defaults to every entry point defined, sorted',
    text: '[entryPoints.web]\naddress=":8000"\n[entryPoints.admin]\naddress=":9000"',
    check: (c) => assert.deepEqual(c.defaultEntryPoints, ['admin', 'web']),
  },
  {
    name: 'dotted keys and inline tables',
    text: '[entryPoints]\na.address = ":81"\nb = { address = ":82", redirect = { entryPoint = "a", permanent = true } }',
    check: (c) => assert.deepEqual(c.entryPoints['b'], { address: ':82', redirect: { entryPoint: 'a', permanent: true }, ...EP_DEFAULTS }),
  },
  { name: 'addresses: IPv4 host, IPv6 in brackets, host name', text: '[entryPoints]\na.address = "127.0.0.1:8443"\nb.address = "[::1]:443"\nc.address = "localhost:8080"', check: (c) => assert.equal(Object.keys(c.entryPoints).length, 3) },
  { name: 'same port on two different hosts is allowed', text: '[entryPoints]\na.address = "127.0.0.1:80"\nb.address = "127.0.0.2:80"', check: (c) => assert.equal(Object.keys(c.entryPoints).length, 2) },
  { name: 'a binary name without a slash stays a PATH lookup', text: '[proxy]\nbinary = "nginx"', check: (c) => assert.equal(c.proxy.binary, 'nginx') },
  { name: 'a binary with a slash is resolved against the file folder', text: '[proxy]\nbinary = "bin/haproxy"', check: (c) => assert.equal(c.proxy.binary, '/etc/passerelle/bin/haproxy') },
];

for (const c of accepted) {
  test(`accepted: ${c.name}`, () => {
    c.check(parseConfig(c.text, '/etc/passerelle/passerelle.toml'));
  });
}

interface Expected {
  readonly code: string;
  readonly field?: string;
  readonly line: number;
  readonly message?: RegExp;
}

const rejected: { name: string; text: string; expect: Expected[]; notInMessages?: string }[] = [
  { name: 'TOML syntax error names the line', text: 'logLevel = "info"\naddress = \n', expect: [{ code: 'PASS_CONFIG_PARSE', line: 2 }] },
  { name: 'TOML duplicate key', text: '[web]\nenabled = true\nenabled = false\n', expect: [{ code: 'PASS_CONFIG_PARSE', line: 3 }] },
  { name: 'unknown top-level key with a hint', text: '\nlogLevl = "info"', expect: [{ code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'logLevl', line: 2, message: /did you mean "logLevel"/ }] },
  { name: 'unknown table', text: 'logLevel = "info"\n[metrics]\nenabled = true', expect: [{ code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'metrics', line: 2 }] },
  { name: 'unknown key in an entry point', text: '[entryPoints.http]\naddress = ":80"\ncompress = true', expect: [{ code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'entryPoints.http.compress', line: 3 }] },
  { name: 'unknown key in an inline table', text: '[entryPoints]\nhttp = { address = ":80", bogus = 1 }', expect: [{ code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'entryPoints.http.bogus', line: 2 }] },
  {
    name: 'unknown key in the second [[acme.domains]]',
    text: '[entryPoints.https]\naddress=":443"\n[entryPoints.https.tls]\n[acme]\n[[acme.domains]]\nmain = "a.example"\n[[acme.domains]]\nmain = "b.example"\nsan = []',
    expect: [{ code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'acme.domains[1].san', line: 9, message: /did you mean "sans"/ }],
  },
  { name: 'wrong type: address as an integer', text: '[entryPoints.http]\naddress = 80', expect: [{ code: 'PASS_CONFIG_BAD_TYPE', field: 'entryPoints.http.address', line: 2, message: /expected a string, got an integer/ }] },
  { name: 'wrong type: boolean as a string', text: '[web]\n\nenabled = "yes"', expect: [{ code: 'PASS_CONFIG_BAD_TYPE', field: 'web.enabled', line: 3 }] },
  { name: 'wrong type with a dotted key', text: 'entryPoints.http.address = true', expect: [{ code: 'PASS_CONFIG_BAD_TYPE', field: 'entryPoints.http.address', line: 1 }] },
  { name: 'missing address names the table line', text: '\n[entryPoints.http]\n[entryPoints.http.tls]', expect: [{ code: 'PASS_CONFIG_MISSING_KEY', field: 'entryPoints.http.address', line: 2 }] },
  { name: 'address without a colon', text: '[entryPoints.http]\naddress = "80"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', field: 'entryPoints.http.address', line: 2, message: /write ":80"/ }] },
  { name: 'address port 0', text: '[entryPoints.http]\naddress = ":0"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', field: 'entryPoints.http.address', line: 2 }] },
  { name: 'address port 65536', text: '[entryPoints.http]\naddress = ":65536"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', line: 2 }] },
  { name: 'address with an unbracketed IPv6', text: '[entryPoints.http]\naddress = "::1:443"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', line: 2 }] },
  { name: 'address with a bad host', text: '[entryPoints.http]\naddress = "bad_host!:80"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', line: 2 }] },
  { name: 'web address invalid', text: '[web]\naddress = "localhost"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', field: 'web.address', line: 2 }] },
  { name: 'two entry points on the same port', text: '[entryPoints.a]\naddress = ":80"\n[entryPoints.b]\naddress = "127.0.0.1:80"', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', field: 'entryPoints.b.address', line: 4, message: /already used by entry point "a"/ }] },
  { name: 'enabled web on an entry point port', text: '[entryPoints.a]\naddress = ":8080"\n[web]\nenabled = true', expect: [{ code: 'PASS_CONFIG_BAD_ADDRESS', field: 'web.address', line: 3 }] },
  {
    name: 'plain-text password names the user, never the password',
    text: '[entryPoints.http]\naddress = ":80"\n[entryPoints.http.auth.basic]\nusers = [\n  "admin:$apr1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/",\n  "bob:S3cretPass",\n]',
    expect: [{ code: 'PASS_CONFIG_BAD_USER', field: 'entryPoints.http.auth.basic.users[1]', line: 6, message: /user "bob"/ }],
    notInMessages: 'S3cretPass',
  },
  { name: 'user listed twice', text: '[entryPoints.http]\naddress = ":80"\n[entryPoints.http.auth.basic]\nusers = ["a:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "a:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="]', expect: [{ code: 'PASS_CONFIG_BAD_USER', field: 'entryPoints.http.auth.basic.users[1]', line: 4 }] },
  { name: 'basic auth without users', text: '[entryPoints.http]\naddress = ":80"\n[entryPoints.http.auth.basic]\nusers = []', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'entryPoints.http.auth.basic.users', line: 4 }] },
  { name: 'redirect to an undefined entry point', text: '[entryPoints.http]\naddress = ":80"\n  [entryPoints.http.redirect]\n  entryPoint = "htps"', expect: [{ code: 'PASS_CONFIG_BAD_REDIRECT', field: 'entryPoints.http.redirect.entryPoint', line: 4 }] },
  { name: 'redirect to itself', text: '[entryPoints.http]\naddress = ":80"\nredirect.entryPoint = "http"', expect: [{ code: 'PASS_CONFIG_BAD_REDIRECT', line: 3 }] },
  {
    name: 'redirect to an entry point that is not served',
    text: 'defaultEntryPoints = ["http"]\n[entryPoints.http]\naddress = ":80"\nredirect.entryPoint = "https"\n[entryPoints.https]\naddress = ":443"\ntls = {}',
    expect: [{ code: 'PASS_CONFIG_BAD_REDIRECT', line: 4, message: /not in defaultEntryPoints/ }],
  },
  { name: 'defaultEntryPoints names an undefined entry point', text: 'defaultEntryPoints = ["http",\n  "https"]', expect: [{ code: 'PASS_CONFIG_UNKNOWN_ENTRYPOINT', field: 'defaultEntryPoints[1]', line: 2 }] },
  { name: 'entry point name with a dot', text: '[entryPoints."a.b"]\naddress = ":80"', expect: [{ code: 'PASS_CONFIG_BAD_NAME', field: 'entryPoints."a.b"', line: 1 }] },
  { name: 'empty defaultEntryPoints', text: 'defaultEntryPoints = []', expect: [{ code: 'PASS_CONFIG_NO_ENTRYPOINT', field: 'defaultEntryPoints', line: 1 }] },
  { name: 'empty [entryPoints]', text: '[entryPoints]', expect: [{ code: 'PASS_CONFIG_NO_ENTRYPOINT', field: 'entryPoints', line: 1 }] },
  { name: 'unknown logLevel', text: 'logLevel = "verbose"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'logLevel', line: 1, message: /"debug".*got "verbose"/ }] },
  { name: 'unknown proxy mode', text: '[proxy]\nmode = "apache"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'proxy.mode', line: 2 }] },
  { name: 'bad duration', text: '[proxy]\nreadTimeout = "5 seconds"', expect: [{ code: 'PASS_CONFIG_BAD_DURATION', field: 'proxy.readTimeout', line: 2 }] },
  { name: 'duration of the wrong type', text: '[proxy]\nreadTimeout = true', expect: [{ code: 'PASS_CONFIG_BAD_TYPE', field: 'proxy.readTimeout', line: 2 }] },
  { name: 'storage and storageFile together', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nstorage = "a.json"\nstorageFile = "b.json"', expect: [{ code: 'PASS_CONFIG_CONFLICT', field: 'acme.storageFile', line: 6 }] },
  { name: 'acme entry point without TLS', text: '[entryPoints.https]\naddress=":443"\n[acme]\nentryPoint = "https"', expect: [{ code: 'PASS_CONFIG_BAD_ACME', field: 'acme.entryPoint', line: 4 }] },
  { name: 'acme entry point undefined (default "https")', text: '[acme]\nemail = "a@example.net"', expect: [{ code: 'PASS_CONFIG_BAD_ACME', field: 'acme.entryPoint', line: 1 }] },
  { name: 'acme domain that is not a DNS name', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[[acme.domains]]\nmain = "exa mple.net"', expect: [{ code: 'PASS_CONFIG_BAD_DOMAIN', field: 'acme.domains[0].main', line: 5 }] },
  { name: 'acme email that is not an address', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nemail = "nobody"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'acme.email', line: 5 }] },
  { name: 'acme renewBefore outside (0, 1)', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nrenewBefore = 1.5', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'acme.renewBefore', line: 5 }] },
  { name: 'acme weeklyBudget not a whole number', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nweeklyBudget = 2.5', expect: [{ code: 'PASS_CONFIG_BAD_TYPE', field: 'acme.weeklyBudget', line: 5 }] },
  { name: 'acme onDemandAsk not a URL', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nonDemandAsk = "allow-list"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'acme.onDemandAsk', line: 5 }] },
  { name: 'acme challenge not a known type', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nchallenge = "dns-02"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'acme.challenge', line: 5, message: /"http-01", "tls-alpn-01", "dns-01", got "dns-02"/ }] },
  { name: 'acme challenge dns-01 without a provider', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nchallenge = "dns-01"', expect: [{ code: 'PASS_CONFIG_BAD_ACME', field: 'acme.challenge', line: 5, message: /needs \[acme\.dnsChallenge\] with a provider/ }] },
  {
    name: 'acme challenge tls-alpn-01 outside native mode',
    text: '[proxy]\nmode = "haproxy"\n[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nchallenge = "tls-alpn-01"',
    expect: [{ code: 'PASS_CONFIG_BAD_ACME', field: 'acme.challenge', line: 7, message: /native/ }],
  },
  { name: 'malformed kubernetes storage', text: '[entryPoints.https]\naddress=":443"\ntls={}\n[acme]\nstorage = "kubernetes:Bad_NS/x"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'acme.storage', line: 5 }] },
  { name: 'leaseDuration too short', text: '[kubernetes]\nleaseDuration = "1s"', expect: [{ code: 'PASS_CONFIG_BAD_DURATION', field: 'kubernetes.leaseDuration', line: 2 }] },
  { name: 'bad namespace', text: '[kubernetes]\nnamespaces = ["ok", "Not_OK"]', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'kubernetes.namespaces[1]', line: 2 }] },
  { name: 'publishService without a namespace', text: '[kubernetes]\npublishService = "passerelle"', expect: [{ code: 'PASS_CONFIG_BAD_VALUE', field: 'kubernetes.publishService', line: 2 }] },
  {
    name: 'several problems are reported together, in file order',
    text: readFileSync(fixture('errors-several'), 'utf8'),
    expect: [
      { code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'logLevl', line: 1 },
      { code: 'PASS_CONFIG_BAD_TYPE', field: 'entryPoints.http.address', line: 4 },
      { code: 'PASS_CONFIG_BAD_ADDRESS', field: 'entryPoints.https.address', line: 9 },
      { code: 'PASS_CONFIG_BAD_USER', field: 'entryPoints.https.auth.basic.users[1]', line: 14 },
      { code: 'PASS_CONFIG_UNKNOWN_KEY', field: 'acme.domains[1].san', line: 21 },
    ],
    notInMessages: 'hunter2',
  },
];

for (const c of rejected) {
  test(`rejected: ${c.name}`, () => {
    const file = '/etc/passerelle/passerelle.toml';
    const diags = diagnosticsOf(c.text, file);
    assert.deepEqual(
      diags.map((d) => [d.code, d.location?.line]),
      c.expect.map((e) => [e.code, e.line]),
      diags.map((d) => `${d.code} ${d.field ?? ''}: ${d.message}`).join('\n'),
    );
    c.expect.forEach((e, i) => {
      const d = diags[i];
      assert.ok(d);
      if (e.field !== undefined) assert.equal(d.field, e.field);
      if (e.message) assert.match(d.message, e.message);
      assert.equal(d.location?.file, file);
      assert.equal(d.severity, 'error');
    });
    if (c.notInMessages !== undefined) {
      try {
        parseConfig(c.text, file);
      } catch (err) {
        assert.ok(err instanceof Error);
        assert.ok(!err.message.includes(c.notInMessages), 'a password leaked into the error message');
      }
    }
  });
}

test('warning: an entry point left out of defaultEntryPoints is not served', () => {
  const { warnings } = parseConfigResult('defaultEntryPoints = ["a"]\n[entryPoints.a]\naddress=":80"\n[entryPoints.b]\naddress=":81"', 'x.toml');
  assert.deepEqual(warnings.map((w) => [w.code, w.field, w.location?.line]), [['PASS_CONFIG_UNUSED_ENTRYPOINT', 'entryPoints.b', 4]]);
});

test('loadConfigFile: a missing file is PASS_CONFIG_READ naming it', async () => {
  const missing = path.join(fixtures, 'does-not-exist.toml');
  await assert.rejects(loadConfigFile(missing), (err: unknown) => err instanceof PassError && err.code === 'PASS_CONFIG_READ' && err.message.includes(missing));
});

test('loadConfigFile: diagnostics name the file as given', async () => {
  await assert.rejects(loadConfigFile(fixture('errors-several')), (err: unknown) => {
    assert.ok(err instanceof PassDiagnosticsError);
    assert.ok(err.diagnostics.every((d) => d.location?.file === fixture('errors-several')));
    assert.match(err.message, /errors-several\.toml:4/);
    return true;
  });
});

const durations: [string, number | undefined][] = [
  ['500ms', 500],
  ['5s', 5000],
  ['1.5s', 1500],
  ['1m', 60000],
  ['2h', 7_200_000],
  ['5', undefined],
  ['5 s', undefined],
  ['-1s', undefined],
  ['', undefined],
];
for (const [text, ms] of durations) {
  test(`parseDuration(${JSON.stringify(text)}) = ${String(ms)}`, () => assert.equal(parseDuration(text), ms));
}

const locations: { name: string; text: string; path: (string | number)[]; line: number | undefined }[] = [
  { name: 'key under a table header', text: '[a]\nb = 1', path: ['a', 'b'], line: 2 },
  { name: 'missing key falls back to its table', text: '\n[a]\nb = 1', path: ['a', 'zzz'], line: 2 },
  { name: 'sub-table defined before its parent', text: '[a.b.c]\nx=1\n[a.b]\ny = 2', path: ['a', 'b', 'y'], line: 4 },
  { name: 'array of tables second element', text: '[[d]]\nm = 1\n[[d]]\n\nm = 2', path: ['d', 1, 'm'], line: 5 },
  { name: 'table under an array of tables element', text: '[[d]]\n[[d]]\n[d.e]\nk = 1', path: ['d', 1, 'e', 'k'], line: 4 },
  { name: 'multi-line array element', text: 'u = [\n  "a",\n  # comment\n  "b",\n]', path: ['u', 1], line: 4 },
  { name: 'quoted key with a dot', text: '[t."x.y"]\nk = 1', path: ['t', 'x.y', 'k'], line: 2 },
  { name: 'multi-line string does not hide later keys', text: 's = """\n[fake]\nk = 1\n"""\nreal = 2', path: ['real'], line: 5 },
  { name: 'a key text inside a multi-line string is not a key', text: 's = """\nk = 1\n"""', path: ['k'], line: undefined },
  { name: 'inline table nested key', text: 'a = { b = { c = 1 } }', path: ['a', 'b', 'c'], line: 1 },
  { name: 'dotted key after a header', text: '[x]\n\ny.z = 1', path: ['x', 'y', 'z'], line: 3 },
  { name: 'string with # and brackets', text: 'a = "x # [y]"\nb = 1', path: ['b'], line: 2 },
];
for (const c of locations) {
  test(`locateKeys: ${c.name}`, () => assert.equal(locateKeys(c.text).lineOf(c.path), c.line));
}

test('formatKeyPath: dotted keys, indexes, quoted odd keys', () => {
  assert.equal(formatKeyPath(['entryPoints', 'https', 'auth', 'basic', 'users', 0]), 'entryPoints.https.auth.basic.users[0]');
  assert.equal(formatKeyPath(['entryPoints', 'a.b', 'address']), 'entryPoints."a.b".address');
});

test('describeConfig documents every table and key with its default', () => {
  const lines = describeConfig();
  for (const expected of [
    'logLevel = "info"  # debug | info | warn | error (case-insensitive)',
    'proxy.connectTimeout = "5s"  # upstream connect timeout',
    'kubernetes.classAliases = ["traefik"]  # other classes also served: kubernetes.io/ingress.class annotation values, and spec.ingressClassName values (e.g. "nginx" to run beside ingress-nginx during a migration; their status is left to the other controller)',
    'acme.caServer = "https://acme-v02.api.letsencrypt.org/directory"  # ACME directory URL',
    'web.address = ":8080"  # where the web server listens (keep it off the public entry points: "127.0.0.1:8080", or a port no public Service exposes)',
  ]) {
    assert.ok(lines.includes(expected), `missing: ${expected}`);
  }
  assert.ok(lines.some((l) => l.startsWith('[[acme.domains]]')));
  assert.ok(lines.some((l) => l.startsWith('# entryPoints.NAME.address =')));
  assert.ok(lines.every((l) => !l.includes('undefined')));
});

test('warning: onDemand in haproxy/nginx mode, onDemandAsk without onDemand', () => {
  const base = '[entryPoints.https]\naddress=":443"\ntls={}\n';
  const a = parseConfigResult(`${base}[proxy]\nmode = "haproxy"\n[acme]\nonDemand = true`, 'x.toml');
  assert.deepEqual(a.warnings.map((w) => [w.code, w.field, w.location?.line]), [['PASS_CONFIG_ACME_ON_DEMAND', 'acme.onDemand', 7]]);
  const b = parseConfigResult(`${base}[acme]\nonDemandAsk = "https://allow.example.net/check"`, 'x.toml');
  assert.deepEqual(b.warnings.map((w) => [w.code, w.field, w.location?.line]), [['PASS_CONFIG_ACME_ON_DEMAND', 'acme.onDemandAsk', 5]]);
});
