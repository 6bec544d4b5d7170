// Writes docs/templates.md from the templates, the view interfaces and the quoting helpers.
import { writeFileSync } from 'node:fs';
import { templatesReference } from './templates-reference.ts';

writeFileSync(new URL('../docs/templates.md', import.meta.url), templatesReference());
