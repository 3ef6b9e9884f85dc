/** No secret in git (src/checks/secrets.ts): the tracked files, and what the check catches. */
import { DEVELOPMENT_SECRET_FILE, secretProblems, trackedFiles, type TrackedFile } from '../src/checks/secrets';
import { readRepoFile } from '../src/repo';

describe('the tracked files', () => {
  it('hold no secret value outside the development Secret of infra/k8s', () => {
    const files = trackedFiles();
    expect(files.map((file) => file.path)).toContain(DEVELOPMENT_SECRET_FILE);
    expect(secretProblems(files)).toEqual([]);
  });

  it('include that Secret, marked as development only', () => {
    expect(readRepoFile(DEVELOPMENT_SECRET_FILE)).toMatch(/^# DEVELOPMENT ONLY/);
  });
});

describe('the secret check catches', () => {
  const file = (path: string, text: string): TrackedFile => ({ path, text });
  const devSecret = readRepoFile(DEVELOPMENT_SECRET_FILE);

  it('the development Secret anywhere else, and a Secret with data', () => {
    expect(
      secretProblems([
        file('infra/components/gateway/secret.yaml', devSecret),
        file(
          'infra/overlays/staging/tls.yaml',
          'apiVersion: v1\nkind: Secret\nmetadata: { name: tls }\ndata: { tls.key: YQ== }\n',
        ),
      ]),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^infra\/components\/gateway\/secret.yaml: a Secret with values/),
        'infra/components/gateway/secret.yaml: EVENTS_TOKEN is a literal credential',
        'infra/components/gateway/secret.yaml: holds a private key (PKCS#8 DER, base64)',
        expect.stringMatching(/^infra\/overlays\/staging\/tls.yaml: a Secret with values/),
      ]),
    );
  });

  it('a private key in any file, PEM or base64 DER', () => {
    const der = /^ +DELIVERY_SIGNING_KEY: (\S+)$/m.exec(devSecret)?.[1] ?? '';
    expect(der).toMatch(/^MC4C/);
    expect(
      secretProblems([
        file('tools/e2e/test/fixture.ts', `const key = '${der}';`),
        // Written in two parts, so that this file holds no PEM header itself.
        file('docs/keys.md', `-----BEGIN ${'PRIVATE'} KEY-----\nabc\n-----END PRIVATE KEY-----\n`),
      ]),
    ).toEqual([
      'tools/e2e/test/fixture.ts: holds a private key (PKCS#8 DER, base64)',
      'docs/keys.md: holds a PEM private key',
    ]);
  });

  it('a literal password or token in YAML, but not a reference to one', () => {
    expect(
      secretProblems([
        file(
          'infra/helm/nats/values.yaml',
          'config:\n  cluster:\n    routeURLs: { user: blog-route, password: hunter2hunter2 }\n',
        ),
        file('infra/helm/nats/dev.yaml', 'users:\n  - { user: bus, password: "<< $NATS_PASSWORD >>" }\n'),
        file('infra/k8s/config.yaml', 'data:\n  EVENTS_TOKEN: local-development-only\n'),
      ]),
    ).toEqual([
      'infra/helm/nats/values.yaml: password is a literal credential',
      'infra/k8s/config.yaml: EVENTS_TOKEN is a literal credential',
    ]);
  });

  it('a tracked env file', () => {
    expect(secretProblems([file('infra/components/dev-secrets/blog-secrets.env', 'EVENTS_TOKEN=abc\n')])).toEqual([
      'infra/components/dev-secrets/blog-secrets.env: an env file is tracked (keep credentials out of git)',
    ]);
  });
});
