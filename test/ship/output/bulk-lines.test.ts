// Runs of plain lines written by the bulk-lines binding (native/bulk-lines.c through makeRunEncoder): the same bytes
// and documents as the per-line encoder, whatever the lines, the reads and the limits.
import { Framer } from '../../../src/ship/input/framing';
import { bulkBody } from '../../../src/ship/output/bulk';
import { BULK_LINES_BINDING, bulkLinesError, loadBulkLines } from '../../../src/ship/output/bulk-lines';
import { Arena, makeBytesEncoder, makeRunEncoder, type EncodeOptions } from '../../../src/ship/output/encoder';
import type { Doc } from '../../../src/ship/types';
import { thrown } from './helpers';

const binding = loadBulkLines();
// `npm run build` builds the binding where a C compiler is installed; CI installs one and requires it.
const needBinding = process.env.CI === 'true' || process.env.SIDEKICK_NATIVE === 'required';
const withBinding = binding ? it : it.skip;

const opts: EncodeOptions = { hostName: 'web-1', agentVersion: '0.1.0', fields: { service: { name: 'api' } } };
const path = '/var/log/app.log';

/** Every kind of line the framer and the encoders tell apart, between plain ones. */
const CONTENT = Buffer.concat([
  Buffer.from('2026-12-01 INFO plain line one\nplain two\r\n'),
  Buffer.from('say "hi" \\ and a\ttab\n'), // bytes to escape
  Buffer.from('ünï 🎉 café\n'), // non-ASCII
  Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]), // invalid UTF-8
  Buffer.from('\n\r\n'), // empty lines
  Buffer.alloc(5), // NUL padding before a line
  Buffer.from('after the hole\n'),
  Buffer.from('x'.repeat(40) + '\n'), // over the limit below
  Buffer.from('just at the limit is 32 bytes..\r\n'),
  Buffer.from(Array.from({ length: 60 }, (_, i) => `plain ${i} ${'y'.repeat(i % 7)}\n`).join('')),
  Buffer.from('a last partial line'),
]);
const MAX_LINE = 32;

/**
 * Frames `content` read in pieces of `piece` bytes from file offset `start`, every plain line encoded by the per-line
 * bytes encoder, and, `run` given, runs offered to it first (no batch limits); the reader's buffer is scribbled over
 * after each read. Returns the arena's body, the documents in order and how many lines runs took.
 */
function encodeAll(key: string, piece: number, start: number, arenaBytes: number, run = false, content = CONTENT, maxLine = MAX_LINE): { body: Buffer; docs: Doc[]; taken: number } {
  const arena = new Arena(arenaBytes);
  const docs: Doc[] = [];
  const bytes = makeBytesEncoder(opts);
  const runs = run ? makeRunEncoder(opts) : undefined;
  let taken = 0;
  const file = { key, dev: 1, ino: 2 };
  const framer = new Framer(
    file,
    path,
    start,
    maxLine,
    () => {
      throw new Error('a framer given a bytes sink made a Line');
    },
    (f, p, offset, next, buf, s, e, truncated) => docs.push(bytes(arena, f, p, offset, next, buf, s, e, truncated)),
    runs &&
      ((f, p, buf, s, e, pos, maxLine) => {
        const r = runs(arena, f, p, buf, s, e, pos, maxLine, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, docs);
        taken += r.count;
        return r.index;
      }),
  );
  let pos = start;
  for (let at = 0; at < content.length; at += piece) {
    const buf = Buffer.from(content.subarray(at, at + piece));
    framer.push(buf, 0, buf.length, pos);
    buf.fill(0x21);
    pos += buf.length;
  }
  framer.flush(pos);
  return { body: Buffer.from(arena.body), docs, taken };
}

const summary = (docs: Doc[]) => docs.map((d) => [d.id, d.source, d.line.offset, d.line.next, d.line.truncated, d.line.text, d.line.path]);

describe('the bulk-lines binding', () => {
  it(`is built and loads (${BULK_LINES_BINDING}) where CI or SIDEKICK_NATIVE=required says it must`, () => {
    if (!needBinding && !binding) return; // a machine without a C compiler: every plain line takes the JS encoder
    expect([bulkLinesError(), typeof binding?.writeLines]).toEqual([undefined, 'function']);
  });

  it('is not used when SIDEKICK_NATIVE=off: there is no run encoder, every plain line takes the per-line one', () => {
    expect(loadBulkLines({ SIDEKICK_NATIVE: 'off' })).toBeUndefined();
    expect(makeRunEncoder(opts, { SIDEKICK_NATIVE: 'off' })).toBeUndefined();
  });

  describe.each([
    ['a key written as it is', 'f3a9c0-1b', true],
    ['a key that needs escaping (every line goes the per-line way)', 'we"ird', false],
  ])('%s', (_name, key, runsTake) => {
    it.each([
      ['one read', CONTENT.length, 0, 1 << 16],
      ['reads of 7 bytes', 7, 0, 1 << 16],
      ['reads of 100 bytes, offsets past 2^32', 100, 5_000_000_123, 1 << 16],
      ['reads of 512 bytes into an arena of 64 bytes (it grows under the runs)', 512, 10, 64],
    ])('%s: the same body and documents as the per-line encoder', (_how, piece, start, arenaBytes) => {
      if (!binding) return;
      const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2026-12-01T10:00:00.123Z'));
      try {
        const perLine = encodeAll(key, piece, start, arenaBytes);
        const runs = encodeAll(key, piece, start, arenaBytes, true);
        expect(runs.docs).toHaveLength(69);
        // Reads of 7 bytes hold few whole lines: those are framed one by one, from the carry.
        if (!runsTake) expect(runs.taken).toBe(0);
        else if (piece >= 100) expect(runs.taken).toBeGreaterThan(30);
        expect(runs.body.toString('latin1')).toBe(perLine.body.toString('latin1'));
        expect(summary(runs.docs)).toEqual(summary(perLine.docs));
        // The arena is the documents' body as it is.
        expect(runs.body.equals(bulkBody(runs.docs))).toBe(true);
      } finally {
        now.mockRestore();
      }
    });
  });

  withBinding('random content, reads, limits and offsets (200 seeded cases): the same body and documents as the per-line encoder', () => {
    // mulberry32, seeded: the same cases on every run, so a failure names its seed.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const alphabet = [...Buffer.from('abcdefghij klmnopqrstuvwxyz0123456789-:.,'), 0x22, 0x5c, 0x0d, 0x00, 0x09, 0xc3, 0xa9, 0xff, 0x7f];
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2026-12-01T10:00:00.123Z'));
    try {
      let taken = 0;
      for (let c = 0; c < 200; c++) {
        const caseSeed = seed;
        const bytes: number[] = [];
        const lines = 1 + rand(60);
        for (let l = 0; l < lines; l++) {
          const len = rand(5) === 0 ? rand(120) : rand(30);
          // Mostly plain bytes, so that runs form; the rest from the whole alphabet.
          for (let k = 0; k < len; k++) bytes.push(rand(8) === 0 ? alphabet[rand(alphabet.length)] : alphabet[rand(26)]);
          if (l < lines - 1 || rand(2) === 0) bytes.push(0x0a);
        }
        const content = Buffer.from(bytes);
        const piece = 1 + rand(300);
        const start = rand(2) === 0 ? rand(1000) : 2 ** 40 + rand(1000);
        const maxLine = 8 + rand(100);
        const arenaBytes = rand(2) === 0 ? 64 : 1 << 16;
        const perLine = encodeAll('f3a9c0-1b', piece, start, arenaBytes, false, content, maxLine);
        const runs = encodeAll('f3a9c0-1b', piece, start, arenaBytes, true, content, maxLine);
        expect({ seed: caseSeed, body: runs.body.toString('latin1') }).toEqual({ seed: caseSeed, body: perLine.body.toString('latin1') });
        expect({ seed: caseSeed, docs: summary(runs.docs) }).toEqual({ seed: caseSeed, docs: summary(perLine.docs) });
        taken += runs.taken;
      }
      expect(taken).toBeGreaterThan(500);
    } finally {
      now.mockRestore();
    }
  });

  withBinding('stops after maxDocs lines or once maxBytes is reached, and before a line it does not take', () => {
    const run = makeRunEncoder(opts)!;
    const file = { key: 'k1', dev: 1, ino: 2 };
    const src = Buffer.from('aaa\nbbb\nccc\nd"d\neee\n');
    const arena = new Arena(4096);
    const docs: Doc[] = [];
    const byDocs = run(arena, file, path, src, 0, src.length, 100, 1024, 2, 1e9, docs);
    expect(byDocs).toEqual({ index: 8, count: 2, bytes: arena.length, offset: 100, next: 108 });
    const opBytes = arena.length / 2;
    // maxBytes reached within the line that crosses it: that line is the last.
    const byBytes = run(arena, file, path, src, 8, src.length, 108, 1024, 10, 1, docs);
    expect([byBytes.index, byBytes.count, byBytes.offset, byBytes.next]).toEqual([12, 1, 108, 112]);
    // `d"d` must be escaped: left to the per-line encoder.
    const refused = run(arena, file, path, src, 12, src.length, 112, 1024, 10, 1e9, docs);
    expect([refused.index, refused.count]).toEqual([12, 0]);
    expect(docs.map((d) => d.line.text)).toEqual(['aaa', 'bbb', 'ccc']);
    expect(arena.length).toBe(3 * opBytes);
  });

  withBinding('refuses arguments of the wrong type or out of range with a TypeError naming them', () => {
    const b = binding!;
    const buf = Buffer.from('x\n');
    const f = Buffer.from('-');
    const out = new Float64Array(8);
    expect(thrown(() => b.writeLines('x\n' as unknown as Buffer, 0, 2, 0, buf, 0, f, f, f, f, 10, 10, 10, out))).toEqual(['TypeError', 'writeLines: src must be a Buffer']);
    expect(thrown(() => b.writeLines(buf, 0, 3, 0, buf, 0, f, f, f, f, 10, 10, 10, out))).toEqual(['TypeError', 'writeLines: start and end must be indexes of src, start <= end']);
    expect(thrown(() => b.writeLines(buf, 0, 2, 0, buf, 5, f, f, f, f, 10, 10, 10, out))).toEqual(['TypeError', 'writeLines: at must be an index of arena']);
    expect(thrown(() => b.writeLines(buf, 0, 2, 0, buf, 0, f, f, f, f, 10, 10, 10, new Uint8Array(8) as unknown as Float64Array))).toEqual([
      'TypeError',
      'writeLines: out must be a Float64Array of at least 2 numbers',
    ]);
  });
});
