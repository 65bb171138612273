// Follows one open file by its descriptor, not its name: a renamed or deleted file is read to its end.
// Reads with FileHandle.read into one reusable buffer, frames lines synchronously into the pipeline,
// wakes on fs.watch events with a poll as fallback (shared volumes may deliver no inotify events),
// and detects truncation (size below the read position, or a changed head).
import { watch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { FileIdentity, Line, LineBytesSink, LineRunSink } from '../types';
import { Framer } from './framing';
import { FINGERPRINT_BYTES, fingerprintOf, headMatches, readHead, type Fingerprint } from './identity';

export interface TailHooks {
  /** Receives each framed line, synchronously. */
  line(line: Line): void;
  /** When given, receives each framed line as bytes instead of line() (see LineBytesSink). */
  lineBytes?: LineBytesSink;
  /** When given with lineBytes, is offered runs of whole lines first (see LineRunSink). */
  lineRun?: LineRunSink;
  /** Called after each chunk with the offset up to which every line has been handed over. */
  consumed(tailer: Tailer, pos: number): void;
  /**
   * Reserves memory for one read (backpressure): undefined when reserved now, else resolves once reserved.
   * Every reservation is given back with release() once the read's lines are handed over.
   */
  room(bytes: number): Promise<void> | undefined;
  release(bytes: number): void;
  /**
   * The content was truncated or replaced: its new identity, saved before any of its lines is read; its key is ''
   * while it cannot be derived yet (see keyFor).
   */
  truncated(tailer: Tailer): FileIdentity | Promise<FileIdentity>;
  /**
   * The identity of content whose key was pending, from the file's first bytes (`final`: the file will not grow);
   * undefined while the head does not decide it yet. Saved before it is returned.
   */
  keyFor(tailer: Tailer, head: Buffer, final: boolean): Promise<FileIdentity | undefined>;
  /** The head fingerprint grew (the file was shorter than FINGERPRINT_BYTES when first seen). */
  fingerprint(tailer: Tailer, fp: Fingerprint): void;
  bytesRead(n: number): void;
  /** Reading failed (EIO, ESTALE...): the tailer closes; a later scan reopens the file and resumes. */
  failed(tailer: Tailer, err: unknown): void;
  closed(tailer: Tailer): void;
}

/** Memory the lines of one full buffer hold while they wait (documents, texts, objects), per byte read. */
const READ_COST_FACTOR = 4;

export interface TailOptions {
  maxLine: number;
  bufferSize: number;
  pollMs: number;
  /** A file no longer matched by the globs (renamed away, deleted) is closed after this long without growth. */
  closeInactiveMs: number;
  /** Stop at end of file instead of following (--once). */
  once: boolean;
}

export class Tailer {
  readonly framer: Framer;
  pos: number;
  /** Size last seen by fstat (for "bytes behind"). */
  size: number;
  /** No scan found the file at a followed path any more. */
  orphan = false;
  /** The file was closed after it was deleted (no link left). */
  deleted = false;
  /** --once: the partial last line left unread at the end (it waits for its newline). */
  partial: { offset: number; bytes: number } | undefined;
  private stopped = false;
  private onStop: (() => void) | undefined;
  private readonly stopSignal = new Promise<void>((resolve) => (this.onStop = resolve));
  private wakeUp: (() => void) | undefined;
  /** A change event came while no wait was set (mid-read or mid-stat): the next wait returns at once. */
  private woken = false;
  private watcher: FSWatcher | undefined;
  private lastGrowth = Date.now();
  private lastHeadCheck = 0;
  /** The last read found the end of the file: the bytes of the next one are new, and the head is checked. */
  private idled = false;
  readonly done: Promise<void>;

  constructor(
    private readonly fh: FileHandle,
    public file: FileIdentity,
    public path: string,
    start: number,
    size: number,
    public fp: Fingerprint,
    private readonly opts: TailOptions,
    private readonly hooks: TailHooks,
  ) {
    this.pos = start;
    this.size = size;
    this.framer = new Framer(file, path, start, opts.maxLine, hooks.line, hooks.lineBytes, hooks.lineBytes && hooks.lineRun);
    if (!opts.once) {
      try {
        this.watcher = watch(path, { persistent: false }, () => this.wake());
        this.watcher.on('error', () => this.unwatch());
      } catch {
        // The poll fallback follows the file.
      }
    }
    this.done = this.run();
  }

  get key(): string {
    return this.file.key;
  }

  /** A scan found the file (possibly renamed): lines read from now on carry the new path. */
  seenAt(path: string): void {
    this.orphan = false;
    if (path !== this.path) {
      this.path = path;
      this.framer.path = path;
    }
  }

  /** Stops reading after the current read; a partial line is not shipped (its bytes are read again later). */
  stop(): Promise<void> {
    this.stopped = true;
    this.onStop?.();
    this.wake();
    return this.done;
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    if (w) w();
    else this.woken = true;
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async run(): Promise<void> {
    const buf = Buffer.allocUnsafe(this.opts.bufferSize);
    const readCost = this.opts.bufferSize * READ_COST_FACTOR;
    try {
      while (!this.stopped) {
        const wait = this.hooks.room(readCost);
        if (wait) {
          // Waiting for room can last as long as the engine is down: a stop must not wait for it.
          await Promise.race([wait, this.stopSignal]);
          if (this.stopped) break; // the reservation, granted later or not, no longer matters
        }
        let bytesRead: number;
        try {
          // Events from here on may concern bytes this read misses: they count (see atEnd).
          this.woken = false;
          ({ bytesRead } = await this.fh.read(buf, 0, buf.length, this.pos));
          if (this.stopped) break;
          // Truncated and refilled past our position while we catch up: only the head tells (about once a second).
          // Bytes that follow an end of file, always: a writer without O_APPEND refills a truncated file at its old
          // offset (behind a hole of NULs), so the size cannot tell, and what it wrote there is new content. Checked
          // after the read, so that a truncation cannot slip in between the check and the read.
          if (bytesRead > 0 && this.pos > 0 && (await this.headChanged(this.idled))) {
            await this.restartTruncated();
            continue;
          }
          if (bytesRead > 0) {
            this.idled = false;
            // Content whose key is pending has no line yet: its key is known by the time a chunk holds a newline.
            if (this.file.key === '') await this.resolveKey(this.pos + bytesRead, false);
            this.framer.push(buf, 0, bytesRead, this.pos);
            this.pos += bytesRead;
            if (this.pos > this.size) this.size = this.pos;
            this.lastGrowth = Date.now();
            this.hooks.bytesRead(bytesRead);
            if (this.file.key !== '') this.hooks.consumed(this, this.framer.consumed);
          }
        } finally {
          this.hooks.release(readCost);
        }
        if (bytesRead > 0) {
          if (this.fp.len < FINGERPRINT_BYTES && this.pos > this.fp.len) await this.growFingerprint();
          continue;
        }
        if (await this.atEnd()) break;
      }
    } catch (err) {
      this.hooks.failed(this, err);
    } finally {
      this.unwatch();
      await this.fh.close().catch(() => undefined);
      this.hooks.closed(this);
    }
  }

  /** At end of file: returns true when the tailer should close. */
  private async atEnd(): Promise<boolean> {
    if (this.opts.once) {
      const start = this.framer.partialStart;
      if (start !== undefined) this.partial = { offset: start, bytes: this.pos - start };
      return true;
    }
    this.idled = true;
    const st = await this.fh.stat();
    this.size = st.size;
    if (st.size < this.pos || (await this.headChanged())) {
      await this.restartTruncated();
      return false;
    }
    if (st.size > this.pos) return false;
    const idleMs = Date.now() - this.lastGrowth;
    if ((this.orphan || st.nlink === 0) && idleMs >= this.opts.closeInactiveMs) {
      // Rotated away or deleted, and quiet: the last line will get no newline any more.
      if (this.file.key === '' && this.framer.partialStart !== undefined) await this.resolveKey(this.pos, true);
      this.deleted = st.nlink === 0;
      this.framer.flush(this.pos);
      if (this.file.key !== '') this.hooks.consumed(this, this.framer.consumed);
      return true;
    }
    // An append noticed while we read or looked at the size: read again now rather than at the next poll.
    if (this.woken) {
      this.woken = false;
      return false;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wake(), this.opts.pollMs);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return false;
  }

  /**
   * Truncate-and-refill faster than our poll would leave size >= pos: the head tells. Checked at most once a second
   * while catching up, and whenever `now` is set.
   */
  private async headChanged(now = false): Promise<boolean> {
    const at = Date.now();
    if (this.fp.len === 0 || (!now && at - this.lastHeadCheck < 1000)) return false;
    this.lastHeadCheck = at;
    return !(await headMatches(this.fh, this.fp));
  }

  /** Derives the pending key from the first bytes of the file (of which `known` exist). */
  private async resolveKey(known: number, final: boolean): Promise<void> {
    const head = await readHead(this.fh, Math.min(known, FINGERPRINT_BYTES));
    const file = await this.hooks.keyFor(this, head, final);
    if (!file) return;
    this.file = file;
    this.framer.file = file;
  }

  private async restartTruncated(): Promise<void> {
    const file = await this.hooks.truncated(this);
    this.file = file;
    this.fp = { hash: '', len: 0 };
    this.pos = 0;
    this.framer.reset(file, 0);
    if (file.key !== '') this.hooks.consumed(this, 0);
  }

  private async growFingerprint(): Promise<void> {
    const head = await readHead(this.fh, Math.min(this.pos, FINGERPRINT_BYTES));
    this.fp = fingerprintOf(head);
    this.hooks.fingerprint(this, this.fp);
  }
}
