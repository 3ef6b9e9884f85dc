// One jest run for the whole repo: a project per workspace, TypeScript compiled by SWC.
// Type checking happens in `npm run build` (tsc -b), which `npm test` runs first.
const path = require('node:path');

const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript', tsx: true }, target: 'es2022' }, module: { type: 'commonjs' } }];

const project = (name, overrides = {}) => ({
  displayName: name,
  rootDir: path.join(__dirname, name),
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.tsx?$': swc },
  moduleNameMapper: {
    '^@blog/common$': path.join(__dirname, 'common/src/index.ts'),
    '^@blog/common/(api|testing)$': path.join(__dirname, 'common/src/$1.ts'),
  },
  ...overrides,
});

module.exports = {
  projects: [
    project('common'),
    project('event-bus'),
    project('posts'),
    project('comments'),
    project('query'),
    project('moderation'),
    project('client'),
    // Full-stack tests start real processes from the built output; each file runs its own stack on free ports.
    project('e2e', { testTimeout: 60_000, slowTestThreshold: 30 }),
  ],
};
