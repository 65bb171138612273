import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GzipPool } from '../../../src/ship/output/gzip';

/** Text that compresses like a _bulk body, with a random part so that bodies differ. */
function body(lines: number): Buffer {
  let text = '';
  for (let i = 0; i < lines; i++) text += `{"create":{"_id":"k-${i.toString(36)}"}}\n{"message":"line ${i} ${randomBytes(8).toString('hex')}"}\n`;
  return Buffer.from(text);
}

describe('GzipPool', () => {
  it('turns each body into a complete gzip member of it, one after another on a reused stream', async () => {
    const pool = new GzipPool(1, 2);
    for (const input of [body(10), Buffer.alloc(0), body(3000), body(1)]) {
      const out = await pool.compress(input);
      expect(out.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      expect(gunzipSync(out).equals(input)).toBe(true);
    }
    pool.close();
  });

  it('keeps bodies apart when several are compressed at once, and when one needs several output buffers', async () => {
    const pool = new GzipPool(1, 1);
    // Random bytes do not compress: 300 KiB of them fill more than two of the stream's output buffers.
    const inputs = [body(2000), randomBytes(300 * 1024), body(50), body(5000), body(7)];
    for (let round = 0; round < 3; round++) {
      const outs = await Promise.all(inputs.map((input) => pool.compress(input)));
      outs.forEach((out, i) => expect(gunzipSync(out).equals(inputs[i])).toBe(true));
    }
    pool.close();
  });
});
