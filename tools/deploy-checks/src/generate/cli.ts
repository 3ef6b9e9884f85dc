/** `npm run generate`: writes the generated sections of the manifests (routes.ts) and says which files changed. */
import { writeFileSync } from 'node:fs';
import { readRepoFile, repoPath } from '../repo';
import { generateRouteFiles } from './routes';

for (const { file, text } of generateRouteFiles()) {
  if (readRepoFile(file) === text) {
    console.log(`${file}: up to date`);
  } else {
    writeFileSync(repoPath(file), text);
    console.log(`${file}: written`);
  }
}
