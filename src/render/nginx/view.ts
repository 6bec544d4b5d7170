/*
 * The nginx view: one server block per (entry point, set of virtual hosts served alike), locations built so that
 * nginx's own matching gives the model's order:
 *   Exact /p   → location = /p
 *   Prefix /p  → location = /p  and  location ^~ /p/   (element-wise; `= /p` of an Exact wins)
 *   Prefix /   → location /
 * nginx picks `=` first, then the longest `^~` prefix: the longest match, Exact on a tie.
 * Host lookup goes through nginx's server-name hash; wildcards become one-label regexes.
 */
import type { Diagnostic, ObjectRef } from '../../shared/diagnostics.ts';
import { defined } from '../../shared/optional.ts';
import { trustedRanges } from '../trust.ts';
import { DEFAULT_CLIENT_TIMEOUTS, publicPortOf } from '../../model/types.ts';
import type { BasicAuthMiddleware, ClientTimeouts, EntryPoint, RoutingModel, VirtualHost } from '../../model/types.ts';
import { selectRoute } from '../../model/match.ts';
import { unavailableCause } from '../../model/unavailable.ts';
import { isPlainHost, isWildcardHost } from '../quote.ts';
import type { HostPort, RequestLogTarget } from '../types.ts';
import { canAddress, canLiteral, canName, canRoutePath, canUser } from './quote.ts';

/** What the nginx rendering needs besides the model. */
export interface NginxRenderOptions {
  readonly workDir: string;
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** worker_shutdown_timeout: how long old workers may finish after a reload or stop. */
  readonly gracePeriodMs?: number;
  readonly forwardedHeader?: boolean;
  readonly acmeChallengeAddress?: HostPort;
  /** Where request log lines go (the controller's syslog receiver); absent: `access_log off`. */
  readonly requestLog?: RequestLogTarget;
  /** `worker_processes` (default 2). */
  readonly workerProcesses?: number;
  /**
   * The headers-more dynamic module (Debian package libnginx-mod-http-headers-more-filter), which
   * sets `Server: passerelle` when the upstream sends none; null leaves nginx's own Server header.
   * Default: the Debian path.
   */
  readonly headersMoreModule?: string | null;
  /** The `user` directive: the account workers run as when the master runs as root (omitted otherwise). */
  readonly workerUser?: { readonly user: string; readonly group: string };
}

export type Action =
  | { readonly proxy: string; readonly status: null; readonly body: null }
  | { readonly proxy: null; readonly status: number; readonly body: string };

export interface LocationView {
  /** `=`, `^~` or empty (the `/` prefix). */
  readonly modifier: string;
  readonly path: string;
  readonly action: Action;
}

export interface ServerBlockView {
  readonly listenHost: string;
  readonly listenPort: number;
  /** The port clients connect to (the entry point's publicPort, else listenPort): sent as X-Forwarded-Port. */
  readonly publicPort: number;
  readonly tls: boolean;
  readonly defaultServer: boolean;
  /** Exact host or `*.domain` (rendered as a one-label regex); empty for the default server. */
  readonly names: readonly string[];
  readonly proto: 'http' | 'https';
  readonly certificate: { readonly cert: string; readonly key: string } | null;
  readonly redirect: { readonly scheme: 'http' | 'https'; readonly port: number | null; readonly code: number } | null;
  readonly auth: { readonly realm: string; readonly file: string; readonly removeHeader: boolean } | null;
  readonly locations: readonly LocationView[];
  /** The entry point's name: names its trust variables (`$pass_xff_NAME`, ...). */
  readonly entryPoint: string;
  /** Client-side timeouts (ms). */
  readonly timeouts: ClientTimeouts;
  /** Whether the entry point trusts some clients' forwarding headers (then its maps exist). */
  readonly trusted: boolean;
}

/** An entry point that trusts some clients: a `geo` block and the maps choosing kept or replaced headers. */
export interface TrustView {
  readonly entryPoint: string;
  readonly ranges: readonly string[];
  readonly proto: 'http' | 'https';
  /** The default X-Forwarded-Port (the public port) when the client is not trusted. */
  readonly port: number;
}

export interface UpstreamView {
  readonly id: string;
  readonly name: string;
  readonly servers: readonly { readonly host: string; readonly port: number; readonly weight: number }[];
}

export interface NginxView {
  readonly workDir: string;
  readonly pidFile: string;
  readonly workerProcesses: number;
  readonly workerUser: { readonly user: string; readonly group: string } | null;
  readonly headersMoreModule: string | null;
  readonly shutdownTimeoutMs: number;
  readonly timeouts: { readonly connect: number; readonly read: number };
  readonly namesHash: { readonly maxSize: number; readonly bucketSize: number };
  readonly forwardedHeader: boolean;
  readonly acme: HostPort | null;
  /** The controller's syslog receiver and whether every request is logged, or null. */
  readonly requestLog: { readonly host: string; readonly port: number; readonly all: boolean } | null;
  readonly defaultCert: { readonly cert: string; readonly key: string };
  readonly hasTls: boolean;
  readonly upstreams: readonly UpstreamView[];
  readonly servers: readonly ServerBlockView[];
  readonly trust: readonly TrustView[];
}

export interface NginxBuild {
  readonly view: NginxView;
  /** htpasswd files by relative path. */
  readonly htpasswd: readonly { readonly path: string; readonly users: readonly { readonly user: string; readonly hash: string }[] }[];
  /** Certificate files (chain, key) by relative path. */
  readonly certs: readonly { readonly id: string; readonly certPath: string; readonly keyPath: string; readonly certPem: string; readonly keyPem: string }[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Where Debian's libnginx-mod-http-headers-more-filter installs the headers-more module. */
export const HEADERS_MORE_MODULE = '/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so';

/** Upstream name for a backend id `ns/service:port`. */
export function nginxUpstreamName(id: string): string {
  return `be_${id.replace('/', '.').replace(':', '_')}`;
}

function skipped(code: Diagnostic['code'], message: string, object?: ObjectRef, field?: string): Diagnostic {
  return { severity: 'warning', code, message, ...defined({ object, field }) };
}

const NOT_FOUND: Action = { proxy: null, status: 404, body: 'Not Found' };
const UNAVAILABLE: Action = { proxy: null, status: 503, body: 'Service Unavailable: no endpoint is ready' };

/** Builds the nginx view and its auxiliary files from the model (pure). */
export function buildNginxView(model: RoutingModel, options: NginxRenderOptions): NginxBuild {
  const workDir = options.workDir.replace(/\/+$/, '');
  const diags: Diagnostic[] = [];

  const upstreams: UpstreamView[] = [];
  const actions = new Map<string, Action>();
  for (const [id, b] of Object.entries(model.backends)) {
    const name = nginxUpstreamName(id);
    const ref: ObjectRef = { kind: 'Service', namespace: b.namespace, name: b.service };
    if (!canName(name)) {
      diags.push(skipped('PASS_NGINX_BACKEND_NAME', `backend ${JSON.stringify(id)} cannot be named in nginx; its routes answer 503`, ref));
      continue;
    }
    const eps = b.endpoints.filter((e) => canAddress(e.address, e.port));
    if (eps.length !== b.endpoints.length) diags.push(skipped('PASS_NGINX_ENDPOINT', `backend ${id}: endpoints with an address nginx cannot hold were left out`, ref));
    // nginx has no weight 0: such endpoints are left out, unless all are 0 (then spread evenly, as native does).
    const positive = eps.filter((e) => e.weight >= 1);
    const chosen = positive.length > 0 ? positive : eps;
    if (chosen.length === 0) {
      // nginx reloads on every change: the body can say why (the Service missing, or no endpoint).
      actions.set(id, b.unresolved === undefined ? UNAVAILABLE : { proxy: null, status: 503, body: `Service Unavailable: ${unavailableCause(b)}` });
      continue;
    }
    upstreams.push({ id, name, servers: chosen.map((e) => ({ host: e.address, port: e.port, weight: positive.length > 0 ? Math.min(1000, Math.floor(e.weight)) : 1 })) });
    actions.set(id, { proxy: name, status: null, body: null });
  }
  const actionFor = (id: string): Action => actions.get(id) ?? UNAVAILABLE;
  const fallback: Action = model.defaultBackend === undefined ? NOT_FOUND : actionFor(model.defaultBackend);

  const locationsOf = (v: VirtualHost | undefined): LocationView[] => {
    const out = new Map<string, LocationView>();
    for (const r of v?.routes ?? []) {
      if (!canRoutePath(r.path)) {
        diags.push(skipped('PASS_NGINX_PATH', `path ${JSON.stringify(r.path)} cannot be written as an nginx location; left out`, r.source, r.field));
        continue;
      }
      const a = actionFor(r.backend);
      const add = (modifier: string, path: string): void => {
        const key = `${modifier} ${path}`;
        if (!out.has(key)) out.set(key, { modifier, path, action: a });
      };
      // Routes come in match order, so the first to claim a location is the one the model picks.
      if (r.pathType === 'Exact') add('=', r.path);
      else if (r.path === '/') add('', '/');
      else {
        add('=', r.path);
        add('^~', `${r.path}/`);
      }
    }
    // nginx answers 301 "add a slash" for `/p` when a proxied location is `/p/`: pin `= /p` to what the model says.
    for (const l of [...out.values()]) {
      if (l.path === '/' || !l.path.endsWith('/')) continue;
      const bare = l.path.slice(0, -1);
      if (out.has(`= ${bare}`)) continue;
      const r = v === undefined ? undefined : selectRoute(v, bare);
      out.set(`= ${bare}`, { modifier: '=', path: bare, action: r === undefined ? fallback : actionFor(r.backend) });
    }
    if (!out.has(' /')) out.set(' /', { modifier: '', path: '/', action: fallback });
    return [...out.values()];
  };

  // Certificates: the first certificate naming a host serves it.
  const certs: NginxBuild['certs'][number][] = [];
  const certByHost = new Map<string, { cert: string; key: string }>();
  const certById = new Map<string, { cert: string; key: string }>();
  for (const c of model.certificates) {
    const base = c.id.replace('/', '_');
    if (!/^[a-z0-9][a-z0-9._-]{0,250}$/.test(base) || certById.has(c.id)) {
      diags.push(skipped('PASS_NGINX_CERTIFICATE', `certificate ${JSON.stringify(c.id)} cannot be given a file name; its hosts get the default certificate`, c.source));
      continue;
    }
    const paths = { cert: `${workDir}/certs/${base}.crt`, key: `${workDir}/certs/${base}.key` };
    certById.set(c.id, paths);
    certs.push({ id: c.id, certPath: `certs/${base}.crt`, keyPath: `certs/${base}.key`, certPem: c.certPem, keyPem: c.keyPem });
    for (const h of c.hosts) if (!certByHost.has(h.toLowerCase())) certByHost.set(h.toLowerCase(), paths);
  }
  const certFor = (v: VirtualHost): { cert: string; key: string } | null =>
    (v.certificate === undefined ? undefined : certById.get(v.certificate)) ?? certByHost.get(v.host) ?? null;

  const vhosts: VirtualHost[] = [];
  const seen = new Set<string>();
  let any: VirtualHost | undefined;
  for (const v of model.virtualHosts) {
    if (v.kind === 'any') {
      any ??= v;
      continue;
    }
    if (!(v.kind === 'exact' ? isPlainHost(v.host) : isWildcardHost(v.host))) {
      diags.push(skipped('PASS_NGINX_HOST', `host ${JSON.stringify(v.host)} cannot be an nginx server_name; left out`, v.sources[0]));
      continue;
    }
    if (seen.has(v.host)) continue;
    seen.add(v.host);
    vhosts.push(v);
  }
  const vhostLocations = new Map(vhosts.map((v) => [v, locationsOf(v)]));
  const defaultLocations = locationsOf(any);

  const htpasswd: NginxBuild['htpasswd'][number][] = [];
  const servers: ServerBlockView[] = [];
  const trust: TrustView[] = [];
  const seenListen = new Set<string>();
  for (const ep of model.entryPoints) {
    const epRef: ObjectRef = { kind: 'EntryPoint', name: ep.name };
    if (!canAddress(ep.address.host, ep.address.port) || !/^[A-Za-z0-9_-]+$/.test(ep.name)) {
      diags.push(skipped('PASS_NGINX_ENTRYPOINT', `entry point ${JSON.stringify(ep.name)} cannot be written as an nginx listen; left out`, epRef));
      continue;
    }
    const listenKey = `${ep.address.host ?? ''}:${ep.address.port}`;
    if (seenListen.has(listenKey)) continue;
    seenListen.add(listenKey);
    let redirect: ServerBlockView['redirect'] = null;
    let auth: ServerBlockView['auth'] = null;
    for (const mw of ep.middlewares) {
      if (mw.kind === 'redirect' && redirect === null && auth === null) {
        redirect = { scheme: mw.scheme, port: mw.port === (mw.scheme === 'https' ? 443 : 80) ? null : mw.port, code: mw.status };
      } else if (mw.kind === 'basicAuth' && auth === null) {
        auth = authOf(ep, mw, workDir, diags, htpasswd);
      }
    }
    const proto = ep.tls ? ('https' as const) : ('http' as const);
    const ranges = trustedRanges(ep, (r) => diags.push(skipped('PASS_NGINX_TRUSTED_IP', `trusted address ${JSON.stringify(r)} of entry point ${JSON.stringify(ep.name)} is not an IP or CIDR range; left out`, epRef, `entryPoints.${ep.name}.forwardedHeaders.trustedIPs`)));
    if (ranges.length !== 0) trust.push({ entryPoint: ep.name, ranges, proto, port: publicPortOf(ep) });
    const common = {
      listenHost: ep.address.host ?? '',
      listenPort: ep.address.port,
      publicPort: publicPortOf(ep),
      tls: ep.tls,
      proto,
      redirect,
      auth,
      entryPoint: ep.name,
      timeouts: ep.timeouts ?? DEFAULT_CLIENT_TIMEOUTS,
      trusted: ranges.length !== 0,
    };
    if (ep.allowEncodedSlashes === true) {
      diags.push(skipped('PASS_NGINX_ENCODED_SLASHES', 'nginx decodes %2F before routing: allowEncodedSlashes is not supported in nginx mode, encoded slashes get 400', epRef, `entryPoints.${ep.name}.allowEncodedSlashes`));
    }
    // Certificates are named per TLS server block, never at the http level: nginx creates an SSL
    // context (and parses the certificate and key) for every server block that has one, plain HTTP
    // ones included; that was most of `nginx -t` at 10,000 hosts.
    const defaultCert = { cert: `${workDir}/certs/default.crt`, key: `${workDir}/certs/default.key` };
    servers.push({ ...common, defaultServer: true, names: [], certificate: ep.tls ? defaultCert : null, locations: redirect === null ? defaultLocations : [] });
    // An entry point that redirects answers every host the same way: no per-host blocks needed.
    if (redirect !== null) continue;
    // Hosts served the same way (same locations, same certificate) share one server block: nginx's
    // per-block cost (location tree, module configurations, an SSL context on TLS) is paid once.
    const blocks = new Map<string, { names: string[]; certificate: ServerBlockView['certificate']; locations: readonly LocationView[] }>();
    for (const v of vhosts) {
      const certificate = ep.tls ? (certFor(v) ?? defaultCert) : null;
      const locations = vhostLocations.get(v) ?? [];
      const key = JSON.stringify([certificate, locations]);
      const block = blocks.get(key);
      if (block === undefined) blocks.set(key, { names: [v.host], certificate, locations });
      else block.names.push(v.host);
    }
    for (const b of blocks.values()) servers.push({ ...common, defaultServer: false, ...b });
  }

  // server_names_hash: a bucket holds entries of 8 + align8(length + 2) bytes plus an 8-byte end mark.
  // Sized for 4 of the longest name per bucket: with room for one only, nginx needs a hash without any
  // collision, tries every size up to max_size for it (seconds at 10,000 hosts) and still fails.
  const longest = Math.max(0, ...vhosts.map((v) => v.host.length));
  const entry = 8 + Math.ceil((longest + 2) / 8) * 8;
  let bucket = 128;
  while (bucket < 4 * entry + 8) bucket *= 2;
  let maxSize = 512;
  while (maxSize < vhosts.length * 2) maxSize *= 2;
  const acme = options.acmeChallengeAddress && canAddress(options.acmeChallengeAddress.host, options.acmeChallengeAddress.port) ? options.acmeChallengeAddress : null;
  return {
    view: {
      workDir,
      pidFile: `${workDir}/nginx.pid`,
      workerProcesses: options.workerProcesses ?? 2,
      workerUser: options.workerUser ?? null,
      headersMoreModule: options.headersMoreModule === undefined ? HEADERS_MORE_MODULE : options.headersMoreModule,
      shutdownTimeoutMs: Math.max(1000, options.gracePeriodMs ?? 10_000),
      timeouts: { connect: options.connectTimeoutMs ?? 5000, read: options.readTimeoutMs ?? 60_000 },
      namesHash: { maxSize, bucketSize: bucket },
      forwardedHeader: options.forwardedHeader ?? false,
      acme,
      requestLog: options.requestLog !== undefined && canAddress(options.requestLog.address.host, options.requestLog.address.port) ? { ...options.requestLog.address, all: options.requestLog.all } : null,
      defaultCert: { cert: `${workDir}/certs/default.crt`, key: `${workDir}/certs/default.key` },
      hasTls: servers.some((s) => s.tls),
      upstreams,
      servers,
      trust,
    },
    htpasswd,
    certs,
    diagnostics: diags,
  };
}

function authOf(ep: EntryPoint, mw: BasicAuthMiddleware, workDir: string, diags: Diagnostic[], htpasswd: NginxBuild['htpasswd'][number][]): ServerBlockView['auth'] {
  const epRef: ObjectRef = { kind: 'EntryPoint', name: ep.name };
  const users = mw.users.filter((u) => {
    if (canUser(u.user)) return true;
    diags.push(skipped('PASS_NGINX_AUTH_USER', `user ${JSON.stringify(u.user)} cannot be written to an htpasswd file; it cannot log in`, epRef, `entryPoints.${ep.name}.auth.basic.users`));
    return false;
  });
  const rel = `auth/${ep.name}.htpasswd`;
  htpasswd.push({ path: rel, users });
  let realm = mw.realm;
  if (!canLiteral(realm)) {
    diags.push(skipped('PASS_NGINX_AUTH_REALM', 'the realm has characters nginx cannot quote ("$", quote, backslash); "passerelle" is used', epRef, `entryPoints.${ep.name}.auth.basic.realm`));
    realm = 'passerelle';
  }
  return { realm, file: `${workDir}/${rel}`, removeHeader: mw.removeHeader };
}
