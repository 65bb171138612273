// The input side: scans the globs, decides each file's identity against the registry, and runs one
// tailer per open file. Identity rules (see identity.ts): same device+inode+birth time and same head = same
// content; a changed head, a shrunken file or another birth time (a recycled inode) = new content (new key); a
// deleted file's inode, when reused, is new content too; another inode whose head matches content that was
// truncated away (copytruncate) continues that content's key and position.
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import picomatch from 'picomatch';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { Logger } from '../../common/log';
import type { FileSink } from '../parsers/chain';
import type { FileIdentity, Line } from '../types';
import { birthTime, contentKey, FINGERPRINT_BYTES, fingerprintOf, keyHead, mintKey, readHead, type Fingerprint } from './identity';
import type { FileRegistry, FileState } from './registry';
import { Tailer, type TailOptions } from './tail';

/** At most this many entries of a directory are looked at for a file renamed away while the shipper was stopped. */
const RENAMED_SEARCH_LIMIT = 10_000;

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
  /** --once: files that end in a partial line, left unshipped until its newline comes. */
  readonly partials: { path: string; size: number; partial_offset: number; partial_bytes: number }[] = [];

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
    if (this.firstScan) await this.resumeRenamedAway(seen);
    for (const [key, at] of this.truncatedAt) if (Date.now() - at > this.opts.deferMs) this.truncatedAt.delete(key);
    const inUse = new Set([...this.tailers.values()].map((t) => t.key));
    const forgotten = this.registry.cleanup(this.opts.forgetAfterMs, inUse);
    for (const key of forgotten) this.sink.forget(key);
    if (forgotten.length > 0) this.logger.debug({ keys: forgotten }, 'forgot files not seen for long');
    this.firstScan = false;
  }

  /**
   * At start-up, content known to the registry whose file is no longer where it was (renamed out of the globs while
   * the shipper was stopped: `app.log` to `app.log.1` by a rotation, say) is found again by device and inode in the
   * directory of its path (first next to the target, for a symlinked path) and read to its end under its key, then
   * closed as any file rotated away is. Only content whose old path the globs still take is looked for (a
   * configuration change is not ours to undo), and only that very content is opened: same inode, birth time and
   * head, at least as long as what was shipped (holds()). Content not found, once every directory it was looked for
   * in was searched completely, is reported once if lines of it may be unshipped (reportGone()).
   */
  private async resumeRenamedAway(seen: Set<string>): Promise<void> {
    const inUse = new Set([...this.tailers.values()].map((t) => t.key));
    const globbed = picomatch(this.opts.globs.map((g) => resolve(g)), { dot: true });
    // Content closed at its end (rotated away and quiet) with everything read settled has nothing left to look for.
    const done = (e: FileState): boolean => !e.following && e.closedAt !== undefined && e.offset >= e.closedAt;
    const missing = [...this.registry.all()].filter(
      (e) => !e.deleted && !e.detached && !e.goneReported && !done(e) && !inUse.has(e.key) && !seen.has(`${e.dev}:${e.ino}`) && globbed(e.path),
    );
    // Where to look for each, and by which name first: a symlinked path (Kubernetes' /var/log/containers/*.log) is
    // rotated next to its target, so the target's directory comes first.
    const byDir = new Map<string, { e: FileState; stem: string }[]>();
    const looked = new Set<string>();
    for (const e of missing) {
      try {
        const st = await stat(e.path);
        if (st.dev === e.dev && st.ino === e.ino) continue; // still in place, opened or failing through the scan
      } catch {
        // gone from its path: looked for below
      }
      const real = await realpath(e.path).catch(() => undefined);
      const places = real !== undefined && dirname(real) !== dirname(e.path) ? [real, e.path] : [e.path];
      for (const place of places) byDir.set(dirname(place), [...(byDir.get(dirname(place)) ?? []), { e, stem: basename(place) }]);
      looked.add(e.key);
    }
    const found = new Set<string>();
    const unsure = new Set<string>(); // keys with a directory that could not be looked through completely
    for (const [dir, entries] of byDir) {
      if (this.stopped) return;
      const pending = entries.filter(({ e }) => !found.has(e.key));
      if (pending.length === 0) continue;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        this.logger.warn({ dir, err: String(err) }, 'cannot list the directory of files that were being followed; files renamed there while stopped are not looked for');
        for (const { e } of pending) unsure.add(e.key);
        continue;
      }
      // Likely names first (app.log.1, app.log-20261201 for app.log), then the others up to the limit.
      const likely = names.filter((n) => pending.some(({ stem }) => n.startsWith(stem)));
      const likelySet = new Set(likely);
      const order = [...likely, ...names.filter((n) => !likelySet.has(n))];
      const searched = order.slice(0, RENAMED_SEARCH_LIMIT);
      const wanted = new Map(pending.map(({ e }) => [`${e.dev}:${e.ino}`, e]));
      for (const name of searched) {
        if (wanted.size === 0 || this.stopped) break;
        const path = join(dir, name);
        let st;
        try {
          st = await stat(path);
        } catch {
          continue;
        }
        const e = wanted.get(`${st.dev}:${st.ino}`);
        if (!e || !st.isFile()) continue;
        wanted.delete(`${st.dev}:${st.ino}`);
        found.add(e.key);
        const opened = await this.openFile(path, this.sourceOf(e.path), e.key).catch((err: unknown) => {
          if (this.opts.once) this.failures++;
          this.logger.warn({ path, err: String(err) }, 'cannot open file');
          return 'failed' as const;
        });
        if (opened === 'opened') {
          this.logger.info({ path, from: e.path, key: e.key, offset: e.offset, size: st.size }, 'found a file renamed out of the globs while stopped; reading it to its end');
          // Not matched by the globs: closed once read to its end and quiet, as a file rotated away while followed.
          for (const t of this.tailers.values()) if (t.key === e.key) t.orphan = true;
        } else if (opened === 'rejected') {
          // Its inode now holds other content: the file was deleted and the inode handed to another.
          this.reportGone(e, 'its inode now holds another file');
        }
      }
      if (this.stopped) return;
      if (searched.length < order.length && wanted.size > 0) {
        const open = [...wanted.values()].filter((e) => e.following).map((e) => e.path);
        if (open.length > 0) this.logger.warn({ dir, searched: searched.length, entries: order.length, paths: open }, 'directory too large to look through for files renamed while stopped: these were not found among the entries looked at');
        for (const e of wanted.values()) unsure.add(e.key);
      }
    }
    for (const e of missing) {
      if (looked.has(e.key) && !found.has(e.key) && !unsure.has(e.key)) this.reportGone(e, 'not found in its directory (deleted, or moved elsewhere while stopped)');
    }
  }

  /** Content whose file is gone: reported once, when lines of it may be unshipped (it was open, or not read to its settled end). */
  private reportGone(e: FileState, why: string): void {
    const unshipped = e.following === true || (e.closedAt !== undefined && e.offset < e.closedAt);
    this.registry.update(e.key, { goneReported: true, following: undefined, ...(e.btime === undefined ? { deleted: true } : {}) });
    if (!unshipped) return;
    this.logger.warn({ path: e.path, key: e.key, offset: e.offset }, `a file that was being followed is gone from its path, ${why}: lines written to it past offset, if any, cannot be shipped`);
  }

  /** The input whose globs take `path` (the first, as in a scan). */
  private sourceOf(path: string): number {
    const sources = this.opts.sources;
    if (!sources || sources.length < 2) return 0;
    const found = sources.findIndex((s) => picomatch(s.globs.map((g) => resolve(g)), { dot: true })(path));
    return found < 0 ? 0 : found;
  }

  /**
   * Opens a file and starts its tailer. With `only`, the file is opened only if it holds that key's content (the same
   * inode, birth time and head, at least as long as what was shipped): anything else is 'rejected', untouched.
   */
  private async openFile(path: string, source: number, only?: string): Promise<'opened' | 'deferred' | 'rejected'> {
    const fh = await open(path, 'r');
    let handedOver = false;
    try {
      const big = await fh.stat({ bigint: true });
      const st = { dev: Number(big.dev), ino: Number(big.ino), size: Number(big.size) };
      const btime = birthTime(big);
      const id = `${st.dev}:${st.ino}`;
      if (this.tailers.has(id)) return 'deferred'; // opened under another name in this scan
      const head = await readHead(fh, Math.min(st.size, FINGERPRINT_BYTES));
      const file: FileIdentity = { key: '', dev: st.dev, ino: st.ino, ...(btime !== undefined ? { btime } : {}) };
      if (only !== undefined && !this.holds(only, file, st.size, head)) return 'rejected';
      const decision = this.identify(path, file, st.size, head);
      if (decision === 'defer') return 'deferred';
      const { key, start, fp, made } = decision;
      file.key = key;
      // A key made for new content must be on disk before any of its lines can be stored under it: after a
      // crash the content is then found again under the same key, and its replayed lines are 409s, not copies.
      if (made) await this.registry.save();
      if (key !== '') this.registry.update(key, { following: true, closedAt: undefined, goneReported: undefined });
      let failed = false;
      const sink: FileSink = this.opts.sources?.[source].open() ?? { line: (l) => this.sink.line(l), consumed: (k, p) => this.sink.consumed(k, p), closed: () => undefined };
      const tailer = new Tailer(fh, file, path, start, st.size, fp, this.opts, {
        line: (l) => sink.line(l),
        lineBytes: sink.lineBytes,
        lineRun: sink.lineRun,
        room: (bytes) => this.sink.room(bytes),
        release: (bytes) => this.sink.release(bytes),
        bytesRead: (n) => this.sink.bytesRead(n),
        consumed: (t, pos) => sink.consumed(t.key, pos),
        truncated: (t) => this.truncated(t),
        keyFor: (t, newHead, final) => this.keyFor(t, newHead, final),
        fingerprint: (t, newFp) => this.registry.update(t.key, { fp: newFp.hash, fpLen: newFp.len }),
        failed: (t, err) => {
          failed = true;
          this.failures++;
          this.logger.error({ path: t.path, key: t.key, err: String(err) }, 'reading failed; the file is reopened at the next scan');
        },
        closed: (t) => {
          // Read to its end (not stopped, not failed): what parsers still hold is complete and is passed on.
          sink.closed(!failed && !this.stopped);
          this.closed(id, t, !failed && !this.stopped && (t.orphan || t.deleted));
        },
      });
      handedOver = true;
      this.tailers.set(id, tailer);
      this.logger.info({ path, key: key || undefined, offset: start, size: st.size }, 'following file');
      return 'opened';
    } finally {
      if (!handedOver) await fh.close();
    }
  }

  /** Whether the file holds the content of registry entry `key` (identify()'s rule for a file known by inode). */
  private holds(key: string, file: FileIdentity, size: number, head: Buffer): boolean {
    const e = this.registry.get(key);
    if (!e || e.dev !== file.dev || e.ino !== file.ino || e.detached || e.deleted) return false;
    const recycled = e.btime !== undefined && file.btime !== undefined && e.btime !== file.btime;
    const sameHead = e.fpLen <= head.length && fingerprintOf(head, e.fpLen).hash === e.fp;
    return !recycled && sameHead && size >= e.offset;
  }

  /**
   * Decides which content a newly opened file holds and where to start reading it: its key ('' while it cannot be
   * derived yet, see keyFor), its head fingerprint, and whether the key was made now (then saved before reading).
   */
  private identify(path: string, file: FileIdentity, size: number, head: Buffer): { key: string; start: number; fp: Fingerprint; made?: true } | 'defer' {
    const now = Date.now();
    const { dev, ino, btime } = file;
    for (const e of this.registry.byInode(dev, ino)) {
      const sameHead = e.fpLen <= head.length && fingerprintOf(head, e.fpLen).hash === e.fp;
      // Another birth time: the file was deleted and its inode handed to a new one, whatever bytes it holds.
      const recycled = e.btime !== undefined && btime !== undefined && e.btime !== btime;
      if (!recycled && sameHead && size >= e.offset) {
        // An entry of an earlier version has no birth time: it gets this one, and keeps its key.
        this.registry.update(e.key, { path, seen: now, ...(e.btime === undefined && btime !== undefined ? { btime } : {}) });
        return { key: e.key, start: this.sink.resumeAt(e.key) ?? e.offset, fp: { hash: e.fp, len: e.fpLen } };
      }
      // Shrunk or rewritten while we were not looking: the old content is gone from here, though a copy of it may
      // still turn up (copytruncate). A recycled inode's old file was deleted: nothing of it can turn up.
      this.registry.update(e.key, recycled ? { deleted: true } : { detached: true });
    }
    if (head.length >= MIN_CLAIM_BYTES) {
      for (const e of this.registry.all()) {
        if (e.fpLen < MIN_CLAIM_BYTES || e.fpLen > head.length || fingerprintOf(head, e.fpLen).hash !== e.fp) continue;
        // A copy is another file: content whose own inode is this one was rewritten in place or deleted, not copied.
        if (e.deleted || (e.dev === dev && e.ino === ino)) continue;
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
        this.registry.update(e.key, { path, dev, ino, btime, detached: false, seen: now });
        return { key: e.key, start, fp: { hash: e.fp, len: e.fpLen } };
      }
    }
    this.deferred.delete(path);
    const fp = fingerprintOf(head);
    const atEnd = this.opts.from === 'end' && (this.firstScan || this.opts.once);
    const start = atEnd ? size : 0;
    const key = this.newKey(file, head, false);
    if (key === undefined) return { key: '', start, fp };
    this.registry.set({ key, path, dev, ino, btime, fp: fp.hash, fpLen: fp.len, offset: start, seen: now });
    return { key, start, fp, made: true };
  }

  /**
   * The key of new content: derived from the file (device, inode, birth time, first line) so that it comes out the
   * same after a lost state directory; undefined while the first line is incomplete. Without a birth time, minted.
   */
  private newKey(file: FileIdentity, head: Buffer, final: boolean): string | undefined {
    if (file.btime === undefined) return mintKey(file.dev, file.ino);
    const kh = keyHead(head, final);
    if (kh === undefined) return undefined;
    // Earlier content of this same file (truncated in place and rewritten) may have had the same first line.
    for (let n = 0; ; n++) {
      const key = contentKey(file.dev, file.ino, file.btime, kh, n);
      if (!this.registry.get(key)) return key;
    }
  }

  /** A tailer's content whose key was pending: derives it from the head once it decides, and saves it. */
  private async keyFor(t: Tailer, head: Buffer, final: boolean): Promise<FileIdentity | undefined> {
    const key = this.newKey(t.file, head, final);
    if (key === undefined) return undefined;
    const fp = fingerprintOf(head);
    const { dev, ino, btime } = t.file;
    this.registry.set({ key, path: t.path, dev, ino, btime, fp: fp.hash, fpLen: fp.len, offset: t.framer.consumed, seen: Date.now() });
    await this.registry.save(); // see openFile
    return { ...t.file, key };
  }

  private async truncated(t: Tailer): Promise<FileIdentity> {
    this.registry.update(t.key, { detached: true });
    this.truncatedAt.set(t.key, Date.now());
    const file: FileIdentity = { ...t.file, key: '' };
    // Where the key is derived, it waits for the new content's first line; a minted one is saved before reading.
    if (file.btime === undefined) {
      file.key = mintKey(file.dev, file.ino);
      this.registry.set({ key: file.key, path: t.path, dev: file.dev, ino: file.ino, fp: '', fpLen: 0, offset: 0, seen: Date.now() });
      await this.registry.save();
    }
    this.logger.info({ path: t.path, old_key: t.key, key: file.key || undefined, read: t.pos }, 'file truncated; reading it from its start as new content');
    return file;
  }

  /** A tailer closed; `atEnd`: because its file was rotated away or deleted and read to its end (not a stop). */
  private closed(id: string, t: Tailer, atEnd: boolean): void {
    if (this.tailers.get(id) === t) this.tailers.delete(id);
    if (this.opts.once) this.readToEnd.add(id);
    // A deleted file's inode may be handed to a new file, even one with the same bytes: that is other content.
    this.registry.update(t.key, { seen: Date.now(), ...(t.deleted ? { deleted: true } : {}), ...(atEnd ? { following: undefined, closedAt: t.pos } : {}) });
    if (t.partial) this.partials.push({ path: t.path, size: t.pos, partial_offset: t.partial.offset, partial_bytes: t.partial.bytes });
    if (!this.opts.once && !this.stopped) this.logger.info({ path: t.path, key: t.key, offset: t.pos }, 'closed file');
  }
}
