// Who may make heal act: a POSTed event is accepted only with a valid HMAC signature over a fresh timestamp and
// the body, seen once, or with the bearer token. Everything else is refused with a reason that is counted.
import type { IncomingHttpHeaders } from 'node:http';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, sameSecret, signatureMatches } from '../common/signature';

/** Why an event was refused (the `reason` label of sidekick_heal_events_rejected_total). */
export type RejectReason = 'disabled' | 'unsigned' | 'bad_signature' | 'stale' | 'replayed' | 'bad_token';

export interface AuthOptions {
  secret?: string;
  token?: string;
  /** A signed event is accepted only if its timestamp is within this much of heal's clock, either way. */
  replayWindowMs: number;
}

export type AuthResult = { ok: true; via: 'signature' | 'token' } | { ok: false; reason: RejectReason };

const MAX_REMEMBERED = 100_000;

export class EventAuth {
  /** Signatures accepted, until their timestamp leaves the window; a second use is a replay. Insertion-ordered. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly opts: AuthOptions) {}

  /** Whether events can be accepted at all (a secret or a token is configured). */
  get enabled(): boolean {
    return this.opts.secret !== undefined || this.opts.token !== undefined;
  }

  check(headers: IncomingHttpHeaders, body: Buffer, nowMs = Date.now()): AuthResult {
    if (!this.enabled) return { ok: false, reason: 'disabled' };
    const signature = one(headers[SIGNATURE_HEADER]);
    if (signature !== undefined) return this.checkSignature(signature, one(headers[TIMESTAMP_HEADER]), body, nowMs);
    const authorization = one(headers.authorization);
    if (authorization !== undefined) {
      const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
      if (m && this.opts.token !== undefined && sameSecret(this.opts.token, m[1]!)) return { ok: true, via: 'token' };
      return { ok: false, reason: 'bad_token' };
    }
    return { ok: false, reason: 'unsigned' };
  }

  private checkSignature(signature: string, timestampText: string | undefined, body: Buffer, nowMs: number): AuthResult {
    const secret = this.opts.secret;
    if (secret === undefined) return { ok: false, reason: 'bad_signature' };
    if (timestampText === undefined || !/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: 'stale' };
    const timestamp = Number(timestampText);
    if (Math.abs(nowMs - timestamp * 1000) > this.opts.replayWindowMs) return { ok: false, reason: 'stale' };
    if (!signatureMatches(secret, timestamp, body, signature)) return { ok: false, reason: 'bad_signature' };
    this.forgetExpired(nowMs);
    if (this.seen.has(signature)) return { ok: false, reason: 'replayed' };
    this.seen.set(signature, timestamp * 1000 + this.opts.replayWindowMs);
    return { ok: true, via: 'signature' };
  }

  private forgetExpired(nowMs: number): void {
    for (const [sig, expires] of this.seen) {
      if (expires > nowMs && this.seen.size < MAX_REMEMBERED) break;
      this.seen.delete(sig);
    }
  }
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
