import type { RoutingModel } from '../../model/types.ts';
import { checksumOf } from '../checksum.ts';
import { compileTemplates, loadTemplates } from '../engine.ts';
import type { TemplateSet } from '../engine.ts';
import type { RenderedConfig, RenderedFile } from '../types.ts';
import { CHECKSUM_PREFIX } from '../types.ts';
import { htpasswdLine, nginxHelpers } from './quote.ts';
import { buildNginxView, LUA_ENDPOINTS_FILE } from './view.ts';
import type { NginxBuild, NginxRenderOptions } from './view.ts';

export type { NginxRenderOptions } from './view.ts';
export { buildNginxView, nginxUpstreamName, DEFAULT_CERTIFICATE_FILE, LUA_ADMIN_SOCKET, LUA_ENDPOINTS_FILE, LUA_MODULES } from './view.ts';
export type { LuaModules } from './view.ts';

function auxFiles(build: NginxBuild, mask: boolean): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const h of build.htpasswd) {
    files.push({ path: h.path, content: h.users.map((u) => `${htpasswdLine(u.user, u.hash)}\n`).join(''), mode: 0o600, secret: true, workerReadable: true });
  }
  // nginx's workers read certificates at each handshake (ssl_certificate by variable), not the master at load.
  for (const c of build.certs) files.push({ path: c.path, content: mask ? '' : c.pem, mode: 0o600, secret: true, workerReadable: true });
  return files;
}

/** A compiled nginx renderer: templates read and compiled once, rendering is pure. */
export interface NginxRenderer {
  render(model: RoutingModel, options: NginxRenderOptions): RenderedConfig;
}

/** Compiles the nginx templates (built-in, or overridden from `templatesDir`). */
export function createNginxRenderer(templates: TemplateSet | string | undefined = undefined): NginxRenderer {
  const set = typeof templates === 'object' ? templates : loadTemplates('nginx', templates);
  const render = compileTemplates(set, { ...nginxHelpers });
  return {
    render(model, options) {
      const build = buildNginxView(model, options);
      const body = render(build.view);
      const files = auxFiles(build, false);
      // The Lua balancer's endpoints are data the admin socket replaces: out of the structure, so a
      // change of endpoints only is applied without a reload. Without Lua every change reloads.
      const endpoints = build.luaEndpoints === null ? [] : [{ path: LUA_ENDPOINTS_FILE, content: `${JSON.stringify({ upstreams: build.luaEndpoints })}\n`, mode: 0o644, secret: false }];
      const checksum = checksumOf(body, [...files, ...endpoints]);
      return {
        dialect: 'nginx',
        main: { path: 'nginx.conf', content: `${CHECKSUM_PREFIX}${checksum}\n${body}`, mode: 0o644, secret: false },
        files: [...files, ...endpoints],
        checksum,
        structure: endpoints.length === 0 ? checksum : checksumOf(body, files),
        diagnostics: build.diagnostics,
      };
    },
  };
}

/** Renders the model as nginx.conf plus its certificate and htpasswd files (built-in templates). */
export function renderNginx(model: RoutingModel, options: NginxRenderOptions): RenderedConfig {
  return createNginxRenderer().render(model, options);
}
