// Pushes events to webhook URLs: one ordered, bounded queue per URL, POSTed with retry and exponential backoff
// with jitter. Failures are logged and counted, never thrown: a broken receiver must not stop the program.
import type { Logger } from './log';
import { signatureHeaders } from './signature';

export interface WebhookTarget {
  url: string;
  headers?: Record<string, string>;
  /** Per-request timeout; default 5 s. */
  timeoutMs?: number;
  /** Shared secret: each attempt carries X-Sidekick-Timestamp and X-Sidekick-Signature (see signature.ts). */
  secret?: string;
}

export interface WebhookOptions {
  targets: WebhookTarget[];
  logger: Logger;
  /** Events waiting per URL besides the one in flight; when full the oldest is dropped (and counted). Default 1000. */
  maxQueue?: number;
  /** Attempts per event before it is given up (and counted). Default 8. */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt up to maxBackoffMs, with ±25% jitter. Default 500 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface WebhookStats {
  /** Events accepted by a receiver (2xx). */
  delivered: number;
  /** Events given up: rejected with a 4xx or failed on every attempt. */
  failed: number;
  /** Events pushed out of a full queue. */
  dropped: number;
  /** Failed attempts that were retried. */
  retries: number;
  /** Events waiting now. */
  queued: number;
}

/** Sends one HTTP request; resolves to undefined on 2xx, otherwise to why it failed and whether a retry may help. */
export async function httpCall(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ why: string; retry: boolean } | undefined> {
  // undici is loaded on first use so that one-shot commands that never push do not pay for it at start-up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { request } = require('undici') as typeof import('undici');
  try {
    const res = await request(url, { method: method as 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    if (res.statusCode >= 200 && res.statusCode < 300) return undefined;
    // 408, 429 and 5xx are worth another try; any other 4xx will not get better.
    return { why: `status ${res.statusCode}`, retry: res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500 };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return { why: `timed out after ${timeoutMs} ms`, retry: true };
    return { why: e.cause?.code ?? e.code ?? e.message, retry: true };
  }
}

/**
 * How a webhook URL appears in logs: its origin only, because tokens often live in the path or query
 * (Slack hooks, Uptime Kuma push tokens), not only in user:password@.
 */
export function where(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}

class Queue {
  private readonly events: string[] = [];
  private busy = false;
  private closed = false;
  private wake?: () => void;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly target: WebhookTarget,
    private readonly opts: Required<Omit<WebhookOptions, 'targets'>>,
    private readonly stats: WebhookStats,
    private readonly changed: () => void,
  ) {}

  get length(): number {
    return this.events.length;
  }

  push(body: string): void {
    if (this.events.length >= this.opts.maxQueue) {
      this.events.shift();
      this.stats.dropped++;
      this.opts.logger.warn({ webhook: where(this.target.url), max_queue: this.opts.maxQueue }, 'webhook queue full: dropped the oldest event');
    }
    this.events.push(body);
    this.changed();
    if (!this.busy) void this.drain();
  }

  /** Resolves when nothing waits or is in flight. */
  flushed(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops waiting between retries; what is left is abandoned. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    const { logger, maxAttempts, backoffMs, maxBackoffMs } = this.opts;
    while (this.events.length > 0 && !this.closed) {
      const body = this.events.shift()!;
      this.changed();
      let delivered = false;
      for (let attempt = 1; attempt <= maxAttempts && !this.closed; attempt++) {
        // Signed per attempt: a retry carries a fresh timestamp, so the receiver's replay window does not refuse it.
        const signed = this.target.secret ? signatureHeaders(this.target.secret, body) : {};
        const headers = { 'content-type': 'application/json', ...this.target.headers, ...signed };
        const failure = await httpCall(this.target.url, 'POST', headers, body, this.target.timeoutMs ?? 5000);
        if (!failure) {
          delivered = true;
          break;
        }
        const last = !failure.retry || attempt === maxAttempts;
        const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
        logger.warn(
          { webhook: where(this.target.url), attempt, of: maxAttempts, why: failure.why, retry_in_ms: last ? undefined : Math.round(delay) },
          failure.retry ? 'webhook failed' : 'webhook rejected the event',
        );
        if (last) break;
        this.stats.retries++;
        await this.sleep(delay);
      }
      if (delivered) this.stats.delivered++;
      else {
        this.stats.failed++;
        if (!this.closed) logger.error({ webhook: where(this.target.url) }, 'webhook gave up on an event');
      }
    }
    this.busy = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export class Webhooks {
  readonly stats: WebhookStats = { delivered: 0, failed: 0, dropped: 0, retries: 0, queued: 0 };
  private readonly queues: Queue[];
  private readonly logger: Logger;

  constructor(opts: WebhookOptions) {
    const settings = { logger: opts.logger, maxQueue: opts.maxQueue ?? 1000, maxAttempts: opts.maxAttempts ?? 8, backoffMs: opts.backoffMs ?? 500, maxBackoffMs: opts.maxBackoffMs ?? 30_000 };
    this.logger = opts.logger;
    this.queues = opts.targets.map((t) => new Queue(t, settings, this.stats, () => this.recount()));
  }

  send(event: unknown): void {
    if (this.queues.length === 0) return;
    const body = JSON.stringify(event);
    for (const q of this.queues) q.push(body);
  }

  /** Waits up to `ms` for queued events to go out, then abandons the rest (logged). */
  async close(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.queues.map((q) => q.flushed())), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    for (const q of this.queues) q.close();
    if (this.stats.queued > 0) this.logger.warn({ queued: this.stats.queued }, 'webhook events still undelivered at shutdown');
  }

  private recount(): void {
    this.stats.queued = this.queues.reduce((n, q) => n + q.length, 0);
  }
}
