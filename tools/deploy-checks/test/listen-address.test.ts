import { parseDockerfile, type Stage } from '../src/dockerfile';
import { realRepo } from '../src/repo';

const IMAGES = ['event-bus', 'posts', 'comments', 'query', 'moderation', 'client'];

/** The value of an ENV variable in a stage, following its FROM chain within the Dockerfile. */
function envOf(stages: readonly Stage[], stageName: string, variable: string): string | undefined {
  const stage = stages.find(({ name }) => name === stageName);
  if (!stage) return undefined;
  const base = stages.slice(0, stages.indexOf(stage)).some(({ name }) => name === stage.from.toLowerCase())
    ? envOf(stages, stage.from.toLowerCase(), variable)
    : undefined;
  let value = base;
  for (const { keyword, args } of stage.instructions) {
    const match = keyword === 'ENV' ? new RegExp(`(?:^|\\s)${variable}=(\\S+)`).exec(args) : null;
    if (match) value = match[1];
  }
  return value;
}

describe('where the processes listen', () => {
  // The services listen on 127.0.0.1 unless HOST says otherwise; in a container that is unreachable from the pod's network.
  it.each(IMAGES)(
    'the %s image listens on every interface of its container (HOST=0.0.0.0) in its dev and production stages',
    (image) => {
      const stages = parseDockerfile(realRepo.readFile(`${image}/Dockerfile`) ?? '');
      expect(envOf(stages, 'dev', 'HOST')).toBe('0.0.0.0');
      expect(envOf(stages, 'production', 'HOST')).toBe('0.0.0.0');
    },
  );
});
