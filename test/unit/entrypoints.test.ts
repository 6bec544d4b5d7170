import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassError } from '../../src/shared/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { StaticConfig } from '../../src/config/schema.ts';
import { entryPointsFromConfig } from '../../src/model/entrypoints.ts';
import { redirectLocation } from '../../src/model/redirect.ts';
import { DEFAULT_CLIENT_TIMEOUTS, publicPortOf } from '../../src/model/types.ts';
import type { EntryPoint } from '../../src/model/types.ts';

/** Expected entry points as loaded from TOML: every one carries the default client timeouts unless set. */
function loaded(eps: Omit<EntryPoint, 'timeouts'>[]): EntryPoint[] {
  return eps.map((e) => ({ ...e, timeouts: DEFAULT_CLIENT_TIMEOUTS }));
}

const seedFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/config/seed-traefik.toml');
const SEED_USER = { user: 'klefevre', hash: '$apr1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/' };
const seedAuth = { kind: 'basicAuth', realm: 'passerelle', users: [SEED_USER], removeHeader: false } as const;

test('seed: http :80 redirects (302, to https:443) before basic auth; https :443 is TLS with basic auth', () => {
  const config = parseConfig(readFileSync(seedFile, 'utf8'), seedFile);
  const expected: EntryPoint[] = [
    {
      name: 'http',
      address: { port: 80 },
      tls: false,
      middlewares: [{ kind: 'redirect', entryPoint: 'https', scheme: 'https', port: 443, status: 302 }, seedAuth],
    },
    { name: 'https', address: { port: 443 }, tls: true, middlewares: [seedAuth] },
  ];
  assert.deepEqual(entryPointsFromConfig(config), loaded(expected));
});

const cases: { name: string; toml: string; expect: EntryPoint[] }[] = [
  { name: 'default config: http on :80, no middleware', toml: '', expect: [{ name: 'http', address: { port: 80 }, tls: false, middlewares: [] }] },
  {
    name: 'permanent redirect is a 308',
    toml: '[entryPoints.a]\naddress = ":8000"\nredirect = { entryPoint = "b", permanent = true }\n[entryPoints.b]\naddress = ":8443"\ntls = {}',
    expect: [
      { name: 'a', address: { port: 8000 }, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'b', scheme: 'https', port: 8443, status: 308 }] },
      { name: 'b', address: { port: 8443 }, tls: true, middlewares: [] },
    ],
  },
  {
    name: 'redirect to a plain-HTTP entry point uses the http scheme',
    toml: '[entryPoints.old]\naddress = ":81"\nredirect.entryPoint = "new"\n[entryPoints.new]\naddress = ":82"',
    expect: [
      { name: 'new', address: { port: 82 }, tls: false, middlewares: [] },
      { name: 'old', address: { port: 81 }, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'new', scheme: 'http', port: 82, status: 302 }] },
    ],
  },
  {
    name: 'only defaultEntryPoints are returned, sorted by name',
    toml: 'defaultEntryPoints = ["z", "a"]\n[entryPoints]\nz.address = ":1"\nm.address = ":2"\na.address = ":3"',
    expect: [
      { name: 'a', address: { port: 3 }, tls: false, middlewares: [] },
      { name: 'z', address: { port: 1 }, tls: false, middlewares: [] },
    ],
  },
  {
    name: 'addresses: IPv4, IPv6 and host name hosts',
    toml: '[entryPoints]\nv4.address = "127.0.0.1:8443"\nv6.address = "[::1]:443"\nname.address = "localhost:65535"',
    expect: [
      { name: 'name', address: { host: 'localhost', port: 65535 }, tls: false, middlewares: [] },
      { name: 'v4', address: { host: '127.0.0.1', port: 8443 }, tls: false, middlewares: [] },
      { name: 'v6', address: { host: '::1', port: 443 }, tls: false, middlewares: [] },
    ],
  },
  {
    name: 'basic auth with realm and removeHeader',
    toml: '[entryPoints.web]\naddress = ":80"\n[entryPoints.web.auth.basic]\nusers = ["klefevre:$apr1$k2qslCn6$0OgA8vhnyC8nJ99YfJMOM/"]\nrealm = "bobox"\nremoveHeader = true',
    expect: [{ name: 'web', address: { port: 80 }, tls: false, middlewares: [{ kind: 'basicAuth', realm: 'bobox', users: [SEED_USER], removeHeader: true }] }],
  },
  {
    name: 'client timeouts, trusted forwarders and encoded slashes',
    toml: '[entryPoints.web]\naddress = ":80"\nallowEncodedSlashes = true\n[entryPoints.web.timeouts]\nrequestHeader = "5s"\nbody = "2m"\n[entryPoints.web.forwardedHeaders]\ntrustedIPs = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]',
    expect: [
      {
        name: 'web',
        address: { port: 80 },
        tls: false,
        middlewares: [],
        timeouts: { requestHeader: 5000, idle: 10_000, body: 120_000 },
        trustedIPs: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'],
        allowEncodedSlashes: true,
      },
    ],
  },
  {
    name: 'publicPort: a redirect goes to the target\'s public port (443: none in the Location)',
    toml: '[entryPoints.http]\naddress = ":8000"\npublicPort = 80\nredirect.entryPoint = "https"\n[entryPoints.https]\naddress = ":8443"\npublicPort = 443\ntls = {}',
    expect: [
      { name: 'http', address: { port: 8000 }, publicPort: 80, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'https', scheme: 'https', port: 443, status: 302 }] },
      { name: 'https', address: { port: 8443 }, publicPort: 443, tls: true, middlewares: [] },
    ],
  },
  {
    name: 'publicPort: a non-standard public port is kept in the redirect',
    toml: '[entryPoints.a]\naddress = ":8000"\nredirect.entryPoint = "b"\n[entryPoints.b]\naddress = "127.0.0.1:9443"\npublicPort = 4443\ntls = {}',
    expect: [
      { name: 'a', address: { port: 8000 }, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'b', scheme: 'https', port: 4443, status: 302 }] },
      { name: 'b', address: { host: '127.0.0.1', port: 9443 }, publicPort: 4443, tls: true, middlewares: [] },
    ],
  },
  {
    name: 'publicPort unset: the redirect goes to the listening port (no guess)',
    toml: '[entryPoints.a]\naddress = ":8000"\nredirect.entryPoint = "b"\n[entryPoints.b]\naddress = ":8443"\ntls = {}',
    expect: [
      { name: 'a', address: { port: 8000 }, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'b', scheme: 'https', port: 8443, status: 302 }] },
      { name: 'b', address: { port: 8443 }, tls: true, middlewares: [] },
    ],
  },
  {
    name: 'publicPort unset behind the publish Service: 80 and 443, the ports such a Service maps',
    toml: '[entryPoints.a]\naddress = ":8000"\nredirect.entryPoint = "b"\n[entryPoints.b]\naddress = ":8443"\ntls = {}\n[kubernetes]\nenabled = true\npublishService = "ingress/passerelle"',
    expect: [
      { name: 'a', address: { port: 8000 }, publicPort: 80, tls: false, middlewares: [{ kind: 'redirect', entryPoint: 'b', scheme: 'https', port: 443, status: 302 }] },
      { name: 'b', address: { port: 8443 }, publicPort: 443, tls: true, middlewares: [] },
    ],
  },
  {
    name: 'publicPort set wins over the publish Service default',
    toml: '[entryPoints.b]\naddress = ":8443"\npublicPort = 4443\ntls = {}\n[kubernetes]\nenabled = true\npublishService = "ingress/passerelle"',
    expect: [{ name: 'b', address: { port: 8443 }, publicPort: 4443, tls: true, middlewares: [] }],
  },
  {
    name: 'publishService with the Kubernetes source off: no default (nothing is in front)',
    toml: '[entryPoints.b]\naddress = ":8443"\ntls = {}\n[kubernetes]\nenabled = false\npublishService = "ingress/passerelle"',
    expect: [{ name: 'b', address: { port: 8443 }, tls: true, middlewares: [] }],
  },
];
for (const c of cases) {
  test(`entryPointsFromConfig: ${c.name}`, () => {
    assert.deepEqual(entryPointsFromConfig(parseConfig(c.toml, '/etc/p/passerelle.toml')), c.expect.map((e) => ({ timeouts: DEFAULT_CLIENT_TIMEOUTS, ...e })));
  });
}

/** A config as code could build it, bypassing parseConfig's checks. */
function withEntryPoints(entryPoints: Record<string, Omit<StaticConfig['entryPoints'][string], 'timeouts' | 'forwardedHeaders' | 'allowEncodedSlashes'>>, defaultEntryPoints = Object.keys(entryPoints)): StaticConfig {
  const filled: StaticConfig['entryPoints'] = Object.fromEntries(
    Object.entries(entryPoints).map(([name, ep]) => [name, { ...ep, timeouts: DEFAULT_CLIENT_TIMEOUTS, forwardedHeaders: { trustedIPs: [] }, allowEncodedSlashes: false }]),
  );
  return { ...parseConfig('', '/etc/p/passerelle.toml'), entryPoints: filled, defaultEntryPoints };
}

const refused: { name: string; config: StaticConfig; code: string }[] = [
  { name: 'redirect to an unknown entry point', config: withEntryPoints({ http: { address: ':80', redirect: { entryPoint: 'https', permanent: false } } }), code: 'PASS_CONFIG_BAD_REDIRECT' },
  { name: 'redirect to itself', config: withEntryPoints({ http: { address: ':80', redirect: { entryPoint: 'http', permanent: false } } }), code: 'PASS_CONFIG_BAD_REDIRECT' },
  {
    name: 'redirect to an entry point that is not served',
    config: withEntryPoints({ http: { address: ':80', redirect: { entryPoint: 'https', permanent: false } }, https: { address: ':443', tls: { certificates: [] } } }, ['http']),
    code: 'PASS_CONFIG_BAD_REDIRECT',
  },
  { name: 'port 0', config: withEntryPoints({ http: { address: ':0' } }), code: 'PASS_CONFIG_BAD_ADDRESS' },
  { name: 'port 65536', config: withEntryPoints({ http: { address: ':65536' } }), code: 'PASS_CONFIG_BAD_ADDRESS' },
  { name: 'address without a port', config: withEntryPoints({ http: { address: 'localhost' } }), code: 'PASS_CONFIG_BAD_ADDRESS' },
  { name: 'defaultEntryPoints naming an undefined entry point', config: withEntryPoints({ http: { address: ':80' } }, ['http', 'https']), code: 'PASS_CONFIG_UNKNOWN_ENTRYPOINT' },
];
for (const c of refused) {
  test(`entryPointsFromConfig refuses ${c.name}`, () => {
    assert.throws(() => entryPointsFromConfig(c.config), (err: unknown) => err instanceof PassError && err.code === c.code);
  });
}

const publicPortRefused: { name: string; toml: string; message: RegExp }[] = [
  { name: 'zero', toml: '[entryPoints.web]\naddress = ":80"\npublicPort = 0', message: /publicPort/ },
  { name: 'above 65535', toml: '[entryPoints.web]\naddress = ":80"\npublicPort = 65536', message: /publicPort/ },
  { name: 'not a whole number', toml: '[entryPoints.web]\naddress = ":80"\npublicPort = "443"', message: /publicPort/ },
];
for (const c of publicPortRefused) {
  test(`parseConfig refuses a publicPort that is ${c.name}, naming the key`, () => {
    assert.throws(() => parseConfig(c.toml, '/etc/p/passerelle.toml'), (err: unknown) => err instanceof Error && c.message.test(err.message));
  });
}

// The ConfigMap of deploy/ is generated from this file (deploy/base/kustomization.yaml, configMapGenerator).
const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy');
/** The controller configurations of deploy/: the base's and each overlay's passerelle.toml. */
const deployConfigs = (readdirSync(deployDir, { recursive: true }) as string[]).filter((f) => path.basename(f) === 'passerelle.toml').sort();

test('deploy/ holds controller configurations', () => {
  assert.ok(deployConfigs.includes(path.join('base', 'passerelle.toml')), deployConfigs.join(', '));
});

for (const rel of deployConfigs) {
  test(`deploy/${rel}: http (container port 8000 behind Service port 80) redirects to https://host/ (public port 443)`, () => {
    const file = path.join(deployDir, rel);
    const eps = entryPointsFromConfig(parseConfig(readFileSync(file, 'utf8'), file));
    const http = eps.find((e) => e.name === 'http');
    const https = eps.find((e) => e.name === 'https');
    assert.ok(http !== undefined && https !== undefined, 'http and https are served');
    assert.equal(http.address.port, 8000);
    assert.equal(https.address.port, 8443);
    const redirect = http.middlewares[0];
    assert.ok(redirect?.kind === 'redirect', 'http redirects first');
    assert.equal(redirect.entryPoint, 'https');
    assert.equal(redirect.port, 443);
    assert.equal(redirectLocation(redirect, 'host.example', '/path?q'), 'https://host.example/path?q');
    assert.equal(publicPortOf(http), 80, 'X-Forwarded-Port on http');
    assert.equal(publicPortOf(https), 443, 'X-Forwarded-Port on https');
  });
}
