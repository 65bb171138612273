// File identity: which registry entry (and so which document _ids) a file on disk belongs to.
//
// The key of a file's content is derived from the file itself: its device, inode, birth time (statx) and its first
// line, so a shipper that lost its state directory finds the same keys again and its re-read lines are 409s, and a
// recycled inode (another birth time) is other content even when it holds the same bytes. Where the filesystem
// keeps no birth time, a key is minted at random (a lost state directory then re-sends, never loses). The head
// fingerprint (a hash of the first bytes) is stored beside it so that content rewritten in place is taken for new
// content, and so that the copy made by copytruncate can be recognised as the content the key was made for.
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Bytes of the head hashed into the fingerprint. */
export const FINGERPRINT_BYTES = 1024;

export interface Fingerprint {
  /** Hash of the first `len` bytes (empty when len is 0). */
  hash: string;
  len: number;
}

export function fingerprintOf(head: Buffer, len = head.length): Fingerprint {
  if (len === 0) return { hash: '', len: 0 };
  return { hash: createHash('sha1').update(head.subarray(0, len)).digest('base64url').slice(0, 16), len };
}

/** Reads up to `len` bytes from the start of a file. */
export async function readHead(fh: FileHandle, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** Hashes the first fp.len bytes of a file and compares them with the fingerprint. */
export async function headMatches(fh: FileHandle, fp: Fingerprint): Promise<boolean> {
  if (fp.len === 0) return true;
  const head = await readHead(fh, fp.len);
  if (head.length < fp.len) return false;
  return fingerprintOf(head).hash === fp.hash;
}

/** A 12-character key from a hash: base64url with - and _ replaced, so that it reads as one word in an _id. */
function keyOf(hash: ReturnType<typeof createHash>): string {
  return hash
    .digest('base64url')
    .slice(0, 12)
    .replace(/[-_]/g, (c) => (c === '-' ? 'x' : 'y'));
}

/** A new key for a file's content; never reused, even for the same device and inode (filesystems without birth time). */
export function mintKey(dev: number, ino: number): string {
  return keyOf(createHash('sha1').update(`${dev}:${ino}:${Date.now()}:`).update(randomBytes(8)));
}

/** A file's birth time (statx btime) in nanoseconds as decimal text; undefined where the filesystem keeps none. */
export function birthTime(st: BigIntStats): string | undefined {
  return st.birthtimeNs > 0n ? String(st.birthtimeNs) : undefined;
}

/**
 * The bytes a content's key is derived from: its first line (newline included), or its first FINGERPRINT_BYTES
 * bytes when that line is longer. Both are fixed once written, so the key comes out the same however far the file
 * has grown. Undefined while neither is complete; `final` (the file will not grow: deleted) takes what there is.
 */
export function keyHead(head: Buffer, final = false): Buffer | undefined {
  const nl = head.indexOf(10);
  if (nl >= 0 && nl < FINGERPRINT_BYTES) return head.subarray(0, nl + 1);
  if (head.length >= FINGERPRINT_BYTES) return head.subarray(0, FINGERPRINT_BYTES);
  return final && head.length > 0 ? head : undefined;
}

/**
 * The key of one content of a file, reproducible from the file: device, inode, birth time and the key head.
 * `n` tells apart contents of one file (truncated in place and rewritten) whose first lines are the same.
 */
export function contentKey(dev: number, ino: number, btime: string, head: Buffer, n = 0): string {
  return keyOf(createHash('sha1').update(`${dev}:${ino}:${btime}:${n}:`).update(head));
}
