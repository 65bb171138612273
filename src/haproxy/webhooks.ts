// Delivers events to webhook URLs: one ordered, bounded queue per URL, POST with retry and exponential backoff.
import { request } from 'undici';
import { safeUrl, type Logger } from '../common/log';

export interface WebhookOptions {
  urls: string[];
  logger: Logger;
  /** Events waiting per URL; when full the oldest is dropped (and counted). Default 1000. */
  maxQueue?: number;
  /** Attempts per event before it is given up (and counted). Default 8. */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt up to maxBackoffMs. Default 500 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
}

export interface WebhookStats {
  delivered: number;
  failed: number;
  dropped: number;
  queued: number;
}

class Target {
  readonly queue: string[] = [];
  busy = false;
  wake: (() => void) | undefined;
  constructor(readonly url: string) {}
}

export class WebhookSender {
  readonly stats: WebhookStats = { delivered: 0, failed: 0, dropped: 0, queued: 0 };
  private readonly targets: Target[];
  private readonly maxQueue: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private closing = false;
  private idle: (() => void)[] = [];

  constructor(private readonly opts: WebhookOptions) {
    this.targets = opts.urls.map((u) => new Target(u));
    this.maxQueue = opts.maxQueue ?? 1000;
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.backoffMs = opts.backoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30000;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  send(event: unknown): void {
    const body = JSON.stringify(event);
    for (const t of this.targets) {
      if (t.queue.length >= this.maxQueue) {
        t.queue.shift();
        this.stats.dropped++;
        this.opts.logger.warn({ url: safeUrl(t.url), max_queue: this.maxQueue }, 'webhook queue full; dropped the oldest event');
      }
      t.queue.push(body);
      if (!t.busy) void this.drain(t);
    }
    this.count();
  }

  /** Waits until every queue is empty or timeoutMs passes; then stops retrying. */
  async flush(timeoutMs: number): Promise<void> {
    this.closing = true;
    const empty = (): boolean => this.targets.every((t) => t.queue.length === 0 && !t.busy);
    if (!empty()) {
      for (const t of this.targets) t.wake?.();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idle.push(() => {
          if (empty()) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    }
    if (!empty()) this.opts.logger.warn({ queued: this.stats.queued }, 'webhook events still undelivered at shutdown');
  }

  private async drain(t: Target): Promise<void> {
    t.busy = true;
    while (t.queue.length > 0) {
      const body = t.queue[0]!;
      let ok = false;
      for (let attempt = 1; attempt <= this.maxAttempts && !ok; attempt++) {
        const outcome = await this.post(t.url, body);
        if (outcome === 'ok') ok = true;
        else if (outcome === 'reject') break;
        else if (attempt < this.maxAttempts && !this.closing) {
          const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1));
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            t.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          t.wake = undefined;
        } else if (this.closing) break;
      }
      // The queue may have been trimmed while we waited; drop what we sent only if it is still at the head.
      if (t.queue[0] === body) t.queue.shift();
      if (ok) this.stats.delivered++;
      else {
        this.stats.failed++;
        this.opts.logger.error({ url: safeUrl(t.url) }, 'webhook gave up on an event');
      }
      this.count();
    }
    t.busy = false;
    for (const f of this.idle) f();
  }

  private async post(url: string, body: string): Promise<'ok' | 'retry' | 'reject'> {
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return 'ok';
      // 408, 429 and 5xx are worth another try; any other 4xx will not get better.
      const retry = res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500;
      this.opts.logger.warn({ url: safeUrl(url), status: res.statusCode }, retry ? 'webhook failed; will retry' : 'webhook rejected the event');
      return retry ? 'retry' : 'reject';
    } catch (err) {
      this.opts.logger.warn({ url: safeUrl(url), err: err instanceof Error ? err.message : String(err) }, 'webhook failed; will retry');
      return 'retry';
    }
  }

  private count(): void {
    this.stats.queued = this.targets.reduce((n, t) => n + t.queue.length, 0);
  }
}
