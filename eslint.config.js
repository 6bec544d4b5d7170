// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
// The pipeline import rule: stages and their order are described in docs/architecture.md.
import { pipelineZones } from './scripts/pipeline.js';

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', 'dist/**', 'test/fixtures/**', 'test/golden/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The pipeline of docs/architecture.md: a stage imports only the stages before it.
      'import-x/no-restricted-paths': ['error', { zones: pipelineZones() }],
      // Only the Kubernetes source talks to the API library.
      'no-restricted-imports': ['error', { paths: [] }],
    },
  },
  {
    // The dashboard's browser code (plain JS with JSDoc types): tsc checks names against the DOM
    // library (src/dashboard/ui/tsconfig.json), as typescript-eslint advises for TypeScript.
    files: ['src/dashboard/ui/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/sources/kubernetes/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@kubernetes/client-node', message: 'Only src/sources/kubernetes may import the Kubernetes client.' }] },
      ],
    },
  },
);
