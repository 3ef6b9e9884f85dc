/**
 * The course's flat folder, infra/k8s, applied with `kubectl apply -f infra/k8s`, holds the way in and the
 * network policies of the components the overlays choose from (kustomize reads a file only below its own
 * folder, so the components cannot share these files with it): `npm run generate` copies them there whole,
 * under a line saying where to edit.
 */
import type { GeneratedFile } from './splice';

/** Each copy in infra/k8s and the component file it is copied from. */
export const COURSE_COPIES: readonly { copy: string; source: string }[] = [
  { copy: 'infra/k8s/ingress.yaml', source: 'infra/components/ingress-nginx/ingress.yaml' },
  { copy: 'infra/k8s/network-policies.yaml', source: 'infra/components/network-policies/network-policies.yaml' },
];

export const copyNote = (source: string) =>
  `# Copied by \`npm run generate\` from ${source}, for \`kubectl apply -f infra/k8s\`: edit that file, not this one.\n`;

/**
 * The copies as `npm run generate` writes them, from each source's text as generated (`generated`, e.g. the
 * routes just written) or else as committed (`read`).
 */
export function generateCourseCopies(
  read: (file: string) => string,
  generated: readonly GeneratedFile[] = [],
): GeneratedFile[] {
  return COURSE_COPIES.map(({ copy, source }) => ({
    file: copy,
    from: source,
    text: copyNote(source) + (generated.find((file) => file.file === source)?.text ?? read(source)),
  }));
}
