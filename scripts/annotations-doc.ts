// Writes docs/annotations.md from the annotation catalogues (src/model/annotations/*-catalogue.ts).
import { writeFileSync } from 'node:fs';
import { annotationsReference } from '../src/model/annotations/reference.ts';

writeFileSync(new URL('../docs/annotations.md', import.meta.url), annotationsReference());
