// The input side: scans the globs, decides each file's identity against the registry, and runs one
// tailer per open file. Identity rules (see identity.ts): same device+inode and same head = same
// content; a changed head or a shrunken file = new content (new key); a new inode whose head matches
// content that was truncated away (copytruncate) continues that content's key and position.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { Logger } from '../../common/log';
import type { FileSink } from '../parsers/chain';
import type { FileIdentity, Line } from '../types';
import { FINGERPRINT_BYTES, fingerprintOf, mintKey, readHead, type Fingerprint } from './identity';
import type { FileRegistry, FileState } from './registry';
import { Tailer, type TailOptions } from './tail';

/**
 * A copy is recognised by at least this many identical head bytes: a shorter head (a tiny file) is too
 * likely to be shared by unrelated files, and a wrong match would skip lines, where no match re-sends them.
 */
const MIN_CLAIM_BYTES = 64;

/** One configured input: its globs, and how the lines of each file it opens reach the pipeline. */
export interface InputSource {
  globs: string[];
  open(): FileSink;
}

export interface InputOptions extends TailOptions {
  /** Every glob (of every input). */
  globs: string[];
  /** The configured inputs; a file matched by several belongs to the first. Absent: one, lines straight to the sink. */
  sources?: InputSource[];
  from: 'beginning' | 'end';
  scanMs: number;
  /** How long a file whose head matches a file still being read waits before it counts as new. */
  deferMs: number;
  /** Registry entries of files not seen for this long are forgotten. */
  forgetAfterMs: number;
}

/** What the input needs from the pipeline. */
export interface InputSink {
  line(line: Line): void;
  room(bytes: number): Promise<void> | undefined;
  release(bytes: number): void;
  /** Every line of the key before pos has been handed over. */
  consumed(key: string, pos: number): void;
  /** Where reading of a key that is still being settled should resume (its read position), if known. */
  resumeAt(key: string): number | undefined;
  bytesRead(n: number): void;
  /** The registry forgot these keys. */
  forget(key: string): void;
}

export class Input {
  private readonly tailers = new Map<string, Tailer>(); // by dev:ino
  private readonly deferred = new Map<string, number>(); // path -> when it was first deferred
  private readonly truncatedAt = new Map<string, number>(); // key -> when its tailer saw it truncated
  private readonly readToEnd = new Set<string>(); // dev:ino of files closed in this --once run
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;
  private firstScan = true;
  private readonly dirWatchers: FSWatcher[] = [];
  private rescan = false;
  /** Files whose reading failed (with --once the run then exits 1). */
  failures = 0;

  constructor(
    private readonly opts: InputOptions,
    private readonly registry: FileRegistry,
    private readonly sink: InputSink,
    private readonly logger: Logger,
  ) {}

  /** Scans once and then every scanMs (unless once). */
  async start(): Promise<void> {
    await this.scan();
    // A stop during the first scan (a signal at startup) leaves nothing scheduled.
    if (!this.opts.once && !this.stopped) {
      this.watchDirectories();
      const tick = (): void => {
        this.timer = setTimeout(() => {
          void this.scan().finally(() => {
            if (!this.stopped) tick();
          });
        }, this.opts.scanMs);
      };
      tick();
    }
  }

  /** Resolves when every tailer has closed (with --once: every file read to its end). */
  async finished(): Promise<void> {
    for (;;) {
      while (this.tailers.size > 0) await Promise.all([...this.tailers.values()].map((t) => t.done));
      // --once: a file deferred because its head matched a file being read is looked at again now that
      // the file it matched is closed (files read to their end in this run are not opened again).
      if (!this.opts.once || this.deferred.size === 0 || this.stopped) return;
      this.deferred.clear();
      await this.scan();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.dirWatchers) w.close();
    await this.scanning;
    await Promise.all([...this.tailers.values()].map((t) => t.stop()));
  }

  open(): Tailer[] {
    return [...this.tailers.values()];
  }

  scan(): Promise<void> {
    if (!this.scanning) {
      this.scanning = this.doScan()
        .catch((err: unknown) => this.logger.error({ err: String(err) }, 'scan failed'))
        .finally(() => {
          this.scanning = undefined;
          if (this.rescan && !this.stopped) {
            this.rescan = false;
            void this.scan();
          }
        });
    } else {
      this.rescan = true;
    }
    return this.scanning;
  }

  /**
   * Files created (or renamed into place) trigger a scan at once through a watch on the directories the
   * globs start from, so a short-lived file is not missed between periodic scans. The periodic scan stays:
   * shared volumes may deliver no events, and globs with ** reach below the watched directories.
   */
  private watchDirectories(): void {
    const dirs = new Set<string>();
    for (const g of this.opts.globs) {
      let base = g;
      while (isDynamicPattern(base) && base !== dirname(base)) base = dirname(base);
      dirs.add(isDynamicPattern(g) ? base : dirname(g));
    }
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, (event) => {
          if (event === 'rename') void this.scan();
        });
        w.on('error', () => w.close());
        this.dirWatchers.push(w);
      } catch {
        // The directory may not exist yet: periodic scans will find files once it does.
      }
    }
  }

  private async doScan(): Promise<void> {
    const globOpts = { absolute: true, onlyFiles: true, dot: true, expandDirectories: false };
    const owner = new Map<string, number>();
    const groups = this.opts.sources?.map((s) => s.globs) ?? [this.opts.globs];
    for (const [i, found] of (await Promise.all(groups.map((g) => glob(g, globOpts)))).entries()) {
      for (const p of found) if (!owner.has(p)) owner.set(p, i);
    }
    const paths = [...owner.keys()].sort();
    const seen = new Set<string>();
    const fresh: { path: string; dev: number; ino: number; size: number }[] = [];
    for (const path of paths) {
      if (this.stopped) return;
      let st;
      try {
        st = await stat(path);
      } catch {
        continue; // gone between glob and stat
      }
      const id = `${st.dev}:${st.ino}`;
      seen.add(id);
      if (this.readToEnd.has(id)) continue;
      const t = this.tailers.get(id);
      if (t) {
        t.seenAt(path);
        this.registry.update(t.key, { path, seen: Date.now() });
      } else fresh.push({ path, dev: st.dev, ino: st.ino, size: st.size });
    }
    for (const [id, t] of this.tailers) if (!seen.has(id)) t.orphan = true;

    // Files known by inode first, so that a copy never claims content whose own file is still here.
    const byInode = fresh.filter((f) => this.registry.byInode(f.dev, f.ino).length > 0);
    const others = fresh.filter((f) => !byInode.includes(f));
    for (const f of [...byInode, ...others]) {
      if (this.stopped) return;
      await this.openFile(f.path, owner.get(f.path) ?? 0).catch((err: unknown) => {
        if (this.opts.once) this.failures++;
        this.logger.warn({ path: f.path, err: String(err) }, 'cannot open file');
      });
    }
    for (const [key, at] of this.truncatedAt) if (Date.now() - at > this.opts.deferMs) this.truncatedAt.delete(key);
    const inUse = new Set([...this.tailers.values()].map((t) => t.key));
    const forgotten = this.registry.cleanup(this.opts.forgetAfterMs, inUse);
    for (const key of forgotten) this.sink.forget(key);
    if (forgotten.length > 0) this.logger.debug({ keys: forgotten }, 'forgot files not seen for long');
    this.firstScan = false;
  }

  private async openFile(path: string, source: number): Promise<void> {
    const fh = await open(path, 'r');
    let handedOver = false;
    try {
      const st = await fh.stat();
      const id = `${st.dev}:${st.ino}`;
      if (this.tailers.has(id)) return; // opened under another name in this scan
      const head = await readHead(fh, Math.min(st.size, FINGERPRINT_BYTES));
      const decision = this.identify(path, st.dev, st.ino, st.size, head);
      if (decision === 'defer') return;
      const { state, start, minted } = decision;
      // A key minted for new content must be on disk before any of its lines can be stored under it: after a
      // crash the content is then found again under the same key, and its replayed lines are 409s, not copies.
      if (minted) await this.registry.save();
      const fp: Fingerprint = { hash: state.fp, len: state.fpLen };
      let failed = false;
      const file: FileIdentity = { key: state.key, dev: st.dev, ino: st.ino };
      const sink: FileSink = this.opts.sources?.[source].open() ?? { line: (l) => this.sink.line(l), consumed: (k, p) => this.sink.consumed(k, p), closed: () => undefined };
      const tailer = new Tailer(fh, file, path, start, st.size, fp, this.opts, {
        line: (l) => sink.line(l),
        room: (bytes) => this.sink.room(bytes),
        release: (bytes) => this.sink.release(bytes),
        bytesRead: (n) => this.sink.bytesRead(n),
        consumed: (t, pos) => sink.consumed(t.key, pos),
        truncated: (t) => this.truncated(t),
        fingerprint: (t, newFp) => this.registry.update(t.key, { fp: newFp.hash, fpLen: newFp.len }),
        failed: (t, err) => {
          failed = true;
          this.failures++;
          this.logger.error({ path: t.path, key: t.key, err: String(err) }, 'reading failed; the file is reopened at the next scan');
        },
        closed: (t) => {
          // Read to its end (not stopped, not failed): what parsers still hold is complete and is passed on.
          sink.closed(!failed && !this.stopped);
          this.closed(id, t);
        },
      });
      handedOver = true;
      this.tailers.set(id, tailer);
      this.logger.info({ path, key: state.key, offset: start, size: st.size }, 'following file');
    } finally {
      if (!handedOver) await fh.close();
    }
  }

  /** Decides which content a newly opened file holds and where to start reading it. */
  private identify(path: string, dev: number, ino: number, size: number, head: Buffer): { state: FileState; start: number; minted?: true } | 'defer' {
    const now = Date.now();
    for (const e of this.registry.byInode(dev, ino)) {
      const sameHead = e.fpLen <= head.length && fingerprintOf(head, e.fpLen).hash === e.fp;
      if (sameHead && size >= e.offset) {
        this.registry.update(e.key, { path, seen: now });
        return { state: e, start: this.sink.resumeAt(e.key) ?? e.offset };
      }
      // Shrunk or rewritten while we were not looking, or a recycled inode: the old content is gone
      // from here, though a copy of it may still turn up (copytruncate).
      this.registry.update(e.key, { detached: true });
    }
    if (head.length >= MIN_CLAIM_BYTES) {
      for (const e of this.registry.all()) {
        if (e.fpLen < MIN_CLAIM_BYTES || e.fpLen > head.length || fingerprintOf(head, e.fpLen).hash !== e.fp) continue;
        const live = [...this.tailers.values()].some((t) => t.key === e.key);
        if (live) {
          // Same head as a file being read: most likely copytruncate between its copy and its truncation.
          const since = this.deferred.get(path) ?? now;
          if (now - since < this.opts.deferMs) {
            this.deferred.set(path, since);
            return 'defer';
          }
          break;
        }
        // A file closed at its end (not truncated) still holds its content: a file sharing its head is other content.
        if (!e.detached) continue;
        // The content whose original was truncated or replaced: continue it here. A file shorter than
        // what was read of that content is taken for its copy only when we saw that content truncated
        // moments ago (copytruncate with lines written, and read, between the copy and the truncation):
        // everything in it was read already. Otherwise it only shares the head: it is read as new.
        const resume = this.sink.resumeAt(e.key) ?? e.offset;
        const cutAt = this.truncatedAt.get(e.key);
        const justCut = cutAt !== undefined && now - cutAt <= this.opts.deferMs;
        const start = justCut && size < resume ? size : resume;
        if (size < start) continue;
        this.truncatedAt.delete(e.key);
        this.deferred.delete(path);
        this.logger.info({ path, key: e.key, from: e.path, offset: start }, 'recognised a copy of known content (copytruncate)');
        this.registry.update(e.key, { path, dev, ino, detached: false, seen: now });
        return { state: e, start };
      }
    }
    this.deferred.delete(path);
    const fp = fingerprintOf(head);
    const atEnd = this.opts.from === 'end' && (this.firstScan || this.opts.once);
    const state: FileState = { key: mintKey(dev, ino), path, dev, ino, fp: fp.hash, fpLen: fp.len, offset: atEnd ? size : 0, seen: now };
    this.registry.set(state);
    return { state, start: state.offset, minted: true };
  }

  private async truncated(t: Tailer): Promise<FileIdentity> {
    this.registry.update(t.key, { detached: true });
    this.truncatedAt.set(t.key, Date.now());
    const key = mintKey(t.file.dev, t.file.ino);
    this.registry.set({ key, path: t.path, dev: t.file.dev, ino: t.file.ino, fp: '', fpLen: 0, offset: 0, seen: Date.now() });
    await this.registry.save(); // the new key must survive a crash before lines are stored under it (see openFile)
    this.logger.info({ path: t.path, old_key: t.key, key, read: t.pos }, 'file truncated; reading it from its start as new content');
    return { key, dev: t.file.dev, ino: t.file.ino };
  }

  private closed(id: string, t: Tailer): void {
    if (this.tailers.get(id) === t) this.tailers.delete(id);
    if (this.opts.once) this.readToEnd.add(id);
    this.registry.update(t.key, { seen: Date.now() });
    if (!this.opts.once && !this.stopped) this.logger.info({ path: t.path, key: t.key, offset: t.pos }, 'closed file');
  }
}
