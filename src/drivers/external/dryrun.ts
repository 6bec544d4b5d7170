import path from 'node:path';
import { lineDiff, sectionHeader } from '../../render/dryrun.ts';
import type { RoutingModel } from '../../model/types.ts';
import { createHaproxyRenderer } from '../../render/haproxy/index.ts';
import { createNginxRenderer } from '../../render/nginx/index.ts';
import type { RenderedConfig } from '../../render/types.ts';
import { readIfExists } from './files.ts';

/**
 * What applying `rendered` would change in `workDir`: a diff per file, secrets only named.
 * Returns an empty string when every file is already as rendered.
 */
export async function diffAgainstWorkDir(rendered: RenderedConfig, workDir: string): Promise<string> {
  const out: string[] = [];
  for (const f of [rendered.main, ...rendered.files]) {
    const live = await readIfExists(path.join(workDir, f.path));
    if (live === f.content) continue;
    out.push(sectionHeader(f));
    if (live === undefined) out.push(`# new file: ${f.path}`);
    if (f.secret) {
      if (live !== undefined) out.push(`# changed: ${f.path}`);
    } else {
      out.push(`--- ${live === undefined ? '/dev/null' : `live/${f.path}`}`, `+++ rendered/${f.path}`, ...lineDiff(live ?? '', f.content));
    }
    out.push('');
  }
  return out.join('\n');
}

/** The proxy settings a dry run renders with (the `[proxy]` table). */
export interface DryRunProxySettings {
  readonly workDir: string;
  readonly templates?: string | undefined;
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly gracePeriod: number;
  readonly forwardedHeader: boolean;
}

/** Renders the model as `mode` would on apply, against `[proxy] workDir` (no IO besides templates). */
export function renderForDryRun(mode: 'haproxy' | 'nginx', proxy: DryRunProxySettings, model: RoutingModel): RenderedConfig {
  const workDir = path.resolve(proxy.workDir);
  const common = {
    workDir,
    connectTimeoutMs: proxy.connectTimeout,
    readTimeoutMs: proxy.readTimeout,
    gracePeriodMs: proxy.gracePeriod,
    forwardedHeader: proxy.forwardedHeader,
  };
  return mode === 'haproxy'
    ? createHaproxyRenderer(proxy.templates).render(model, { ...common, runtimeSocket: path.join(workDir, 'haproxy.sock') })
    : createNginxRenderer(proxy.templates).render(model, common);
}
