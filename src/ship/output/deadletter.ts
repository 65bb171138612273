// The dead-letter file: documents the engine refused for good (mapping conflicts, bad documents), one JSON
// line each, appended and fsynced before the sink reports them as handled. Bounded: past maxBytes the file is
// rotated (dead-letter.ndjson -> .1 -> .2 ...), and the oldest of maxFiles files is deleted, its records counted.
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Doc } from '../types';
import type { ItemError } from './bulk';

export interface DeadLetter {
  doc: Doc;
  status: number;
  error: ItemError;
}

/** One line of the file; the original line is kept whole so it can be re-shipped once the cause is fixed. */
export interface DeadLetterRecord {
  time: string;
  index: string;
  _id: string;
  path: string;
  offset: number;
  message: string;
  status: number;
  error: ItemError;
}

export interface DeadLetterLimits {
  /** Size in bytes past which the file is rotated before the next write. */
  maxBytes: number;
  /** Files kept, the current one included (at least 1: then the file is emptied when full). */
  maxFiles: number;
  /** Told after each rotation, with how many records the deleted oldest file held. */
  onRotate?: (droppedRecords: number) => void;
}

export class DeadLetterFile {
  private handle: Promise<FileHandle> | undefined;
  /** Size of the current file as written by us (a failed write is cut back to it). */
  private size = 0;
  /** Writes from concurrent send() calls go one after another so lines never interleave. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly index: string,
    private readonly limits: DeadLetterLimits = { maxBytes: Number.POSITIVE_INFINITY, maxFiles: 1 },
  ) {}

  /** Appends the records and fsyncs; resolves once they are on disk. A failed write leaves no partial record. */
  write(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    const time = new Date().toISOString();
    let text = '';
    for (const l of letters) {
      const record: DeadLetterRecord = {
        time,
        index: l.doc.index ?? this.index,
        _id: l.doc.id,
        path: l.doc.line.path,
        offset: l.doc.line.offset,
        message: l.doc.line.text,
        status: l.status,
        error: l.error,
      };
      text += JSON.stringify(record) + '\n';
    }
    const bytes = Buffer.byteLength(text);
    const next = this.chain.then(async () => {
      let fh = await this.open();
      if (this.size > 0 && this.size + bytes > this.limits.maxBytes) fh = await this.rotate(fh);
      try {
        await fh.appendFile(text, 'utf8');
        await fh.datasync();
      } catch (err) {
        // Out of space mid-record: cut the partial record so the file stays one JSON object per line.
        await fh.truncate(this.size).catch(() => undefined);
        throw err;
      }
      this.size += bytes;
    });
    // A failed write must not poison later ones; the caller of this write still sees the failure.
    this.chain = next.catch(() => undefined);
    return next;
  }

  private open(): Promise<FileHandle> {
    if (!this.handle) {
      this.handle = (async () => {
        await mkdir(dirname(this.path), { recursive: true });
        const fh = await open(this.path, 'a');
        this.size = (await fh.stat()).size;
        // The file may be new: its directory entry must be on disk too, or a crash could lose the whole file.
        const dir = await open(dirname(this.path), 'r');
        await dir.sync().finally(() => dir.close());
        return fh;
      })();
      this.handle.catch(() => {
        this.handle = undefined;
      });
    }
    return this.handle;
  }

  /** path.N for N >= 1: the rotated files, .1 the newest. */
  private rotated(n: number): string {
    return `${this.path}.${n}`;
  }

  private async rotate(fh: FileHandle): Promise<FileHandle> {
    await fh.close();
    this.handle = undefined;
    const keep = Math.max(1, this.limits.maxFiles);
    // The oldest kept file goes (or, keeping one file, the current one): count what it held.
    const oldest = keep === 1 ? this.path : this.rotated(keep - 1);
    const dropped = await countLines(oldest);
    await unlink(oldest).catch(() => undefined);
    for (let n = keep - 2; n >= 1; n--) await rename(this.rotated(n), this.rotated(n + 1)).catch(() => undefined);
    if (keep > 1) await rename(this.path, this.rotated(1));
    this.limits.onRotate?.(dropped);
    return this.open();
  }

  async close(): Promise<void> {
    await this.chain;
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close();
  }
}

/** Lines in a file (0 when it does not exist). */
async function countLines(file: string): Promise<number> {
  try {
    await stat(file);
  } catch {
    return 0;
  }
  let n = 0;
  for await (const chunk of createReadStream(file)) {
    const buf = chunk as Buffer;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  }
  return n;
}
