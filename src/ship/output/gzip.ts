// Gzip for _bulk bodies, off the main thread: libdeflate's whole-buffer compressor when its binding is built
// (native/gzip-libdeflate.c: at level 1 ~15% less CPU per MiB of body than Node's zlib, ~1% smaller; bench/ship-gzip.mjs),
// else node:zlib.
// Either way a few compressors are kept between requests rather than one made per request (a new zlib stream allocates
// its deflate state, ~256 KiB at level 1, and its output chunks each time).
import { constants, createGzip, type Gzip, type ZlibReset } from 'node:zlib';
import { loadLibdeflate, type LibdeflateBinding, type LibdeflateHandle } from './libdeflate';

/** What compresses _bulk bodies: each call gives one complete gzip member (RFC 1952) of its input. */
export interface GzipCodec {
  /** Which library does the work, for the start-up log: `libdeflate 1.14` or `zlib 1.3.1`. */
  readonly name: string;
  /**
   * The gzip member of `input`; rejects when the library fails. `input` is read in place until this settles: it must
   * not be written, nor its ArrayBuffer transferred or detached, before then.
   */
  compress(input: Buffer): Promise<Buffer>;
  /** Frees the idle compressors; those of calls still under way are freed when they end, not kept. */
  close(): void;
}

/**
 * The gzip codec for `level` (1 fastest .. 9): libdeflate's when its binding loads and SIDEKICK_NATIVE is not `off`,
 * else zlib's. Up to `keep` idle compressors are kept (one per concurrent request is enough).
 */
export function createGzipCodec(level: number, keep: number, env: NodeJS.ProcessEnv = process.env): GzipCodec {
  const binding = env.SIDEKICK_NATIVE === 'off' ? undefined : loadLibdeflate();
  return binding ? new LibdeflatePool(binding, level, keep) : new GzipPool(level, keep);
}

/** libdeflate compressors (each one call at a time), kept between calls; the work runs on libuv's thread pool. */
export class LibdeflatePool implements GzipCodec {
  readonly name: string;
  private readonly idle: LibdeflateHandle[] = [];
  private closed = false;

  constructor(
    private readonly binding: LibdeflateBinding,
    private readonly level: number,
    private readonly keep: number,
  ) {
    this.name = `libdeflate ${binding.version}`;
  }

  async compress(input: Buffer): Promise<Buffer> {
    const handle = this.idle.pop() ?? this.binding.open(this.level);
    // A handle whose call fails is dropped (collected with its compressor); the others serve the next calls.
    const out = await this.binding.gzip(handle, input);
    if (!this.closed && this.idle.length < this.keep) this.idle.push(handle);
    return out;
  }

  close(): void {
    // The compressors are freed when their handles are collected.
    this.closed = true;
    this.idle.length = 0;
  }
}

/** Output buffer of each stream: a compressed 512 KiB body fits in one, and comes out as one slice of it. */
const CHUNK_BYTES = 128 * 1024;

interface Slot {
  /** node:zlib resets a gzip stream as it does a deflate one (deflateReset: the next member gets its own header). */
  gz: Gzip & ZlibReset;
  parts: Buffer[];
  size: number;
}

/**
 * Compresses whole buffers, each into one complete gzip member, with node:zlib on libuv's thread pool; up to `keep`
 * idle streams are kept for the next calls (one per concurrent request is enough).
 */
export class GzipPool implements GzipCodec {
  readonly name = `zlib ${process.versions.zlib}`;
  private readonly idle: Slot[] = [];
  private closed = false;

  constructor(
    private readonly level: number,
    private readonly keep: number,
  ) {}

  /** The gzip member of `input`; rejects when zlib fails (that stream is then dropped). */
  compress(input: Buffer): Promise<Buffer> {
    const slot = this.idle.pop() ?? this.open();
    slot.parts = [];
    slot.size = 0;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        slot.gz.destroy();
        reject(err);
      };
      slot.gz.once('error', onError);
      slot.gz.write(input);
      // Z_FINISH ends the member; reset() starts the next one on the same deflate state.
      slot.gz.flush(constants.Z_FINISH, () => {
        slot.gz.off('error', onError);
        if (slot.gz.destroyed) return;
        // Output still buffered by the stream (not emitted yet) comes out through the 'data' listener.
        while (slot.gz.readableLength > 0 && slot.gz.read() !== null);
        const { parts, size } = slot;
        slot.parts = [];
        slot.gz.reset();
        if (!this.closed && this.idle.length < this.keep) this.idle.push(slot);
        else slot.gz.close();
        resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const slot of this.idle.splice(0)) slot.gz.close();
  }

  private open(): Slot {
    const slot: Slot = { gz: createGzip({ level: this.level, chunkSize: CHUNK_BYTES }) as Gzip & ZlibReset, parts: [], size: 0 };
    slot.gz.on('data', (chunk: Buffer) => {
      slot.parts.push(chunk);
      slot.size += chunk.length;
    });
    return slot;
  }
}
