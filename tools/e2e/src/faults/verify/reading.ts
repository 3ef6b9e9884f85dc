/** Reading the stack for verification: the bus history (incrementally) and the services' answers. */
import { http, type Stack } from '@blog/testkit';

export interface BusEvent {
  seq: number;
  id: string;
  type: string;
  time: string;
  data: unknown;
}

export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const answer = await http(url, { headers, timeoutMs: 10_000 });
  if (answer.status !== 200) throw new Error(`GET ${url}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  return answer.json as T;
}

/**
 * The bus history, read incrementally: the log is append-only, so events already read are kept and only
 * newer ones fetched (the last cached event is read again to check it did not change).
 */
export class HistoryReader {
  private events: BusEvent[] = [];
  private static readonly PAGE = 10_000;

  /** `stack` may be replaced meanwhile (a test restarting the stack): it is read at each call. */
  constructor(private readonly stack: () => Pick<Stack, 'url' | 'eventHeaders'>) {}

  private page(after: number, limit: number): Promise<BusEvent[]> {
    const stack = this.stack();
    return getJson<BusEvent[]>(`${stack.url('event-bus')}/events?after=${after}&limit=${limit}`, stack.eventHeaders());
  }

  async read(): Promise<BusEvent[]> {
    if (this.events.length > 0) {
      const last = this.events[this.events.length - 1] as BusEvent;
      const [again] = await this.page(last.seq - 1, 1);
      if (again?.id !== last.id) this.events = [];
    }
    for (;;) {
      const after = this.events.length;
      const page = await this.page(after, HistoryReader.PAGE);
      this.events.push(...page);
      if (page.length < HistoryReader.PAGE) return this.events;
    }
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
