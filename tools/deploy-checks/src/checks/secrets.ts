/**
 * No secret in git: the tracked files hold no Kubernetes Secret with values, no private key, no literal
 * password or token in a YAML file, and no env file, except the one development Secret the course's
 * `kubectl apply -f infra/k8s` needs (infra/k8s/dev-secrets.yaml, marked as such).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isScalar, parseAllDocuments, visit } from 'yaml';
import { REPO_ROOT, repoPath } from '../repo';

/** The only tracked file allowed to hold secret values. */
export const DEVELOPMENT_SECRET_FILE = 'infra/k8s/dev-secrets.yaml';

export interface TrackedFile {
  path: string;
  text: string;
}

/** Every file git tracks (and would commit: staged ones too), with its text; binary files are left out. */
export function trackedFiles(): TrackedFile[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return listed
    .split('\0')
    .filter((file) => file !== '')
    .flatMap((file) => {
      let text: string;
      try {
        text = readFileSync(repoPath(file), 'utf8');
      } catch {
        return []; // deleted in the working tree
      }
      return text.includes('\0') ? [] : [{ path: file, text }];
    });
}

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** An Ed25519 or X25519 private key in PKCS#8 DER, base64 (what `openssl genpkey … -outform DER | base64` prints). */
const DER_PRIVATE_KEY = /MC4CAQAwBQYDK2V[wu][A-Za-z0-9+/]{20,}/;
/** YAML keys that name a credential. */
const CREDENTIAL_KEY = /(password|passwd|token|secret|signing_?key|private_?key|api_?key)$/i;
/** A value that refers to a credential kept elsewhere: an env variable, NATS's `<< $VAR >>`. */
const REFERENCE = /^(<<\s*)?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?(\s*>>)?$/;
const ENV_FILE = /(^|\/)\.env(\..*)?$|\.env$/;

export function secretProblems(files: readonly TrackedFile[]): string[] {
  const problems: string[] = [];
  for (const { path, text } of files) {
    if (path === DEVELOPMENT_SECRET_FILE) continue;
    if (ENV_FILE.test(path)) problems.push(`${path}: an env file is tracked (keep credentials out of git)`);
    if (PEM_PRIVATE_KEY.test(text)) problems.push(`${path}: holds a PEM private key`);
    if (DER_PRIVATE_KEY.test(text)) problems.push(`${path}: holds a private key (PKCS#8 DER, base64)`);
    if (/\.ya?ml$/.test(path)) problems.push(...yamlProblems(path, text));
  }
  return problems;
}

function yamlProblems(path: string, text: string): string[] {
  const problems: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (!('contents' in doc) || doc.errors.length > 0) continue;
    const object = doc.toJS() as { kind?: unknown; data?: unknown; stringData?: unknown } | null;
    if (object?.kind === 'Secret' && (hasEntries(object.data) || hasEntries(object.stringData)))
      problems.push(`${path}: a Secret with values (generate it, or read it from a secret store)`);
    visit(doc, {
      Pair(_, pair) {
        if (!isScalar(pair.key) || !isScalar(pair.value)) return;
        const value = pair.value.value;
        if (typeof value !== 'string' || value === '' || REFERENCE.test(value.trim())) return;
        if (CREDENTIAL_KEY.test(String(pair.key.value)))
          problems.push(`${path}: ${String(pair.key.value)} is a literal credential`);
      },
    });
  }
  return problems;
}

function hasEntries(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0;
}
