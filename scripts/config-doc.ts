// Writes docs/configuration.md from the config schema (the one source of keys, defaults and docs).
import { writeFileSync } from 'node:fs';
import { configReference } from '../src/config/reference.ts';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configReference());
