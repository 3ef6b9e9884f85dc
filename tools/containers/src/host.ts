/**
 * What the container step needs from the machine: Debian's podman, runc and debootstrap (installed when
 * missing), the Debian mirror apt uses, and the certificate authorities and registry npm uses here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { check, onPath, run } from './proc';

/** Debian packages and the program each provides. No recommends: buildah, fuse-overlayfs, uidmap and slirp4netns are for rootless or overlay setups. */
const TOOLS: readonly { program: string; pkg: string }[] = [
  { program: 'podman', pkg: 'podman' },
  { program: 'runc', pkg: 'runc' },
  { program: 'debootstrap', pkg: 'debootstrap' },
];

export function assertRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      'the container step needs root: it installs packages, runs debootstrap and uses root podman (run it as root, as CI does)',
    );
  }
}

/** Installs the missing tools with apt-get; returns the packages it installed. */
export async function ensureTools(logFile: string): Promise<string[]> {
  const missing: string[] = [];
  for (const { program, pkg } of TOOLS) if (!(await onPath(program))) missing.push(pkg);
  if (missing.length === 0) return [];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await check('apt-get', ['update', '-qq'], { env, logFile });
  await check('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, logFile });
  return missing;
}

/** A `deb` source of this machine's apt: its first URI and its suites. */
interface AptSource {
  uri: string;
  suites: string[];
}

/** The `deb` sources apt is configured with, deb822 stanzas and one-line entries, in apt's order. */
function aptSources(): AptSource[] {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir))
    for (const name of readdirSync(dir).sort()) if (/\.(list|sources)$/.test(name)) files.push(path.join(dir, name));
  const sources: AptSource[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
        const uri = field('URIs')?.split(/\s+/)[0];
        if (uri && /\bdeb\b/.test(field('Types') ?? '') && !/^enabled:\s*no\s*$/im.test(stanza))
          sources.push({ uri, suites: (field('Suites') ?? '').split(/\s+/).filter(Boolean) });
      }
    } else {
      for (const line of text.split('\n')) {
        const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/.exec(line.trim());
        if (match?.[1] && match[2]) sources.push({ uri: match[1], suites: [match[2]] });
      }
    }
  }
  return sources;
}

/** The Debian mirror apt is configured with (the source of a plain release such as bookworm), or deb.debian.org. */
export function debianMirror(): string {
  const found = aptSources().find((source) => !/security/.test(source.uri) && /^[a-z]+$/.test(source.suites[0] ?? ''));
  return found?.uri ?? 'http://deb.debian.org/debian';
}

/** Where apt gets Debian's security updates here (the source of a `<release>-security` suite), if it does. */
export function debianSecurityMirror(): string | undefined {
  return aptSources().find((source) => source.suites.some((suite) => /^[a-z]+-security$/.test(suite)))?.uri;
}

/** npm's registry on this machine. */
export async function npmRegistry(): Promise<string> {
  const result = await run('npm', ['config', 'get', 'registry']);
  const registry = result.stdout.trim();
  return result.code === 0 && /^https?:\/\//.test(registry) ? registry : 'https://registry.npmjs.org/';
}

/**
 * The certificate authorities npm inside a build must trust to reach the registry from this machine:
 * Node's own list plus every bundle the machine points its tools at (NODE_EXTRA_CA_CERTS, npm's cafile,
 * SSL_CERT_FILE). Here the registry is reached through a TLS-intercepting proxy whose CA is only in those
 * bundles. npm's `cafile` replaces its list rather than adding to it, hence Node's list too.
 */
export async function trustedCertificates(): Promise<{ pem: string; sources: string[] }> {
  const candidates = [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE];
  const cafile = await run('npm', ['config', 'get', 'cafile']);
  if (cafile.code === 0) candidates.push(cafile.stdout.trim());
  const sources = [
    ...new Set(
      candidates.filter(
        (file): file is string =>
          typeof file === 'string' && file !== '' && file !== 'null' && file !== 'undefined' && existsSync(file),
      ),
    ),
  ];
  const certificates = new Set<string>(tls.rootCertificates.map((pem) => pem.trim()));
  for (const file of sources) {
    for (const match of readFileSync(file, 'utf8').matchAll(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
    ))
      certificates.add(match[0].trim());
  }
  return { pem: `${[...certificates].join('\n')}\n`, sources };
}
