// The pipeline between the tailers and the sink: lines -> documents -> batches (by count, bytes and
// a maximum latency) -> at most `concurrency` sends in flight -> acknowledgements -> settled offsets
// in the registry. The only backward path is the acknowledgement. Memory is bounded by a byte budget:
// tailers wait while the bytes read but not yet settled exceed it.
import type { Logger } from '../common/log';
import type { FileRegistry } from './input/registry';
import { Arena, type BytesEncoder, type RunEncoder } from './output/encoder';
import type { Doc, FileIdentity, Line, Outcome } from './types';

/**
 * Delivers docs until each is settled. `body`, when given, is their whole _bulk body already written (their batch's
 * arena): sent as it is the first time; it is not the sender's to keep or write into.
 */
export type Send = (docs: Doc[], body?: Buffer) => Promise<Outcome[]>;

export interface PipelineOptions {
  send: Send;
  encode: (line: Line) => Doc;
  maxDocs: number;
  /** Bytes of document source per batch. */
  maxBytes: number;
  concurrency: number;
  /** Memory held by lines read but not yet settled (documents, texts) above which reading pauses. */
  budgetBytes: number;
  registry: FileRegistry;
  logger: Logger;
  /** A pending send failed for a reason other than the engine (the sink was stopped): true while stopping. */
  stopping?: () => boolean;
}

/** A run of consecutive lines of one file in one batch. */
interface Chunk {
  start: number;
  end: number;
  done: boolean;
  progress: Progress;
}

/** Acknowledgement state of one file key: everything before settled() is stored (or dead-lettered). */
class Progress {
  readonly chunks: Chunk[] = [];
  head = 0;
  /** Lines of this key handed to the pipeline since start (the status page's lines/s). */
  lines = 0;
  openBatch: Batch | undefined;
  openChunk: Chunk | undefined;
  constructor(
    readonly key: string,
    /** Offset after the last line handed to the pipeline (or skipped as empty). */
    public consumed: number,
  ) {}

  settled(): number {
    return this.head < this.chunks.length ? this.chunks[this.head].start : this.consumed;
  }

  /** Drops the settled chunks from the front. */
  advance(): void {
    while (this.head < this.chunks.length && this.chunks[this.head].done) this.head++;
    if (this.head === this.chunks.length) {
      // All settled: keep no chunk (and the lines and batches they reach) alive until the next ones.
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head > 256 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface Batch {
  docs: Doc[];
  /** The body the documents written as bytes (lineBytes) are in, in order; absent until the first one. */
  arena: Arena | undefined;
  /** How many of docs are in the arena: all of them, and the arena is the batch's whole body. */
  arenaDocs: number;
  bytes: number;
  fileBytes: number;
  /** Memory held by the batch's lines (counted against the budget). */
  cost: number;
  chunks: Chunk[];
}

/** Bytes of heap a pending line holds besides its text and source: Line, Doc, _id, chunk share. */
const PER_LINE_OVERHEAD = 200;
/** Bytes of heap a pending line written into an arena holds besides its operation's bytes: its document, its share
 * of the chunk and the docs array. */
const ARENA_LINE_OVERHEAD = 120;
/** Room an arena has beyond batch.max_bytes at first: the operation that fills a batch goes past it. */
const ARENA_SLACK = 64 * 1024;

export class Pipeline {
  private readonly progress = new Map<string, Progress>();
  private current: Batch = newBatch();
  private readonly queue: Batch[] = [];
  private inflight = 0;
  /** A flush scheduled for when the current read's lines are all in. */
  private soon: NodeJS.Immediate | undefined;
  /** Memory held by lines accepted and not yet settled. */
  private pending = 0;
  /** Memory promised to reads under way (see room()). */
  private reserved = 0;
  /** Arenas of settled batches, for the next ones. */
  private readonly spareArenas: Arena[] = [];
  private readonly roomWaiters: { bytes: number; admit: () => void }[] = [];
  /** Reading is held (positions cannot be saved): room() admits nobody. */
  private held = false;
  private idleWaiters: (() => void)[] = [];
  /** File bytes settled since start (progress bar). */
  settledBytes = 0;
  linesRead = 0;
  bytesReadTotal = 0;

  constructor(private readonly opts: PipelineOptions) {}

  /** Takes one line (or parsed event) of a file, encoded by `encode` (an input's own) or the default encoder. */
  line<L extends Line>(line: L, encode?: (l: L) => Doc): void {
    const doc = encode ? encode(line) : this.opts.encode(line);
    // `source` is read only where the document holds it as a string (reading a LineDoc's would build it).
    const bytes = doc.opLength ?? doc.source.length + doc.id.length + 24;
    // What a line costs while it waits: its document (one written as bytes holds no source string, only its
    // parts), its text and the objects around them.
    const cost = (doc.writeOp ? (doc.heldLength ?? 0) : doc.source.length) + line.text.length + PER_LINE_OVERHEAD;
    this.add(this.current, doc, line.file.key, line.offset, line.next, bytes, cost);
  }

  /**
   * Takes one plain line as bytes (see LineBytesSink): `encode` writes its _bulk operation at once into the current
   * batch's arena, so that the line holds no string and the batch's body is ready when it is sent.
   */
  lineBytes(encode: BytesEncoder, file: FileIdentity, path: string, offset: number, next: number, buf: Buffer, start: number, end: number, truncated: boolean): void {
    const b = this.current;
    const arena = this.arenaOf(b);
    // Only the arena's own documents, in order and nothing else, make it the body: a parsed event in between would not be in it.
    const whole = b.arenaDocs === b.docs.length;
    const doc = encode(arena, file, path, offset, next, buf, start, end, truncated);
    if (whole) b.arenaDocs++;
    const bytes = doc.opLength!;
    this.add(b, doc, file.key, offset, next, bytes, bytes + ARENA_LINE_OVERHEAD);
  }

  /**
   * Takes as many whole plain lines of buf[start, end) as `encode` takes at once (see LineRunSink, RunEncoder), into
   * as many batches as they fill; returns the index after the last one taken (start when none).
   */
  lineRun(encode: RunEncoder, file: FileIdentity, path: string, buf: Buffer, start: number, end: number, pos: number, maxLine: number): number {
    let i = start;
    for (;;) {
      const b = this.current;
      const arena = this.arenaOf(b);
      const whole = b.arenaDocs === b.docs.length;
      const run = encode(arena, file, path, buf, i, end, pos + (i - start), maxLine, this.opts.maxDocs - b.docs.length, this.opts.maxBytes - b.bytes, b.docs);
      if (run.count === 0) return i;
      if (whole) b.arenaDocs += run.count;
      this.account(b, file.key, run.offset, run.next, run.count, run.bytes, run.bytes + run.count * ARENA_LINE_OVERHEAD);
      i = run.index;
      // The batch filled and went: the rest of the range may fill the next one.
      if (this.current === b || i >= end) return i;
    }
  }

  /** The arena of batch b's body, made (or taken from a settled batch) at its first line written as bytes. */
  private arenaOf(b: Batch): Arena {
    if (b.arena === undefined) b.arena = this.spareArenas.pop() ?? new Arena(this.opts.maxBytes + ARENA_SLACK);
    return b.arena;
  }

  /** Adds a line's document to batch b: its bytes (of the _bulk operation), its cost in memory, its file's progress. */
  private add(b: Batch, doc: Doc, key: string, offset: number, next: number, bytes: number, cost: number): void {
    b.docs.push(doc);
    this.account(b, key, offset, next, 1, bytes, cost);
  }

  /**
   * Counts `lines` consecutive lines of file `key`, from `offset` to `next`, whose documents are already in batch b:
   * their bytes (of the _bulk operations), their cost in memory, their file's progress; sends b once full.
   */
  private account(b: Batch, key: string, offset: number, next: number, lines: number, bytes: number, cost: number): void {
    this.linesRead += lines;
    b.bytes += bytes;
    b.fileBytes += next - offset;
    b.cost += cost;
    this.pending += cost;
    let p = this.progress.get(key);
    if (!p) {
      p = new Progress(key, offset);
      this.progress.set(key, p);
    }
    p.lines += lines;
    if (p.openBatch === b && p.openChunk) {
      p.openChunk.end = next;
    } else {
      const chunk: Chunk = { start: offset, end: next, done: false, progress: p };
      p.chunks.push(chunk);
      p.openBatch = b;
      p.openChunk = chunk;
      b.chunks.push(chunk);
    }
    if (b.docs.length >= this.opts.maxDocs || b.bytes >= this.opts.maxBytes) this.flush();
    else if (!this.soon && this.inflight < this.opts.concurrency) {
      // A request slot is free: send once the lines of this read are in (they are framed synchronously), not
      // after a timer. With every slot busy the batch grows until one frees (deliver's finally sends it).
      this.soon = setImmediate(this.flushNow);
    }
  }

  private readonly flushNow = (): void => {
    this.soon = undefined;
    this.flush();
  };

  consumed(key: string, pos: number): void {
    let p = this.progress.get(key);
    if (!p) {
      p = new Progress(key, pos);
      this.progress.set(key, p);
    }
    p.consumed = pos;
    if (p.head >= p.chunks.length) this.opts.registry.update(key, { offset: pos });
  }

  resumeAt(key: string): number | undefined {
    return this.progress.get(key)?.consumed;
  }

  /** Settled offset of a key, if the pipeline has seen it. */
  settled(key: string): number | undefined {
    return this.progress.get(key)?.settled();
  }

  /** Lines of a key handed to the pipeline since start. */
  linesOf(key: string): number {
    return this.progress.get(key)?.lines ?? 0;
  }

  /** Batches being sent (each a _bulk request, retried until settled) and batches waiting for a free slot. */
  get batches(): { inFlight: number; queued: number } {
    return { inFlight: this.inflight, queued: this.queue.length };
  }

  /** The registry forgot the key (its file is long gone): forget its progress too, unless lines of it are pending. */
  forget(key: string): void {
    const p = this.progress.get(key);
    if (p && p.chunks.length === 0) this.progress.delete(key);
  }

  bytesRead(n: number): void {
    this.bytesReadTotal += n;
  }

  /**
   * Reserves `bytes` (what one read is expected to cost) before a read, so that many files read at once
   * stay within the budget: undefined when reserved now, else resolves once reserved, first come first
   * served. A read is admitted when it fits, or when no other read is under way and the budget is not
   * spent (a budget smaller than one read still lets one reader go on). Give the bytes back with release().
   */
  room(bytes = 0): Promise<void> | undefined {
    if (this.roomWaiters.length === 0 && this.fits(bytes)) {
      this.reserved += bytes;
      return undefined;
    }
    return new Promise((resolve) => this.roomWaiters.push({ bytes, admit: resolve }));
  }

  /** The read reserved by room() is over: its lines, if any, are counted in pending now. */
  release(bytes: number): void {
    this.reserved -= bytes;
    this.admitWaiters();
  }

  /** Holds every read until resume() (reads under way finish; lines already read are still shipped). */
  pause(): void {
    this.held = true;
  }

  resume(): void {
    this.held = false;
    this.admitWaiters();
  }

  private fits(bytes: number): boolean {
    if (this.held) return false;
    const budget = this.opts.budgetBytes;
    return this.pending + this.reserved + bytes <= budget || (this.reserved === 0 && this.pending < budget);
  }

  private admitWaiters(): void {
    while (this.roomWaiters.length > 0 && this.fits(this.roomWaiters[0].bytes)) {
      const w = this.roomWaiters.shift()!;
      this.reserved += w.bytes;
      w.admit();
    }
  }

  /** Memory held by lines read and not yet settled. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** Sends the current batch now (or queues it while `concurrency` sends are in flight). */
  flush(): void {
    if (this.soon) clearImmediate(this.soon);
    this.soon = undefined;
    const b = this.current;
    if (b.docs.length === 0) return;
    this.current = newBatch();
    this.queue.push(b);
    this.pump();
  }

  /** Flushes and resolves once every accepted line is settled. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inflight > 0 || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private pump(): void {
    while (this.inflight < this.opts.concurrency && this.queue.length > 0) {
      const b = this.queue.shift()!;
      this.inflight++;
      void this.deliver(b);
    }
  }

  private async deliver(b: Batch): Promise<void> {
    try {
      for (;;) {
        try {
          await this.opts.send(b.docs, b.arena !== undefined && b.arenaDocs === b.docs.length ? b.arena.body : undefined);
          this.settle(b);
          return;
        } catch (err) {
          if (this.opts.stopping?.()) {
            this.opts.logger.debug({ docs: b.docs.length }, 'batch left unacknowledged at shutdown');
            return;
          }
          // send() does not fail because the engine is down; anything else is unexpected: try again.
          this.opts.logger.error({ err: String(err), docs: b.docs.length }, 'batch send failed; retrying');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    } finally {
      this.inflight--;
      // The engine's answer time is the batching window: what gathered meanwhile goes now.
      if (this.queue.length === 0 && this.current.docs.length > 0) this.flush();
      this.pump();
      if (this.inflight === 0 && this.queue.length === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    }
  }

  /** Keeps a settled batch's arena for a later batch: one per request slot and one being filled; a grown one is dropped. */
  private spare(arena: Arena): void {
    arena.reset();
    if (this.spareArenas.length <= this.opts.concurrency && arena.buf.length <= 2 * (this.opts.maxBytes + ARENA_SLACK)) this.spareArenas.push(arena);
  }

  private settle(b: Batch): void {
    const touched = new Set<Progress>();
    for (const c of b.chunks) {
      c.done = true;
      touched.add(c.progress);
    }
    for (const p of touched) {
      const before = p.settled();
      p.advance();
      const after = p.settled();
      if (after !== before) this.opts.registry.update(p.key, { offset: after });
      if (p.openBatch === b) {
        p.openBatch = undefined;
        p.openChunk = undefined;
      }
    }
    this.pending -= b.cost;
    this.settledBytes += b.fileBytes;
    if (b.arena) this.spare(b.arena);
    this.admitWaiters();
  }
}

function newBatch(): Batch {
  return { docs: [], arena: undefined, arenaDocs: 0, bytes: 0, fileBytes: 0, cost: 0, chunks: [] };
}
