// Builds what the npm package ships (run by `npm pack`/`npm publish` through prepack): src/ compiled
// to dist/ by tsconfig.build.json (.ts import extensions rewritten to .js, source maps with their
// sources inlined), and the dashboard's static files copied next to the compiled server, which serves
// them from `./ui/` beside itself. The dev flow and the tests keep running the .ts sources.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const ui = path.join(root, 'src/dashboard/ui');
for (const name of readdirSync(ui)) {
  if (/\.(?:html|css|js)$/.test(name)) cpSync(path.join(ui, name), path.join(dist, 'dashboard/ui', name));
}
