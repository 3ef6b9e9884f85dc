import { JetStreamApiError } from '@nats-io/jetstream';
import { RequestError, TimeoutError } from '@nats-io/transport-node';
import { publishFault } from '../src/jetstream/jetstream-event-log';

/** As nats.js rejects a request in flight when its connection closes: its own RequestError, caused by the connection's. */
function connectionClosed(): RequestError {
  return new RequestError('connection closed', { cause: new RequestError('connection closed') });
}

describe('a failed publish to the event stream', () => {
  it.each([
    ['unanswered in time', new TimeoutError(), 'TIMEOUT'],
    ['cut off by its connection closing', connectionClosed(), 'CONNECTION_LOST'],
    [
      'refused while another publish of its id is being stored',
      new JetStreamApiError({ code: 503, err_code: 10_158, description: 'duplicate message id is in process' }),
      'ID_IN_PROCESS',
    ],
  ])('may have been stored when %s: a final refusal says so (504)', (_name, err, code) => {
    expect(publishFault(err)).toMatchObject({ code, retry: true, maybeStored: true });
  });

  it.each([
    ['refused by a server without JetStream quorum', new Error('jetstream is not enabled'), 'NO_JETSTREAM', true],
    [
      'refused by JetStream',
      new JetStreamApiError({ code: 400, err_code: 10_060, description: 'expected stream does not match' }),
      'JETSTREAM_10060',
      false,
    ],
  ])('was not stored when %s: a final refusal says nothing was (503)', (_name, err, code, retry) => {
    expect(publishFault(err)).toMatchObject({ code, retry, maybeStored: false });
  });
});
