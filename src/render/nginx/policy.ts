/*
 * Per-route policies (src/model/policy.ts) in nginx terms, pure: the path a location sends upstream
 * under a rewrite, the Strict-Transport-Security value, which header names nginx can take, and the
 * files and values a rendering collects (htpasswd files, response header values). The native proxy
 * (src/drivers/native/policy.ts) holds the reference semantics; the view (view.ts) assembles these.
 */
import type { BasicAuthPolicy, CanaryPolicy, CorsPolicy, HeaderPolicy, HstsPolicy } from '../../model/policy.ts';
import { rewrittenPath } from '../../model/rewrite.ts';
import type { HtpasswdUser, Route } from '../../model/types.ts';
import { canHtpasswdHash, canName, canText, canUser } from './quote.ts';

/** Why a location answers 503 instead of serving a policy nginx cannot render (the reason of its body). */
export const UNRENDERABLE = {
  regexRewrite: 'a regex rewrite-target is not supported in nginx mode',
  rewritePath: 'the rewrite target cannot be written as an nginx path',
  redirectUrl: 'the redirect URL cannot be written into the nginx configuration',
  appRoot: 'the app-root path cannot be written as an nginx path',
  header: 'a header of this route cannot be written into the nginx configuration',
  bodySize: 'the body size limit is not a number of bytes',
  limit: 'a rate, connection or retry limit is not a positive number',
  cors: 'the CORS policy cannot be written into the nginx configuration',
  authWithEntryPoint: 'nginx cannot check a route basic auth together with the entry point basic auth',
  canaryPath: 'the canary cannot be written into the nginx configuration for this path',
  wwwHost: 'the www redirect host cannot be written into the nginx configuration',
  authUrl: 'the external auth URL cannot be written into the nginx configuration (http(s), no user info, a path of URL characters)',
  authHeader: 'an auth response header of this route is not a name of letters, digits and - that nginx can copy',
  grpcPath: 'the rewrite of this gRPC route cannot be written into the nginx configuration',
  backendHeader: 'a header change of a backend of this route cannot be written into the nginx configuration (forwarding headers, Host and credentials are not changed by backend)',
  backendAnswerHeader: 'an answer header a backend of this route sets or removes cannot be kept for the other backend in nginx (a name of letters, digits and - only, not Set-Cookie, not one the route adds)',
} as const;

/**
 * The path a route's rewrite gives a normalised request path, without the query (as native
 * `rewriteTarget`); undefined for a regex rewrite, which is not rendered.
 */
export function rewritePath(route: Route, path: string): string | undefined {
  const rw = route.policy?.rewrite;
  return rw === undefined ? path : rewrittenPath(rw, route, path);
}

/**
 * What `proxy_pass` sends for a location of `route`: nginx replaces the part of the normalised path the
 * location matched (all of it for `=`, its prefix otherwise) with `path`, or, when `whole`, the whole
 * path is `path` (replace-path; the query is kept). Undefined when the rewrite is not rendered.
 */
export function upstreamPath(route: Route, modifier: string, location: string): { readonly path: string; readonly whole: boolean } | undefined {
  const rw = route.policy?.rewrite;
  if (rw === undefined) return { path: location, whole: false };
  if (rw.kind === 'replace-path') return { path: rw.path, whole: true };
  if (modifier === '=') {
    const path = rewritePath(route, location);
    return path === undefined ? undefined : { path, whole: false };
  }
  // A prefix location: what replaces it is what the rewrite gives any path below it, minus that rest.
  const probe = rewritePath(route, `${location}x`);
  if (probe === undefined || !probe.endsWith('x')) return undefined;
  return { path: probe.slice(0, -1), whole: false };
}

/** The Strict-Transport-Security value of a policy, as the native proxy writes it. */
export function hstsValue(hsts: HstsPolicy): string {
  return `max-age=${hsts.maxAgeSeconds}${hsts.includeSubdomains ? '; includeSubDomains' : ''}${hsts.preload ? '; preload' : ''}`;
}

// Framing and hop-by-hop headers: a route setting them could desynchronise nginx and the other side.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'keep-alive', 'te', 'trailer', 'proxy-connection']);

/** Whether a route may set this header in nginx: a name of `[A-Za-z0-9_.-]`, not a framing header. */
export function canHeader(name: string): boolean {
  return canName(name) && !FRAMING_HEADERS.has(name.toLowerCase());
}

/** A CORS policy as nginx renders it (the view's `CorsView`). */
export interface CorsEntry {
  readonly any: boolean;
  /** With `any`: the request's Origin is answered rather than `*` (the Gateway filter's `*` with credentials). */
  readonly echo: boolean;
  readonly origins: readonly string[];
  readonly headers: readonly CorsHeader[];
}

/**
 * A CORS header besides the origin: its value (or the request header variable answered as it is), whether
 * only preflights get it, the variable of the upstream's own.
 */
export interface CorsHeader {
  readonly name: string;
  readonly value: string;
  readonly variable: string | null;
  readonly preflightOnly: boolean;
  readonly upstream: string;
}

/** The nginx variable holding an upstream answer's header (`upstream_http_vary`). */
export function upstreamVariable(header: string): string {
  return `upstream_http_${header.toLowerCase().replace(/-/g, '_')}`;
}

/**
 * A text as a PCRE matching exactly it: letters and digits as they are, every other character as
 * `\xHH` (so no character of the text is a metacharacter, a quote, a `$` or a space to nginx). Undefined
 * for a text that is not printable ASCII.
 */
export function regexLiteral(value: string): string | undefined {
  if (!/^[\x20-\x7e]*$/.test(value)) return undefined;
  return [...value].map((c) => (/[A-Za-z0-9]/.test(c) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).join('');
}

/** A map key matching exactly `value`, case-sensitive as native compares it (a map's plain keys ignore case). */
function exactKey(value: string): string | undefined {
  const literal = regexLiteral(value);
  return literal === undefined ? undefined : `~^${literal}\\z`;
}

/**
 * The nginx variable holding a request header (`http_x_canary`), or undefined when nginx cannot read
 * it as the native proxy does: a name of letters, digits and `-` only (nginx ignores a header with `_`
 * or `.` unless told otherwise, and its variable names have `_` for `-`).
 */
export function requestHeaderVariable(name: string): string | undefined {
  return canHeader(name) && /^[A-Za-z0-9-]+$/.test(name) ? `http_${name.toLowerCase().replace(/-/g, '_')}` : undefined;
}

/** One map of a canary's chain (the view's `CanaryStageView`). */
export interface CanaryStage {
  readonly source: string;
  readonly variable: string;
  readonly rules: readonly { readonly pattern: string; readonly upstream: string }[];
  readonly next: string | null;
  readonly upstream: string;
}

/** A percentage as nginx's `split_clients` reads it, two decimals: `whole.tenths hundredths` (`33.33`: 33, 3, 3). */
export interface SharePercent {
  readonly whole: number;
  readonly tenths: number;
  readonly hundredths: number;
}

/** The `split_clients` of a canary's weight or of a split (the view's `CanaryView.split`). */
export interface WeightSplit {
  readonly variable: string;
  /** In order: `percent`% of the requests to `upstream` (empty: a backend without endpoints). */
  readonly shares: readonly { readonly percent: SharePercent; readonly upstream: string }[];
  /** The upstream name of the rest (`*`). */
  readonly rest: string;
}

/** A canary in nginx terms (the view's `CanaryView`). */
export interface CanaryEntry {
  readonly cookie: { readonly variable: string; readonly pattern: string; readonly capture: string } | null;
  readonly stages: readonly CanaryStage[];
  readonly split: WeightSplit | null;
}

/** A percentage given in hundredths (1 to 9999) as {@link SharePercent}. */
function sharePercent(hundredths: number): SharePercent {
  return { whole: Math.floor(hundredths / 100), tenths: Math.floor(hundredths / 10) % 10, hundredths: hundredths % 10 };
}

/**
 * How nginx chooses between a route's backend and its canary, as native `choosesCanary`: `$pass_canary_N`
 * is the upstream name (`main` or `canary`, empty for a backend without endpoints) from a chain of maps,
 * the header first (`always`/`never`, or the header value), then the cookie, then a `split_clients` on
 * `$request_id` for the weight. `'main'` or `'canary'` when no request header or cookie decides and the
 * weight sends every request one way; undefined when nginx cannot read the header or the weight.
 */
export function canaryEntry(canary: CanaryPolicy, n: number, main: string, alt: string): CanaryEntry | 'main' | 'canary' | undefined {
  const weight = canary.weight ?? 0;
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) return undefined;
  const rules: { source: string; rules: { pattern: string; upstream: string }[] }[] = [];
  const base = `pass_canary_${n}`;
  const always = exactKey('always') ?? '';
  const never = exactKey('never') ?? '';
  if (canary.header !== undefined) {
    const source = requestHeaderVariable(canary.header);
    if (source === undefined) return undefined;
    if (canary.headerValue !== undefined) {
      const key = exactKey(canary.headerValue);
      if (key === undefined) return undefined;
      rules.push({ source, rules: [{ pattern: key, upstream: alt }] });
    } else {
      rules.push({ source, rules: [{ pattern: always, upstream: alt }, { pattern: never, upstream: main }] });
    }
  }
  let cookie: CanaryEntry['cookie'] = null;
  if (canary.cookie !== undefined) {
    const name = regexLiteral(canary.cookie);
    if (name === undefined || canary.cookie === '') return undefined;
    // The first cookie of that name, name and value trimmed (native `cookieValue`).
    const capture = `${base}_v`;
    cookie = { variable: `${base}_cookie`, pattern: `~(?:^|;)\\s*${name}\\s*=\\s*(?<${capture}>[^;]*?)\\s*(?:;|\\z)`, capture };
    rules.push({ source: cookie.variable, rules: [{ pattern: always, upstream: alt }, { pattern: never, upstream: main }] });
  }
  const splits = weight > 0 && weight < 100;
  const rest = weight === 100 ? alt : main;
  if (rules.length === 0 && !splits) return weight === 100 ? 'canary' : 'main';
  const names = [base, `${base}_c`, `${base}_w`];
  const stages = rules.map((r, i): CanaryStage => ({ ...r, variable: names[i] ?? base, next: i + 1 < rules.length ? (names[i + 1] ?? null) : splits ? (names[rules.length] ?? null) : null, upstream: rest }));
  const split = splits ? { variable: names[rules.length] ?? base, shares: [{ percent: sharePercent(weight * 100), upstream: alt }], rest: main } : null;
  return { cookie, stages, split };
}

/**
 * How nginx shares requests between a split's backends (`weight` each, their upstream names, empty for
 * one without endpoints), as native `pickSplit`: `$pass_canary_N` from a `split_clients` on
 * `$request_id`, each backend weight / sum of the weights, in hundredths of a percent as nginx reads
 * them (rounded on the running sum, so the shares add up to exactly 100 %; a backend whose share
 * rounds to none is left out, the last one taking the rest `*`). The index of the one backend every
 * request goes to when only one has a share; undefined when a weight is not a number ≥ 0 or none is above 0.
 */
export function splitEntry(backends: readonly { readonly weight: number; readonly upstream: string }[], n: number): CanaryEntry | number | undefined {
  if (!backends.every((b) => Number.isFinite(b.weight) && b.weight >= 0)) return undefined;
  const total = backends.reduce((sum, b) => sum + b.weight, 0);
  if (!(total > 0)) return undefined;
  const parts: { index: number; hundredths: number }[] = [];
  let before = 0;
  let running = 0;
  backends.forEach((b, index) => {
    running += b.weight;
    const upTo = Math.round((running / total) * 10_000);
    if (upTo > before) parts.push({ index, hundredths: upTo - before });
    before = upTo;
  });
  const last = parts.pop();
  if (last === undefined) return undefined;
  if (parts.length === 0) return last.index;
  const upstream = (i: number): string => backends[i]?.upstream ?? '';
  return { cookie: null, stages: [], split: { variable: `pass_canary_${n}`, shares: parts.map((p) => ({ percent: sharePercent(p.hundredths), upstream: upstream(p.index) })), rest: upstream(last.index) } };
}

/** One value of a per-backend map: a text, or (`variable`) the variable named `value`. */
export interface BackendValue {
  readonly value: string;
  readonly variable: boolean;
}

/** A header value by the upstream a canary chose (the view's `BackendMapView`). */
export interface BackendMap {
  readonly source: string;
  readonly variable: string;
  readonly entries: readonly (BackendValue & { readonly upstream: string })[];
}

/** A limit zone (the view's `LimitZoneView`). */
export interface LimitZone {
  readonly name: string;
  readonly rate: { readonly amount: number; readonly perMinute: boolean } | null;
}

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/;
const ORIGIN_PATTERN = /^(https?):\/\/\*\.([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?)$/;

/**
 * An origin pattern `scheme://*.domain[:port]` as a map regex, as native `originPattern`: the `*` one or
 * more labels, the port as written (none when none), any case; undefined when not of that form.
 */
export function originPatternKey(pattern: string): string | undefined {
  const m = ORIGIN_PATTERN.exec(pattern);
  if (m === null) return undefined;
  return `~*^${m[1] ?? ''}://([a-z0-9-]+\\.)+${(m[2] ?? '').replace(/\./g, '\\.')}\\z`;
}

/**
 * A CORS policy in nginx terms, or undefined when a value cannot be written. Allowed origins become
 * case-sensitive regexes (a map's plain keys ignore case), origin patterns case-insensitive ones; one
 * nginx cannot hold is left out (fewer origins allowed, never more). Methods and headers a preflight
 * asks for are answered from the request's variable (empty when it has none: no header then).
 */
export function corsEntry(cors: CorsPolicy): CorsEntry | undefined {
  const any = cors.allowOrigins.includes('*');
  const echo = any && cors.echoOrigin === true;
  const exact = any ? [] : cors.allowOrigins.filter((o) => ORIGIN.test(o)).map((o) => `~^${o.replace(/\./g, '\\.')}\\z`);
  const patterns = any ? [] : (cors.originPatterns ?? []).flatMap((p) => originPatternKey(p) ?? []);
  // The model leaves the list empty when a preflight's ask is echoed: a list beside it has no single header.
  if ((cors.echoMethods === true && cors.allowMethods.length > 0) || (cors.echoHeaders === true && cors.allowHeaders.length > 0)) return undefined;
  const header = (name: string, value: string, preflightOnly = false, variable: string | null = null): CorsHeader => ({ name, value, variable, preflightOnly, upstream: upstreamVariable(name) });
  const headers = [
    ...(any && !echo ? [] : [header('Vary', 'Origin')]),
    ...(cors.allowCredentials ? [header('Access-Control-Allow-Credentials', 'true')] : []),
    ...(cors.allowMethods.length === 0 ? [] : [header('Access-Control-Allow-Methods', cors.allowMethods.join(', '))]),
    ...(cors.allowHeaders.length === 0 ? [] : [header('Access-Control-Allow-Headers', cors.allowHeaders.join(', '))]),
    ...(cors.exposeHeaders === undefined || cors.exposeHeaders.length === 0 ? [] : [header('Access-Control-Expose-Headers', cors.exposeHeaders.join(', '))]),
    header('Access-Control-Max-Age', String(cors.maxAgeSeconds), true),
    ...(cors.echoMethods === true ? [header('Access-Control-Allow-Methods', '', true, 'http_access_control_request_method')] : []),
    ...(cors.echoHeaders === true ? [header('Access-Control-Allow-Headers', '', true, 'http_access_control_request_headers')] : []),
  ];
  if (!headers.every((h) => canText(h.value))) return undefined;
  return { any, echo, origins: [...exact, ...patterns], headers };
}

/**
 * A rate of `rps` requests per second as `limit_req` takes it (per minute when not whole), and the burst
 * that serves 5 × rps requests at once as the native token bucket does (nginx serves the first request,
 * then `burst` more); undefined when not a positive rate.
 */
export function rateOf(rps: number): { readonly amount: number; readonly perMinute: boolean; readonly burst: number } | undefined {
  if (!Number.isFinite(rps) || rps <= 0) return undefined;
  const burst = Math.max(0, Math.ceil(5 * rps) - 1);
  if (Number.isInteger(rps)) return rps <= 2 ** 31 - 1 ? { amount: rps, perMinute: false, burst: Math.min(burst, 2 ** 31 - 1) } : undefined;
  return { amount: Math.max(1, Math.round(rps * 60)), perMinute: true, burst };
}

/** An htpasswd file of the rendering: its path relative to the work directory and its users. */
export interface HtpasswdFile {
  readonly path: string;
  readonly users: readonly HtpasswdUser[];
}

/**
 * What the locations of one rendering share: the htpasswd files of route basic auth (one per Secret),
 * the response header values (one `$pass_rh_N` map each), CORS policies and limit zones (one per route).
 */
export class PolicyRegistry {
  readonly htpasswd: HtpasswdFile[] = [];
  readonly responseValues: string[] = [];
  readonly cors: CorsEntry[] = [];
  readonly limitZones: LimitZone[] = [];
  readonly canaries: CanaryEntry[] = [];
  readonly backendMaps: BackendMap[] = [];
  readonly #backendKeys = new Map<string, string>();
  readonly #canaryKeys = new Map<string, number>();
  readonly #corsKeys = new Map<string, number>();
  readonly #zones = new Map<Route, Map<string, string>>();
  /** Users left out of a file: not writable as an htpasswd line (reported once per Secret). */
  readonly skippedUsers = new Map<string, string[]>();
  readonly #files = new Map<string, string>();
  readonly #values = new Map<string, number>();

  /** The htpasswd file (relative path) of a basic-auth policy, written once per Secret and user list. */
  htpasswdFor(auth: BasicAuthPolicy): string {
    const users = auth.users.filter((u) => canUser(u.user) && canHtpasswdHash(u.hash));
    const skipped = auth.users.filter((u) => !users.includes(u)).map((u) => u.user);
    if (skipped.length > 0) this.skippedUsers.set(auth.secret, skipped);
    const key = JSON.stringify([auth.secret, users]);
    const known = this.#files.get(key);
    if (known !== undefined) return known;
    // Named after the Secret when it can be (`.` never appears in an entry point's file name).
    const safe = /^[a-z0-9][a-z0-9.-]{0,252}\/[a-z0-9][a-z0-9.-]{0,252}$/.test(auth.secret) ? auth.secret.replace('/', '.') : 'secret';
    let path = `auth/route.${safe}.htpasswd`;
    for (let n = 2; this.htpasswd.some((f) => f.path === path); n++) path = `auth/route.${safe}.${n}.htpasswd`;
    this.#files.set(key, path);
    this.htpasswd.push({ path, users });
    return path;
  }

  /** The index N of `$pass_rh_N`, the variable holding a response header value for upstream answers. */
  responseValue(value: string): number {
    const known = this.#values.get(value);
    if (known !== undefined) return known;
    this.responseValues.push(value);
    this.#values.set(value, this.responseValues.length - 1);
    return this.responseValues.length - 1;
  }

  /** The index N of `$pass_cors_N` for a CORS policy (one per distinct policy). */
  corsIndex(entry: CorsEntry): number {
    const key = JSON.stringify(entry);
    const known = this.#corsKeys.get(key);
    if (known !== undefined) return known;
    this.cors.push(entry);
    this.#corsKeys.set(key, this.cors.length - 1);
    return this.cors.length - 1;
  }

  /**
   * The index N of `$pass_canary_N` for a canary between the upstreams `main` and `alt` (one per distinct
   * canary and pair), with what {@link canaryEntry} gives when it is a chain of maps.
   */
  canary(canary: CanaryPolicy, main: string, alt: string): { readonly n: number; readonly entry: CanaryEntry | 'main' | 'canary' | undefined } {
    const key = JSON.stringify([canary.header, canary.headerValue, canary.cookie, canary.weight, main, alt]);
    const known = this.#canaryKeys.get(key);
    if (known !== undefined) return { n: known, entry: this.canaries[known] };
    const n = this.canaries.length;
    const entry = canaryEntry(canary, n, main, alt);
    if (typeof entry !== 'object') return { n, entry };
    this.canaries.push(entry);
    this.#canaryKeys.set(key, n);
    return { n, entry };
  }

  /**
   * The index N of `$pass_canary_N` for a split between upstreams by weight (one per distinct list),
   * with what {@link splitEntry} gives.
   */
  split(backends: readonly { readonly weight: number; readonly upstream: string }[]): { readonly n: number; readonly entry: CanaryEntry | number | undefined } {
    const key = JSON.stringify(['split', backends]);
    const known = this.#canaryKeys.get(key);
    if (known !== undefined) return { n: known, entry: this.canaries[known] };
    const n = this.canaries.length;
    const entry = splitEntry(backends, n);
    if (typeof entry !== 'object') return { n, entry };
    this.canaries.push(entry);
    this.#canaryKeys.set(key, n);
    return { n, entry };
  }

  /**
   * The variable (`pass_bh_M`) holding, by the upstream name in `$source` (a canary's choice), the value
   * of each entry, empty for any other (one map per distinct source and entries).
   */
  backendMap(source: string, entries: BackendMap['entries']): string {
    const key = JSON.stringify([source, entries]);
    const known = this.#backendKeys.get(key);
    if (known !== undefined) return known;
    const variable = `pass_bh_${this.backendMaps.length}`;
    this.backendMaps.push({ source, variable, entries });
    this.#backendKeys.set(key, variable);
    return variable;
  }

  /** The zone of a route's rate (`rate` set) or connection limit: one per route, shared by its locations and servers, as native keeps one limiter per route. */
  limitZone(route: Route, rate: LimitZone['rate']): string {
    const kind = rate === null ? 'conn' : 'rate';
    let byKind = this.#zones.get(route);
    if (byKind === undefined) this.#zones.set(route, (byKind = new Map()));
    const known = byKind.get(kind);
    if (known !== undefined) return known;
    const name = `pass_${kind}_${this.limitZones.length}`;
    this.limitZones.push({ name, rate });
    byKind.set(kind, name);
    return name;
  }
}

// Request headers headers.hbs writes itself (forwarding, Host, credentials): a backend's change of them is not rendered.
const MANAGED_HEADERS = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'forwarded', 'proxy-authorization', 'authorization']);

/**
 * Why nginx cannot render one backend's header changes (`backendHeaders`), or undefined. An answer
 * header the backend sets or removes is rewritten for the other backend from `$upstream_http_NAME`
 * (its first line): a name nginx reads that way, not Set-Cookie (its lines cannot be joined), not one
 * the route adds a line to (`routeAdded`).
 */
export function backendHeaderProblem(edit: HeaderPolicy | undefined, routeAdded: readonly (readonly [string, string])[]): string | undefined {
  if (edit === undefined) return undefined;
  const requestNames = [...(edit.requestRemove ?? []), ...Object.keys(edit.request ?? {}), ...Object.keys(edit.requestAdd ?? {})];
  if (!requestNames.every((n) => canHeader(n) && !MANAGED_HEADERS.has(n.toLowerCase()))) return UNRENDERABLE.backendHeader;
  const values = [...Object.values(edit.request ?? {}), ...Object.values(edit.requestAdd ?? {}), ...Object.values(edit.response ?? {}), ...Object.values(edit.responseAdd ?? {})];
  if (!values.every((v) => canText(v)) || !Object.keys(edit.responseAdd ?? {}).every(canHeader)) return UNRENDERABLE.backendHeader;
  for (const n of [...(edit.responseRemove ?? []), ...Object.keys(edit.response ?? {})]) {
    const lower = n.toLowerCase();
    if (requestHeaderVariable(n) === undefined || lower === 'set-cookie' || routeAdded.some(([a]) => a.toLowerCase() === lower)) return UNRENDERABLE.backendAnswerHeader;
  }
  return undefined;
}

/** A request header line of a location (the view's `requestHeaders` entry). */
export interface RequestLine {
  readonly name: string;
  readonly value: string;
  readonly variable: boolean;
}

/** A response header of a location and the variable holding its value (the view's `responseHeaders` entry). */
export interface ResponseLine {
  readonly name: string;
  readonly variable: string;
}

/** A location's own header changes, as the view builds them before the backends' (see {@link backendEdits}). */
export interface RouteHeaderLines {
  /** By lower-case name: the one line set (an empty text: removed; `http_NAME`: the client's kept). */
  readonly request: ReadonlyMap<string, RequestLine>;
  /** Lines added after those. */
  readonly added: readonly RequestLine[];
  /** Answer headers set, by lower-case name. */
  readonly response: ReadonlyMap<string, ResponseLine>;
  readonly responseRemove: readonly string[];
  readonly responseAdd: readonly ResponseLine[];
}

/** A location's headers with the backends' changes: request lines of the names they change, and the answer's headers. */
export interface BackendEdits {
  readonly request: { readonly names: Readonly<Record<string, boolean>>; readonly lines: readonly RequestLine[] };
  readonly responseHeaders: readonly ResponseLine[];
  readonly responseRemove: readonly string[];
  readonly responseAdd: readonly ResponseLine[];
}

/**
 * The header changes of the backends a request may go to (`choices`: their ids and upstream names,
 * `$source` holding the one chosen), applied after the route's own (`route`), as native `backendEdits`:
 * each line of a header a backend changes is a variable (`pass_bh_M`, {@link PolicyRegistry.backendMap})
 * giving, by the upstream chosen, that backend's line: its set or added value, or for the other backend
 * what the route sends (its value, the client's `$http_NAME`); empty, the line is not sent. An answer
 * header is set the same way (the upstream's own `$upstream_http_NAME` for a backend leaving it, empty
 * for one removing it), an added answer line empty for the other backend. With one choice the values
 * are written as they are. Texts pass through `noted` (the view's `$` check).
 */
export function backendEdits(edits: Readonly<Record<string, HeaderPolicy>>, choices: readonly { readonly id: string; readonly upstream: string }[], source: string, route: RouteHeaderLines, registry: PolicyRegistry, noted: (text: string) => string): BackendEdits {
  const pick = (values: readonly BackendValue[]): BackendValue => {
    const first = values[0] ?? { value: '', variable: false };
    if (values.every((v) => v.value === first.value && v.variable === first.variable)) return first;
    return { value: registry.backendMap(source, values.map((v, i) => ({ upstream: choices[i]?.upstream ?? '', ...v }))), variable: true };
  };
  const has = (list: readonly string[] | undefined, lower: string): boolean => (list ?? []).some((n) => n.toLowerCase() === lower);
  const find = (record: Readonly<Record<string, string>> | undefined, lower: string): string | undefined => Object.entries(record ?? {}).find(([n]) => n.toLowerCase() === lower)?.[1];
  const namesOf = (pick: (e: HeaderPolicy) => readonly string[]): Map<string, string> => {
    const out = new Map<string, string>();
    for (const { id } of choices) for (const n of pick(edits[id] ?? {})) if (!out.has(n.toLowerCase())) out.set(n.toLowerCase(), n);
    return out;
  };
  const text = (value: string): BackendValue => ({ value: noted(value), variable: false });

  // Request: each changed name's lines per backend (remove, then set, then add), the route's first.
  const names: Record<string, boolean> = {};
  const lines: RequestLine[] = [];
  for (const [lower, name] of namesOf((e) => [...(e.requestRemove ?? []), ...Object.keys(e.request ?? {}), ...Object.keys(e.requestAdd ?? {})])) {
    const own = route.request.get(lower);
    const client = requestHeaderVariable(name);
    const base: BackendValue[] = own !== undefined ? (own.value === '' && !own.variable ? [] : [{ value: own.value, variable: own.variable }]) : client !== undefined ? [{ value: client, variable: true }] : [];
    base.push(...route.added.filter((a) => a.name.toLowerCase() === lower).map((a) => ({ value: a.value, variable: a.variable })));
    const per = choices.map(({ id }) => {
      const e = edits[id];
      let out = has(e?.requestRemove, lower) ? [] : [...base];
      const set = find(e?.request, lower);
      if (set !== undefined) out = [text(set)];
      for (const [n, v] of Object.entries(e?.requestAdd ?? {})) if (n.toLowerCase() === lower) out.push(text(v));
      return out;
    });
    names[lower] = true;
    // At least one line: a name with a proxy_set_header line is never the client's.
    const count = Math.max(1, ...per.map((p) => p.length));
    for (let i = 0; i < count; i++) lines.push({ name, ...pick(per.map((p) => p[i] ?? { value: '', variable: false })) });
  }

  // Answer: a set or removed name by backend, the route's value (or the upstream's) for a backend leaving it.
  const response = new Map(route.response);
  const removed = new Set(route.responseRemove.map((n) => n.toLowerCase()));
  for (const [lower, name] of namesOf((e) => [...(e.responseRemove ?? []), ...Object.keys(e.response ?? {})])) {
    const value = pick(
      choices.map(({ id }): BackendValue => {
        const e = edits[id];
        const set = find(e?.response, lower);
        if (set !== undefined) return { value: `pass_rh_${registry.responseValue(noted(set))}`, variable: true };
        if (has(e?.responseRemove, lower)) return { value: '', variable: false };
        const own = route.response.get(lower);
        if (own !== undefined) return { value: own.variable, variable: true };
        return removed.has(lower) ? { value: '', variable: false } : { value: upstreamVariable(name), variable: true };
      }),
    );
    if (!value.variable) {
      response.delete(lower);
      removed.add(lower);
    } else {
      response.set(lower, { name, variable: value.value });
      removed.delete(lower);
    }
  }
  const responseAdd = [...route.responseAdd];
  for (const [lower, name] of namesOf((e) => Object.keys(e.responseAdd ?? {}))) {
    const value = pick(
      choices.map(({ id }): BackendValue => {
        const added = find(edits[id]?.responseAdd, lower);
        return added === undefined ? { value: '', variable: false } : { value: `pass_rh_${registry.responseValue(noted(added))}`, variable: true };
      }),
    );
    if (value.variable) responseAdd.push({ name, variable: value.value });
  }
  return {
    request: { names, lines },
    responseHeaders: [...response.values()],
    responseRemove: [...route.responseRemove.filter((n) => removed.has(n.toLowerCase())), ...[...removed].filter((n) => !has(route.responseRemove, n))],
    responseAdd,
  };
}
