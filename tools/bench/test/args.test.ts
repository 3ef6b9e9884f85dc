import { ArgsError, parseCliArgs, parseSizes } from '../src/args';

function options(argv: string[]) {
  const parsed = parseCliArgs(argv);
  if (parsed.help) throw new Error('expected options, got --help');
  return parsed.options;
}

describe('parseCliArgs', () => {
  it('defaults to every phase on the full profile and the local stack', () => {
    const parsed = options([]);
    expect(parsed.profile.name).toBe('full');
    expect(parsed.phases).toEqual([
      'creates',
      'propagation',
      'moderation',
      'catchup',
      'stores',
      'memory',
      'storage',
      'jetstream',
    ]);
    expect(parsed.external).toBeUndefined();
    expect(parsed.profile.catchup.sizes).toEqual([10_000, 1_000_000, 10_000_000]);
    expect(parsed.profile.catchup.logs).toEqual(['file', 'jetstream']);
  });

  it('takes --smoke, a subset of phases (run in the standard order) and catch-up sizes', () => {
    const parsed = options(['--smoke', '--phases', 'memory,creates', '--catchup', '2k,3000']);
    expect(parsed.profile.name).toBe('smoke');
    expect(parsed.phases).toEqual(['creates', 'memory']);
    expect(parsed.profile.catchup.sizes).toEqual([2_000, 3_000]);
    expect(parsed.profile.catchup.logs).toEqual(['file']);
  });

  it('takes the logs of the catch-up phase, the file log always among them', () => {
    expect(options(['--smoke', '--catchup-logs', 'jetstream, file']).profile.catchup.logs).toEqual([
      'file',
      'jetstream',
    ]);
    expect(options(['--catchup-logs', 'file']).profile.catchup.logs).toEqual(['file']);
    expect(() => parseCliArgs(['--catchup-logs', 'jetstream'])).toThrow(/the file log always runs/);
    expect(() => parseCliArgs(['--catchup-logs', 'file,kafka'])).toThrow(/unknown log "kafka"/);
  });

  it('takes the three base URLs of a running stack, bus optional, loopback only', () => {
    const parsed = options([
      '--posts',
      'http://127.0.0.1:4000/',
      '--comments',
      'http://localhost:4001',
      '--query',
      'http://127.0.0.1:4002',
    ]);
    expect(parsed.external).toEqual({
      posts: 'http://127.0.0.1:4000',
      comments: 'http://localhost:4001',
      query: 'http://127.0.0.1:4002',
    });
    expect(() => parseCliArgs(['--posts', 'http://127.0.0.1:1', '--comments', 'http://127.0.0.1:2'])).toThrow(
      /go together/,
    );
    expect(() =>
      parseCliArgs([
        '--posts',
        'http://10.0.0.1:1',
        '--comments',
        'http://127.0.0.1:2',
        '--query',
        'http://127.0.0.1:3',
      ]),
    ).toThrow(/only sends traffic to 127.0.0.1/);
    expect(() => parseCliArgs(['--bus', 'http://127.0.0.1:4005'])).toThrow(/goes with/);
  });

  it('rejects unknown flags, phases and sizes with an ArgsError naming them', () => {
    expect(() => parseCliArgs(['--fast'])).toThrow(ArgsError);
    expect(() => parseCliArgs(['--fast'])).toThrow(/--fast/);
    expect(() => parseCliArgs(['--phases', 'creates,speed'])).toThrow(/unknown phase "speed"/);
    expect(() => parseCliArgs(['extra'])).toThrow(ArgsError);
    expect(() => parseSizes('0')).toThrow(/"0"/);
    expect(() => parseSizes('1e6')).toThrow(ArgsError);
  });

  it('answers --help', () => {
    expect(parseCliArgs(['-h'])).toEqual({ help: true });
  });

  it('reads k and M suffixes', () => {
    expect(parseSizes('100k, 1M ,1_000')).toEqual([100_000, 1_000_000, 1_000]);
  });
});
