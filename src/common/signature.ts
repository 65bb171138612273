// Signed webhooks: an HMAC-SHA256 over a timestamp and the body, so a receiver can tell a sender that holds
// the shared secret from anyone else, and a fresh request from a replayed one.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying `sha256=<hex>`; the name follows GitHub's `X-Hub-Signature-256` scheme. */
export const SIGNATURE_HEADER = 'x-sidekick-signature';
/** Header carrying the send time in whole seconds since the epoch; covered by the signature. */
export const TIMESTAMP_HEADER = 'x-sidekick-timestamp';

/**
 * `sha256=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`). Signing the timestamp with the body (as Stripe's
 * webhooks do) is what makes an old request unusable: changing its timestamp breaks the signature.
 */
export function signBody(secret: string, timestamp: number, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The two headers a signed request carries, for `body` sent at `nowMs` (default now). */
export function signatureHeaders(secret: string, body: string, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signBody(secret, timestamp, body) };
}

/** Whether `signature` is `signBody(secret, timestamp, body)`, compared in constant time. */
export function signatureMatches(secret: string, timestamp: number, body: string | Buffer, signature: string): boolean {
  return sameSecret(signBody(secret, timestamp, body), signature);
}

/** Compares two secrets (tokens, signatures) without leaking through timing how much of them matched. */
export function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
