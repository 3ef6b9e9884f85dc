/**
 * Where a process spent its CPU, from a V8 CPU profile (`node --cpu-prof`): self time summed by where the
 * code lives (a package, a module of Node itself, one of the blog's workspaces), idle time left out.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** A package (`express`), Node's own module (`node:_http_server`), a workspace (`posts (the blog)`), or a VM entry (`(garbage collector)`). */
  where: string;
  /** Share of the busy (not idle) samples. */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: SelfTime[];
}

const IDLE = '(idle)';

export function summarizeProfile(
  file: string,
  { top = 12, workspaceRoot }: { top?: number; workspaceRoot: string },
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byPlace = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0;
    const frame = frames.get(id);
    if (!frame || frame.functionName === IDLE) {
      idleUs += micros;
      return;
    }
    busyUs += micros;
    const place = placeOf(frame, workspaceRoot);
    byPlace.set(place, (byPlace.get(place) ?? 0) + micros);
  });
  return {
    busyMs: busyUs / 1_000,
    idleMs: idleUs / 1_000,
    top: [...byPlace]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, micros]) => ({ where, share: busyUs > 0 ? micros / busyUs : 0 })),
  };
}

function placeOf({ functionName, url }: ProfileNode['callFrame'], workspaceRoot: string): string {
  const path = url.replace(/^file:\/\//, '');
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (inPackage) return inPackage[1] as string;
  if (path.startsWith('node:')) return `node:${path.slice('node:'.length).split('/')[0]}`;
  if (path.startsWith(workspaceRoot))
    return `${path.slice(workspaceRoot.length).replace(/^\//, '').split('/')[0]} (the blog)`;
  // Native code (writev, fdatasync…) and the VM's own entries ((garbage collector), (program)).
  return path === '' ? functionName || '(native)' : path;
}
