// A temporary work directory for a controller under test that nginx's workers can use.
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `mkdtemp` under the system's temp folder, made traversable (0711): nginx's workers (user nobody
 * when run as root) read certificates and password files below it.
 */
export function proxyWorkDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}
