/**
 * A line-based parser of a Server-Sent Events stream (the WHATWG "event stream interpretation"): lines end
 * in CRLF, LF or CR; `field: value` lines build a message, a blank line dispatches it, `:` lines are
 * comments. Text is pushed in chunks, which may split a line (or a CRLF) anywhere.
 */

export interface SseMessage {
  /** The `event:` field, or 'message' when none was given. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
  /** The last `id:` seen on the stream so far (it carries over to later messages, as in the spec). */
  id: string;
}

const LINE_END = /\r\n|\r|\n/g;

export class SseParser {
  private partialLine = '';
  /** The previous chunk ended in CR: an LF at the start of this one belongs to the same line end. */
  private afterCarriageReturn = false;
  private started = false;
  private eventType = '';
  private dataLines: string[] = [];
  private lastEventId = '';

  /** Feeds the next chunk of decoded text; returns the messages it completed, in order. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.afterCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.afterCarriageReturn = false;

    const messages: SseMessage[] = [];
    LINE_END.lastIndex = 0;
    let lineStart = 0;
    for (let match = LINE_END.exec(text); match !== null; match = LINE_END.exec(text)) {
      const line = this.partialLine + text.slice(lineStart, match.index);
      this.partialLine = '';
      lineStart = match.index + match[0].length;
      if (match[0] === '\r' && lineStart === text.length) this.afterCarriageReturn = true;
      const message = this.takeLine(line);
      if (message) messages.push(message);
    }
    this.partialLine += text.slice(lineStart);
    return messages;
  }

  private takeLine(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.dataLines.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      default:
        // 'retry' and unknown fields do not matter to a reader that never reconnects.
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const event = this.eventType === '' ? 'message' : this.eventType;
    const hasData = this.dataLines.length > 0;
    const data = this.dataLines.join('\n');
    this.eventType = '';
    this.dataLines = [];
    return hasData ? { event, data, id: this.lastEventId } : undefined;
  }
}
