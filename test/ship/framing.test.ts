// Line framing: offsets, \r\n, partial lines, long lines, invalid UTF-8, empty lines.
import { Framer } from '../../src/ship/input/framing';
import type { Line } from '../../src/ship/types';

const file = { key: 'k', dev: 1, ino: 2 };

function frame(chunks: (string | Buffer)[], maxLine = 1024 * 1024, flushAt?: number): { lines: Line[]; framer: Framer } {
  const lines: Line[] = [];
  const framer = new Framer(file, '/x.log', 0, maxLine, (l) => lines.push(l));
  let pos = 0;
  for (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    framer.push(b, 0, b.length, pos);
    pos += b.length;
  }
  if (flushAt !== undefined) framer.flush(flushAt);
  return { lines, framer };
}

const brief = (lines: Line[]) => lines.map((l) => [l.text, l.offset, l.next, l.truncated]);

test('splits lines at \\n with byte offsets of the line start and just after its terminator', () => {
  const { lines, framer } = frame(['ab\ncdé\nxyz\n']);
  expect(brief(lines)).toEqual([
    ['ab', 0, 3, false],
    ['cdé', 3, 8, false],
    ['xyz', 8, 12, false],
  ]);
  expect(framer.consumed).toBe(12);
});

test('drops the \\r of \\r\\n, also when \\r and \\n arrive in different reads', () => {
  const { lines } = frame(['one\r\ntwo\r', '\nthree\r\n']);
  expect(lines.map((l) => l.text)).toEqual(['one', 'two', 'three']);
  expect(lines[2].next).toBe(17);
});

test('a partial last line waits for its newline, across several reads', () => {
  const { lines, framer } = frame(['first\npar', 'ti', 'al']);
  expect(lines.map((l) => l.text)).toEqual(['first']);
  expect(framer.consumed).toBe(6);
  framer.push(Buffer.from(' done\n'), 0, 6, 13);
  expect(brief(lines)[1]).toEqual(['partial done', 6, 19, false]);
});

test('flush ships a partial last line (the file is closed) with next at the end of file', () => {
  const { lines, framer } = frame(['a\nlast words'], 1024, 12);
  expect(brief(lines)).toEqual([
    ['a', 0, 2, false],
    ['last words', 2, 12, false],
  ]);
  expect(framer.consumed).toBe(12);
});

test('empty lines are skipped but their bytes advance the position', () => {
  const { lines, framer } = frame(['\n\r\na\n\n\n']);
  expect(brief(lines)).toEqual([['a', 3, 5, false]]);
  expect(framer.consumed).toBe(7);
});

test('a line longer than the limit is cut, flagged, and emitted once its newline is found', () => {
  const long = 'x'.repeat(25);
  const { lines } = frame([long.slice(0, 7), long.slice(7), '\nnext\n'], 10);
  expect(brief(lines)).toEqual([
    ['x'.repeat(10), 0, 26, true],
    ['next', 26, 31, false],
  ]);
});

test('a long line inside one read is cut too', () => {
  const { lines } = frame(['y'.repeat(30) + '\nok\n'], 10);
  expect(brief(lines)).toEqual([
    ['y'.repeat(10), 0, 31, true],
    ['ok', 31, 34, false],
  ]);
});

test('a line of exactly the limit ending in \\r\\n is not truncated', () => {
  const { lines } = frame(['z'.repeat(10) + '\r', '\n'], 10);
  expect(brief(lines)).toEqual([['z'.repeat(10), 0, 12, false]]);
});

test('invalid UTF-8 is replaced, not dropped', () => {
  const { lines } = frame([Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a])]);
  expect(lines[0].text).toBe('a\ufffd\ufffdb');
  expect(lines[0].next).toBe(5);
});

test('reset after truncation starts at the new position with the new identity, forgetting the partial line', () => {
  const { lines, framer } = frame(['old\npartial']);
  const other = { key: 'k2', dev: 1, ino: 2 };
  framer.reset(other, 0);
  framer.push(Buffer.from('new\n'), 0, 4, 0);
  expect(lines.map((l) => [l.text, l.file.key, l.offset])).toEqual([
    ['old', 'k', 0],
    ['new', 'k2', 0],
  ]);
});

test('framing a large buffer of many lines keeps every line and offset', () => {
  const parts: string[] = [];
  for (let i = 0; i < 5000; i++) parts.push(`line ${i} ${'p'.repeat(i % 50)}`);
  const text = parts.join('\n') + '\n';
  const buf = Buffer.from(text);
  const lines: Line[] = [];
  const framer = new Framer(file, '/x', 0, 1024, (l) => lines.push(l));
  // Odd read sizes put boundaries everywhere.
  for (let pos = 0; pos < buf.length; pos += 777) framer.push(buf, pos, Math.min(pos + 777, buf.length), pos);
  expect(lines.map((l) => l.text)).toEqual(parts);
  for (const l of lines) expect(buf.toString('utf8', l.offset, l.next - 1)).toBe(l.text);
});

test('NUL padding before a line (a sparse hole after copytruncate) is skipped: the line keeps its own text and offset', () => {
  const hole = Buffer.alloc(5000); // NULs
  const { lines, framer } = frame(['old\n', Buffer.concat([hole.subarray(0, 3000)]), Buffer.concat([hole.subarray(3000), Buffer.from('new one\nnew two\n')])]);
  expect(brief(lines)).toEqual([
    ['old', 0, 4, false],
    ['new one', 5004, 5012, false],
    ['new two', 5012, 5020, false],
  ]);
  expect(framer.consumed).toBe(5020);
});

test('NUL padding does not count against max_line, and NULs inside a line are content', () => {
  const { lines } = frame([Buffer.concat([Buffer.alloc(2000), Buffer.from('short line\na\u0000b\n')])], 100);
  expect(brief(lines)).toEqual([
    ['short line', 2000, 2011, false],
    ['a\u0000b', 2011, 2015, false],
  ]);
});

test('a hole still being written (NULs, no line yet) is no partial line', () => {
  const { lines, framer } = frame(['done\n', Buffer.alloc(300)]);
  expect(lines.map((l) => l.text)).toEqual(['done']);
  expect(framer.partialStart).toBeUndefined();
  const partial = frame(['done\n', Buffer.alloc(10), 'half']);
  expect(partial.framer.partialStart).toBe(15);
});

/**
 * Feeds the same reads to every framer, each read from where the last ended, then flushes them at flushAt if given.
 * The reader reuses its buffer: it is scribbled over after each read, which must not change lines already handed over.
 */
function feedBoth(framers: Framer[], chunks: (string | Buffer)[], flushAt?: number): void {
  let pos = 0;
  for (const c of chunks) {
    const buf = typeof c === 'string' ? Buffer.from(c) : c;
    for (const f of framers) f.push(buf, 0, buf.length, pos);
    buf.fill(0x21);
    pos += buf.length;
  }
  if (flushAt !== undefined) for (const f of framers) f.flush(flushAt);
}

describe('lines as bytes (the plain-line path: LineBytesSink)', () => {
  /** Frames the chunks both ways; the bytes are copied in the callback, as the buffer is written again after it. */
  function both(chunks: (string | Buffer)[], maxLine: number, flushAt?: number): { text: unknown[]; bytes: unknown[] } {
    const text: Line[] = [];
    const bytes: [string, number, number, boolean, string, string][] = [];
    const a = new Framer(file, '/x.log', 0, maxLine, (l) => text.push(l));
    const b = new Framer(file, '/x.log', 0, maxLine, () => {
      throw new Error('a framer given a bytes sink made a Line');
    }, (f, path, offset, next, buf, start, end, truncated) => {
      const copy = Buffer.from(buf.subarray(start, end));
      bytes.push([copy.toString('utf8'), offset, next, truncated, f.key, path]);
    });
    feedBoth([a, b], chunks, flushAt);
    return { text: text.map((l) => [l.text, l.offset, l.next, l.truncated, l.file.key, l.path]), bytes };
  }

  test.each([
    ['plain lines, multi-byte UTF-8', ['ab\ncdé\nxyz\n'], 1 << 20, undefined],
    ['\\r\\n split across reads, a partial line carried over three reads', ['one\r\ntwo\r', '\nthr', 'e', 'e\r\nfour'], 1 << 20, 22],
    ['lines over the limit, one cut inside a multi-byte character', ['0123456789abc\nxyzé\u00e9é\nok\n'], 5, undefined],
    ['a cut line carried across reads', ['0123', '456789', 'ab\nz\n'], 4, undefined],
    ['NUL padding, empty lines, invalid UTF-8', [Buffer.concat([Buffer.alloc(7), Buffer.from('a\n\n\r\n'), Buffer.from([0xff, 0xfe, 0x41, 0x0a])])], 1 << 20, undefined],
  ])('%s: the same lines, offsets and flags as the text path', (_name, chunks, maxLine, flushAt) => {
    const { text, bytes } = both(chunks as (string | Buffer)[], maxLine as number, flushAt as number | undefined);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes).toEqual(text);
  });
});

describe('runs of whole lines (the plain-line path with the bulk-lines binding: LineRunSink)', () => {
  /**
   * Frames the chunks with a run sink that takes at most 3 lines a call, only of letters, digits and spaces (as the
   * binding leaves escaped and non-ASCII lines), and a bytes sink for the rest; and with the text path. Returns both
   * as [text, offset, next, truncated], in order, and how many lines runs took.
   */
  function withRuns(chunks: (string | Buffer)[], maxLine: number, flushAt?: number): { text: unknown[]; got: unknown[]; taken: number } {
    const text: Line[] = [];
    const got: [string, number, number, boolean][] = [];
    let taken = 0;
    const a = new Framer(file, '/x.log', 0, maxLine, (l) => text.push(l));
    const b = new Framer(
      file,
      '/x.log',
      0,
      maxLine,
      () => {
        throw new Error('a framer given a bytes sink made a Line');
      },
      (_f, _path, offset, next, buf, start, end, truncated) => got.push([buf.toString('utf8', start, end), offset, next, truncated]),
      (_f, _path, buf, start, end, pos, max) => {
        let i = start;
        for (let n = 0; n < 3; n++) {
          const nl = buf.indexOf(10, i);
          if (nl < 0 || nl >= end) break;
          const stop = nl > i && buf[nl - 1] === 13 ? nl - 1 : nl;
          const line = buf.toString('latin1', i, stop);
          if (line.length === 0 || line.length > max || !/^[A-Za-z0-9 ]+$/.test(line)) break;
          got.push([line, pos + (i - start), pos + (nl + 1 - start), false]);
          taken++;
          i = nl + 1;
        }
        return i;
      },
    );
    feedBoth([a, b], chunks, flushAt);
    expect(b.consumed).toBe(a.consumed);
    return { text: text.map((l) => [l.text, l.offset, l.next, l.truncated]), got, taken };
  }

  const many = Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join('');
  test.each([
    ['plain lines in one read', [many], 1 << 20, undefined, 30],
    ['plain lines in reads of 13 bytes, \\r\\n, a partial last line', [many.replace(/\n/g, '\r\n') + 'last'].flatMap((s) => s.match(/[^]{1,13}/g)!), 1 << 20, 400, 10],
    ['runs stopped by escaped, non-ASCII, empty, cut and NUL-led lines', [many.slice(0, 40) + 'say "x"\n' + many.slice(40, 80) + 'ünï\n\n\r\n' + many.slice(80, 120) + 'x'.repeat(30) + '\n' + '\0\0\0after\n' + many.slice(120)], 20, undefined, 20],
  ])('%s: the same lines, offsets and flags as the text path', (_name, chunks, maxLine, flushAt, atLeast) => {
    const { text, got, taken } = withRuns(chunks as string[], maxLine as number, flushAt as number | undefined);
    expect(got).toEqual(text);
    expect(taken).toBeGreaterThanOrEqual(atLeast as number);
  });
});
