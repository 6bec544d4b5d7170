import { describeConfig } from './schema.ts';

/** The configuration reference (docs/configuration.md) as generated from the schema. */
export function configReference(): string {
  return [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `node scripts/config-doc.ts`; a unit test fails when it is out of date.',
    'Every key with its default (`# key =` when it has none) and what it does. Unknown keys are errors.',
    '',
    '```toml',
    ...describeConfig(),
    '```',
    '',
  ].join('\n');
}
