import { createHash } from 'node:crypto';
import type { RenderedFile } from './types.ts';
import { CHECKSUM_PREFIX } from './types.ts';

/** sha256 over a main body and auxiliary files, each with its path and mode. */
export function checksumOf(mainBody: string, files: readonly RenderedFile[]): string {
  const h = createHash('sha256');
  h.update(mainBody);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update('\0').update(f.path).update('\0').update(String(f.mode)).update('\0').update(f.content);
  }
  return h.digest('hex');
}

/** The checksum a rendered main configuration declares in its first line, if any. */
export function declaredChecksum(content: string): string | undefined {
  if (!content.startsWith(CHECKSUM_PREFIX)) return undefined;
  const end = content.indexOf('\n');
  return content.slice(CHECKSUM_PREFIX.length, end === -1 ? undefined : end).trim();
}
