import { parseDockerfile, stageConfig } from '../src/dockerfile';
import { realRepo } from '../src/repo';

const IMAGES = ['event-bus', 'posts', 'comments', 'query', 'moderation', 'client'];

describe('where the processes listen', () => {
  // The services listen on 127.0.0.1 unless HOST says otherwise; in a container that is unreachable from the pod's network.
  it.each(IMAGES)(
    'the %s image listens on every interface of its container (HOST=0.0.0.0) in its dev and production stages',
    (image) => {
      const stages = parseDockerfile(realRepo.readFile(`${image}/Dockerfile`) ?? '');
      expect(stageConfig(stages, 'dev')?.env.HOST).toBe('0.0.0.0');
      expect(stageConfig(stages, 'production')?.env.HOST).toBe('0.0.0.0');
    },
  );
});
