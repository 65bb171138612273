// A work queue of container ids, as client-go's workqueue: an id waits at most once, an id being worked on is
// worked on again afterwards if it was added meanwhile, ids can be added after a delay, and a few run at once so
// one slow restart never holds up the others.

export class WorkQueue {
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly idle: (() => void)[] = [];
  private stopped = false;

  /**
   * @param work decides and acts for one id; its errors are passed to onError and never stop the queue.
   * @param concurrency ids worked on at once.
   */
  constructor(
    private readonly work: (id: string) => Promise<void>,
    private readonly onError: (id: string, err: unknown) => void,
    private readonly concurrency = 4,
  ) {}

  /** Queues `id` now (no-op if it already waits). */
  add(id: string): void {
    if (this.stopped) return;
    if (this.running.has(id)) {
      this.dirty.add(id);
      return;
    }
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.waiting.push(id);
    this.pump();
  }

  /** Queues `id` after `delayMs`; of several delays for one id, the earliest wins. */
  addAfter(id: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(id);
    const at = Date.now() + delayMs;
    const existing = this.timers.get(id);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.add(id);
    }, delayMs);
    timer.unref();
    this.timers.set(id, { at, timer });
  }

  /** Forgets a pending delayed add (the container is gone). */
  forget(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t.timer);
    this.timers.delete(id);
  }

  /** Ids waiting or delayed. */
  get length(): number {
    return this.queued.size + this.timers.size;
  }

  /** Stops taking ids and waits for the ones being worked on. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.waiting.length = 0;
    this.queued.clear();
    if (this.running.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      this.queued.delete(id);
      this.running.add(id);
      void this.work(id)
        .catch((err: unknown) => this.onError(id, err))
        .finally(() => {
          this.running.delete(id);
          if (this.dirty.delete(id)) this.add(id);
          if (this.running.size === 0) for (const resolve of this.idle.splice(0)) resolve();
          this.pump();
        });
    }
  }
}
