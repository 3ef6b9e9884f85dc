// The flow against the running containers (flow.test.ts). main.ts runs it once the containers are ready;
// the root jest.config.js never picks it up, so `npm test` stays as it is.
const path = require('node:path');

const root = path.join(__dirname, '..', '..');

module.exports = {
  displayName: 'containers',
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.json') }] },
  moduleNameMapper: {
    '^@blog/common$': path.join(root, 'common/src/index.ts'),
    '^@blog/common/api$': path.join(root, 'common/src/contracts/api.ts'),
    '^@blog/common/testing$': path.join(root, 'common/src/testing/index.ts'),
    '^@blog/common/state$': path.join(root, 'common/src/messaging/state.ts'),
    '^@blog/stack$': path.join(root, 'stack/src/index.ts'),
    '^@blog/testkit$': path.join(root, 'testkit/src/index.ts'),
    '^@blog/testkit/chromium$': path.join(root, 'testkit/src/chromium.ts'),
  },
  testTimeout: 60_000,
};
