// One jest run for the whole repo: a project per workspace. ts-jest only transpiles here;
// `npm test` type-checks sources (tsc -b) and tests (tsconfig.test.json) before jest runs.
const path = require('node:path');

const LONG_TIMEOUT = path.join(__dirname, 'tools', 'e2e', 'test', 'long-timeout.ts');

const tsJest = ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.test.json') }];

/** A project named after its workspace folder (tools/e2e → e2e). */
const project = (dir, overrides = {}) => ({
  displayName: path.basename(dir),
  rootDir: path.join(__dirname, dir),
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.tsx?$': tsJest },
  // Workspace packages resolve through their own package.json exports, at the TypeScript sources (the
  // "source" condition, which tsconfig.test.json's customConditions names too): no alias list to keep.
  testEnvironmentOptions: { customExportConditions: ['source', 'node', 'node-addons'] },
  ...overrides,
});

// The tests on a NATS JetStream cluster need a nats-server (tools/scripts/nats-server.sh): `npm run test:cluster`.
const clusterProject = (dir) =>
  project(dir, {
    displayName: `${path.basename(dir)} (cluster)`,
    testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
    setupFilesAfterEnv: [LONG_TIMEOUT],
  });
const withoutCluster = { testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'] };

// Real NGINX configured as ingress-nginx and NGINX Gateway Fabric would configure it: `npm run test:nginx`
// (needs nginx: tools/scripts/nginx.sh finds or unpacks one).
const nginxProject = project('tools/deploy-checks', {
  displayName: 'deploy-checks (nginx)',
  testMatch: ['<rootDir>/test/nginx/**/*.test.ts'],
  setupFilesAfterEnv: [LONG_TIMEOUT],
});
// The alert rules under promtool and a real Prometheus scraping the local stack: `npm run test:prometheus`
// (needs Prometheus and promtool: tools/scripts/prometheus.sh finds or unpacks them).
const prometheusProject = project('tools/deploy-checks', {
  displayName: 'deploy-checks (prometheus)',
  testMatch: ['<rootDir>/test/prometheus/**/*.test.ts'],
  setupFilesAfterEnv: [LONG_TIMEOUT],
});
const withoutNginxOrPrometheus = {
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/nginx/', '<rootDir>/test/prometheus/'],
};

const selected =
  process.env.BLOG_TEST_CLUSTER === '1'
    ? 'cluster'
    : process.env.BLOG_TEST_NGINX === '1'
      ? 'nginx'
      : process.env.BLOG_TEST_PROMETHEUS === '1'
        ? 'prometheus'
        : 'default';

module.exports = {
  projects:
    selected === 'cluster'
      ? [clusterProject('event-bus'), clusterProject('tools/e2e'), clusterProject('tools/bench')]
      : selected === 'nginx'
        ? [nginxProject]
        : selected === 'prometheus'
          ? [prometheusProject]
          : [
              // The product.
              project('common'),
              project('event-bus', withoutCluster),
              project('posts'),
              project('comments'),
              project('query'),
              project('moderation'),
              project('client'),
              // The local stack's runner: the supervisor restarting a crashed service, the client's build check.
              project('stack', { setupFilesAfterEnv: [LONG_TIMEOUT] }),
              // The tooling. What the full-stack tests, the bench and the deployment checks share.
              project('tools/testkit', { setupFilesAfterEnv: [LONG_TIMEOUT] }),
              // Checks of the Kubernetes manifests, skaffold.yaml and Dockerfiles (no cluster, no Docker needed).
              project('tools/deploy-checks', { setupFilesAfterEnv: [LONG_TIMEOUT], ...withoutNginxOrPrometheus }),
              // How the container step reads the manifests and Dockerfiles (its flow against running containers is
              // test/flow.test.ts, which only `npm run test:containers` runs).
              project('tools/containers', {
                testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/flow.test.ts'],
              }),
              // Full-stack tests start real processes from the built output; each file runs its own stack on free ports.
              project('tools/e2e', { setupFilesAfterEnv: [LONG_TIMEOUT], slowTestThreshold: 30, ...withoutCluster }),
              // A short smoke run of the benchmark against a local stack: correctness only, never speed.
              project('tools/bench', { setupFilesAfterEnv: [LONG_TIMEOUT], slowTestThreshold: 60, ...withoutCluster }),
            ],
};
