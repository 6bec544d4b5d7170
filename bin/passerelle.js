#!/usr/bin/env node
// The `passerelle` command. Kept to syntax any Node with ES modules parses (no top-level await), so
// that an older Node gets one line naming the required and the found version, not a loader error.
import { existsSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const required = String(pkg.engines.node); // ">=22.19.0"
const want = (/(\d+)\.(\d+)\.(\d+)/.exec(required) || []).slice(1).map(Number);
const have = process.versions.node.split('.').map(Number);
const older = want.length === 3 && (have[0] - want[0] || have[1] - want[1] || have[2] - want[2]) < 0;

if (older) {
  process.stderr.write(`passerelle: needs Node.js ${required}, found ${process.version} (${process.execPath})\n`);
  process.exitCode = 1;
} else {
  // A source checkout runs the TypeScript sources (Node strips types outside node_modules), so it
  // never runs a stale build; the installed package has no src/ and runs dist/ (npm run build).
  const source = new URL('../src/cli/main.ts', import.meta.url);
  const entry = existsSync(source) ? source : new URL('../dist/cli/main.js', import.meta.url);
  if (entry !== source) process.setSourceMapsEnabled(true); // stack traces name the .ts lines
  import(entry.href).then(
    (main) => main.cli(process.argv.slice(2)),
    (err) => {
      process.stderr.write(`passerelle: cannot load ${fileURLToPath(entry)}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
