#!/usr/bin/env node
// Validates skaffold.yaml against skaffold's published JSON schema for its apiVersion
// (<schemas>/skaffold-<version>.json, e.g. skaffold-v4beta11.json), and the config every profile produces,
// alone and in each combination the docs beside it name (`skaffold … -p a,b` in README.md and docs/*.md).
//
// Usage: node tools/scripts/check-skaffold-schema.mjs [path/to/skaffold.yaml]
//   The schemas are read from SKAFFOLD_SCHEMAS_DIR, by default ../shared/schemas beside the repository
//   (present in CI). Without that folder the check is skipped (exit 0), so it can run anywhere.
// Exit: 0 valid (or skipped), 1 invalid (the errors are printed), 2 unusable input.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import jsonPatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const configPath = path.resolve(process.cwd(), process.argv[2] ?? path.join(repoRoot, 'skaffold.yaml'));
const schemasDir = path.resolve(repoRoot, process.env.SKAFFOLD_SCHEMAS_DIR ?? '../shared/schemas');
const shown = (file) => path.relative(process.cwd(), file) || file;

function fail(code, lines) {
  for (const line of [lines].flat()) console.error(line);
  process.exit(code);
}

if (!existsSync(schemasDir)) {
  console.log(
    `skaffold.yaml schema check skipped: no schemas folder at ${shown(schemasDir)} (set SKAFFOLD_SCHEMAS_DIR to check)`,
  );
  process.exit(0);
}

let documents;
try {
  documents = parseAllDocuments(readFileSync(configPath, 'utf8'), { uniqueKeys: true });
} catch (error) {
  fail(2, `${shown(configPath)}: cannot read it: ${error.message}`);
}
if (!Array.isArray(documents)) documents = [documents];
const yamlErrors = documents.flatMap((doc, i) =>
  doc.errors.map((e) => `${shown(configPath)}: document ${i + 1}: ${e.message}`),
);
if (yamlErrors.length > 0) fail(1, yamlErrors);
const configs = documents.filter((doc) => doc.contents !== null).map((doc) => doc.toJS());
if (configs.length === 0) fail(1, `${shown(configPath)}: no configuration in it`);

// The deepest errors are the informative ones: skaffold's schemas wrap most types in anyOf alternatives,
// each with additionalProperties: false, so one typo also fails every alternative above it.
function summarize(errors) {
  const deepest = errors.filter(
    (e) => !errors.some((other) => other !== e && other.instancePath.startsWith(`${e.instancePath}/`)),
  );
  const lines = deepest.map((e) => {
    const detail =
      e.keyword === 'additionalProperties'
        ? ` "${e.params.additionalProperty}"`
        : e.keyword === 'enum'
          ? `: ${e.params.allowedValues.join(', ')}`
          : '';
    return `  ${e.instancePath || '/'} ${e.message}${detail}`;
  });
  return [...new Set(lines)];
}

// Skaffold profiles are RFC 6902 patches applied to the config (an operation without `op` replaces, as in
// skaffold); skaffold validates the result too.
function applyPatches(config, patches) {
  const operations = patches.map((operation) => ({ op: 'replace', ...operation }));
  return jsonPatch.applyPatch(structuredClone(config), operations, true, false).newDocument;
}

const validators = new Map();
function validatorFor(apiVersion) {
  const match = /^skaffold\/(v\d+(?:(?:alpha|beta)\d+)?)$/.exec(String(apiVersion));
  if (!match) return { error: `apiVersion ${JSON.stringify(apiVersion)} is not a skaffold/vN… version` };
  const file = path.join(schemasDir, `skaffold-${match[1]}.json`);
  if (!validators.has(file)) {
    if (!existsSync(file)) {
      const available =
        readdirSync(schemasDir)
          .filter((name) => name.startsWith('skaffold-'))
          .join(', ') || 'none';
      return { error: `no schema for ${apiVersion}: ${shown(file)} does not exist (available: ${available})` };
    }
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    const draft = String(schema.$schema ?? '');
    if (draft && !draft.includes('draft-07') && !draft.includes('draft-06'))
      return { error: `${shown(file)} uses ${draft}; this check expects draft-07` };
    // strict: false — skaffold's schemas carry x-intellij-html-description and similar annotations.
    const ajv = new Ajv({ allErrors: true, strict: false });
    validators.set(file, { validate: ajv.compile(schema), file });
  }
  return validators.get(file);
}

// The profile sets the docs beside the file (its folder's README.md and docs/*.md) tell users to run, e.g.
// `skaffold run -p production,jetstream`: skaffold applies them in the order given.
function documentedProfileSets() {
  const root = path.dirname(configPath);
  const docs = [path.join(root, 'README.md')];
  const docsDir = path.join(root, 'docs');
  if (existsSync(docsDir))
    docs.push(
      ...readdirSync(docsDir)
        .filter((name) => name.endsWith('.md'))
        .map((name) => path.join(docsDir, name)),
    );
  const sets = new Map();
  for (const file of docs.filter((doc) => existsSync(doc))) {
    const runs = /\bskaffold (?:dev|run|render|deploy|build|delete)\b[^`\n]*?(?:-p|--profile)[ =]([\w,-]+)/g;
    for (const match of readFileSync(file, 'utf8').matchAll(runs))
      if (match[1].includes(',')) sets.set(match[1], shown(file));
  }
  return [...sets].map(([set, file]) => ({ names: set.split(','), file }));
}

const failures = [];
const schemaFiles = new Set();
configs.forEach((config, i) => {
  const name = configs.length > 1 ? `${shown(configPath)} (document ${i + 1})` : shown(configPath);
  const found = validatorFor(config?.apiVersion);
  if (found.error) {
    failures.push(`${name}: ${found.error}`);
    return;
  }
  schemaFiles.add(shown(found.file));
  const variants = [{ label: name, value: config }];
  for (const profile of Array.isArray(config.profiles) ? config.profiles : []) {
    try {
      variants.push({
        label: `${name} with profile ${profile?.name}`,
        value: applyPatches(config, profile?.patches ?? []),
      });
    } catch (error) {
      failures.push(`${name}: profile ${profile?.name}: its patches do not apply: ${error.message}`);
    }
  }
  for (const { names, file } of documentedProfileSets()) {
    const profiles = names.map((profileName) =>
      (config.profiles ?? []).find((profile) => profile?.name === profileName),
    );
    const missing = names.filter((_, index) => profiles[index] === undefined);
    if (missing.length > 0) {
      failures.push(`${name}: ${file} names the profiles ${names.join(',')}, and ${missing.join(', ')} does not exist`);
      continue;
    }
    try {
      variants.push({
        label: `${name} with profiles ${names.join(',')} (named in ${file})`,
        value: profiles.reduce((value, profile) => applyPatches(value, profile.patches ?? []), config),
      });
    } catch (error) {
      failures.push(
        `${name}: profiles ${names.join(',')} (named in ${file}): their patches do not apply: ${error.message}`,
      );
    }
  }
  for (const { label, value } of variants) {
    if (!found.validate(value))
      failures.push(`${label} is not valid against ${shown(found.file)}:`, ...summarize(found.validate.errors ?? []));
  }
});

if (failures.length > 0) fail(1, failures);
console.log(
  `${shown(configPath)} is valid against ${[...schemaFiles].join(', ')} (with every profile applied, and each set the docs name)`,
);
