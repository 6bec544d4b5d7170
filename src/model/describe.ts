import type { Diagnostic } from '../shared/diagnostics.ts';
import { formatDiagnostic, refName } from '../shared/diagnostics.ts';
import type { EntryPoint, ListenAddress, Middleware, Route, RoutingModel } from './types.ts';

/** `:80`, `127.0.0.1:8443`, `[::1]:443`. */
export function formatAddress(a: ListenAddress): string {
  if (a.host === undefined) return `:${a.port}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** One phrase per middleware, e.g. `redirect -> https (302, port 443)`. */
export function describeMiddleware(m: Middleware): string {
  if (m.kind === 'redirect') return `redirect -> ${m.entryPoint} (${m.status}, ${m.scheme} port ${m.port})`;
  return `basic auth (realm "${m.realm}", ${m.users.length} user${m.users.length === 1 ? '' : 's'}: ${m.users.map((u) => u.user).join(', ')})`;
}

function entryPointLine(ep: EntryPoint): string {
  const mws = ep.middlewares.length === 0 ? 'no middleware' : ep.middlewares.map(describeMiddleware).join('; then ');
  const pub = ep.publicPort === undefined || ep.publicPort === ep.address.port ? '' : `  public port ${ep.publicPort}`;
  return `  ${ep.name}  ${formatAddress(ep.address)}${pub}${ep.tls ? '  TLS' : ''}  ${mws}`;
}

/** A route's conditions as text (`method GET, header x-v = "2"`); empty without conditions. */
export function describeConditions(r: Route): string {
  const c = r.conditions;
  const values = (list: readonly { readonly name: string; readonly type: string; readonly value: string }[] | undefined, what: string): string[] =>
    (list ?? []).map((v) => `${what} ${v.name} ${v.type === 'Exact' ? `= ${JSON.stringify(v.value)}` : `~ /^(?:${v.value})$/`}`);
  return [...(c?.method === undefined ? [] : [`method ${c.method}`]), ...values(c?.headers, 'header'), ...values(c?.query, 'query')].join(', ');
}

/** The native route table as readable text (what `run --dry-run` prints for the native proxy). */
export function describeModel(model: RoutingModel): string {
  const out: string[] = ['Entry points'];
  if (model.entryPoints.length === 0) out.push('  (none)');
  for (const ep of model.entryPoints) out.push(entryPointLine(ep));
  out.push('', 'Virtual hosts');
  if (model.virtualHosts.length === 0) out.push('  (none)');
  const hostLines = (vhosts: RoutingModel['virtualHosts']): void => {
    for (const v of vhosts) {
      const cert = v.certificate === undefined ? '' : `  certificate ${v.certificate}`;
      const only = v.entryPoints === undefined ? '' : `  only on ${v.entryPoints.join(', ')}`;
      out.push(`  ${v.host}  (${v.kind})${cert}${only}  from ${v.sources.map((s) => `${s.kind} ${refName(s)}`).join(', ')}`);
      for (const r of v.routes) out.push(`    ${r.pathType.padEnd(6)} ${r.path}${r.conditions === undefined ? '' : ` if ${describeConditions(r)}`}  ->  ${r.backend}`);
    }
  };
  hostLines(model.virtualHosts);
  for (const scope of model.addressScopes ?? []) {
    out.push('', `Virtual hosts of connections to ${scope.address} through entry point ${scope.entryPoint} (a Gateway's own address; no default backend)`);
    if (scope.listenerHostnames !== undefined) out.push(`  421 to a Host of another HTTPS listener than the server name; listeners: ${scope.listenerHostnames.map((n) => (n === '' ? '(any)' : n)).join(', ')}`);
    if (scope.virtualHosts.length === 0) out.push('  (none: 404)');
    hostLines(scope.virtualHosts);
  }
  out.push('', 'Backends');
  const backends = Object.values(model.backends);
  if (backends.length === 0) out.push('  (none)');
  for (const b of backends) {
    out.push(`  ${b.id}  ${b.endpoints.length === 0 ? '(no ready endpoint: 503)' : `wrr over ${b.endpoints.length} server${b.endpoints.length === 1 ? '' : 's'}`}`);
    for (const e of b.endpoints) out.push(`    server ${e.address}:${e.port}  weight ${e.weight}${e.name === undefined ? '' : `  ${e.name}`}`);
  }
  out.push('', `Default backend: ${model.defaultBackend ?? 'none (404 when nothing matches)'}`);
  out.push('', 'Certificates');
  if (model.certificates.length === 0) out.push('  (none: the default self-signed certificate is served)');
  for (const c of model.certificates) out.push(`  ${c.id}  ${c.hosts.join(', ')}`);
  out.push('', 'Diagnostics');
  out.push(...describeDiagnostics(model.diagnostics));
  return `${out.join('\n')}\n`;
}

/** Diagnostics as indented lines, or `(none)`. */
export function describeDiagnostics(diagnostics: readonly Diagnostic[]): string[] {
  if (diagnostics.length === 0) return ['  (none)'];
  return diagnostics.map((d) => `  ${formatDiagnostic(d)}`);
}

/** A middleware as JSON-ready data: basic auth keeps the user names and never their hashes. */
function middlewareForJson(m: Middleware): unknown {
  if (m.kind === 'redirect') return m;
  return { ...m, users: m.users.map((u) => ({ user: u.user })) };
}

/** The model as JSON-ready data with secrets left out: private keys (and PEMs), htpasswd hashes. */
export function modelForJson(model: RoutingModel): unknown {
  return {
    ...model,
    entryPoints: model.entryPoints.map((ep) => ({ ...ep, middlewares: ep.middlewares.map(middlewareForJson) })),
    certificates: model.certificates.map(({ keyPem: _key, certPem: _cert, ...rest }) => rest),
  };
}
