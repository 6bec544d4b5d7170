import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { PassError } from '../../src/shared/errors.ts';
import { closest, parseFlags } from '../../src/cli/flags.ts';
import { COMMAND_USAGE, main, USAGE } from '../../src/cli/main.ts';

/** Runs main() on argv with stdout captured. */
async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const code = await main(argv, sink);
  return { code, out };
}

test('no argument, help, --help and -h print the usage and exit 0', async () => {
  for (const argv of [[], ['help'], ['--help'], ['-h']]) {
    const r = await run(...argv);
    assert.equal(r.code, 0, argv.join(' '));
    assert.equal(r.out, USAGE, argv.join(' '));
  }
  assert.match(USAGE, /^Usage: passerelle <command>/);
});

test('COMMAND --help, COMMAND -h and help COMMAND print that command usage', async () => {
  for (const command of ['run', 'render', 'check', 'migrate', 'explain'] as const) {
    for (const argv of [[command, '--help'], [command, '-h'], ['help', command]]) {
      const r = await run(...argv);
      assert.equal(r.code, 0);
      assert.equal(r.out, COMMAND_USAGE[command], argv.join(' '));
    }
  }
  assert.match(COMMAND_USAGE.explain, /--entrypoint NAME/);
});

test('--version, -v and version print the version of package.json', async () => {
  for (const argv of [['--version'], ['-v'], ['version'], ['run', '--version']]) {
    const r = await run(...argv);
    assert.equal(r.code, 0);
    assert.match(r.out, /^passerelle \d+\.\d+\.\d+\S*\n$/, argv.join(' '));
  }
});

test('an unknown command is PASS_CLI_UNKNOWN_COMMAND with a hint', async () => {
  await assert.rejects(run('chek'), (err: unknown) => err instanceof PassError && err.code === 'PASS_CLI_UNKNOWN_COMMAND' && /did you mean check\?/.test(err.message));
  await assert.rejects(run('frobnicate'), (err: unknown) => err instanceof PassError && /commands: run, render, check, migrate, explain, version, help/.test(err.message));
  await assert.rejects(run('help', 'nope'), (err: unknown) => err instanceof PassError && err.code === 'PASS_CLI_UNKNOWN_COMMAND');
});

test('an unknown option is PASS_FLAG_UNKNOWN with the closest option', () => {
  const cases: [string, RegExp][] = [
    ['--dryrun', /did you mean --dry-run\?/],
    ['--kube', /did you mean --kubernetes\?/],
    ['--outptu', /did you mean --output\?/],
    ['--entry-point', /did you mean --entrypoint\?/],
    ['--zzzzzzzz', /unknown option --zzzzzzzz \(passerelle --help/],
  ];
  for (const [flag, hint] of cases) {
    assert.throws(() => parseFlags(['run', flag]), (err: unknown) => err instanceof PassError && err.code === 'PASS_FLAG_UNKNOWN' && hint.test(err.message), flag);
  }
});

test('--entrypoint NAME, -v', () => {
  assert.equal(parseFlags(['explain', 'http://a/', '--entrypoint', 'web']).entryPoint, 'web');
  assert.equal(parseFlags(['explain', 'http://a/', '--entrypoint=websecure']).entryPoint, 'websecure');
  assert.equal(parseFlags(['explain', 'http://a/']).entryPoint, undefined);
  assert.equal(parseFlags(['-v']).version, true);
});

test('closest: case, small typos and prefixes; nothing for a word far from all', () => {
  assert.equal(closest('RUN', ['run', 'check']), 'run');
  assert.equal(closest('chekc', ['run', 'check']), 'check');
  assert.equal(closest('expl', ['run', 'explain']), 'explain');
  assert.equal(closest('banana', ['run', 'check']), undefined);
});
