import { matchPublicRoute, resolvePublicRoute } from '../src/contracts/routes';

describe('resolvePublicRoute (ingress-nginx semantics)', () => {
  it.each([
    ['/posts/create', 'posts'],
    ['/POSTS/CREATE', 'posts'],
    ['/posts/create/', 'posts'],
    ['/posts/abc/comments', 'comments'],
    ['/posts/abc/comments/', 'comments'],
    ['/posts/abc/comments/x', 'comments'],
    ['/Posts/ABC/Comments', 'comments'],
    ['/posts', 'query'],
    ['/posts/', 'query'],
    ['/posts/abc', 'query'],
    ['/', 'client'],
    ['/assets/index-abc123.js', 'client'],
    ['/events', 'client'],
    ['/healthz', 'client'],
    ['/metrics', 'client'],
  ])('%s goes to %s', (path, backend) => {
    expect(resolvePublicRoute(path)).toBe(backend);
  });

  it('tries the longest path first, like ingress-nginx', () => {
    const routes = [
      { path: '/a', backend: 'query' as const },
      { path: '/a/b', backend: 'posts' as const },
    ];
    expect(resolvePublicRoute('/a/b/c', routes)).toBe('posts');
    expect(resolvePublicRoute('/a/c', routes)).toBe('query');
    expect(resolvePublicRoute('/z', routes)).toBeUndefined();
  });
});

describe('matchPublicRoute', () => {
  it.each(['/posts/stream', '/POSTS/Stream', '/posts/stream/'])('marks %s as the stream', (path) => {
    expect(matchPublicRoute(path)).toMatchObject({ backend: 'query', stream: true });
  });

  it.each(['/posts', '/posts/abc', '/posts/abc/comments', '/'])('marks %s as no stream', (path) => {
    expect(matchPublicRoute(path)?.stream).toBeUndefined();
  });
});
