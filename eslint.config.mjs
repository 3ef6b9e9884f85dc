// One lint for every workspace: typescript-eslint's type-checked rules on TypeScript, ESLint's own on
// plain JavaScript, and no style rules at all (Prettier formats; eslint-config-prettier comes last).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // Build output, dependencies and what the tests and the bench write (as .gitignore lists them).
    ignores: [
      '**/dist/',
      '**/dist-server/',
      '**/coverage/',
      '**/.data/',
      '**/e2e/artifacts/',
      '**/containers/artifacts/',
      '**/bench/results/',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.{ts,tsx,mts,cts}'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Every TypeScript file belongs to one of these programs: a workspace's sources to its tsconfig.json,
        // the browser client to tsconfig.app.json, the tests and the deployment checks to tsconfig.test.json.
        // The first program that holds a file types it, so a source is linted with its own workspace's options.
        project: ['./**/tsconfig.json', './client/tsconfig.app.json', './tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // As TypeScript's noUnusedLocals reads them: a leading underscore names what is left unused on purpose,
      // and a rest sibling is how an object is copied without some of its properties.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    files: ['**/test/**', '**/*.test.ts'],
    rules: {
      // Jest's asymmetric matchers (expect.any, expect.stringMatching, expect.objectContaining) are typed `any`,
      // so every expected value that holds one would count as an unsafe assignment.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // supertest types a response's body as `any`; the tests read the answers' fields to assert on them.
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    files: ['client/src/**'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    // Without "type": "module" in package.json, .js files are CommonJS (the jest configs).
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
  },
  prettier,
);
