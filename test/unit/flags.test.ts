import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PassError } from '../../src/shared/errors.ts';
import { applyFlags, parseFlags } from '../../src/cli/flags.ts';
import type { CliFlags } from '../../src/cli/flags.ts';
import { parseConfig } from '../../src/config/load.ts';

const none: CliFlags = { command: undefined, positionals: [], dryRun: false, output: 'text', headers: [], diff: false, help: false, version: false };

const parsed: { name: string; argv: string[]; expect: Partial<CliFlags> }[] = [
  { name: 'nothing', argv: [], expect: {} },
  {
    name: "the seed Deployment's args",
    argv: ['--configfile=/config/traefik.toml', '--web', '--kubernetes', '--logLevel=DEBUG'],
    expect: { configFile: '/config/traefik.toml', web: true, kubernetes: true, logLevel: 'debug' },
  },
  { name: '--configfile PATH (separate value)', argv: ['--configfile', 'a.toml'], expect: { configFile: 'a.toml' } },
  { name: '--config alias', argv: ['run', '--config', 'examples/passerelle.toml'], expect: { command: 'run', configFile: 'examples/passerelle.toml' } },
  { name: '--config=PATH', argv: ['--config=x.toml'], expect: { configFile: 'x.toml' } },
  { name: '--logLevel lower case', argv: ['--logLevel', 'warn'], expect: { logLevel: 'warn' } },
  { name: '--logLevel=WARNING means warn', argv: ['--logLevel=WARNING'], expect: { logLevel: 'warn' } },
  { name: '--kubernetes=true (Traefik spelling)', argv: ['--kubernetes=true'], expect: { kubernetes: true } },
  { name: '--proxy haproxy', argv: ['--proxy', 'haproxy'], expect: { proxy: 'haproxy' } },
  { name: '--proxy=NGINX case-insensitive', argv: ['--proxy=NGINX'], expect: { proxy: 'nginx' } },
  { name: 'run --dry-run --output json', argv: ['run', '--dry-run', '--output', 'json'], expect: { command: 'run', dryRun: true, output: 'json' } },
  { name: 'render --diff', argv: ['render', '--diff'], expect: { command: 'render', diff: true } },
  { name: 'check with --output=text', argv: ['check', '--output=text'], expect: { command: 'check' } },
  {
    name: 'explain URL with method and repeated headers',
    argv: ['explain', 'https://tv.archifleks.net/a', '--method', 'post', '--header', 'Authorization: Basic a2xl', '-H', 'X-Forwarded-Proto:https'],
    expect: {
      command: 'explain',
      positionals: ['https://tv.archifleks.net/a'],
      method: 'POST',
      headers: [
        ['Authorization', 'Basic a2xl'],
        ['X-Forwarded-Proto', 'https'],
      ],
    },
  },
  { name: 'options before the command', argv: ['--config=a.toml', 'explain', 'http://x/'], expect: { command: 'explain', positionals: ['http://x/'], configFile: 'a.toml' } },
  { name: '--file.directory=DIR', argv: ['--file.directory=examples/ingress'], expect: { fileDirectory: 'examples/ingress' } },
  { name: '--directory DIR', argv: ['--directory', 'ingress'], expect: { fileDirectory: 'ingress' } },
  { name: '-- ends the options', argv: ['explain', '--', '--not-a-flag'], expect: { command: 'explain', positionals: ['--not-a-flag'] } },
  { name: '--help and --version', argv: ['--help', '--version'], expect: { help: true, version: true } },
  { name: 'the last value of a repeated option wins', argv: ['--config=a.toml', '--config=b.toml'], expect: { configFile: 'b.toml' } },
];
for (const c of parsed) {
  test(`parseFlags: ${c.name}`, () => {
    assert.deepEqual(parseFlags(c.argv), { ...none, ...c.expect });
  });
}

const refused: { name: string; argv: string[]; code: string }[] = [
  { name: 'unknown option', argv: ['--acme'], code: 'PASS_FLAG_UNKNOWN' },
  { name: 'unknown option with a value', argv: ['--entryPoints=http'], code: 'PASS_FLAG_UNKNOWN' },
  { name: 'unknown short option', argv: ['-q'], code: 'PASS_FLAG_UNKNOWN' },
  { name: '--configfile without a value', argv: ['--configfile'], code: 'PASS_FLAG_MISSING_VALUE' },
  { name: '--configfile= empty', argv: ['--configfile='], code: 'PASS_FLAG_MISSING_VALUE' },
  { name: '--config followed by another option', argv: ['--config', '--web'], code: 'PASS_FLAG_MISSING_VALUE' },
  { name: 'unknown log level', argv: ['--logLevel=verbose'], code: 'PASS_FLAG_BAD_VALUE' },
  { name: 'unknown proxy', argv: ['--proxy', 'apache'], code: 'PASS_FLAG_BAD_VALUE' },
  { name: 'unknown output', argv: ['--output', 'yaml'], code: 'PASS_FLAG_BAD_VALUE' },
  { name: 'boolean option with a value', argv: ['--web=false'], code: 'PASS_FLAG_BAD_VALUE' },
  { name: 'header without a colon', argv: ['--header', 'Host'], code: 'PASS_FLAG_BAD_VALUE' },
  { name: 'header with a bad name', argv: ['--header', 'Bad Name: x'], code: 'PASS_FLAG_BAD_VALUE' },
  { name: 'method that is not a token', argv: ['--method', 'GE T'], code: 'PASS_FLAG_BAD_VALUE' },
];
for (const c of refused) {
  test(`parseFlags refuses ${c.name}`, () => {
    assert.throws(() => parseFlags(c.argv), (err: unknown) => err instanceof PassError && err.code === c.code);
  });
}

test('applyFlags: flags override the file', () => {
  const config = parseConfig('logLevel = "error"\n[proxy]\nmode = "nginx"\n[file]\ndirectory = "from-file"', '/etc/p/passerelle.toml');
  const applied = applyFlags(config, parseFlags(['--kubernetes', '--web', '--logLevel=DEBUG', '--proxy=haproxy', '--directory', 'cli-dir']));
  assert.equal(applied.kubernetes.enabled, true);
  assert.equal(applied.web.enabled, true);
  assert.equal(applied.logLevel, 'debug');
  assert.equal(applied.proxy.mode, 'haproxy');
  assert.equal(applied.file.directory, path.resolve('cli-dir'));
  assert.equal(applied.file.watch, true);
  assert.ok(Object.isFrozen(applied) && Object.isFrozen(applied.kubernetes));
  // The input config is untouched.
  assert.equal(config.kubernetes.enabled, false);
  assert.equal(config.file.directory, '/etc/p/from-file');
});

test('applyFlags: no flags keep the file values', () => {
  const config = parseConfig('logLevel = "error"\n[web]\nenabled = true', '/etc/p/passerelle.toml');
  assert.deepEqual(applyFlags(config, parseFlags(['run'])), config);
});
