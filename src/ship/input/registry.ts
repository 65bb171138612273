// The registry: settled read positions per file key, kept in a JSON file in the state directory.
// Only settled offsets are stored (every line before them acknowledged), so a crash re-sends a
// little but never skips. Writes are atomic: temp file, fsync, rename, fsync of the directory.
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { Cut } from '../parsers/chain';

export interface FileState {
  key: string;
  /** Last path the file was seen at. */
  path: string;
  dev: number;
  ino: number;
  /**
   * Birth time of the file (statx, ns as decimal text): a recycled inode has another one. Absent where the
   * filesystem keeps none, and in entries written before it was recorded (filled in when the file is next opened).
   */
  btime?: string;
  /** Head fingerprint: hash of the first fpLen bytes. */
  fp: string;
  fpLen: number;
  /** Settled offset: reading resumes here. */
  offset: number;
  /**
   * The file at dev/ino no longer holds this content (it was truncated); the entry waits for a copy
   * with the same head (copytruncate) to claim it.
   */
  detached?: boolean;
  /** The file was deleted (seen with no link left): its inode, when reused, holds other content. */
  deleted?: boolean;
  /** A tailer has the file open (set when opened, removed when it closes at the end of a rotated-away file). */
  following?: boolean;
  /**
   * Where reading ended when the file was closed at its end, rotated away or deleted and quiet: once offset reaches it,
   * nothing of the file was left unshipped.
   */
  closedAt?: number;
  /** The file was not found at start-up (deleted, or moved elsewhere while stopped) and that was said: not again. */
  goneReported?: boolean;
  /** Last time (ms since epoch) the file was open or seen by a scan. */
  seen: number;
  /** Where parsers passed events on by time, ahead of offset (see parsers/chain.ts): replayed on a re-read. */
  cuts?: Cut[];
}

interface RegistryFile {
  version: 1;
  files: FileState[];
}

export const REGISTRY_FILE = 'registry.json';

/** A failing state directory: the registry could not be saved since `since` (ms since epoch). */
export interface SaveFailure {
  since: number;
  /** The error, naming the file and the system's code (ENOSPC, EROFS, EACCES...). */
  error: string;
}

export class FileRegistry {
  private readonly files = new Map<string, FileState>();
  private dirty = false;
  private saving: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing: SaveFailure | undefined;
  /** Told when saving starts failing (with the failure) and when it works again (undefined). */
  onSaveState: ((failure: SaveFailure | undefined) => void) | undefined;

  private constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** Opens (creating the directory if needed) and loads the registry; a corrupt file is set aside, not trusted. */
  static load(dir: string, logger: Logger): FileRegistry {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new UsageError(`state directory ${dir}: cannot create it (${(err as NodeJS.ErrnoException).code ?? err}); expected a writable directory`);
    }
    const reg = new FileRegistry(dir, logger);
    const file = join(dir, REGISTRY_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reg;
      throw new UsageError(`registry ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    try {
      const parsed = JSON.parse(text) as RegistryFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.files)) throw new Error('unknown layout');
      for (const f of parsed.files) {
        if (typeof f.key === 'string' && Number.isFinite(f.offset)) reg.files.set(f.key, f);
      }
    } catch (err) {
      const aside = `${file}.corrupt-${Date.now()}`;
      renameSync(file, aside);
      logger.error({ file, aside, err: String(err) }, 'registry is unreadable; set aside, files are read as new');
    }
    return reg;
  }

  get(key: string): FileState | undefined {
    return this.files.get(key);
  }

  all(): IterableIterator<FileState> {
    return this.files.values();
  }

  set(state: FileState): void {
    this.files.set(state.key, state);
    this.dirty = true;
  }

  /** Updates fields of an entry (no-op if it is gone). */
  update(key: string, patch: Partial<FileState>): void {
    const cur = this.files.get(key);
    if (!cur) return;
    Object.assign(cur, patch);
    this.dirty = true;
  }

  delete(key: string): void {
    if (this.files.delete(key)) this.dirty = true;
  }

  byInode(dev: number, ino: number): FileState[] {
    const out: FileState[] = [];
    for (const f of this.files.values()) if (f.dev === dev && f.ino === ino && !f.detached && !f.deleted) out.push(f);
    return out;
  }

  /** Forgets entries not seen for longer than maxAgeMs, except the keys still in use. */
  cleanup(maxAgeMs: number, inUse: Set<string>, now = Date.now()): string[] {
    const gone: string[] = [];
    for (const f of this.files.values()) {
      if (!inUse.has(f.key) && now - f.seen > maxAgeMs) gone.push(f.key);
    }
    for (const k of gone) this.delete(k);
    return gone;
  }

  /** Saves every intervalMs while something changed. */
  autoSave(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.dirty) void this.save().catch((err: unknown) => this.logger.error({ err: String(err) }, 'registry save failed'));
    }, intervalMs);
    this.timer.unref();
  }

  stopAutoSave(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Writes the registry atomically; concurrent calls are serialised. */
  async save(): Promise<void> {
    while (this.saving) await this.saving;
    this.saving = this.write().finally(() => {
      this.saving = undefined;
    });
    return this.saving;
  }

  /** Why positions cannot be saved now, if they cannot. */
  saveFailure(): SaveFailure | undefined {
    return this.failing;
  }

  private async write(): Promise<void> {
    // Cleared before the snapshot so that changes made while writing keep it set; set again on failure
    // so that the next autosave tries again.
    this.dirty = false;
    try {
      await this.writeFile();
    } catch (err) {
      this.dirty = true;
      const e = err as NodeJS.ErrnoException;
      const error = `cannot save ${join(this.dir, REGISTRY_FILE)}: ${e.code ?? ''} ${e.message ?? String(err)}`.replace(/\s+/g, ' ');
      if (!this.failing) {
        this.failing = { since: Date.now(), error };
        this.logger.error({ dir: this.dir, err: error }, 'cannot save positions in the state directory; reading pauses until it can');
        this.onSaveState?.(this.failing);
      } else this.failing.error = error;
      throw err;
    }
    if (this.failing) {
      this.logger.info({ dir: this.dir, failedForMs: Date.now() - this.failing.since }, 'positions saved again; reading resumes');
      this.failing = undefined;
      this.onSaveState?.(undefined);
    }
  }

  private async writeFile(): Promise<void> {
    const body: RegistryFile = { version: 1, files: [...this.files.values()] };
    const file = join(this.dir, REGISTRY_FILE);
    const tmp = `${file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(body));
      await fh.sync();
    } catch (err) {
      // A part written to a full disk would hold the last free bytes: give them back.
      await fh.truncate(0).catch(() => undefined);
      throw err;
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    const dirFh = await open(this.dir, 'r');
    try {
      await dirFh.sync();
    } finally {
      await dirFh.close();
    }
  }
}
