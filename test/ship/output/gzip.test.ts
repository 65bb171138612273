import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { createGzipCodec, GzipPool, LibdeflatePool, type GzipCodec } from '../../../src/ship/output/gzip';
import { LIBDEFLATE_BINDING, libdeflateError, loadLibdeflate } from '../../../src/ship/output/libdeflate';
import { thrown } from './helpers';

/** Text that compresses like a _bulk body, with a random part so that bodies differ. */
function body(lines: number): Buffer {
  let text = '';
  for (let i = 0; i < lines; i++) text += `{"create":{"_id":"k-${i.toString(36)}"}}\n{"message":"line ${i} ${randomBytes(8).toString('hex')}"}\n`;
  return Buffer.from(text);
}

const binding = loadLibdeflate();

// `npm run build` builds the binding where a C compiler and libdeflate are installed; CI installs both and requires it.
const needBinding = process.env.CI === 'true' || process.env.SIDEKICK_NATIVE === 'required';

describe('the libdeflate binding', () => {
  it(`is built and loads (${LIBDEFLATE_BINDING}) where CI or SIDEKICK_NATIVE=required says it must`, () => {
    if (!needBinding && !binding) return; // a machine without libdeflate: gzip goes through node:zlib (the tests below say so)
    expect([libdeflateError(), binding?.version]).toEqual([undefined, expect.stringMatching(/^\d+\.\d+/)]);
  });

  const withBinding = binding ? it : it.skip;
  withBinding('refuses a level outside 1..12, a second call on a busy handle, and input that is not a Buffer', async () => {
    const b = binding!;
    expect(thrown(() => b.open(0))).toEqual(['RangeError', 'libdeflate level must be an integer from 1 to 12']);
    expect(thrown(() => b.open(13))).toEqual(['RangeError', 'libdeflate level must be an integer from 1 to 12']);
    const handle = b.open(1);
    const input = body(2000);
    const first = b.gzip(handle, input);
    expect(() => b.gzip(handle, input)).toThrow('this handle is already compressing (one call at a time)');
    expect(gunzipSync(await first).equals(input)).toBe(true);
    // Once settled, the handle takes the next call.
    expect(gunzipSync(await b.gzip(handle, body(3))).toString()).toContain('"_id":"k-2"');
    expect(thrown(() => b.gzip(handle, 'text' as unknown as Buffer))).toEqual(['TypeError', 'libdeflate gzip: the input must be a Buffer']);
    expect(thrown(() => b.gzip({} as never, input))).toEqual(['TypeError', 'libdeflate gzip: the first argument must be a handle from open()']);
  });
});

describe('createGzipCodec', () => {
  it('picks libdeflate when its binding loads, and node:zlib when it does not or SIDEKICK_NATIVE=off', () => {
    const chosen = createGzipCodec(1, 2, {});
    expect(chosen.name).toBe(binding ? `libdeflate ${binding.version}` : `zlib ${process.versions.zlib}`);
    expect(chosen).toBeInstanceOf(binding ? LibdeflatePool : GzipPool);
    const off = createGzipCodec(1, 2, { SIDEKICK_NATIVE: 'off' });
    expect([off.name, off instanceof GzipPool]).toEqual([`zlib ${process.versions.zlib}`, true]);
    chosen.close();
    off.close();
  });
});

const codecs: [string, () => GzipCodec][] = [['node:zlib (GzipPool)', () => new GzipPool(1, 2)]];
if (binding) codecs.push(['libdeflate (LibdeflatePool)', () => new LibdeflatePool(binding, 1, 2)]);
else codecs.push(['libdeflate (LibdeflatePool) [skipped: the binding is not built]', () => undefined as never]);

describe.each(codecs)('%s', (name, make) => {
  const maybe = name.includes('[skipped') ? it.skip : it;

  maybe('turns each body into a complete gzip member of it, one after another on a reused compressor', async () => {
    const pool = make();
    for (const input of [body(10), Buffer.alloc(0), body(3000), body(1)]) {
      const out = await pool.compress(input);
      expect(out.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      expect(gunzipSync(out).equals(input)).toBe(true);
    }
    pool.close();
  });

  maybe('keeps bodies apart when several are compressed at once, and when one does not compress at all', async () => {
    const pool = make();
    // Random bytes do not compress: 300 KiB of them fill more than two of a zlib stream's output buffers, and make
    // libdeflate's output as large as its bound.
    const inputs = [body(2000), randomBytes(300 * 1024), body(50), body(5000), body(7)];
    for (let round = 0; round < 3; round++) {
      const outs = await Promise.all(inputs.map((input) => pool.compress(input)));
      outs.forEach((out, i) => expect(gunzipSync(out).equals(inputs[i])).toBe(true));
    }
    pool.close();
  });

  maybe('compresses a body larger than the scratch kept between calls (4 MiB), and small ones after it', async () => {
    const pool = make();
    for (const input of [randomBytes(6 * 1024 * 1024), body(20), randomBytes(5 * 1024 * 1024), body(3)]) {
      expect(gunzipSync(await pool.compress(input)).equals(input)).toBe(true);
    }
    pool.close();
  });

  maybe('leaves its input as it was, and gives each call its own output (not a view of a scratch buffer reused later)', async () => {
    const pool = make();
    const a = body(500);
    const copy = Buffer.from(a);
    const outA = await pool.compress(a);
    const keptA = Buffer.from(outA);
    await pool.compress(body(800));
    expect(a.equals(copy)).toBe(true);
    expect(outA.equals(keptA)).toBe(true);
    pool.close();
  });
});
