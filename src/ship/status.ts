// The shipper's state for /status and its page: per file how far it is read and acknowledged and how far behind
// (in bytes and in seconds), the requests to the engine, retries and dead letters. Sampled once a second.
import type { Registry } from 'prom-client';
import type { Input } from './input/input';
import type { Sink } from './output/sink';
import type { Pipeline } from './pipeline';

/** One followed file. Offsets and sizes are bytes. */
export interface FileStatus {
  path: string;
  /** The file's identity in the registry and in every document _id. */
  key: string;
  /** File size at the last look. */
  size: number;
  /** Offset up to which the file has been read. */
  read: number;
  /** Offset before which every line is stored (or dead-lettered): where a restart resumes. */
  acknowledged: number;
  /** size - acknowledged. */
  lag_bytes: number;
  /** How long the oldest unacknowledged byte has been in the file, as first seen by the shipper (0 when caught up). */
  lag_seconds: number;
  /** Lines handed to the pipeline since start. */
  lines: number;
  /** Lines read per second over the last few seconds. */
  lines_per_second: number;
}

/** The /status body. */
export interface ShipStatus {
  engine: {
    /** Without credentials. */
    urls: string[];
    index: string;
    /** False while every request fails (refused, timed out, 5xx, 429, refused credentials). */
    reachable: boolean;
    unreachable_for_ms: number;
    last_error?: string;
  };
  /** _bulk requests under way and batches waiting for one of the `batch.concurrency` slots. */
  requests: { in_flight: number; queued: number; concurrency: number };
  /** Retries since start: of whole requests and of single documents. */
  retries: { request: number; item: number };
  dead_letters: number;
  /** Memory held by lines read and not yet acknowledged, and the budget above which reading pauses. */
  bytes_pending: number;
  memory_budget: number;
  lines_read: number;
  lines_per_second: number;
  files: FileStatus[];
}

export interface StatusSources {
  input: Input;
  pipeline: Pipeline;
  sink: Sink;
  metrics: Registry;
  urls: string[];
  index: string;
  concurrency: number;
  memoryBudget: number;
}

/** Seconds over which lines/s is measured. */
const RATE_WINDOW = 5;
/** Growth points kept per file while it is behind; beyond that the oldest ones merge (the first is kept). */
const MAX_POINTS = 600;

interface Sample {
  at: number;
  lines: number;
}

interface Tracked {
  /** (time first seen, size) each time the file grew, while bytes past the acknowledged offset remain. */
  growth: { at: number; size: number }[];
  samples: Sample[];
  seen: number;
}

/** Samples the shipper once a second so lag in seconds and rates are known whenever /status is asked. */
export class StatusTracker {
  private readonly files = new Map<string, Tracked>();
  private totals: Sample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly src: StatusSources) {
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(now = Date.now()): void {
    const { input, pipeline } = this.src;
    push(this.totals, { at: now, lines: pipeline.linesRead });
    for (const t of input.open()) {
      let f = this.files.get(t.key);
      if (!f) this.files.set(t.key, (f = { growth: [], samples: [], seen: now }));
      f.seen = now;
      const acked = pipeline.settled(t.key) ?? t.pos;
      const last = f.growth[f.growth.length - 1];
      if (t.size > acked && (!last || t.size > last.size)) f.growth.push({ at: now, size: t.size });
      while (f.growth.length > 0 && f.growth[0]!.size <= acked) f.growth.shift();
      if (f.growth.length > MAX_POINTS) f.growth.splice(1, f.growth.length - MAX_POINTS);
      push(f.samples, { at: now, lines: pipeline.linesOf(t.key) });
    }
    for (const [key, f] of this.files) if (f.seen !== now) this.files.delete(key);
  }

  /** The current status (counters read from the metrics registry the sink updates). */
  async status(now = Date.now()): Promise<ShipStatus> {
    const { input, pipeline, sink, metrics } = this.src;
    const health = sink.health();
    const retries = { request: 0, item: 0 };
    for (const v of (await metrics.getSingleMetric('sidekick_ship_retries_total')?.get())?.values ?? []) {
      if (v.labels.reason === 'request' || v.labels.reason === 'item') retries[v.labels.reason] += v.value;
    }
    const dead = (await metrics.getSingleMetric('sidekick_ship_dead_letters_total')?.get())?.values[0]?.value ?? 0;
    const files = input
      .open()
      .map((t): FileStatus => {
        const acked = pipeline.settled(t.key) ?? t.pos;
        const f = this.files.get(t.key);
        const lines = pipeline.linesOf(t.key);
        const behind = Math.max(0, t.size - acked);
        const oldest = f?.growth.find((g) => g.size > acked);
        return {
          path: t.path,
          key: t.key,
          size: t.size,
          read: t.pos,
          acknowledged: acked,
          lag_bytes: behind,
          lag_seconds: behind > 0 && oldest ? Math.max(0, (now - oldest.at) / 1000) : 0,
          lines,
          lines_per_second: rate(f?.samples ?? [], { at: now, lines }),
        };
      })
      .sort((a, b) => a.path.localeCompare(b.path));
    return {
      engine: {
        urls: this.src.urls.map(withoutCredentials),
        index: this.src.index,
        reachable: health.ok,
        unreachable_for_ms: health.unreachableForMs,
        ...(health.lastError && !health.ok ? { last_error: health.lastError } : {}),
      },
      requests: { in_flight: pipeline.batches.inFlight, queued: pipeline.batches.queued, concurrency: this.src.concurrency },
      retries,
      dead_letters: dead,
      bytes_pending: pipeline.pendingBytes,
      memory_budget: this.src.memoryBudget,
      lines_read: pipeline.linesRead,
      lines_per_second: rate(this.totals, { at: now, lines: pipeline.linesRead }),
      files,
    };
  }
}

/** A URL as a page may show it: no user, no password. */
function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

function push(samples: Sample[], s: Sample): void {
  samples.push(s);
  while (samples.length > RATE_WINDOW + 1) samples.shift();
}

/** Lines per second from the oldest sample kept to now. */
function rate(samples: Sample[], now: Sample): number {
  const first = samples[0];
  if (!first || now.at - first.at < 500) return 0;
  return Math.max(0, ((now.lines - first.lines) * 1000) / (now.at - first.at));
}
