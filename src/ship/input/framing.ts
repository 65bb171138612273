// Line framing: turns the bytes of one file, read in chunks, into lines with their byte offsets.
//
// Lines end at \n; a \r before it is dropped. A partial last line is kept until its newline arrives
// (or until flush() when the file is closed). A line longer than maxLine is cut to its first maxLine
// bytes and flagged truncated; the rest of it, up to the next newline, is skipped, and the line is
// emitted only when that newline is found so that its `next` offset is a true line boundary (a
// restart never resumes in the middle of a line). Empty lines are skipped but their bytes still count.
// NUL bytes before a line's first byte are padding, not content: a writer without O_APPEND goes on writing at its
// old offset after copytruncate, leaving a sparse hole of NULs before its next line (Fluent Bit #3117). They are
// skipped (a line's offset is that of its first byte after them) and never count against maxLine.
import type { FileIdentity, Line, LineBytesSink, LineRunSink } from '../types';

export type LineSink = (line: Line) => void;

const NL = 10;
const CR = 13;
const NUL = 0;
/** Lines framed one by one after a run took none, before the next run is offered: content the run sink leaves to the
 * per-line path (non-ASCII text, for one) does not pay for a refused run per line. */
const RUN_BACKOFF = 16;

export class Framer {
  /** Bytes of the current partial line (at most maxLine of them). */
  private carry: Buffer;
  private carryLen = 0;
  /** File offset of the first byte of the current partial line. */
  private lineStart: number;
  /** The current line passed maxLine: its remaining bytes are being skipped. */
  private skipping = false;
  /** File offset just after the last newline seen: every byte before it belongs to an emitted or skipped line. */
  consumed: number;
  /** Lines still to frame one by one before a run is offered again (see RUN_BACKOFF). */
  private runAfter = 0;

  constructor(
    public file: FileIdentity,
    public path: string,
    start: number,
    private readonly maxLine: number,
    private readonly emit: LineSink,
    /** When given, lines go here as bytes instead of to `emit` (no string is made). */
    private readonly emitBytes?: LineBytesSink,
    /** When given (with emitBytes), runs of whole lines are offered here first; what it leaves goes to emitBytes. */
    private readonly emitRun?: LineRunSink,
  ) {
    this.lineStart = start;
    this.consumed = start;
    this.carry = Buffer.allocUnsafe(Math.min(maxLine + 1, 64 * 1024));
  }

  /** Feeds buf[start, end) read from the file at offset pos (which must be where the previous chunk ended). */
  push(buf: Buffer, start: number, end: number, pos: number): void {
    let i = start;
    while (i < end) {
      if (buf[i] === NUL && this.carryLen === 0 && !this.skipping) {
        while (i < end && buf[i] === NUL) i++;
        this.lineStart = pos + (i - start);
        continue;
      }
      let refused = false;
      if (this.emitRun !== undefined && this.carryLen === 0 && !this.skipping) {
        if (this.runAfter > 0) this.runAfter--;
        else {
          const taken = this.emitRun(this.file, this.path, buf, i, end, pos + (i - start), this.maxLine);
          if (taken > i) {
            this.lineStart = pos + (taken - start);
            this.consumed = this.lineStart;
            i = taken;
            // The line the run stopped at (if any) is the per-line path's; the run goes on after it.
            if (i < end) this.runAfter = 1;
            continue;
          }
          refused = true;
        }
      }
      const nl = buf.indexOf(NL, i);
      if (nl === -1 || nl >= end) {
        this.hold(buf, i, end);
        return;
      }
      // A whole line the run sink left: the next few go one by one too (see RUN_BACKOFF).
      if (refused) this.runAfter = RUN_BACKOFF;
      const lineEndPos = pos + (nl - start) + 1;
      if (this.carryLen === 0 && !this.skipping) {
        this.fromBuffer(buf, i, nl, lineEndPos);
      } else {
        this.hold(buf, i, nl);
        this.fromCarry(lineEndPos, true);
      }
      i = nl + 1;
    }
  }

  /** Offset of the partial last line held (waiting for its newline), if any. */
  get partialStart(): number | undefined {
    return this.carryLen > 0 || this.skipping ? this.lineStart : undefined;
  }

  /** Emits the partial last line, if any (the file is being closed: no newline will come). */
  flush(endPos: number): void {
    if (this.carryLen > 0 || this.skipping) this.fromCarry(endPos, false);
    this.lineStart = endPos;
    this.consumed = endPos;
  }

  /** Forgets any partial line and restarts at pos with a new identity (truncation). */
  reset(file: FileIdentity, pos: number): void {
    this.file = file;
    this.carryLen = 0;
    this.skipping = false;
    this.lineStart = pos;
    this.consumed = pos;
  }

  private fromBuffer(buf: Buffer, from: number, nl: number, next: number): void {
    const offset = this.lineStart;
    this.lineStart = next;
    this.consumed = next;
    let stop = nl;
    if (stop > from && buf[stop - 1] === CR) stop--;
    if (stop === from) return;
    const truncated = stop - from > this.maxLine;
    if (truncated) stop = from + this.maxLine;
    if (this.emitBytes) this.emitBytes(this.file, this.path, offset, next, buf, from, stop, truncated);
    else this.emit({ file: this.file, path: this.path, offset, next, text: buf.toString('utf8', from, stop), truncated });
  }

  private fromCarry(next: number, hadNewline: boolean): void {
    const offset = this.lineStart;
    let truncated = this.skipping;
    let len = this.carryLen;
    if (hadNewline && !truncated && len > 0 && this.carry[len - 1] === CR) len--;
    if (len > this.maxLine) {
      len = this.maxLine;
      truncated = true;
    }
    this.carryLen = 0;
    this.skipping = false;
    this.lineStart = next;
    this.consumed = next;
    if (len === 0) return;
    if (this.emitBytes) this.emitBytes(this.file, this.path, offset, next, this.carry, 0, len, truncated);
    else this.emit({ file: this.file, path: this.path, offset, next, text: this.carry.toString('utf8', 0, len), truncated });
  }

  /** Appends bytes of the current line to the carry, keeping at most maxLine of them. */
  private hold(buf: Buffer, from: number, to: number): void {
    if (this.skipping || to <= from) return;
    let n = to - from;
    // One byte beyond maxLine is kept so that a \r right at the limit can still be recognised as part of \r\n.
    const room = this.maxLine + 1 - this.carryLen;
    if (n > room) n = room;
    if (this.carryLen + n > this.carry.length) {
      const bigger = Buffer.allocUnsafe(Math.min(this.maxLine + 1, Math.max(this.carry.length * 2, this.carryLen + n)));
      this.carry.copy(bigger, 0, 0, this.carryLen);
      this.carry = bigger;
    }
    buf.copy(this.carry, this.carryLen, from, from + n);
    this.carryLen += n;
    if (this.carryLen > this.maxLine) {
      // The line is longer than the limit (a trailing \r counts as content until its \n shows otherwise).
      if (!(this.carryLen === this.maxLine + 1 && this.carry[this.maxLine] === CR && n === to - from)) {
        this.carryLen = this.maxLine;
        this.skipping = true;
      }
    }
  }
}
