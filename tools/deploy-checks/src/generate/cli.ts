/**
 * `npm run generate`: writes the generated sections of the manifests and values (the route rules, routes.ts;
 * the bus's NATS permissions, nats-values.ts; the PrometheusRule, prometheus-rule.ts) and says which files changed.
 */
import { writeFileSync } from 'node:fs';
import { readRepoFile, repoFileExists, repoPath } from '../repo';
import { generatedFiles } from './files';

for (const { file, text } of generatedFiles()) {
  if (repoFileExists(file) && readRepoFile(file) === text) {
    console.log(`${file}: up to date`);
  } else {
    writeFileSync(repoPath(file), text);
    console.log(`${file}: written`);
  }
}
