// The dead-letter file: documents the engine refused for good (mapping conflicts, bad documents), one JSON
// line each, appended and fsynced before the sink reports them as handled.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
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

export class DeadLetterFile {
  private handle: Promise<FileHandle> | undefined;
  /** Writes from concurrent send() calls go one after another so lines never interleave. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly index: string,
  ) {}

  /** Appends the records and fsyncs; resolves once they are on disk. */
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
    const next = this.chain.then(async () => {
      const fh = await this.open();
      await fh.appendFile(text, 'utf8');
      await fh.datasync();
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

  async close(): Promise<void> {
    await this.chain;
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close();
  }
}
