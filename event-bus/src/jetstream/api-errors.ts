import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** JetStream's answer for a stream (or a bucket's) that does not exist. */
export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

/** JetStream's answer to a compare-and-set that lost: the subject is not at the revision expected. */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
