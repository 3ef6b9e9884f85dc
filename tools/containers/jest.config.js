// The flow against the running containers (test/flow.test.ts). src/main.ts runs it once the containers are
// ready; the root jest.config.js leaves it out, so `npm test` stays as it is.
const path = require('node:path');

module.exports = {
  displayName: 'containers (flow)',
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/flow.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.json') }] },
  // Workspace packages resolve through their own package.json exports, at the TypeScript sources, as in the
  // root jest.config.js.
  testEnvironmentOptions: { customExportConditions: ['source', 'node', 'node-addons'] },
  testTimeout: 60_000,
};
