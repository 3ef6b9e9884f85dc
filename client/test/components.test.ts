/** What the page's components render for long and right-to-left text (React's server renderer, in node). */
import { createElement as h } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { CharacterCount, describeLength } from '../src/components/CharacterCount';
import { CommentList } from '../src/components/CommentList';
import { OLDER_COMMENTS_LABEL, OLDER_POSTS_LABEL, PostList } from '../src/components/PostList';
import { TextForm } from '../src/components/TextForm';

describe('the character count', () => {
  it('says nothing far from the limit, the count near it, and how many too many past it', () => {
    expect(describeLength(10, 200)).toBeNull();
    expect(describeLength(160, 200)).toEqual({ text: '160 / 200 characters', over: false });
    expect(describeLength(200, 200)).toEqual({ text: '200 / 200 characters', over: false });
    expect(describeLength(300, 200)).toEqual({ text: '300 / 200 characters: 100 too many', over: true });
  });

  it('renders as a polite live region, marked when over the limit', () => {
    expect(renderToStaticMarkup(h(CharacterCount, { id: 'n', length: 10, max: 200 }))).toBe('');
    expect(renderToStaticMarkup(h(CharacterCount, { id: 'n', length: 1001, max: 1000 }))).toBe(
      '<p id="n" class="char-count char-count--over" aria-live="polite">1001 / 1000 characters: 1 too many</p>',
    );
  });
});

describe('text direction', () => {
  const rtlTitle = 'مرحبا بالعالم!';
  const hebrew = 'שלום עולם!';

  it('lets the browser pick each title’s and comment’s direction from its text (dir="auto")', () => {
    const posts = [
      { id: 'p1', title: rtlTitle, comments: [{ id: 'c1', content: hebrew, status: 'approved' as const }] },
    ];
    const markup = renderToStaticMarkup(
      h(PostList, {
        posts,
        loaded: true,
        loadError: null,
        onRetry: () => undefined,
        onCreateComment: () => Promise.resolve(),
      }),
    );
    expect(markup).toContain(`<h3 class="post-card__title" dir="auto">${rtlTitle}</h3>`);
    expect(
      renderToStaticMarkup(h(CommentList, { comments: [{ id: 'c1', content: hebrew, status: 'approved' }] })),
    ).toMatch(new RegExp(`<li [^>]*dir="auto"[^>]*>${hebrew}</li>`));
  });

  it('types into an input that follows the text’s direction, with no maxLength cutting a paste short', () => {
    const markup = renderToStaticMarkup(
      h(TextForm, { label: 'Title', name: 'title', maxLength: 200, onSubmit: () => Promise.resolve() }),
    );
    expect(markup).toMatch(/<input [^>]*dir="auto"/);
    expect(markup).not.toMatch(/maxlength/i);
    expect(markup).toContain('>Submit</button>');
  });
});

describe('older pages', () => {
  const base = { loaded: true, loadError: null, onRetry: () => undefined, onCreateComment: () => Promise.resolve() };

  it("offers older posts and a post's older comments only where there are some", () => {
    const posts = [
      { id: 'p1', title: 'many', comments: [], olderComments: '/posts/p1/comments?limit=100&before=9' },
      { id: 'p2', title: 'few', comments: [] },
    ];
    const markup = renderToStaticMarkup(
      h(PostList, {
        ...base,
        posts,
        hasOlderPosts: true,
        onLoadOlderPosts: () => Promise.resolve(),
        onLoadOlderComments: () => Promise.resolve(),
      }),
    );
    expect(markup.split(OLDER_POSTS_LABEL)).toHaveLength(2);
    expect(markup.split(OLDER_COMMENTS_LABEL)).toHaveLength(2);
    expect(markup.indexOf(OLDER_COMMENTS_LABEL)).toBeLessThan(markup.indexOf('few'));
    const none = renderToStaticMarkup(
      h(PostList, {
        ...base,
        posts: [posts[1]!],
        hasOlderPosts: false,
        onLoadOlderPosts: () => Promise.resolve(),
        onLoadOlderComments: () => Promise.resolve(),
      }),
    );
    expect(none).not.toContain(OLDER_POSTS_LABEL);
    expect(none).not.toContain(OLDER_COMMENTS_LABEL);
  });
});
