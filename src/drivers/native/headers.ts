/** What one pass over the client's raw headers yields. */
export interface RequestHeaders {
  /** Headers to send upstream, flat `[name, value, ...]`, hop-by-hop removed, X-Forwarded-* added later. */
  readonly out: string[];
  host: string;
  /** Host header lines seen (RFC 9112 §3.2: more than one is a 400). */
  hostLines: number;
  authorization: string | undefined;
  xForwardedFor: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedHost: string | undefined;
  xForwardedPort: string | undefined;
  xRealIp: string | undefined;
  forwarded: string | undefined;
  /** Extra header names listed in Connection (lower-case), to drop too. */
  connectionTokens: string[] | undefined;
  /** An `Upgrade: websocket` header was present. */
  websocket: boolean;
  /** A body follows (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
}

/**
 * Connection tokens that name no header to drop: the usual ones, and headers a client must not be
 * able to remove by listing them (Host, the framing, what the proxy sets itself).
 */
const PLAIN_CONNECTION_TOKENS = new Set([
  'keep-alive',
  'close',
  'upgrade',
  'host',
  'content-length',
  'transfer-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'forwarded',
]);

function parseConnection(value: string, into: string[] | undefined): string[] | undefined {
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === '' || PLAIN_CONNECTION_TOKENS.has(token)) continue;
    (into ??= []).push(token);
  }
  return into;
}

/**
 * Scans raw request headers once: copies end-to-end headers, captures those the proxy rewrites.
 * Names whose first letter cannot start a special header are copied without lower-casing.
 */
export function scanRequestHeaders(raw: readonly string[], keepUpgrade: boolean): RequestHeaders {
  const out: string[] = [];
  const r: RequestHeaders = {
    out,
    host: '',
    hostLines: 0,
    authorization: undefined,
    xForwardedFor: undefined,
    xForwardedProto: undefined,
    xForwardedHost: undefined,
    xForwardedPort: undefined,
    xRealIp: undefined,
    forwarded: undefined,
    connectionTokens: undefined,
    websocket: false,
    hasBody: false,
  };
  let authority = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const c = name.charCodeAt(0) | 0x20;
    // a c e f h k p t u x and ':' (0x3a | 0x20 = 0x3a) may start a header we handle.
    if (c !== 0x61 && c !== 0x63 && c !== 0x65 && c !== 0x66 && c !== 0x68 && c !== 0x6b && c !== 0x70 && c !== 0x74 && c !== 0x75 && c !== 0x78 && c !== 0x3a) {
      out.push(name, value);
      continue;
    }
    if (c === 0x3a) {
      if (name === ':authority') authority = value;
      continue;
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        r.hostLines++;
        r.host = value;
        out.push(name, value);
        continue;
      case 'authorization':
        r.authorization = value;
        out.push(name, value);
        continue;
      case 'content-length':
        if (value !== '0') r.hasBody = true;
        out.push(name, value);
        continue;
      case 'transfer-encoding':
        r.hasBody = true;
        continue;
      case 'connection':
        r.connectionTokens = parseConnection(value, r.connectionTokens);
        continue;
      case 'upgrade':
        if (value.toLowerCase() === 'websocket') r.websocket = true;
        if (keepUpgrade) out.push(name, value);
        continue;
      case 'x-forwarded-for':
        r.xForwardedFor = r.xForwardedFor === undefined ? value : `${r.xForwardedFor}, ${value}`;
        continue;
      case 'forwarded':
        r.forwarded = r.forwarded === undefined ? value : `${r.forwarded}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        r.xForwardedProto ??= value;
        continue;
      case 'x-forwarded-host':
        r.xForwardedHost ??= value;
        continue;
      case 'x-forwarded-port':
        r.xForwardedPort ??= value;
        continue;
      case 'x-real-ip':
        r.xRealIp ??= value;
        continue;
      case 'keep-alive':
      case 'te':
      case 'trailer':
      case 'expect':
        continue;
      default:
        if (lower.startsWith('proxy-')) continue;
        out.push(name, value);
    }
  }
  if (r.host === '' && authority !== '') {
    // HTTP/2 carries the host in :authority; HTTP/1.1 upstreams need it as Host.
    r.host = authority;
    out.push('host', authority);
  }
  if (r.connectionTokens !== undefined) dropNames(out, r.connectionTokens);
  return r;
}

/** Removes headers by lower-case name from a flat list, in place. */
export function dropNames(out: string[], names: readonly string[]): void {
  let w = 0;
  for (let i = 0; i < out.length; i += 2) {
    if (names.includes(out[i]!.toLowerCase())) continue;
    out[w++] = out[i]!;
    out[w++] = out[i + 1]!;
  }
  out.length = w;
}

/** The client address without the IPv4-mapped prefix of dual-stack sockets. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

/** One RFC 7239 element: IPv6 nodes and hosts with a colon are quoted. */
export function forwardedElement(ip: string, host: string, proto: string): string {
  const node = ip.includes(':') ? `"[${ip}]"` : ip;
  const h = /^[A-Za-z0-9.-]*$/.test(host) ? host : `"${host.replace(/["\\]/g, '\\$&')}"`;
  return host === '' ? `for=${node};proto=${proto}` : `for=${node};host=${h};proto=${proto}`;
}

/**
 * Raw upstream response headers (undici's `[name, value, ...]` buffers) as a flat list for writeHead:
 * hop-by-hop removed, `Server` added when missing. Names are lower-cased (HTTP/2 requires it).
 */
export function rawResponseHeaders(raw: readonly Buffer[], serverName: string): string[] {
  const out: string[] = [];
  let listed: string[] | undefined;
  let hasServer = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    switch (name) {
      case 'connection':
        listed = parseConnection(value, listed);
        continue;
      case 'keep-alive':
      case 'te':
      case 'trailer':
      case 'transfer-encoding':
      case 'upgrade':
        continue;
      case 'server':
        hasServer = true;
        break;
      default:
        if (name.charCodeAt(0) === 0x70 && name.startsWith('proxy-')) continue;
    }
    out.push(name, value);
  }
  if (listed !== undefined) dropNames(out, listed);
  if (!hasServer) out.push('server', serverName);
  return out;
}
