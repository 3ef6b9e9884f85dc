import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { HttpError } from '../service/http-error';

/**
 * The bus signs every delivery it sends (the exact bytes of the request body) with an Ed25519 key only it
 * holds; a service holding the public key applies only deliveries that carry a valid signature. Publishers
 * hold no signing key, so none of them can pass an event off as one the bus stored.
 *
 * A genuine delivery sent again (replayed) changes nothing: its events are the bus's own, and a service
 * passes over a seq it has already applied.
 */
export const DELIVERY_SIGNATURE_HEADER = 'blog-delivery-signature';

/** The signature header's value for a delivery body: base64 of the Ed25519 signature. */
export function signDelivery(body: string | Buffer, signingKey: KeyObject): string {
  return sign(null, typeof body === 'string' ? Buffer.from(body) : body, signingKey).toString('base64');
}

/** The signature header of a delivery body, for a signing key in base64 DER or PEM; none without a key. */
export function deliveryHeadersFor(signingKey: string | undefined, body: string | Buffer): Record<string, string> {
  return signingKey === undefined
    ? {}
    : { [DELIVERY_SIGNATURE_HEADER]: signDelivery(body, parseSigningKey(signingKey)) };
}

/** Whether `signature` (the header's value) is the bus's signature of `body`. */
export function isSignedDelivery(body: Buffer, signature: string | undefined, publicKey: KeyObject): boolean {
  if (signature === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  return verify(null, body, publicKey, Buffer.from(signature, 'base64'));
}

/** Parses an Ed25519 private key: PEM, or base64 of its PKCS#8 DER form. Throws a message naming what is wrong. */
export function parseSigningKey(text: string): KeyObject {
  const key = text.includes('-----BEGIN')
    ? createPrivateKey(text)
    : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`is a ${key.asymmetricKeyType ?? 'unknown'} key; it must be an Ed25519 key`);
  return key;
}

/**
 * Parses an Ed25519 public key: PEM, or base64 of its SPKI DER form. A private key is refused, though
 * Node would derive the public key from it: a service must not hold the bus's signing key.
 */
export function parsePublicKey(text: string): KeyObject {
  if (text.includes('PRIVATE KEY')) throw new Error('is a private key: a service gets only the public key');
  const key = text.includes('-----BEGIN')
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`is a ${key.asymmetricKeyType ?? 'unknown'} key; it must be an Ed25519 key`);
  return key;
}

/** Refuses a delivery without the signature header before its body is read. */
export function requireDeliverySignatureHeader(): RequestHandler {
  return (req, _res, next) => {
    if (req.headers[DELIVERY_SIGNATURE_HEADER] === undefined) {
      next(
        new HttpError(
          401,
          `deliveries must be signed by the event bus (header ${DELIVERY_SIGNATURE_HEADER}); this service applies only events the bus stored`,
        ),
      );
      return;
    }
    next();
  };
}

/**
 * A body parser's `verify` option: the raw body must be signed by the bus. A throw stops the parser, and
 * the request is answered 401 with nothing applied.
 */
export function verifyDeliveryBody(publicKey: KeyObject): (req: IncomingMessage, res: unknown, body: Buffer) => void {
  return (req, _res, body) => {
    const signature = req.headers[DELIVERY_SIGNATURE_HEADER];
    if (!isSignedDelivery(body, typeof signature === 'string' ? signature : undefined, publicKey)) {
      throw new HttpError(401, "the delivery signature does not match its body: not signed by this blog's event bus");
    }
  };
}
