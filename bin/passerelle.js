#!/usr/bin/env node
// Runs the TypeScript sources directly (Node >= 22.18 strips types).
import process from 'node:process';

const { cli } = await import('../src/cli/main.ts');
await cli(process.argv.slice(2));
