import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { OtlpReceiver, SPAN_KIND } from '../src';

const EXPORT_SPANS = path.join(__dirname, 'fixtures', 'export-spans.cjs');

interface Ids {
  traceId: string;
  spanId: string;
}

const receivers: OtlpReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function started(): Promise<OtlpReceiver> {
  const receiver = await OtlpReceiver.start();
  receivers.push(receiver);
  return receiver;
}

describe.each(['json', 'protobuf'] as const)('the OTLP receiver, sent OTLP/%s by the SDK exporter', (encoding) => {
  it('keeps each span with its service, ids, parent, kind, attributes and links', async () => {
    const receiver = await started();
    const { stdout } = await promisify(execFile)(process.execPath, [EXPORT_SPANS, receiver.url, encoding], {
      timeout: 30_000,
    });
    const sent = JSON.parse(stdout) as Record<'linked' | 'parent' | 'child', Ids>;
    await receiver.waitForSpans((spans) => spans.length === 3);

    expect(receiver.spans.find((span) => span.name === 'child')).toEqual({
      service: 'tested',
      traceId: sent.parent.traceId,
      spanId: sent.child.spanId,
      parentSpanId: sent.parent.spanId,
      name: 'child',
      kind: SPAN_KIND.consumer,
      attributes: { text: 'a', count: 3, ratio: 0.5, flag: true },
      links: [sent.linked],
    });
    expect(receiver.spans.find((span) => span.name === 'parent')).toMatchObject({ ...sent.parent, parentSpanId: '' });
    expect([...receiver.encodings]).toEqual([encoding]);
    expect(receiver.refused).toEqual([]);
  });
});

it('refuses, with a 400, a body that is not an export request in the encoding it names', async () => {
  const receiver = await started();
  const post = (type: string, body: string) =>
    fetch(`${receiver.url}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });
  expect((await post('application/json', 'not json')).status).toBe(400);
  expect((await post('application/x-protobuf', '\u00ff\u00ff\u00ff')).status).toBe(400);
  expect((await post('text/plain', 'spans')).status).toBe(400);
  expect(receiver.refused).toEqual([
    'not OTLP/json',
    'not OTLP/protobuf',
    'content-type text/plain: only OTLP/JSON and OTLP/protobuf are read',
  ]);
  expect(receiver.spans).toEqual([]);
});
