import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

const cases: { name: string; file: string; code: string; forbidden: boolean }[] = [
  { name: 'model importing cli is rejected', file: 'src/model/probe.ts', code: "import '../cli/main.ts';\n", forbidden: true },
  { name: 'shared importing model is rejected', file: 'src/shared/probe.ts', code: "import '../model/match.ts';\n", forbidden: true },
  { name: 'model importing shared is allowed', file: 'src/model/probe.ts', code: "import '../shared/diagnostics.ts';\n", forbidden: false },
  { name: 'cli importing model is allowed', file: 'src/cli/probe.ts', code: "import '../model/match.ts';\n", forbidden: false },
];

for (const c of cases) {
  test(`pipeline import rule: ${c.name}`, async () => {
    const ids = await ruleIds(c.file, c.code);
    assert.equal(ids.includes('import-x/no-restricted-paths'), c.forbidden, `messages: ${ids.join(', ')}`);
  });
}
