import { SseParser, type SseMessage } from '../src/sse';

function parseAll(chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe('SseParser', () => {
  it('reads named events with ids and data', () => {
    const messages = parseAll([
      'id: 7\nevent: snapshot\ndata: {"a":1}\n\nid: 8\nevent: PostCreated\ndata: {"id":"p"}\n\n',
    ]);
    expect(messages).toEqual([
      { id: '7', event: 'snapshot', data: '{"a":1}' },
      { id: '8', event: 'PostCreated', data: '{"id":"p"}' },
    ]);
  });

  it('gives the same messages however the text is cut into chunks', () => {
    const text =
      'retry: 1000\n\nid: 1\r\nevent: A\r\ndata: x\r\n\r\n: ping\n\nid: 2\revent: B\rdata: y\r\rdata: no event\n\n';
    const whole = parseAll([text]);
    expect(whole).toEqual([
      { id: '1', event: 'A', data: 'x' },
      { id: '2', event: 'B', data: 'y' },
      { id: '2', event: 'message', data: 'no event' },
    ]);
    for (let cut = 1; cut < text.length; cut++) {
      expect(parseAll([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    }
    expect(parseAll([...text])).toEqual(whole);
  });

  it('does not take a CR at a chunk end and an LF at the next start for two line ends', () => {
    expect(parseAll(['data: a\r', '\ndata: b\r', '\n\r', '\n'])).toEqual([{ id: '', event: 'message', data: 'a\nb' }]);
  });

  it('joins data lines with newlines, strips one leading space only, ignores comments and unknown fields', () => {
    expect(parseAll([': comment\ndata:  two spaces\ndata\nfoo: bar\ndata:x\n\n'])).toEqual([
      { id: '', event: 'message', data: ' two spaces\n\nx' },
    ]);
  });

  it('dispatches nothing for a block without data, and forgets its event type', () => {
    expect(parseAll(['event: lonely\nid: 3\n\ndata: later\n\n'])).toEqual([
      { id: '3', event: 'message', data: 'later' },
    ]);
  });

  it('keeps a message that is not yet terminated until its blank line comes', () => {
    const parser = new SseParser();
    expect(parser.push('data: {"big":')).toEqual([]);
    expect(parser.push('"value"}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ id: '', event: 'message', data: '{"big":"value"}' }]);
  });

  it('skips a byte-order mark at the very start only', () => {
    expect(parseAll(['\uFEFFdata: a\n\n', '\uFEFFdata: b\n\n'])).toEqual([{ id: '', event: 'message', data: 'a' }]);
  });
});
