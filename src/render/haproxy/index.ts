import type { RoutingModel } from '../../model/types.ts';
import { PassError } from '../../shared/errors.ts';
import { checksumOf } from '../checksum.ts';
import { compileTemplates, loadTemplates } from '../engine.ts';
import type { TemplateSet } from '../engine.ts';
import type { RenderedConfig, RenderedFile } from '../types.ts';
import { CHECKSUM_PREFIX } from '../types.ts';
import { haproxyHelpers, mapText, mapWord, sniFilter } from './quote.ts';
import { buildHaproxyView, PLAIN_HTTP_ON_TLS_FILE, RUNTIME_MAPS, UNAVAILABLE_MAP } from './view.ts';
import type { HaproxyBuild, HaproxyLayout, HaproxyRenderOptions } from './view.ts';

export type { HaproxyBuild, HaproxyLayout, HaproxyRenderOptions } from './view.ts';
export { buildHaproxyView, certFileName, defaultSlots, haproxyBackendName, parseHaproxyLayout, PLAIN_HTTP_ON_TLS_FILE, ROUTES_MAP, RUNTIME_MAPS, UNAVAILABLE_MAP } from './view.ts';

const ERRORS: readonly (readonly [number, string])[] = [
  [400, 'Bad Request'],
  [403, 'Forbidden'],
  [408, 'Request Timeout'],
  [500, 'Internal Server Error'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [504, 'Gateway Timeout'],
];

/** The body of the answer to plain HTTP on a TLS entry point: the native proxy's words (src/drivers/native/listeners.ts). */
export const PLAIN_HTTP_ON_TLS_BODY = 'Bad Request: this port speaks HTTPS; use https:// instead of http://\n';

/** A raw HTTP answer in plain text that closes the connection. */
function rawAnswer(code: number, reason: string, body: string): string {
  return `HTTP/1.1 ${code} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n${body}`;
}

/** HAProxy error files: raw HTTP answers in plain text, like the native proxy's. */
function errorFiles(plainHttpOnTls: boolean): RenderedFile[] {
  const files = ERRORS.map(([code, reason]): RenderedFile => ({ path: `errors/${code}.http`, content: rawAnswer(code, reason, `${reason}\n`), mode: 0o644, secret: false }));
  // Answered by the TCP frontend of a TLS entry point to a client that speaks plain HTTP to it.
  if (plainHttpOnTls) files.push({ path: PLAIN_HTTP_ON_TLS_FILE, content: rawAnswer(400, 'Bad Request', PLAIN_HTTP_ON_TLS_BODY), mode: 0o644, secret: false });
  return files;
}

/** The files of a rendering; `maskCerts` (for the structure checksum) leaves out what the runtime API changes. */
function auxFiles(build: HaproxyBuild, maskCerts: boolean, lua: string): RenderedFile[] {
  const files: RenderedFile[] = [{ path: 'lua/passerelle.lua', content: lua, mode: 0o644, secret: false }];
  for (const m of build.maps) {
    // The structure leaves the routing and unavailable maps out: the runtime API replaces them without a reload.
    // The unavailable map's values are sentences: HAProxy reads the rest of the line as the value.
    const value = m.path === UNAVAILABLE_MAP ? mapText : mapWord;
    const content = maskCerts && RUNTIME_MAPS.includes(m.path) ? '' : m.entries.map(([k, v]) => `${mapWord(k)} ${value(v)}\n`).join('');
    files.push({ path: m.path, content, mode: m.secret ? 0o600 : 0o644, secret: m.secret });
  }
  const root = build.view.files.crtList.slice(0, -'certs/crt-list.txt'.length);
  const list = build.crtList.map((c) => `${root}${c.file} [alpn h2,http/1.1] ${c.snis.map(sniFilter).join(' ')}\n`).join('');
  // The structure leaves certificates out: the runtime API adds, replaces and removes them.
  files.push({ path: 'certs/crt-list.txt', content: maskCerts ? '' : list, mode: 0o644, secret: false });
  if (!maskCerts) for (const c of build.certs) files.push({ path: c.path, content: c.pem, mode: 0o600, secret: true });
  files.push(...errorFiles(build.view.files.plainHttpOnTls !== null));
  return files;
}

/**
 * A compiled HAProxy renderer: templates read and compiled once, rendering is pure. `previous` is
 * the layout of the rendering this one follows (server slots, prefix depth); without it, a fresh one.
 */
export interface HaproxyRenderer {
  render(model: RoutingModel, options: HaproxyRenderOptions, previous?: HaproxyLayout): RenderedConfig;
  /** The rendering and the build it was made from: its view (runtime API commands are computed between views) and its layout. */
  renderWithView(model: RoutingModel, options: HaproxyRenderOptions, previous?: HaproxyLayout): { rendered: RenderedConfig; build: HaproxyBuild };
}

/** Compiles the HAProxy templates (built-in, or overridden from `templatesDir`). */
export function createHaproxyRenderer(templates: TemplateSet | string | undefined = undefined): HaproxyRenderer {
  const set = typeof templates === 'object' ? templates : loadTemplates('haproxy', templates);
  const render = compileTemplates(set, haproxyHelpers);
  const lua = set.assets['passerelle.lua'];
  if (lua === undefined) throw new PassError('PASS_TEMPLATES_MISSING', 'the HAProxy templates have no haproxy/passerelle.lua (the Lua helpers)', { field: 'proxy.templates' });
  // The checksums cover what the body is made of (the view and the templates; the helpers are this
  // process's code), not the body itself: a change the runtime API applies is then sent before the
  // body is rendered, and the body is rendered once, when the file is written.
  const templateId = checksumOf(JSON.stringify([set.main, set.partials]), []);
  const renderWithView = (model: RoutingModel, options: HaproxyRenderOptions, previous?: HaproxyLayout): { rendered: RenderedConfig; build: HaproxyBuild } => {
    const build = buildHaproxyView(model, options, previous);
    const files = auxFiles(build, false, lua);
    const checksum = checksumOf(`${templateId}\n${JSON.stringify(build.view)}`, files);
    // The structure leaves out what the runtime API can change: server addresses, the routing map
    // and certificate contents.
    const masked = {
      ...build.view,
      backends: build.view.backends.map((b) => ({ ...b, servers: b.servers.map((s) => ({ ...s, host: '0.0.0.0', port: 0, weight: 0, disabled: false })) })),
    };
    const structure = checksumOf(`${templateId}\n${JSON.stringify(masked)}`, auxFiles(build, true, lua));
    let content: string | undefined;
    const rendered: RenderedConfig = {
      dialect: 'haproxy',
      main: {
        path: 'haproxy.cfg',
        get content(): string {
          content ??= `${CHECKSUM_PREFIX}${checksum}\n${render(build.view)}`;
          return content;
        },
        mode: 0o644,
        secret: false,
      },
      files,
      checksum,
      structure,
      diagnostics: build.diagnostics,
    };
    return { rendered, build };
  };
  return { renderWithView, render: (model, options, previous) => renderWithView(model, options, previous).rendered };
}

/** Renders the model as haproxy.cfg plus its map, certificate and error files (built-in templates); see {@link HaproxyRenderer}. */
export function renderHaproxy(model: RoutingModel, options: HaproxyRenderOptions, previous?: HaproxyLayout): RenderedConfig {
  return createHaproxyRenderer().render(model, options, previous);
}
