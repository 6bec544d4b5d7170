/*
 * HTTPRoute filters as route policies: header modifiers (set, add, remove) → headers, a hostname-only redirect → the
 * www-style redirect (same scheme, port, path and query on another host), an https-only redirect →
 * sslRedirect, URLRewrite → rewrite (replace-path, prefix) and upstream vhost. What the model cannot
 * express denies the rule (503) with a diagnostic, as the spec asks of a filter that cannot be applied;
 * RequestMirror → mirror, its backendRef resolved by the caller (one that cannot be used is left out:
 * serving without the copy changes no answer).
 */

import { headerName, headerValue } from '../../annotations/grammar.ts';
import type { HeaderPolicy, MirrorPolicy, RedirectStatus, RewritePolicy, RoutePolicy } from '../../policy.ts';
import type { PathType } from '../../types.ts';
import type { Reporter } from '../diagnostics.ts';
import { isRecord, showValue } from '../object.ts';
import type { Rec } from '../object.ts';
import { parseHost, pathProblem } from '../validate.ts';
import { GatewayCodes } from './codes.ts';

/** The policy of one match of a rule: what its filters ask; `denied` when one cannot be applied. */
export interface FilterPolicy {
  readonly policy: RoutePolicy | undefined;
  /** Fields of filters that cannot be applied (the rule answers 503). */
  readonly unsupported: readonly string[];
}

const REDIRECT_STATUS: readonly number[] = [301, 302, 303, 307, 308];

/** What a header modifier asks of one side (request or answer): names as written for set/add, lower-case for remove. */
interface HeaderChanges {
  readonly set: Record<string, string>;
  readonly add: Record<string, string>;
  readonly remove: string[];
}

/**
 * A header modifier's `set`, `add` and `remove`; undefined after a diagnostic naming the entry when
 * a part cannot be applied (a name that is not a token, a value outside the header grammar). A name
 * repeated in one list (case-insensitively) counts once, the first entry.
 */
function headerChanges(value: unknown, field: string, report: Reporter): HeaderChanges | undefined {
  if (!isRecord(value)) {
    report.error(GatewayCodes.filterNotSupported, field, 'the header modifier is missing');
    return undefined;
  }
  const out: HeaderChanges = { set: {}, add: {}, remove: [] };
  for (const part of ['set', 'add'] as const) {
    const list = Array.isArray(value[part]) ? (value[part] as readonly unknown[]) : [];
    const seen = new Set<string>();
    for (const [k, h] of list.entries()) {
      const name = isRecord(h) && typeof h['name'] === 'string' ? h['name'] : undefined;
      const v = isRecord(h) && typeof h['value'] === 'string' ? h['value'] : undefined;
      const n = name === undefined ? undefined : headerName(name);
      const val = v === undefined ? undefined : headerValue(v);
      if (n?.ok !== true || val?.ok !== true) {
        report.error(GatewayCodes.filterNotSupported, `${field}.${part}[${k}]`, `header ${showValue(h)} cannot be ${part === 'set' ? 'set' : 'added'} safely (a token name and a printable value without " \\ $ { } ;); the rule answers 503`);
        return undefined;
      }
      if (seen.has(n.value.toLowerCase())) continue;
      seen.add(n.value.toLowerCase());
      out[part][n.value] = val.value;
    }
  }
  const remove = Array.isArray(value['remove']) ? (value['remove'] as readonly unknown[]) : [];
  for (const [k, name] of remove.entries()) {
    const n = typeof name === 'string' ? headerName(name) : undefined;
    if (n?.ok !== true) {
      report.error(GatewayCodes.filterNotSupported, `${field}.remove[${k}]`, `header name ${showValue(name)} is not a token; the rule answers 503`);
      return undefined;
    }
    const lower = n.value.toLowerCase();
    if (!out.remove.includes(lower)) out.remove.push(lower);
  }
  return out;
}

/** The header policy of a side's changes merged into what earlier filters asked (later filters win a name). */
function headerPart(current: HeaderPolicy | undefined, c: HeaderChanges, side: 'request' | 'response'): RoutePolicy {
  const addKey = side === 'request' ? 'requestAdd' : 'responseAdd';
  const removeKey = side === 'request' ? 'requestRemove' : 'responseRemove';
  let headers: HeaderPolicy = { ...current };
  if (Object.keys(c.set).length > 0) headers = { ...headers, [side]: { ...headers[side], ...c.set } };
  if (Object.keys(c.add).length > 0) headers = { ...headers, [addKey]: { ...headers[addKey], ...c.add } };
  if (c.remove.length > 0) headers = { ...headers, [removeKey]: [...new Set([...(headers[removeKey] ?? []), ...c.remove])] };
  return Object.keys(headers).length === 0 ? {} : { headers };
}

function exactHost(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const p = parseHost(value);
  return p.ok && p.kind === 'exact' ? p.host : undefined;
}

/** RequestRedirect → wwwRedirect: the request's URL with the scheme, hostname, port and path given replaced (src/model/redirect.ts). */
function redirectPolicy(value: unknown, field: string, pathType: PathType, report: Reporter): RoutePolicy | undefined {
  const r = isRecord(value) ? value : {};
  const status = r['statusCode'] ?? 302;
  if (typeof status !== 'number' || !REDIRECT_STATUS.includes(status)) {
    report.error(GatewayCodes.filterNotSupported, `${field}.statusCode`, `redirect status ${showValue(status)} is not one of 301, 302, 303, 307, 308; the rule answers 503`);
    return undefined;
  }
  const path = isRecord(r['path']) ? pathModifier(r['path'], `${field}.path`, pathType, report) : undefined;
  if (isRecord(r['path']) && path === undefined) return undefined;
  const scheme = r['scheme'];
  if (scheme !== undefined && scheme !== null && scheme !== 'http' && scheme !== 'https') {
    report.error(GatewayCodes.filterNotSupported, `${field}.scheme`, `redirect scheme ${showValue(scheme)} is not http or https; the rule answers 503`);
    return undefined;
  }
  const hostname = r['hostname'];
  const host = hostname === undefined || hostname === null ? undefined : exactHost(hostname);
  if (hostname !== undefined && hostname !== null && host === undefined) {
    report.error(GatewayCodes.filterNotSupported, `${field}.hostname`, `redirect hostname ${showValue(hostname)} is not a DNS name; the rule answers 503`);
    return undefined;
  }
  const port = r['port'];
  if (port !== undefined && port !== null && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535)) {
    report.error(GatewayCodes.filterNotSupported, `${field}.port`, `redirect port ${showValue(port)} is not a port number; the rule answers 503`);
    return undefined;
  }
  return {
    wwwRedirect: {
      ...(host === undefined ? {} : { host }),
      ...(scheme === 'http' || scheme === 'https' ? { scheme } : {}),
      ...(typeof port === 'number' ? { port } : {}),
      ...(path === undefined ? {} : { path }),
      status: status as RedirectStatus,
    },
  };
}

/** An origin of a CORS filter: `scheme://host[:port]`, the host's first label `*` for a pattern (lower-cased). */
const CORS_ORIGIN = /^https?:\/\/(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$/;
const CORS_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** A CORS filter list of strings (absent: empty), each checked by `ok`; undefined after a diagnostic. */
function corsList(value: unknown, field: string, what: string, ok: (v: string) => boolean, report: Reporter): string[] | undefined {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? (value as readonly unknown[]) : undefined;
  const bad = list === undefined ? -1 : list.findIndex((v) => typeof v !== 'string' || !ok(v));
  if (list === undefined || bad !== -1) {
    report.error(GatewayCodes.filterNotSupported, bad === -1 ? field : `${field}[${bad}]`, `${showValue(bad === -1 ? value : list?.[bad])} is not ${what}; the rule answers 503`);
    return undefined;
  }
  return [...new Set(list as string[])];
}

/**
 * CORS → the cors policy: origins (`*`, exact, or `scheme://*.domain` patterns), methods and headers
 * (`*`: what a preflight asks is allowed as asked), exposed headers, credentials, max age (5 s by default).
 */
function corsPolicy(value: unknown, field: string, report: Reporter): RoutePolicy | undefined {
  const c = isRecord(value) ? value : {};
  const token = (v: string): boolean => v === '*' || headerName(v).ok;
  const origins = corsList(Array.isArray(c['allowOrigins']) ? (c['allowOrigins'] as unknown[]).map((o) => (typeof o === 'string' ? o.toLowerCase() : o)) : c['allowOrigins'], `${field}.allowOrigins`, 'an origin (*, or scheme://host[:port], the host optionally *.domain)', (v) => v === '*' || CORS_ORIGIN.test(v), report);
  const methods = corsList(c['allowMethods'], `${field}.allowMethods`, 'an HTTP method or *', (v) => v === '*' || CORS_METHODS.includes(v), report);
  const headers = corsList(c['allowHeaders'], `${field}.allowHeaders`, 'a header name or *', token, report);
  const expose = corsList(c['exposeHeaders'], `${field}.exposeHeaders`, 'a header name or *', token, report);
  const credentials = c['allowCredentials'] ?? false;
  const maxAge = c['maxAge'] ?? 5;
  if (typeof credentials !== 'boolean') report.error(GatewayCodes.filterNotSupported, `${field}.allowCredentials`, `${showValue(credentials)} is not a boolean; the rule answers 503`);
  if (!(typeof maxAge === 'number' && Number.isInteger(maxAge) && maxAge >= 1 && maxAge <= 86_400 * 365)) report.error(GatewayCodes.filterNotSupported, `${field}.maxAge`, `${showValue(maxAge)} is not a number of seconds; the rule answers 503`);
  if (origins === undefined || methods === undefined || headers === undefined || expose === undefined || typeof credentials !== 'boolean' || typeof maxAge !== 'number' || !Number.isInteger(maxAge) || maxAge < 1) return undefined;
  const any = origins.includes('*');
  return {
    cors: {
      allowOrigins: any ? ['*'] : origins.filter((o) => !o.includes('*')),
      allowMethods: methods.includes('*') ? [] : methods,
      allowHeaders: headers.includes('*') ? [] : headers,
      allowCredentials: credentials,
      maxAgeSeconds: maxAge,
      ...(any || !origins.some((o) => o.includes('*')) ? {} : { originPatterns: origins.filter((o) => o.includes('*')) }),
      ...(any && credentials ? { echoOrigin: true } : {}),
      ...(methods.includes('*') ? { echoMethods: true } : {}),
      ...(headers.includes('*') ? { echoHeaders: true } : {}),
      ...(expose.length === 0 ? {} : { exposeHeaders: expose.includes('*') ? ['*'] : expose }),
    },
  };
}

/** URLRewrite → upstream vhost and rewrite; a prefix replacement needs a PathPrefix match. */
function rewritePolicy(value: unknown, field: string, pathType: PathType, report: Reporter): RoutePolicy | undefined {
  const r = isRecord(value) ? value : {};
  let policy: RoutePolicy = {};
  if (r['hostname'] !== undefined && r['hostname'] !== null) {
    const host = exactHost(r['hostname']);
    if (host === undefined) {
      report.error(GatewayCodes.filterNotSupported, `${field}.hostname`, `hostname ${showValue(r['hostname'])} is not a DNS name; the rule answers 503`);
      return undefined;
    }
    policy = { upstream: { vhost: host } };
  }
  if (isRecord(r['path'])) {
    const rewrite = pathModifier(r['path'], `${field}.path`, pathType, report);
    if (rewrite === undefined) return undefined;
    policy = { ...policy, rewrite };
  }
  return policy;
}

/** An HTTPPathModifier (URLRewrite or RequestRedirect `path`): ReplaceFullPath, or ReplacePrefixMatch on a PathPrefix match. */
function pathModifier(path: Readonly<Record<string, unknown>>, field: string, pathType: PathType, report: Reporter): Extract<RewritePolicy, { readonly kind: 'prefix' | 'replace-path' }> | undefined {
  const full = path['type'] === 'ReplaceFullPath' ? path['replaceFullPath'] : undefined;
  const prefix = path['type'] === 'ReplacePrefixMatch' ? (path['replacePrefixMatch'] ?? '/') : undefined;
  const target = full ?? prefix;
  const problem = typeof target === 'string' ? pathProblem(target) : `path type ${showValue(path['type'])} is not ReplaceFullPath or ReplacePrefixMatch`;
  if (problem !== undefined || typeof target !== 'string') {
    report.error(GatewayCodes.filterNotSupported, field, `${problem ?? 'no path'}; the rule answers 503`);
    return undefined;
  }
  if (prefix !== undefined && pathType !== 'Prefix') {
    report.error(GatewayCodes.filterNotSupported, field, 'ReplacePrefixMatch needs a PathPrefix match; the rule answers 503');
    return undefined;
  }
  return full !== undefined ? { kind: 'replace-path', path: target } : { kind: 'prefix', target };
}

/** A RequestMirror filter's copy, resolved by the caller. */
export type MirrorTarget = MirrorPolicy['targets'][number];

/**
 * The policy a rule's filters give one of its matches (of `pathType`). A filter that cannot be
 * applied is reported and listed in `unsupported`; the caller denies the route then. `mirrors`: the
 * copy of each usable RequestMirror filter, by the filter's field (the others were reported).
 */
export function filtersPolicy(filters: readonly { readonly value: Rec; readonly field: string }[], pathType: PathType, mirrors: ReadonlyMap<string, MirrorTarget>, report: Reporter): FilterPolicy {
  let policy: RoutePolicy = {};
  const unsupported: string[] = [];
  const types = filters.map((f) => f.value['type']);
  if (types.includes('RequestRedirect') && types.includes('URLRewrite')) {
    const f = filters[types.indexOf('URLRewrite')];
    report.error(GatewayCodes.filterNotSupported, f?.field ?? '', 'RequestRedirect and URLRewrite cannot be used together; the rule answers 503');
    return { policy: undefined, unsupported: [f?.field ?? ''] };
  }
  for (const { value, field } of filters) {
    const type = value['type'];
    let part: RoutePolicy | undefined;
    switch (type) {
      case 'RequestHeaderModifier': {
        const changes = headerChanges(value['requestHeaderModifier'], `${field}.requestHeaderModifier`, report);
        part = changes === undefined ? undefined : headerPart(policy.headers, changes, 'request');
        break;
      }
      case 'ResponseHeaderModifier': {
        const changes = headerChanges(value['responseHeaderModifier'], `${field}.responseHeaderModifier`, report);
        part = changes === undefined ? undefined : headerPart(policy.headers, changes, 'response');
        break;
      }
      case 'RequestRedirect':
        part = redirectPolicy(value['requestRedirect'], `${field}.requestRedirect`, pathType, report);
        break;
      case 'URLRewrite':
        part = rewritePolicy(value['urlRewrite'], `${field}.urlRewrite`, pathType, report);
        break;
      case 'CORS':
        part = corsPolicy(value['cors'], `${field}.cors`, report);
        break;
      case 'RequestMirror': {
        const target = mirrors.get(field);
        if (target === undefined) continue;
        part = { mirror: { targets: [...(policy.mirror?.targets ?? []), target] } };
        break;
      }
      default:
        report.error(GatewayCodes.filterNotSupported, `${field}.type`, `filter type ${showValue(type)} is not supported; the rule answers 503`);
        part = undefined;
    }
    if (part === undefined) unsupported.push(field);
    else policy = { ...policy, ...part };
  }
  return { policy: Object.keys(policy).length === 0 ? undefined : policy, unsupported };
}
