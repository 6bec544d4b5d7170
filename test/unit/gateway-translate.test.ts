/*
 * The Gateway API translation (src/model/translate/gateway/): fixtures of test/fixtures/gateway/,
 * each named for the case it is (the spec's own examples), read like the file source reads them and
 * translated with two entry points (web: 80 without TLS, websecure: 443 with TLS).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/model/k8s.ts';
import type { EntryPoint, Route } from '../../src/model/types.ts';
import { DiagnosticList } from '../../src/model/translate/diagnostics.ts';
import { intersectHostname, routeHosts } from '../../src/model/translate/gateway/hostnames.ts';
import type { Hostname } from '../../src/model/translate/gateway/hostnames.ts';
import { selects } from '../../src/model/translate/gateway/attach.ts';
import { mergeGateway, noBackendId, translateGateway } from '../../src/model/translate/gateway/index.ts';
import type { GatewayInput, GatewayOptions, GatewayTranslation } from '../../src/model/translate/gateway/index.ts';
import type { VhostBuild } from '../../src/model/translate/assemble.ts';
import { GATEWAY_SUPPORTED_FEATURES } from '../../src/model/gateway-api.ts';
import { DEFAULT_GATEWAY_CONTROLLER_NAME, translate } from '../../src/model/translate/index.ts';
import type { TranslateOptions } from '../../src/model/translate/index.ts';
import { IncrementalTranslator } from '../../src/model/translate/incremental.ts';
import { parseObjectsFile } from '../../src/sources/file/parse.ts';
import { groupByKind } from '../../src/sources/snapshot.ts';
import { brief, deepFreeze } from './translate-helpers.ts';
import { describeModel } from '../../src/model/describe.ts';

const fixtures = new URL('../fixtures/gateway/', import.meta.url);

const LIST_OF_KIND: Readonly<Record<string, keyof GatewayInput>> = {
  GatewayClass: 'gatewayClasses',
  Gateway: 'gateways',
  HTTPRoute: 'httpRoutes',
  ReferenceGrant: 'referenceGrants',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  Namespace: 'namespaces',
};

/** base.yaml and the case's files, each object with its `source` as the file source sets it. */
function load(...files: string[]): GatewayInput {
  const lists: Record<keyof GatewayInput, KubeObject[]> = { gatewayClasses: [], gateways: [], httpRoutes: [], referenceGrants: [], services: [], endpointSlices: [], secrets: [], namespaces: [] };
  for (const file of ['base.yaml', ...files]) {
    const lineCounter = new LineCounter();
    for (const doc of parseAllDocuments(readFileSync(new URL(file, fixtures), 'utf8'), { lineCounter })) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const obj = doc.toJS() as KubeObject;
      const list = LIST_OF_KIND[obj.kind ?? ''];
      assert.ok(list, `${file}: unexpected kind ${String(obj.kind)}`);
      lists[list].push({ ...obj, source: { file, line: lineCounter.linePos(doc.contents?.range[0] ?? 0).line } });
    }
  }
  return lists;
}

const entryPoints: readonly EntryPoint[] = [
  { name: 'web', address: { port: 8000 }, publicPort: 80, tls: false, middlewares: [] },
  { name: 'websecure', address: { port: 8443 }, publicPort: 443, tls: true, middlewares: [] },
];
const options: GatewayOptions = { controllerName: 'passerelle.dev/gateway-controller', entryPoints, acme: { onHostRule: false, wildcards: false } };

/** Translates frozen input, so any mutation of it throws. */
function run(input: GatewayInput, opts: GatewayOptions = options): GatewayTranslation {
  return translateGateway(deepFreeze(input), opts);
}

/** `host: pathType path → backend` per route, with its policy when it has one. */
function routes(t: GatewayTranslation): string[] {
  const show = (r: Route): string => `${r.pathType} ${r.path}${r.conditions === undefined ? '' : ` if ${JSON.stringify(r.conditions)}`} → ${r.backend}${r.policy === undefined ? '' : ` ${JSON.stringify(r.policy)}`}`;
  return t.virtualHosts.flatMap((vh) => vh.routes.map((r) => `${vh.host}: ${show(r)}`));
}

/** `type=status/reason` of each condition. */
function conds(list: readonly { readonly type: string; readonly status: string; readonly reason: string }[]): string[] {
  return list.map((c) => `${c.type}=${c.status}/${c.reason}`);
}

/** Each listener of Gateway `name` as `listener attached: conditions`. */
function listeners(t: GatewayTranslation, name: string): string[] {
  const gw = t.status.gateways.find((g) => g.name === name);
  assert.ok(gw, `no status for Gateway ${name}`);
  return gw.listeners.map((l) => `${l.name} ${l.attachedRoutes}: ${conds(l.conditions).join(' ')}`);
}

/** Each parent status of HTTPRoute `namespace/name`. */
function parents(t: GatewayTranslation, key: string): string[] {
  const r = t.status.httpRoutes.find((s) => `${s.namespace}/${s.name}` === key);
  assert.ok(r, `no status for HTTPRoute ${key}`);
  return r.parents.map((p) => `${JSON.stringify(p.parentRef)} ${conds(p.conditions).join(' ')}`);
}

const OK_LISTENER = 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts Programmed=True/Programmed';

interface Case {
  readonly name: string;
  readonly files: readonly string[];
  readonly options?: GatewayOptions;
  readonly check: (t: GatewayTranslation) => void;
}

const cases: readonly Case[] = [
  {
    name: 'multiple Gateways with an address pool: each has its own hosts, kept address first, the pool used up warns',
    files: ['multiple-gateways.yaml'],
    options: { ...options, addressPool: ['192.0.2.9', '192.0.2.10'] },
    check: (t) => {
      const scope = (address: string): string[] => (t.addressScopes.find((s) => s.address === address && s.entryPoint === 'web')?.virtualHosts ?? []).flatMap((vh) => vh.routes.map((r) => `${vh.host}: ${r.pathType} ${r.path} → ${r.backend}`));
      // A scope per entry point of each address: a port no listener of the Gateway has serves nothing there.
      assert.deepEqual(t.addressScopes.map((s) => `${s.address} ${s.entryPoint} ${s.virtualHosts.length}`), ['192.0.2.10 web 1', '192.0.2.10 websecure 0', '192.0.2.9 web 1', '192.0.2.9 websecure 0']);
      assert.deepEqual(scope('192.0.2.9'), ['*: Prefix /shared → default/web:80', '*: Prefix / → default/canary:80']);
      assert.deepEqual(scope('192.0.2.10'), ['*: Prefix /shared → default/web:80', '*: Prefix / → default/third:80']);
      // The third Gateway shares the entry points' address: its share of the route lands with the model's own hosts.
      assert.deepEqual(routes(t), ['*: Prefix /shared → default/web:80']);
      assert.deepEqual(t.status.gateways.map((g) => `${g.name} ${g.address ?? '-'}`), ['first 192.0.2.9', 'second 192.0.2.10', 'third -']);
      assert.deepEqual(t.diagnostics.map((d) => `${d.code} ${d.object?.name ?? ""}`), ['PASS_GATEWAY_ADDRESS_POOL_EXHAUSTED third']);
      // No conflict: the two catch-all routes are on different addresses.
      assert.ok(!t.diagnostics.some((d) => d.code === 'PASS_GATEWAY_CONFLICT'));
    },
  },
  {
    name: 'static addresses: a requested address the pool has free is the Gateway\'s; outside the pool, two, held by another or not an IPAddress: not served',
    files: ['static-addresses.yaml'],
    options: { ...options, addressPool: ['192.0.2.9', '192.0.2.10', '192.0.2.11'] },
    check: (t) => {
      const served = (address: string): string[] => t.addressScopes.filter((s) => s.address === address && s.entryPoint === 'web').flatMap((s) => s.virtualHosts.map((vh) => vh.host));
      assert.deepEqual(served('192.0.2.9'), ['plain.example.com'], 'its status address kept: not given to the Gateway asking for it');
      assert.deepEqual(served('192.0.2.10'), ['asks-free.example.com']);
      assert.deepEqual(t.virtualHosts, [], 'a Gateway whose address cannot be had is not served on the shared address either');
      assert.deepEqual(served('192.0.2.11'), ['asks-any.example.com'], 'an IPAddress without a value: the free one');
      const gw = (name: string): string => {
        const g = t.status.gateways.find((x) => x.name === name);
        assert.ok(g, name);
        return `${g.address ?? '-'} ${conds(g.conditions).join(' ')}`;
      };
      assert.equal(gw('plain'), '192.0.2.9 Accepted=True/Accepted Programmed=True/Programmed');
      assert.equal(gw('asks-free'), '192.0.2.10 Accepted=True/Accepted Programmed=True/Programmed');
      assert.equal(gw('asks-any'), '192.0.2.11 Accepted=True/Accepted Programmed=True/Programmed');
      for (const name of ['asks-outside', 'asks-two', 'asks-held', 'asks-taken']) assert.equal(gw(name), '- Accepted=True/Accepted Programmed=False/AddressNotUsable', name);
      assert.equal(gw('asks-hostname'), '- Accepted=False/UnsupportedAddress Programmed=False/Invalid');
      assert.deepEqual(t.status.gateways.filter((g) => g.unserved === true).map((g) => g.name), ['asks-held', 'asks-hostname', 'asks-outside', 'asks-taken', 'asks-two'], 'they publish no address');
      assert.deepEqual(
        t.diagnostics.map((d) => `${d.code} ${d.object?.name ?? ''} ${d.field ?? ''}: ${d.message}`),
        [
          'PASS_GATEWAY_ADDRESS_NOT_USABLE asks-held spec.addresses: spec.addresses asks for 192.0.2.9, which is held by Gateway default/plain; the Gateway is not served',
          'PASS_GATEWAY_ADDRESS_UNSUPPORTED asks-hostname spec.addresses[0]: spec.addresses[0]: address type "Hostname" is not supported (only IPAddress); the Gateway is not accepted',
          'PASS_GATEWAY_ADDRESS_NOT_USABLE asks-outside spec.addresses: spec.addresses asks for 198.51.100.1, which is not in gatewayAddressPool; the Gateway is not served',
          'PASS_GATEWAY_ADDRESS_NOT_USABLE asks-taken spec.addresses: spec.addresses asks for 192.0.2.10, which is held by Gateway default/asks-free; the Gateway is not served',
          'PASS_GATEWAY_ADDRESS_NOT_USABLE asks-two spec.addresses: spec.addresses asks for 2 addresses; a Gateway is served on one; the Gateway is not served',
        ],
      );
    },
  },
  {
    name: 'misdirected requests: a Gateway address\'s TLS scope lists its HTTPS listeners\' hostnames; plain HTTP and the shared address list none',
    files: ['misdirected.yaml'],
    options: { ...options, addressPool: ['192.0.2.9'] },
    check: (t) => {
      assert.deepEqual(t.addressScopes.map((s) => `${s.entryPoint} ${JSON.stringify(s.listenerHostnames ?? null)}`), ['web null', 'websecure ["","*.wild.example.com","second.example.com"]']);
      assert.match(describeModel(translate(groupByKind(readAsFileSource('base.yaml', 'misdirected.yaml')), { ...translateOptions, gatewayAddressPool: ['192.0.2.9'] })), /^ {2}421 to a Host of another HTTPS listener than the server name; listeners: \(any\), \*\.wild\.example\.com, second\.example\.com$/m);
      const shared = run(load('misdirected.yaml'));
      assert.deepEqual(shared.addressScopes, [], 'without a pool: no scope, no 421');
    },
  },
  {
    name: 'static addresses without a pool: no requested address is usable',
    files: ['static-addresses.yaml'],
    check: (t) => {
      assert.deepEqual(t.addressScopes, []);
      assert.deepEqual(t.virtualHosts.map((vh) => vh.host), ['asks-any.example.com', 'plain.example.com'], 'only the Gateways that ask for nothing or any IPAddress, on the shared address');
      assert.equal(conds(t.status.gateways.find((g) => g.name === 'asks-free')?.conditions ?? []).join(' '), 'Accepted=True/Accepted Programmed=False/AddressNotUsable');
    },
  },
  {
    name: 'multiple Gateways without an address pool: they share one address, the older route keeps the catch-all',
    files: ['multiple-gateways.yaml'],
    check: (t) => {
      assert.deepEqual(t.addressScopes, []);
      assert.deepEqual(routes(t), ['*: Prefix /shared → default/web:80', '*: Prefix / → default/canary:80']);
      assert.ok(t.status.gateways.every((g) => g.address === undefined));
      assert.deepEqual(t.diagnostics.map((d) => `${d.code} ${d.object?.name ?? ""}`), ['PASS_GATEWAY_CONFLICT second-only']);
    },
  },
  {
    name: 'simple HTTP route: one listener, one host, paths to one Service; another controller\'s Gateway and route are left alone',
    files: ['simple-http.yaml'],
    check(t) {
      assert.deepEqual(routes(t), ['example.com: Exact /exact → default/web:80', 'example.com: Prefix /app → default/web:80']);
      assert.deepEqual(t.virtualHosts.map((vh) => [vh.host, vh.kind, vh.entryPoints, vh.sources]), [['example.com', 'exact', ['web'], [{ kind: 'HTTPRoute', namespace: 'default', name: 'web' }]]]);
      assert.deepEqual(t.backends['default/web:80']?.endpoints, [{ address: '10.0.0.1', port: 8080, weight: 1 }]);
      assert.deepEqual(t.status.gatewayClasses, [{ name: 'passerelle', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Passerelle serves this class', observedGeneration: 1 }], supportedFeatures: GATEWAY_SUPPORTED_FEATURES }]);
      assert.deepEqual(t.status.gateways.map((g) => [g.name, conds(g.conditions), g.conditions.map((c) => c.observedGeneration)]), [['gw', ['Accepted=True/Accepted', 'Programmed=True/Programmed'], [2, 2]]]);
      assert.deepEqual(listeners(t, 'gw'), [`http 1: ${OK_LISTENER}`]);
      assert.deepEqual(t.status.gateways[0]?.listeners[0]?.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
      assert.deepEqual(t.status.httpRoutes.map((r) => r.name), ['web'], 'the route of the other Gateway gets no status from us');
      const parent = t.status.httpRoutes[0]?.parents[0];
      assert.deepEqual(parent?.parentRef, { name: 'gw' });
      assert.equal(parent?.controllerName, 'passerelle.dev/gateway-controller');
      assert.deepEqual(parent?.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration]), [['Accepted', 'True', 'Accepted', 5], ['ResolvedRefs', 'True', 'ResolvedRefs', 5]]);
      assert.deepEqual(t.diagnostics, []);
    },
  },
  {
    name: 'hostname intersection: the more specific of listener and route names; none in common is NoMatchingListenerHostname',
    files: ['hostname-intersection.yaml'],
    check(t) {
      assert.deepEqual(t.virtualHosts.map((vh) => `${vh.host} ${vh.kind}`), ['a.example.com exact', 'foo.bar.com exact', '*.example.com suffix']);
      assert.deepEqual(routes(t), ['a.example.com: Prefix / → default/web:80', 'foo.bar.com: Prefix /section → default/web:80', 'foo.bar.com: Prefix / → default/web:80', '*.example.com: Prefix / → default/web:80']);
      assert.deepEqual(parents(t, 'default/several'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(parents(t, 'default/by-section'), ['{"name":"gw","sectionName":"exact"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(parents(t, 'default/none-match'), ['{"name":"gw"} Accepted=False/NoMatchingListenerHostname ResolvedRefs=True/ResolvedRefs']);
      // attachedRoutes counts only the routes a listener accepts: none-match shares no hostname with either.
      assert.deepEqual(listeners(t, 'gw'), [`wild 1: ${OK_LISTENER}`, `exact 2: ${OK_LISTENER}`]);
      assert.deepEqual(brief(t.diagnostics), ['error PASS_GATEWAY_NOT_ATTACHED HTTPRoute default/none-match spec.parentRefs[0]']);
    },
  },
  {
    name: 'listener isolation: a host a more specific listener of the port takes is not served through a less specific one; attachment unchanged',
    files: ['listener-isolation.yaml'],
    check(t) {
      assert.deepEqual(routes(t), ['bar.com: Prefix /any → default/web:80', '*.example.com: Prefix /wild → default/web:80', '*.foo.example.com: Prefix /foo → default/web:80']);
      assert.deepEqual(parents(t, 'default/via-any'), ['{"name":"gw","sectionName":"any"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(parents(t, 'default/via-wild'), ['{"name":"gw","sectionName":"wild"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(listeners(t, 'gw'), [`any 1: ${OK_LISTENER}`, `wild 1: ${OK_LISTENER}`, `foo 1: ${OK_LISTENER}`, `abc 0: ${OK_LISTENER}`]);
      assert.deepEqual(brief(t.diagnostics), []);
    },
  },
  {
    name: 'backendRef filters: the one backend\'s header modifiers after the rule\'s; with several weighted backends, each backend\'s own; another filter type denies the rule',
    files: ['backend-filters.yaml'],
    check(t) {
      assert.deepEqual(routes(t), [
        'b.example.com: Prefix /redirect → default/web:80 {"denied":"a filter of this HTTPRoute rule is not supported"}',
        'b.example.com: Prefix /one → default/web:80 {"headers":{"request":{"X-Same":"backend","X-Rule":"1"},"requestAdd":{"X-Add":"a"},"requestRemove":["x-gone"],"response":{"X-Served-By":"web"}}}',
        'b.example.com: Prefix /two → default/web:80 {"backendHeaders":{"default/web:80":{"request":{"Backend":"web"}}},"canary":{"backend":"default/canary:80","weight":50}}',
      ]);
      assert.deepEqual(parents(t, 'default/backend-filters'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs PartiallyInvalid=True/UnsupportedValue']);
      assert.deepEqual(brief(t.diagnostics), ['error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/backend-filters spec.rules[2].backendRefs[0].filters[0].type']);
    },
  },
  {
    name: 'the CORS filter: origins, patterns and * (echoed with credentials), methods and headers or * (echoed), exposed headers; a value outside the grammar denies the rule',
    files: ['cors.yaml'],
    check(t) {
      assert.deepEqual(routes(t), [
        'c.example.com: Prefix /listed → default/web:80 {"cors":{"allowOrigins":["https://www.foo.com"],"allowMethods":["GET","OPTIONS"],"allowHeaders":["x-header-1"],"allowCredentials":true,"maxAgeSeconds":3600,"originPatterns":["https://*.bar.com"],"exposeHeaders":["x-header-3"]}}',
        'c.example.com: Prefix /any → default/web:80 {"cors":{"allowOrigins":["*"],"allowMethods":[],"allowHeaders":[],"allowCredentials":true,"maxAgeSeconds":5,"echoOrigin":true,"echoMethods":true,"echoHeaders":true}}',
        'c.example.com: Prefix /bad → default/web:80 {"denied":"a filter of this HTTPRoute rule is not supported"}',
      ]);
      assert.deepEqual(brief(t.diagnostics), [
        'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/cors spec.rules[2].filters[0].cors.allowOrigins[0]',
        'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/cors spec.rules[2].filters[0].cors.allowMethods[0]',
      ]);
    },
  },
  {
    name: 'cross-namespace backend without a ReferenceGrant: RefNotPermitted, the route answers 500',
    files: ['cross-namespace-backend.yaml'],
    check(t) {
      assert.deepEqual(routes(t), ['api.example.com: Prefix / → default/cross#no-backend {"internalError":"no backendRef of this HTTPRoute rule can be used (RefNotPermitted)"}']);
      assert.deepEqual(Object.keys(t.backends), [], 'the Service of the other namespace is not used');
      assert.deepEqual(parents(t, 'default/cross'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted']);
      assert.equal(t.status.httpRoutes[0]?.parents[0]?.conditions[1]?.observedGeneration, 3);
      assert.deepEqual(brief(t.diagnostics), ['error PASS_GATEWAY_REF_NOT_PERMITTED HTTPRoute default/cross spec.rules[0].backendRefs[0]']);
    },
  },
  {
    name: 'cross-namespace backend with a ReferenceGrant: resolved to the other namespace\'s endpoints',
    files: ['cross-namespace-backend.yaml', 'reference-grant.yaml'],
    check(t) {
      assert.deepEqual(routes(t), ['api.example.com: Prefix / → other/api:8080']);
      assert.deepEqual(t.backends['other/api:8080']?.endpoints, [{ address: '10.0.2.1', port: 8080, weight: 1 }]);
      assert.deepEqual(parents(t, 'default/cross'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(t.diagnostics, []);
    },
  },
  {
    name: 'listener on a port with no entry point (and HTTPS where only plain HTTP listens, TCP): PortUnavailable, nothing served',
    files: ['port-without-entry-point.yaml'],
    check(t) {
      assert.deepEqual(t.virtualHosts, []);
      assert.deepEqual(listeners(t, 'gw'), [
        'odd-port 1: Accepted=False/PortUnavailable ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts Programmed=False/Invalid',
        'https-on-80 0: Accepted=False/PortUnavailable ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts Programmed=False/Invalid',
        'tcp 0: Accepted=False/UnsupportedProtocol ResolvedRefs=True/ResolvedRefs Conflicted=True/ProtocolConflict Programmed=False/Invalid',
      ]);
      assert.deepEqual(conds(t.status.gateways[0]?.conditions ?? []), ['Accepted=False/ListenersNotValid', 'Programmed=False/Invalid']);
      assert.deepEqual(brief(t.diagnostics), [
        'error PASS_GATEWAY_LISTENER_PORT Gateway default/gw spec.listeners[0].port',
        'error PASS_GATEWAY_LISTENER_PORT Gateway default/gw spec.listeners[1].port',
        'error PASS_GATEWAY_LISTENER_PROTOCOL Gateway default/gw spec.listeners[2].protocol',
        'error PASS_GATEWAY_LISTENER_CONFLICT Gateway default/gw spec.listeners[2]',
      ]);
      assert.deepEqual(t.diagnostics[0]?.location, { file: 'port-without-entry-point.yaml', line: 2 });
    },
  },
  {
    name: 'HTTPS listeners with certificateRefs: own namespace served; other namespace without grant RefNotPermitted; missing Secret InvalidCertificateRef',
    files: ['https-certificate-refs.yaml'],
    check(t) {
      assert.deepEqual(t.virtualHosts.map((vh) => [vh.host, vh.certificate, vh.entryPoints]), [['shop.example.com', 'default/wild-tls', ['websecure']]]);
      assert.deepEqual(t.certificates.map((c) => [c.id, c.hosts, c.source, c.owner]), [['default/wild-tls', ['*.example.com'], { kind: 'Secret', namespace: 'default', name: 'wild-tls' }, { kind: 'Gateway', namespace: 'default', name: 'gw' }]]);
      assert.match(t.certificates[0]?.certPem ?? '', /^-----BEGIN CERTIFICATE-----/);
      assert.deepEqual(listeners(t, 'gw'), [
        `https 1: ${OK_LISTENER}`,
        'cross 1: Accepted=True/Accepted ResolvedRefs=False/RefNotPermitted Conflicted=False/NoConflicts Programmed=False/Invalid',
        // The route has no hostname under missing.example.net: that listener does not count it.
        'missing 0: Accepted=True/Accepted ResolvedRefs=False/InvalidCertificateRef Conflicted=False/NoConflicts Programmed=False/Invalid',
      ]);
      assert.deepEqual(conds(t.status.gateways[0]?.conditions ?? []), ['Accepted=True/ListenersNotValid', 'Programmed=True/Programmed']);
      assert.deepEqual(t.certificateIntents, [], 'the Gateway does not ask ACME');
      assert.deepEqual(brief(t.diagnostics), [
        'error PASS_GATEWAY_REF_NOT_PERMITTED Gateway default/gw spec.listeners[1].tls.certificateRefs[0]',
        'error PASS_GATEWAY_CERTIFICATE_REF Gateway default/gw spec.listeners[2].tls.certificateRefs[0]',
      ]);
    },
  },
  {
    name: 'HTTPS certificateRef to another namespace with a ReferenceGrant: served',
    files: ['https-certificate-refs.yaml', 'secret-grant.yaml'],
    check(t) {
      assert.deepEqual(t.virtualHosts.map((vh) => [vh.host, vh.certificate]), [['secure.example.org', 'certs/shared-tls'], ['shop.example.com', 'default/wild-tls']]);
      assert.deepEqual(t.certificates.map((c) => [c.id, c.hosts]), [['certs/shared-tls', ['secure.example.org']], ['default/wild-tls', ['*.example.com']]]);
      assert.equal(listeners(t, 'gw')[1], `cross 1: ${OK_LISTENER}`);
    },
  },
  {
    name: 'HTTPS listener whose Secret is missing on a Gateway that opts in to ACME: a certificate intent, a warning',
    files: ['https-acme.yaml'],
    check(t) {
      assert.deepEqual(t.certificateIntents, [{ source: { kind: 'Gateway', namespace: 'default', name: 'gw' }, location: { file: 'https-acme.yaml', line: 2 }, field: 'spec.listeners[0]', kind: 'tls', hosts: [{ host: 'app.example.com', kind: 'exact' }], incomplete: false, acme: true }]);
      assert.deepEqual(routes(t), ['app.example.com: Prefix / → default/web:80']);
      assert.deepEqual(listeners(t, 'gw'), [`https 1: ${OK_LISTENER}`]);
      assert.deepEqual(brief(t.diagnostics), ['warning PASS_GATEWAY_CERTIFICATE_REF Gateway default/gw spec.listeners[0].tls.certificateRefs[0]']);
    },
  },
  {
    name: 'HTTPS listener opting in to ACME without [acme] configured: InvalidCertificateRef, not served',
    files: ['https-acme.yaml'],
    options: { controllerName: options.controllerName, entryPoints },
    check(t) {
      assert.deepEqual(t.certificateIntents, []);
      assert.deepEqual(t.virtualHosts, []);
      assert.match(listeners(t, 'gw')[0] ?? '', /ResolvedRefs=False\/InvalidCertificateRef .* Programmed=False\/Invalid/);
      assert.match(t.diagnostics[0]?.message ?? '', /\[acme\] is not configured/);
    },
  },
  {
    name: 'weighted backends: two become main + canary weight; three a split (native); weight 0 gets nothing; a missing Service is BackendNotFound',
    files: ['weighted-backends.yaml'],
    check(t) {
      assert.deepEqual(routes(t), [
        'split.example.com: Prefix /missing → default/gone:80 {"internalError":"no backendRef of this HTTPRoute rule can be used (BackendNotFound)"}',
        'split.example.com: Prefix /three → default/web:80 {"split":{"backends":[{"backend":"default/web:80","weight":70},{"backend":"default/canary:80","weight":20},{"backend":"default/third:80","weight":10}]}}',
        'split.example.com: Prefix /zero → default/canary:80',
        'split.example.com: Prefix /two → default/web:80 {"canary":{"backend":"default/canary:80","weight":20}}',
      ]);
      assert.equal(t.backends['default/gone:80']?.unresolved, 'service');
      assert.deepEqual(parents(t, 'default/split'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=False/BackendNotFound']);
      assert.deepEqual(brief(t.diagnostics), ['error PASS_INGRESS_MISSING_SERVICE HTTPRoute default/split spec.rules[3].backendRefs[0].name']);
    },
  },
  {
    name: 'redirect and rewrite filters: those the policies express, and those that deny the rule',
    files: ['redirect-rewrite.yaml'],
    check(t) {
      const none = noBackendId({ header: { namespace: 'default', name: 'filters' } } as Parameters<typeof noBackendId>[0]);
      assert.deepEqual(routes(t), [
        `f.example.com: Exact /exact-prefix-redirect → ${none} {"denied":"a filter of this HTTPRoute rule is not supported"}`,
        'f.example.com: Exact /full → default/web:80 {"rewrite":{"kind":"replace-path","path":"/elsewhere"}}',
        `f.example.com: Prefix /prefix-redirect → ${none} {"wwwRedirect":{"host":"example.org","path":{"kind":"prefix","target":"/y"},"status":302}}`,
        `f.example.com: Prefix /path-redirect → ${none} {"wwwRedirect":{"path":{"kind":"replace-path","path":"/x"},"status":302}}`,
        'f.example.com: Prefix /add-header-2 → default/web:80 {"headers":{"requestAdd":{"X-Extra":"1"}}}',
        'f.example.com: Prefix /add-header → default/web:80 {"headers":{"requestAdd":{"X-Extra":"1"}}}',
        `f.example.com: Prefix /bad-scheme → ${none} {"denied":"a filter of this HTTPRoute rule is not supported"}`,
        `f.example.com: Prefix /same-url → ${none} {"wwwRedirect":{"status":307}}`,
        'f.example.com: Prefix /headers → default/web:80 {"headers":{"request":{"X-Env":"prod"},"response":{"X-Served-By":"passerelle"}},"mirror":{"targets":[{"backend":"default/canary:80","percent":100}]}}',
        'f.example.com: Prefix /prefix → default/web:80 {"upstream":{"vhost":"internal.example.com"},"rewrite":{"kind":"prefix","target":"/new"}}',
        `f.example.com: Prefix /secure → ${none} {"wwwRedirect":{"scheme":"https","status":302}}`,
        `f.example.com: Prefix /port → ${none} {"wwwRedirect":{"port":8083,"status":303}}`,
        `f.example.com: Prefix /old → ${none} {"wwwRedirect":{"host":"new.example.com","status":301}}`,
      ]);
      assert.deepEqual(parents(t, 'default/filters'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs PartiallyInvalid=True/UnsupportedValue']);
      assert.deepEqual(brief(t.diagnostics), [
        'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/filters spec.rules[9].filters[0].requestRedirect.path',
        'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/filters spec.rules[11].filters[0].requestRedirect.scheme',
      ]);
    },
  },
  {
    name: 'RequestMirror filters: copies by percent or fraction after the header changes; an unusable backendRef sends no copy and says ResolvedRefs=False',
    files: ['mirror.yaml'],
    check(t) {
      assert.deepEqual(routes(t), [
        'm.example.com: Prefix /foreign → default/web:80',
        'm.example.com: Prefix /missing → default/web:80',
        'm.example.com: Prefix /shares → default/web:80 {"mirror":{"targets":[{"backend":"default/canary:80","percent":20},{"backend":"default/third:80","percent":33.333333333333336}]}}',
        'm.example.com: Prefix /all → default/web:80 {"headers":{"request":{"X-Env":"prod"}},"mirror":{"targets":[{"backend":"default/canary:80","percent":100}]}}',
      ]);
      assert.ok(t.backends['default/third:80'] !== undefined, 'a mirror backend is a model backend');
      assert.deepEqual(parents(t, 'default/mirror'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=False/BackendNotFound']);
      assert.deepEqual(brief(t.diagnostics), [
        'error PASS_INGRESS_MISSING_SERVICE HTTPRoute default/mirror spec.rules[2].filters[0].requestMirror.backendRef.name',
        'error PASS_GATEWAY_REF_NOT_PERMITTED HTTPRoute default/mirror spec.rules[3].filters[0].requestMirror.backendRef',
        'error PASS_GATEWAY_MIRROR_INVALID HTTPRoute default/mirror spec.rules[3].filters[1].requestMirror.percent',
      ]);
    },
  },
  {
    name: 'rule timeouts: the smaller of request and backendRequest as the read timeout; 0s disables one; a value that is not a duration is reported and ignored',
    files: ['timeouts.yaml'],
    check(t) {
      assert.deepEqual(routes(t), [
        't.example.com: Prefix /disabled → default/web:80 {"timeouts":{"read":2000}}',
        't.example.com: Prefix /request → default/web:80 {"timeouts":{"read":500}}',
        't.example.com: Prefix /both → default/web:80 {"timeouts":{"read":10000}}',
        't.example.com: Prefix /bad → default/web:80',
        't.example.com: Prefix /off → default/web:80',
      ]);
      assert.deepEqual(parents(t, 'default/timeouts'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(brief(t.diagnostics), ['error PASS_GATEWAY_FIELD_IGNORED HTTPRoute default/timeouts spec.rules[4].timeouts.backendRequest']);
    },
  },
  {
    name: 'parentRefs that attach nowhere: a missing Gateway (no status), no such section or port (NoMatchingParent), a namespace not allowed',
    files: ['missing-parent.yaml'],
    check(t) {
      assert.deepEqual(t.virtualHosts, []);
      assert.deepEqual(t.status.httpRoutes.map((r) => `${r.namespace}/${r.name}`), ['default/wrong-section', 'other/foreign'], 'no status for the route of a missing Gateway');
      assert.deepEqual(parents(t, 'default/wrong-section'), [
        '{"name":"gw","sectionName":"https"} Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs',
        '{"name":"gw","port":8080} Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs',
      ]);
      assert.ok(t.status.httpRoutes[0]?.parents.every((p) => p.conditions.every((c) => c.observedGeneration === 7)));
      assert.deepEqual(parents(t, 'other/foreign'), ['{"name":"gw","namespace":"default"} Accepted=False/NotAllowedByListeners ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(listeners(t, 'gw'), [`http 0: ${OK_LISTENER}`]);
      assert.deepEqual(brief(t.diagnostics), [
        'warning PASS_GATEWAY_PARENT_NOT_FOUND HTTPRoute default/lost spec.parentRefs[0]',
        'error PASS_GATEWAY_NOT_ATTACHED HTTPRoute default/wrong-section spec.parentRefs[0]',
        'error PASS_GATEWAY_NOT_ATTACHED HTTPRoute default/wrong-section spec.parentRefs[1]',
        'error PASS_GATEWAY_NOT_ATTACHED HTTPRoute other/foreign spec.parentRefs[0]',
      ]);
    },
  },
  {
    name: 'header, query and method matches become route conditions beside a regex and a plain path',
    files: ['unsupported-matches.yaml'],
    check(t) {
      assert.deepEqual(routes(t), [
        'm.example.com: Regex /items/[0-9]+ → other/api:8080',
        'm.example.com: Prefix /plain → other/api:8080',
        'm.example.com: Prefix /v2 if {"headers":[{"name":"version","type":"Exact","value":"2"}]} → other/api:8080',
        'm.example.com: Prefix /q if {"method":"GET","query":[{"name":"a","type":"Exact","value":"b"}]} → other/api:8080',
      ]);
      assert.deepEqual(parents(t, 'other/matches'), ['{"name":"gw","namespace":"default"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(brief(t.diagnostics), []);
    },
  },
  {
    name: 'allowedRoutes kinds: HTTPRoute beside another kind is served (InvalidRouteKinds); another kind alone attaches nothing',
    files: ['route-kinds.yaml'],
    check(t) {
      assert.deepEqual(routes(t), ['mixed.example.com: Prefix / → default/web:80']);
      assert.deepEqual(t.status.gateways[0]?.listeners.map((l) => [l.name, l.supportedKinds.map((k) => k.kind), l.attachedRoutes]), [['mixed', ['HTTPRoute'], 1], ['foo-only', [], 0]]);
      assert.deepEqual(listeners(t, 'gw'), [
        'mixed 1: Accepted=True/Accepted ResolvedRefs=False/InvalidRouteKinds Conflicted=False/NoConflicts Programmed=True/Programmed',
        'foo-only 0: Accepted=True/Accepted ResolvedRefs=False/InvalidRouteKinds Conflicted=False/NoConflicts Programmed=False/Invalid',
      ]);
      assert.deepEqual(parents(t, 'default/web'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
    },
  },
  {
    name: 'two HTTPRoutes for one host and path: the older keeps it, the newer is told',
    files: ['conflicts.yaml'],
    check(t) {
      assert.deepEqual(routes(t), ['c.example.com: Prefix / → default/web:80']);
      assert.deepEqual(listeners(t, 'gw'), [`http 2: ${OK_LISTENER}`]);
      assert.deepEqual(brief(t.diagnostics), ['warning PASS_GATEWAY_CONFLICT HTTPRoute default/newer spec.rules[0].matches.path']);
    },
  },
  {
    name: 'unsupported protocol: Accepted=False/UnsupportedProtocol with no supportedKinds; the Gateway is accepted only with another listener',
    files: ['unsupported-protocol.yaml'],
    check(t) {
      const kinds = (name: string): unknown => t.status.gateways.find((g) => g.name === name)?.listeners.map((l) => [l.name, l.supportedKinds.map((k) => `${k.group}/${k.kind}`)]);
      assert.deepEqual(kinds('only-unsupported'), [['invalid', []]]);
      assert.deepEqual(kinds('supported-and-unsupported'), [['http', ['gateway.networking.k8s.io/HTTPRoute']], ['invalid', []]]);
      const invalid = 'invalid 0: Accepted=False/UnsupportedProtocol ResolvedRefs=True/ResolvedRefs Conflicted=False/NoConflicts Programmed=False/Invalid';
      assert.deepEqual(listeners(t, 'only-unsupported'), [invalid]);
      assert.deepEqual(listeners(t, 'supported-and-unsupported'), [`http 0: ${OK_LISTENER}`, invalid]);
      assert.deepEqual(t.status.gateways.map((g) => [g.name, conds(g.conditions)]), [
        ['only-unsupported', ['Accepted=False/ListenersNotValid', 'Programmed=False/Invalid']],
        ['supported-and-unsupported', ['Accepted=True/ListenersNotValid', 'Programmed=True/Programmed']],
      ]);
      // The protocol is the problem: the route kinds of such a listener are not reported besides.
      assert.deepEqual(brief(t.diagnostics), [
        'error PASS_GATEWAY_LISTENER_PROTOCOL Gateway default/only-unsupported spec.listeners[0].protocol',
        'error PASS_GATEWAY_LISTENER_PROTOCOL Gateway default/supported-and-unsupported spec.listeners[1].protocol',
      ]);
    },
  },
  {
    name: 'HTTPS listener without hostname: its certificate serves the routed hosts and the names it covers itself',
    files: ['https-listener-without-hostname.yaml'],
    check(t) {
      assert.deepEqual(t.certificates.map((c) => [c.id, c.hosts, c.ownNames]), [['default/wild-tls', ['*.example.com', 'shop.example.org'], ['*.example.com']]]);
      assert.deepEqual(t.virtualHosts.map((vh) => [vh.host, vh.certificate]), [['shop.example.org', 'default/wild-tls']]);
      assert.deepEqual(t.diagnostics, []);
    },
  },
  {
    name: 'HTTPS listener without hostname: a name another listener asks for is left to it, without a diagnostic',
    files: ['https-listener-without-hostname.yaml', 'https-listener-without-hostname-claimed.yaml'],
    check(t) {
      assert.deepEqual(t.certificates.map((c) => [c.id, c.hosts, c.ownNames]), [['certs/shared-tls', ['*.example.com'], []], ['default/wild-tls', ['shop.example.org'], []]]);
      assert.deepEqual(t.diagnostics, []);
    },
  },
  {
    name: 'rules without a usable backendRef answer 500 (internalError); a RequestRedirect rule needs none',
    files: ['no-backend-refs.yaml'],
    check(t) {
      const none = (why: string): string => ` {"internalError":"${why}"}`;
      assert.deepEqual(routes(t), [
        'none.example.com: Exact /redirect → default/omitted#no-backend {"wwwRedirect":{"host":"www.example.com","status":302}}',
        `none.example.com: Exact /omitted → default/omitted#no-backend${none('this HTTPRoute rule has no backendRef')}`,
        `none.example.com: Exact /empty → default/omitted#no-backend${none('this HTTPRoute rule has no backendRef')}`,
        `none.example.com: Exact /zero → default/omitted#no-backend${none('every backendRef of this HTTPRoute rule has weight 0')}`,
        `none.example.com: Prefix /kind → default/unknown-kind#no-backend${none('no backendRef of this HTTPRoute rule can be used (InvalidKind)')}`,
        'none.example.com: Prefix / → default/web:80',
      ]);
      assert.deepEqual(parents(t, 'default/omitted'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(parents(t, 'default/unknown-kind'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=False/InvalidKind']);
      assert.deepEqual(brief(t.diagnostics), ['error PASS_GATEWAY_BACKEND_KIND HTTPRoute default/unknown-kind spec.rules[0].backendRefs[0]']);
    },
  },
  {
    name: 'attachedRoutes counts only accepted routes: two without hostnames, not the one with NoMatchingListenerHostname',
    files: ['attached-routes-accepted-only.yaml'],
    check(t) {
      assert.deepEqual(listeners(t, 'gw'), [`http 2: ${OK_LISTENER}`]);
      assert.deepEqual(parents(t, 'default/not-accepted'), ['{"kind":"Gateway","name":"gw","namespace":"default"} Accepted=False/NoMatchingListenerHostname ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(parents(t, 'default/route-2'), ['{"kind":"Gateway","name":"gw","namespace":"default"} Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
      assert.deepEqual(routes(t), ['foo.example.com: Prefix /three → default/web:80', 'foo.example.com: Prefix / → default/web:80']);
    },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const t = run(load(...c.files), c.options);
    c.check(t);
    // Deterministic: the same input in another order gives the same output.
    const input = load(...c.files);
    const reversed = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, [...(v as KubeObject[])].reverse()])) as unknown as GatewayInput;
    assert.deepEqual(JSON.parse(JSON.stringify(run(reversed, c.options))), JSON.parse(JSON.stringify(t)));
  });
}

const h = (host: string): Hostname => ({ host, kind: host.startsWith('*.') ? 'wildcard' : 'exact' });

test('hostname intersection, the spec\'s table', () => {
  const table: readonly [listener: string, route: string, expected: string | undefined][] = [
    ['foo.example.com', 'foo.example.com', 'foo.example.com'],
    ['foo.example.com', 'bar.example.com', undefined],
    ['foo.example.com', '*.example.com', 'foo.example.com'],
    ['*.example.com', 'foo.example.com', 'foo.example.com'],
    ['*.example.com', 'foo.bar.example.com', 'foo.bar.example.com'],
    ['*.example.com', 'example.com', undefined],
    ['*.example.com', '*.example.com', '*.example.com'],
    ['*.example.com', '*.foo.example.com', '*.foo.example.com'],
    ['*.foo.example.com', '*.example.com', '*.foo.example.com'],
    ['*.example.com', '*.example.org', undefined],
    ['a.b.example.com', '*.example.com', 'a.b.example.com'],
  ];
  for (const [l, r, want] of table) assert.equal(intersectHostname(h(l), h(r))?.host, want, `${l} ∩ ${r}`);
  assert.deepEqual(routeHosts(undefined, []), [{ host: '*', kind: 'any' }]);
  assert.deepEqual(routeHosts(h('*.example.com'), []), [{ host: '*.example.com', kind: 'suffix' }], 'a Gateway API wildcard matches one or more labels');
  assert.deepEqual(routeHosts(undefined, [h('a.example.com')]), [h('a.example.com')]);
  assert.deepEqual(routeHosts(h('a.example.com'), [h('*.example.com'), h('a.example.com')]), [h('a.example.com')], 'each host once');
});

test('allowedRoutes namespace selectors: matchLabels and matchExpressions', () => {
  const labels = { team: 'shop', env: 'prod' };
  assert.equal(selects({ matchLabels: { team: 'shop' } }, labels), true);
  assert.equal(selects({ matchLabels: { team: 'web' } }, labels), false);
  assert.equal(selects({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] }, labels), true);
  assert.equal(selects({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, labels), false);
  assert.equal(selects({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }, { key: 'team', operator: 'Exists' }] }, labels), true);
  assert.equal(selects({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels), false);
});

test('a listener selecting namespaces by label lets the routes of a selected namespace attach', () => {
  const input = load('unsupported-matches.yaml');
  const gateway = input.gateways[0] as { spec: { listeners: { allowedRoutes: unknown }[] } };
  const selector = { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'api' } } } };
  const withSelector = { ...input, gateways: [{ ...gateway, spec: { ...gateway.spec, listeners: [{ ...gateway.spec.listeners[0], allowedRoutes: selector }] } }] as KubeObject[] };
  const unlabelled = run(withSelector);
  assert.match(parents(unlabelled, 'other/matches')[0] ?? '', /Accepted=False\/NotAllowedByListeners/);
  const labelled = run({ ...withSelector, namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other', labels: { team: 'api' } } }] });
  assert.match(parents(labelled, 'other/matches')[0] ?? '', /Accepted=True\/Accepted/);
});

test('mergeGateway: an Ingress keeps a host and path both ask for; the HTTPRoute is told; backends and certificates join', () => {
  const t = run(load('https-certificate-refs.yaml'));
  const ingressRoute: Route = { path: '/', pathType: 'Prefix', backend: 'default/ing:80', source: { kind: 'Ingress', namespace: 'default', name: 'ing' }, field: 'spec.rules[0].http.paths[0]' };
  const vhosts = new Map<string, VhostBuild>([['shop.example.com', { host: 'shop.example.com', kind: 'exact', routes: [ingressRoute], byPath: undefined, sources: [{ key: 'default/ing', ref: ingressRoute.source }] }]]);
  const other = { id: 'default/ing-tls', hosts: new Set(['*.example.com']), certPem: 'x', keyPem: 'y', source: { kind: 'Secret', namespace: 'default', name: 'ing-tls' } };
  const into = { vhosts, used: new Map(), certs: new Map([[other.id, other]]), hostCert: new Map([['*.example.com', { id: other.id, owner: { kind: 'Ingress', namespace: 'default', name: 'ing' } }]]) };
  const diags = new DiagnosticList();
  mergeGateway(t, into, diags);
  assert.deepEqual(vhosts.get('shop.example.com')?.routes, [ingressRoute]);
  assert.deepEqual([...into.used.keys()], ['default/web:80']);
  assert.deepEqual([...into.certs.keys()], ['default/ing-tls', 'default/wild-tls']);
  assert.deepEqual([...(into.certs.get('default/wild-tls')?.hosts ?? [])], [], 'the Ingress keeps *.example.com');
  assert.deepEqual(brief(diags.sorted()), ['warning PASS_GATEWAY_CONFLICT Gateway default/gw spec.listeners', 'warning PASS_GATEWAY_CONFLICT HTTPRoute default/shop spec.rules[0].matches.path']);
  assert.deepEqual(diags.sorted().map((d) => d.location?.line), [2, 24], 'reported where the objects were read');
});

test('mergeGateway: a name an Ingress certificate has stays its own; a hostname-less listener gives up its certificate\'s own names quietly', () => {
  const t = run(load('https-listener-without-hostname.yaml'));
  const other = { id: 'default/ing-tls', hosts: new Set(['*.example.com']), certPem: 'x', keyPem: 'y', source: { kind: 'Secret', namespace: 'default', name: 'ing-tls' } };
  const into = { vhosts: new Map<string, VhostBuild>(), used: new Map(), certs: new Map([[other.id, other]]), hostCert: new Map([['*.example.com', { id: other.id, owner: { kind: 'Ingress', namespace: 'default', name: 'ing' } }]]) };
  const diags = new DiagnosticList();
  mergeGateway(t, into, diags);
  assert.deepEqual([...(into.certs.get('default/wild-tls')?.hosts ?? [])], ['shop.example.org']);
  assert.equal(into.hostCert.get('*.example.com')?.id, 'default/ing-tls');
  assert.deepEqual(diags.sorted(), []);
});

test('a host no Ingress routes is added whole by mergeGateway', () => {
  const t = run(load('simple-http.yaml'));
  const into = { vhosts: new Map<string, VhostBuild>(), used: new Map(), certs: new Map(), hostCert: new Map() };
  mergeGateway(t, into, new DiagnosticList());
  assert.deepEqual(into.vhosts.get('example.com')?.routes, t.virtualHosts[0]?.routes);
  assert.deepEqual(into.vhosts.get('example.com')?.sources.map((s) => s.key), ['default/web']);
});

test('bad input is reported, never thrown', () => {
  const input = load('simple-http.yaml');
  const broken: GatewayInput = {
    ...input,
    gateways: [...input.gateways, { kind: 'Gateway', metadata: { name: 'bad', namespace: 'default' }, spec: { gatewayClassName: 'passerelle', listeners: [{ name: 'x', port: 'eighty', protocol: 'HTTP' }, { name: 'y', port: 80, protocol: 'HTTP', hostname: 'not a host' }] } }],
    httpRoutes: [...input.httpRoutes, { kind: 'HTTPRoute', metadata: { name: 'odd', namespace: 'default' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: ['ok.example.com'], rules: [{ matches: [{ path: { type: 'Weird', value: '/' } }, { path: { type: 'Exact', value: 'no-slash' } }], backendRefs: [{ name: 'web', kind: 'ConfigMap', port: 80 }] }, { matches: [{ path: { value: '/filtered' } }], backendRefs: [{ name: 'web', port: 80, filters: [{ type: 'RequestHeaderModifier' }] }] }] } }, 42 as unknown as KubeObject],
  };
  const t = run(broken);
  assert.deepEqual(brief(t.diagnostics), [
    'error PASS_OBJECT_INVALID Gateway default/bad spec.listeners[0].port',
    'error PASS_GATEWAY_BAD_HOSTNAME Gateway default/bad spec.listeners[1].hostname',
    'error PASS_OBJECT_INVALID HTTPRoute <httpRoutes[3]>',
    'error PASS_GATEWAY_BACKEND_KIND HTTPRoute default/odd spec.rules[0].backendRefs[0]',
    'error PASS_GATEWAY_BAD_MATCH HTTPRoute default/odd spec.rules[0].matches[0].path.type',
    'error PASS_GATEWAY_BAD_MATCH HTTPRoute default/odd spec.rules[0].matches[1].path.value',
    'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/odd spec.rules[1].backendRefs[0].filters[0].requestHeaderModifier',
  ]);
  assert.ok(routes(t).includes('ok.example.com: Prefix /filtered → default/web:80 {"denied":"a filter of this HTTPRoute rule is not supported"}'), 'a backendRef filter that cannot be applied denies its rule');
  assert.deepEqual(parents(t, 'default/odd'), ['{"name":"gw"} Accepted=True/Accepted ResolvedRefs=False/InvalidKind PartiallyInvalid=True/UnsupportedValue']);
  assert.deepEqual(listeners(t, 'bad'), [], 'both listeners were left out');
});

// ---- wired into translate, read by the file source ----

const FIXTURES = ['base.yaml', 'conflicts.yaml', 'cross-namespace-backend.yaml', 'hostname-intersection.yaml', 'https-acme.yaml', 'https-certificate-refs.yaml', 'missing-parent.yaml', 'port-without-entry-point.yaml', 'redirect-rewrite.yaml', 'reference-grant.yaml', 'route-kinds.yaml', 'secret-grant.yaml', 'simple-http.yaml', 'unsupported-matches.yaml', 'unsupported-protocol.yaml', 'weighted-backends.yaml', 'attached-routes-accepted-only.yaml', 'https-listener-without-hostname.yaml', 'no-backend-refs.yaml', 'static-addresses.yaml', 'misdirected.yaml'];

/** The fixtures' objects as the file source reads them (strict kinds and fields). */
function readAsFileSource(...files: string[]): KubeObject[] {
  return files.flatMap((file) => {
    const parsed = parseObjectsFile(readFileSync(new URL(file, fixtures), 'utf8'), file);
    assert.ok(parsed.ok, `${file}: ${JSON.stringify(parsed.diagnostics)}`);
    assert.deepEqual(parsed.diagnostics, [], `${file}: the strict field tables accept the spec's examples`);
    assert.equal(parsed.ignored, 0, `${file}: every object is read`);
    return parsed.objects;
  });
}

const translateOptions: TranslateOptions = { entryPoints, ingressClass: 'passerelle', controllerName: 'passerelle.dev/ingress-controller', classAliases: [], watchIngressWithoutClass: false, acme: { onHostRule: false, wildcards: false } };

test('the file source reads every Gateway API fixture into the snapshot\'s Gateway lists; translate serves them as translateGateway decides', () => {
  const snapshot = groupByKind(readAsFileSource('base.yaml', 'simple-http.yaml', 'weighted-backends.yaml'));
  assert.deepEqual([snapshot.gatewayClasses.length, snapshot.gateways.length, snapshot.httpRoutes.length], [2, 3, 3]);
  assert.equal(snapshot.gatewayClasses[0]?.metadata?.namespace, undefined, 'GatewayClass is cluster-scoped');
  const model = translate(deepFreeze(snapshot), translateOptions);
  const alone = run(load('simple-http.yaml', 'weighted-backends.yaml'));
  assert.deepEqual(model.virtualHosts.map((vh) => [vh.host, vh.routes]), alone.virtualHosts.map((vh) => [vh.host, vh.routes]));
  assert.deepEqual(model.gatewayStatus, alone.status);
  assert.deepEqual(Object.keys(model.backends), Object.keys(alone.backends));
  assert.deepEqual(brief(model.diagnostics), brief(alone.diagnostics));
  // Every fixture, so the tables are tried on all of them.
  assert.ok(readAsFileSource(...FIXTURES).length > 30);
});

test('translate: gatewayControllerName picks the classes; no Gateway API objects, no gatewayStatus; Ingress intents first', () => {
  const snapshot = groupByKind(readAsFileSource('base.yaml', 'simple-http.yaml'));
  assert.equal(DEFAULT_GATEWAY_CONTROLLER_NAME, options.controllerName);
  const ours = translate(snapshot, translateOptions);
  assert.ok(ours.virtualHosts.some((vh) => vh.sources.some((s) => s.kind === 'HTTPRoute')));
  // A host only the HTTP listener serves is served on its entry point only; once an Ingress routes it too, on every one.
  assert.deepEqual(ours.virtualHosts.find((vh) => vh.host === 'example.com')?.entryPoints, ['web']);
  assert.match(describeModel(ours), /^ {2}example\.com {2}\(exact\) {2}only on web {2}from HTTPRoute default\/web$/m, 'the dry run says where it is served');
  const everywhere = translate(snapshot, { ...translateOptions, entryPoints: [entryPoints[0]!] });
  assert.equal('entryPoints' in (everywhere.virtualHosts.find((vh) => vh.host === 'example.com') ?? {}), false, 'its listener serves every entry point: no restriction');
  const other = translate(snapshot, { ...translateOptions, gatewayControllerName: 'example.com/other' });
  assert.deepEqual(other.virtualHosts, [], 'another controller name: none of the classes is ours');
  assert.deepEqual(other.gatewayStatus, { gatewayClasses: [], gateways: [], httpRoutes: [] });
  const none = translate({ ...snapshot, gatewayClasses: [], gateways: [], httpRoutes: [], referenceGrants: [] }, translateOptions);
  assert.equal(none.gatewayStatus, undefined);
  assert.equal('gatewayStatus' in none, false);
  // An Ingress routing a host path an HTTPRoute also asks for keeps it; its intent comes first.
  const ingress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ing', namespace: 'default', annotations: { 'kubernetes.io/tls-acme': 'true' } }, spec: { ingressClassName: 'passerelle', tls: [{ hosts: ['example.com'], secretName: 'missing-tls' }], rules: [{ host: 'example.com', http: { paths: [{ path: '/app', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } } as KubeObject;
  const classes = [{ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'passerelle' }, spec: { controller: 'passerelle.dev/ingress-controller' } } as KubeObject];
  const both = translate({ ...snapshot, ingresses: [ingress], ingressClasses: classes }, translateOptions);
  assert.deepEqual(both.virtualHosts.find((vh) => vh.host === 'example.com')?.routes.map((r) => `${r.source.kind} ${r.pathType} ${r.path}`), ['HTTPRoute Exact /exact', 'Ingress Prefix /app']);
  assert.equal(both.virtualHosts.find((vh) => vh.host === 'example.com')?.entryPoints, undefined, 'an Ingress host is served on every entry point');
  assert.ok(brief(both.diagnostics).includes('warning PASS_GATEWAY_CONFLICT HTTPRoute default/web spec.rules[0].matches[0].path'));
  // The opted-in HTTPS listener's intent follows the Ingress's.
  const withAcme = translate({ ...groupByKind(readAsFileSource('base.yaml', 'https-acme.yaml')), ingresses: [ingress], ingressClasses: classes }, translateOptions);
  assert.deepEqual(withAcme.certificateIntents?.map((i) => `${i.source.kind} ${i.hosts.map((h) => h.host).join(',')}`), ['Ingress example.com', 'Gateway app.example.com']);
  // The incremental build equals the full one with Gateway API objects, as they come and go.
  const inc = new IncrementalTranslator(translateOptions);
  for (const s of [{ ...snapshot, ingresses: [ingress], ingressClasses: classes }, { ...snapshot, gateways: [], ingresses: [ingress], ingressClasses: classes }, { ...snapshot, gatewayClasses: [], gateways: [], httpRoutes: [], referenceGrants: [], ingresses: [ingress], ingressClasses: classes }, snapshot]) {
    assert.deepEqual(inc.build(s), translate(s, translateOptions));
  }
});

test('the file source: Gateway API kinds only in their versions, cluster-scoped GatewayClass, strict fields', () => {
  const text = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: passerelle }
spec: { controllerName: passerelle.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: grant, namespace: other }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default }]
  to: [{ group: "", kind: Service }]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: { name: old }
spec: { parentRefs: [{ name: gw }] }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio }
spec: { servers: [] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: typo }
spec:
  parentRefs: [{ name: gw }]
  hostname: [example.com]
---
apiVersion: v1
kind: Namespace
metadata: { name: team, labels: { shared: "yes" } }
`;
  const parsed = parseObjectsFile(text, 'gw.yaml');
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.diagnostics.map((d) => `${d.severity} ${d.code} ${d.object?.kind} ${d.object?.name} ${d.field} :${d.location?.line}`),
    [
      'warning PASS_FILE_UNKNOWN_KIND HTTPRoute old apiVersion :13',
      'warning PASS_FILE_UNKNOWN_KIND Gateway istio kind :19',
      'error PASS_FILE_UNKNOWN_FIELD HTTPRoute typo spec.hostname :28',
    ],
  );
  assert.match(parsed.diagnostics[0]?.message ?? '', /only gateway\.networking\.k8s\.io\/v1\)/);
  assert.match(parsed.diagnostics[2]?.message ?? '', /did you mean "hostnames"\?.*the HTTPRoute is not loaded/);
  const snapshot = groupByKind(parsed.objects);
  assert.deepEqual(snapshot.gatewayClasses.map((o) => [o.metadata?.name, o.metadata?.namespace]), [['passerelle', undefined]]);
  assert.deepEqual(snapshot.referenceGrants.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`), ['other/grant']);
  assert.deepEqual([snapshot.gateways.length, snapshot.httpRoutes.length], [0, 0]);
  assert.deepEqual(snapshot.namespaces.map((o) => [o.metadata?.name, o.metadata?.namespace]), [['team', undefined]]);
});
