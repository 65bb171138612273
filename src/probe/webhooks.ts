// Outbound pushes of `serve`: state-change events POSTed to webhooks (a bounded queue per webhook, retried with
// exponential backoff, oldest dropped when full) and heartbeat/TTL calls after healthy runs. Failures are logged
// and counted, never thrown: a broken receiver must not stop the checks.
import type { Dispatcher } from 'undici';
import type { Logger } from '../common/log';
import type { WebhookOptions } from './config';

export interface WebhookStats {
  sent: number;
  failed: number; // attempts that failed (each retry counts)
  dropped: number; // events given up on or pushed out of a full queue
}

type Request = (url: string, opts: Dispatcher.RequestOptions & { method: string } & Omit<Dispatcher.RequestOptions, 'origin' | 'path'>) => Promise<Dispatcher.ResponseData>;

function undiciRequest(): Request {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('undici') as typeof import('undici')).request as unknown as Request;
}

/** Sends one HTTP request; resolves to undefined on 2xx or to the reason it failed. */
async function call(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeout: number): Promise<string | undefined> {
  try {
    const res = await undiciRequest()(url, { method, headers, body, signal: AbortSignal.timeout(timeout) } as Parameters<Request>[1]);
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300 ? undefined : `status ${res.statusCode}`;
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timed out after ${timeout} ms`;
    return e.cause?.code ?? e.code ?? e.message;
  }
}

class WebhookQueue {
  private readonly queue: string[] = [];
  private busy = false;
  private idle: (() => void)[] = [];
  private closed = false;
  private wake?: () => void;

  constructor(
    private readonly hook: WebhookOptions,
    private readonly capacity: number,
    private readonly attempts: number,
    private readonly stats: WebhookStats,
    private readonly logger: Logger,
  ) {}

  /** Queues an event; when `capacity` events already wait (besides the one in flight), the oldest is dropped. */
  push(body: string): void {
    if (this.queue.length >= this.capacity) {
      this.queue.shift();
      this.stats.dropped++;
      this.logger.warn({ webhook: where(this.hook.url), capacity: this.capacity }, 'webhook queue full: dropped the oldest event');
    }
    this.queue.push(body);
    if (!this.busy) void this.drain();
  }

  /** Resolves when the queue is empty (or at once if it is). */
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
    while (this.queue.length > 0 && !this.closed) {
      const body = this.queue.shift()!;
      let delivered = false;
      for (let attempt = 1; attempt <= this.attempts && !this.closed; attempt++) {
        const failure = await call(this.hook.url, 'POST', { 'content-type': 'application/json', ...this.hook.headers }, body, this.hook.timeout);
        if (failure === undefined) {
          delivered = true;
          break;
        }
        this.stats.failed++;
        const backoff = Math.min(30_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        this.logger.warn({ webhook: where(this.hook.url), attempt, of: this.attempts, why: failure, retry_in_ms: attempt < this.attempts ? Math.round(backoff) : undefined }, 'webhook failed');
        if (attempt < this.attempts) await this.sleep(backoff);
      }
      if (delivered) this.stats.sent++;
      else {
        this.stats.dropped++;
        if (!this.closed) this.logger.error({ webhook: where(this.hook.url), attempts: this.attempts }, 'webhook event dropped after every attempt failed');
      }
    }
    this.busy = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

export class Webhooks {
  readonly stats: WebhookStats = { sent: 0, failed: 0, dropped: 0 };
  private readonly queues: WebhookQueue[];

  constructor(hooks: WebhookOptions[], capacity: number, attempts: number, logger: Logger) {
    this.queues = hooks.map((h) => new WebhookQueue(h, capacity, attempts, this.stats, logger));
  }

  send(event: object): void {
    if (this.queues.length === 0) return;
    const body = JSON.stringify(event);
    for (const q of this.queues) q.push(body);
  }

  /** Waits up to `ms` for queued events to go out, then abandons the rest. */
  async close(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.queues.map((q) => q.flushed())), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    for (const q of this.queues) q.close();
  }
}

/**
 * How a webhook or push URL appears in logs: its origin only, because tokens often live in the path or query
 * (Slack hooks, Uptime Kuma push tokens), not only in user:password@.
 */
export function where(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}

/** Fills {check}, {status}, {message}, {duration_ms} in a heartbeat URL (Uptime Kuma, Gatus and Consul TTL style). */
export function fillPushUrl(url: string, values: Record<string, string | number>): string {
  return url.replace(/\{(check|status|message|duration_ms)\}/g, (_m, k: string) => encodeURIComponent(String(values[k] ?? '')));
}

/** Calls a heartbeat URL once; resolves to the reason it failed, if it did. */
export function pushHeartbeat(url: string, method: string, timeout: number): Promise<string | undefined> {
  return call(url, method, {}, undefined, timeout);
}
