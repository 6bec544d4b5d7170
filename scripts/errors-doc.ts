// Writes docs/errors.md from the code catalogue (src/shared/codes.ts: every PASS_* code and its meaning).
import { writeFileSync } from 'node:fs';
import { errorsReference } from '../src/shared/codes-reference.ts';

writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsReference());
