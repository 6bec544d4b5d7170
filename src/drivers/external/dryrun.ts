import path from 'node:path';
import { lineDiff, sectionHeader } from '../../render/dryrun.ts';
import type { RenderedConfig } from '../../render/types.ts';
import { readIfExists } from './files.ts';

/**
 * What applying `rendered` would change in `workDir`: a diff per file, secrets only named.
 * Returns an empty string when every file is already as rendered. `rendered` comes from
 * `ExternalDriver.preview` (apply.ts), which renders with the layout saved in `workDir`.
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
