/** Every way the repository deploys with kustomize, rendered by kubectl once per test file that asks. */
import {
  componentCombinations,
  OVERLAY_NAMESPACE,
  overlayDir,
  OVERLAYS,
  renderComponents,
  COMBINATION_NAMESPACE,
  type Overlay,
} from '../../src/environments';
import { renderKustomization } from '../../src/kustomize';
import type { Manifest } from '../../src/manifests';

export interface Render {
  /** The overlay's folder, or the components rendered on the base. */
  name: string;
  manifests: Manifest[];
  /** What parsing kubectl's output found. */
  problems: string[];
  /** The namespace every object of it is in. */
  namespace: string;
  /** The overlay, when it is one. */
  overlay?: Overlay;
  components?: readonly string[];
}

const overlays = new Map<Overlay, Render>();

export function overlayRender(overlay: Overlay): Render {
  const found = overlays.get(overlay);
  if (found) return found;
  const render: Render = {
    name: overlayDir(overlay),
    ...renderKustomization(overlayDir(overlay)),
    namespace: OVERLAY_NAMESPACE[overlay],
    overlay,
  };
  overlays.set(overlay, render);
  return render;
}

/** The overlays' renders, then each combination of the components. */
export function allRenders(): Render[] {
  return [
    ...OVERLAYS.map(overlayRender),
    ...componentCombinations().map((components) => ({
      name: `components ${components.join(' + ')}`,
      ...renderComponents(components),
      namespace: COMBINATION_NAMESPACE,
      components,
    })),
  ];
}
