/** Every file `npm run generate` writes sections of, as it writes them from their committed text. */
import { readRepoFile } from '../repo';
import { generateCourseCopies } from './course-copies';
import { generateNatsValuesFile } from './nats-values';
import { generatePrometheusRule } from './prometheus-rule';
import { generateRouteFiles } from './routes';
import type { GeneratedFile } from './splice';

export function generatedFiles(): GeneratedFile[] {
  const routeFiles = generateRouteFiles();
  return [
    ...routeFiles,
    ...generateCourseCopies(readRepoFile, routeFiles),
    generateNatsValuesFile(),
    generatePrometheusRule(),
  ];
}
