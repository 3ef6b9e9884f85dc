/**
 * `npm run generate:crd-schemas -- --project <owner/name> --version <tag> --kinds <Kind,…> [--source-path <path>] <dir>`
 *
 * Reads the CustomResourceDefinitions in the YAML files under <dir> (a folder of the project at that tag, e.g.
 * `git archive` of it), and writes a strict JSON schema fact per served version of each kind asked for to
 * tools/deploy-checks/facts/crd-schemas/<group>_<version>_<kind>.json. --source-path is <dir>'s path inside
 * the project, recorded with each file name; --out <folder> writes elsewhere. Fails when a kind asked for is not
 * found.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CRD_SCHEMAS_DIR, crdSchemaFacts, crdSchemaFileName, type CrdSchemaFact } from '../crd-schemas';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return yamlFiles(full);
      return /\.ya?ml$/.test(name) ? [full] : [];
    });
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      project: { type: 'string' },
      version: { type: 'string' },
      kinds: { type: 'string' },
      'source-path': { type: 'string', default: '.' },
      out: { type: 'string', default: CRD_SCHEMAS_DIR },
    },
  });
  const [dir] = positionals;
  const { project, version, kinds: kindList, out } = values;
  if (dir === undefined || positionals.length > 1 || !project || !version || !kindList || out === undefined)
    throw new Error(
      'usage: generate:crd-schemas --project <owner/name> --version <tag> --kinds <Kind,…> [--source-path <path>] <dir>',
    );
  const kinds = new Set(kindList.split(',').map((kind) => kind.trim()));
  const facts: CrdSchemaFact[] = [];
  for (const file of yamlFiles(dir)) {
    const inProject = path.posix.normalize(
      path.posix.join(values['source-path'] ?? '.', path.relative(dir, file).split(path.sep).join('/')),
    );
    facts.push(...crdSchemaFacts(readFileSync(file, 'utf8'), { project, version, file: inProject }, kinds));
  }
  const missing = [...kinds].filter((kind) => !facts.some((fact) => fact.kind === kind));
  if (missing.length > 0) throw new Error(`no CRD of ${missing.join(', ')} in ${dir}`);
  mkdirSync(out, { recursive: true });
  for (const fact of facts) {
    const name = crdSchemaFileName(fact.apiVersion, fact.kind);
    writeFileSync(path.join(out, name), `${JSON.stringify(fact)}\n`);
    console.log(`${name}: from ${fact.source.project} ${fact.source.version} ${fact.source.file}`);
  }
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
