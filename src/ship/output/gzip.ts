// Gzip for _bulk bodies: a few zlib streams kept and reset between requests, rather than one made per request
// (a new stream allocates its deflate state, ~256 KiB at level 1, and its output chunks each time).
import { constants, createGzip, type Gzip, type ZlibReset } from 'node:zlib';

/** Output buffer of each stream: a compressed 512 KiB body fits in one, and comes out as one slice of it. */
const CHUNK_BYTES = 128 * 1024;

interface Slot {
  /** node:zlib resets a gzip stream as it does a deflate one (deflateReset: the next member gets its own header). */
  gz: Gzip & ZlibReset;
  parts: Buffer[];
  size: number;
}

/**
 * Compresses whole buffers, each into one complete gzip member, on zlib's thread pool; up to `keep` idle streams are
 * kept for the next calls (one per concurrent request is enough).
 */
export class GzipPool {
  private readonly idle: Slot[] = [];

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
        if (this.idle.length < this.keep) this.idle.push(slot);
        else slot.gz.close();
        resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
      });
    });
  }

  /** Closes the idle streams. */
  close(): void {
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
