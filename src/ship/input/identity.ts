// File identity: which registry entry (and so which document _ids) a file on disk belongs to.
//
// A key is minted once per "content lifetime" of a file: a short hash of its device, inode and a
// first-seen marker. The head fingerprint (a hash of the first bytes) is stored beside it so that a
// recycled inode holding other bytes is taken for a new file, and so that the copy made by
// copytruncate can be recognised as the content the key was minted for.
import { createHash, randomBytes } from 'node:crypto';
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

/** A new key for a file's content; never reused, even for the same device and inode. */
export function mintKey(dev: number, ino: number): string {
  return createHash('sha1')
    .update(`${dev}:${ino}:${Date.now()}:`)
    .update(randomBytes(8))
    .digest('base64url')
    .slice(0, 12)
    .replace(/[-_]/g, (c) => (c === '-' ? 'x' : 'y'));
}
