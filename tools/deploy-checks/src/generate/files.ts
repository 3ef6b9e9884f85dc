/** Every file `npm run generate` writes sections of, as it writes them from their committed text. */
import { generateNatsValuesFile } from './nats-values';
import { generateRouteFiles } from './routes';
import type { GeneratedFile } from './splice';

export function generatedFiles(): GeneratedFile[] {
  return [...generateRouteFiles(), generateNatsValuesFile()];
}
