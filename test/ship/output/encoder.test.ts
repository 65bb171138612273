// The ECS document and _id for a line: valid JSON with the fields Kibana and the registry depend on.
import { Framer } from '../../../src/ship/input/framing';
import { bulkBody } from '../../../src/ship/output/bulk';
import { Arena, constantFragment, docId, makeBytesEncoder, makeEncoder, makeEventEncoder, type EncodeOptions } from '../../../src/ship/output/encoder';
import { eventOf } from '../../../src/ship/parsers/parser';
import type { Line } from '../../../src/ship/types';

function line(over: Partial<Line> = {}): Line {
  return {
    file: { key: 'f3a9c0', dev: 1, ino: 2 },
    path: '/var/log/app/app.log',
    offset: 1234,
    next: 1250,
    text: 'hello world',
    truncated: false,
    ...over,
  };
}

describe('docId', () => {
  it('is the file key and the offset in base 36, the same every time', () => {
    expect(docId('f3a9c0', 1234)).toBe('f3a9c0-ya');
    expect(docId('f3a9c0', 1234)).toBe(docId('f3a9c0', 1234));
  });

  it('differs for different offsets and for different files', () => {
    expect(docId('a', 0)).not.toBe(docId('a', 1));
    expect(docId('a', 10)).not.toBe(docId('b', 10));
  });
});

describe('makeEncoder', () => {
  const encode = makeEncoder({ hostName: 'web-1', agentVersion: '0.1.0', fields: { service: { name: 'api' }, env: 'prod' } });

  it('builds an ECS document with the line, its file and offset, host, agent and configured fields', () => {
    const before = Date.now();
    const doc = encode(line());
    const src = JSON.parse(doc.source) as Record<string, unknown>;
    expect(doc.id).toBe(docId('f3a9c0', 1234));
    expect(src).toEqual({
      '@timestamp': expect.any(String),
      message: 'hello world',
      log: { file: { path: '/var/log/app/app.log' }, offset: 1234 },
      host: { name: 'web-1' },
      agent: { type: 'sidekick-ship', version: '0.1.0' },
      service: { name: 'api' },
      env: 'prod',
    });
    const ts = Date.parse(src['@timestamp'] as string);
    expect(ts).toBeGreaterThanOrEqual(before - 1);
    expect(ts).toBeLessThanOrEqual(Date.now());
    expect(doc.line.offset).toBe(1234);
  });

  it('escapes quotes, backslashes, control characters and unicode in the message and the path', () => {
    const text = 'say "hi" \\ tab\there \u0001 ünï 🎉 </script>';
    const path = '/logs/we"ird\\name.log';
    const src = JSON.parse(encode(line({ text, path })).source) as { message: string; log: { file: { path: string } } };
    expect(src.message).toBe(text);
    expect(src.log.file.path).toBe(path);
  });

  it('marks a cut line with log.flags ["truncated"]', () => {
    const src = JSON.parse(encode(line({ truncated: true })).source) as { log: { flags?: string[]; offset: number } };
    expect(src.log.flags).toEqual(['truncated']);
    expect(src.log.offset).toBe(1234);
  });

  it('follows path changes between lines of different files', () => {
    const a = JSON.parse(encode(line({ path: '/a.log' })).source) as { log: { file: { path: string } } };
    const b = JSON.parse(encode(line({ path: '/b.log' })).source) as { log: { file: { path: string } } };
    expect([a.log.file.path, b.log.file.path]).toEqual(['/a.log', '/b.log']);
  });

  it('merges configured host/agent fields without letting them rename agent.type', () => {
    const frag = JSON.parse('{' + constantFragment({ hostName: 'h', agentVersion: '1', fields: { host: { ip: '10.0.0.1' }, agent: { type: 'x', id: 'a1' } } }) + '}');
    expect(frag).toEqual({ host: { name: 'h', ip: '10.0.0.1' }, agent: { type: 'sidekick-ship', version: '1', id: 'a1' } });
  });

  it('refuses configured fields that would collide with per-line fields, naming the field', () => {
    expect(() => makeEncoder({ hostName: 'h', agentVersion: '1', fields: { message: 'x' } })).toThrow(/field "message"/);
    expect(() => makeEncoder({ hostName: 'h', agentVersion: '1', fields: { 'log.offset': 1 } })).toThrow(/field "log.offset"/);
  });
});

describe('messages escaped as JSON.stringify escapes them', () => {
  it('writes lone surrogates of a parsed message as \\u escapes, and ASCII next to them as it is', () => {
    const line: Line = { file: { key: 'k', dev: 1, ino: 2 }, path: '/p.log', offset: 0, next: 10, text: 'x', truncated: false };
    for (const message of ['lone \ud800 high', 'lone low \udfff', 'pair \ud83c\udf89 ok', 'plain', 'tab\tin "quotes"']) {
      const doc = makeEventEncoder({ hostName: 'h', agentVersion: '1' })({ ...eventOf(line), message });
      const written = bulkBody([doc]).toString();
      expect(written).toContain(',"message":' + JSON.stringify(message) + ',');
      expect(JSON.parse(written.split('\n')[1]).message).toBe(message);
    }
  });
});

describe('plain lines written as bytes', () => {
  // The document of a plain line is written straight into the _bulk body (LineDoc.writeOp); these lines must come
  // out byte for byte as the document built as a string always was, and as the parsed-event encoder builds it.
  const opts = { hostName: 'wéb-1', agentVersion: '0.1.0', fields: { service: { name: 'api "x"' }, env: 'prod' } };
  const odd: (string | Buffer)[] = [
    'plain ascii line',
    'say "hi" \\ back\\slash',
    'tab\there, bell \u0007, unit sep \u001f, del \u007f',
    'ünïcödé and 日本語',
    'non-BMP 🎉 and 𝄞',
    Buffer.from([0x62, 0x61, 0x64, 0xff, 0x20, 0xc3, 0x20, 0xf0, 0x9f, 0x8e, 0x20, 0xed, 0xa0, 0x80, 0x21]), // invalid UTF-8
    '</script> <!-- \u2028 \u2029',
    'x'.repeat(200_000),
    'y'.repeat(70) + '"' + 'z'.repeat(70),
    // What must be escaped at the very first and the very last byte of an otherwise plain ASCII message.
    '\u0001 first byte is a control character',
    'last byte is a backslash \\',
    'last byte is a quote "',
  ];
  const bytesOf = (c: string | Buffer) => (typeof c === 'string' ? Buffer.from(c) : c);

  function framed(key: string, path: string, start: number, maxLine: number): Line[] {
    const lines: Line[] = [];
    const framer = new Framer({ key, dev: 1, ino: 2 }, path, start, maxLine, (l) => lines.push(l));
    const file = Buffer.concat(odd.flatMap((c) => [bytesOf(c), Buffer.from('\r\n')]));
    framer.push(file, 0, file.length, start);
    return lines;
  }

  /** The document as JSON.stringify writes it, members in the encoder's order. */
  function expected(l: Line, stamp: string, index?: string): string {
    const source = {
      '@timestamp': stamp,
      message: l.text,
      log: { file: { path: l.path }, offset: l.offset, ...(l.truncated ? { flags: ['truncated'] } : {}) },
      host: { name: opts.hostName },
      agent: { type: 'sidekick-ship', version: opts.agentVersion },
      ...opts.fields,
    };
    const action = { create: { ...(index ? { _index: index } : {}), _id: docId(l.file.key, l.offset) } };
    return JSON.stringify(action) + '\n' + JSON.stringify(source) + '\n';
  }

  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 11, 1, 1, 2, 3, 456)));
  afterEach(() => jest.restoreAllMocks());
  const stamp = '2026-12-01T01:02:03.456Z';

  it.each([
    ['a plain key, short line limit', 'Ab3_-x9QzK0p', '/var/log/app.log', 0, 64],
    ['a key that needs escaping, large offsets', 'we"ird\\key', '/logs/we"ird\\näme.log', 2 ** 40 + 7, 1024 * 1024],
  ])('match JSON.stringify and the event encoder: %s', (_name, key, path, start, maxLine) => {
    const lines = framed(key, path, start, maxLine);
    expect(lines.length).toBe(odd.length);
    expect(lines.some((l) => l.truncated)).toBe(maxLine === 64);
    expect(lines.some((l) => l.text.includes('\ufffd'))).toBe(true);
    for (const index of [undefined, 'logs-app']) {
      const docs = lines.map(makeEncoder({ ...opts, index }));
      const events = lines.map((l) => makeEventEncoder({ ...opts, index })(eventOf(l)));
      const body = bulkBody(docs);
      expect(body.toString()).toBe(lines.map((l) => expected(l, stamp, index)).join(''));
      expect(body.equals(bulkBody(events))).toBe(true);
      // Each document alone, chosen out of order, and its source and _id read back as strings (dead letters).
      expect(bulkBody(docs, [3, 0]).equals(bulkBody(events, [3, 0]))).toBe(true);
      docs.forEach((d, i) => {
        expect(d.source).toBe(events[i].source);
        expect(d.id).toBe(events[i].id);
        expect(d.action).toBe(events[i].action);
        expect(d.index).toBe(events[i].index);
      });
    }
  });
});

describe('makeBytesEncoder (plain lines written into an arena as they are read)', () => {
  const optsOf: [string, EncodeOptions][] = [
    ['the sink index', { hostName: 'web-1', agentVersion: '0.1.0', fields: { service: { name: 'api' } } }],
    ['an own index and an ingest pipeline', { hostName: 'web-1', agentVersion: '0.1.0', index: 'logs-app', pipeline: 'java' }],
  ];
  const texts: Buffer[] = [
    Buffer.from('hello world'),
    Buffer.from('say "hi" \\ tab\there \u0001 </script>'),
    Buffer.from('ünï 🎉 and ascii'),
    Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xe2, 0x82]), // invalid UTF-8, replaced as the text path replaces it
    Buffer.from('x'.repeat(5000)),
    Buffer.from('short'),
    Buffer.from('a'),
  ];

  it.each(optsOf)('writes the same operation bytes as makeEncoder for %s, escaped keys and cut lines included', (_name, opts) => {
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2026-12-01T10:00:00.123Z'));
    try {
      const byText = makeEncoder(opts);
      const byBytes = makeBytesEncoder(opts);
      const arena = new Arena(64); // small: every document makes it grow
      let cases = 0;
      for (const key of ['f3a9c0', 'we"ird key']) {
        for (const [i, t] of texts.entries()) {
          const truncated = i % 2 === 1;
          const read = Buffer.concat([Buffer.from('junk'), t, Buffer.from('\njunk')]);
          const file = { key, dev: 1, ino: 2 };
          const path = i === 2 ? '/logs/we"ird.log' : '/var/log/app.log';
          const lineDoc = byText({ file, path, offset: 1000 + i, next: 1010 + i + t.length, text: t.toString('utf8'), truncated });
          const doc = byBytes(arena, file, path, 1000 + i, 1010 + i + t.length, read, 4, 4 + t.length, truncated);
          read.fill(0x21); // the reader's buffer is written again: the document must not depend on it
          expect(bulkBody([doc]).toString('utf8')).toBe(bulkBody([lineDoc]).toString('utf8'));
          expect(doc.id).toBe(lineDoc.id);
          expect(doc.source).toBe(lineDoc.source);
          expect(doc.line.text).toBe(t.toString('utf8'));
          expect([doc.line.offset, doc.line.next, doc.line.truncated, doc.line.path, doc.line.file.key]).toEqual([1000 + i, 1010 + i + t.length, truncated, path, key]);
          expect(doc.action).toBe(lineDoc.action);
          expect(doc.index).toBe(lineDoc.index);
          cases++;
        }
      }
      expect(cases).toBe(2 * texts.length);
      // The arena holds every operation back to back: it is the batch's body as it is.
      expect(arena.body.toString('utf8').split('\n').filter(Boolean)).toHaveLength(4 * texts.length);
    } finally {
      now.mockRestore();
    }
  });

  it('a document refuses to be read once its arena serves another batch', () => {
    const arena = new Arena(1024);
    const src = Buffer.from('first line');
    const doc = makeBytesEncoder({ hostName: 'h', agentVersion: '1' })(arena, { key: 'k', dev: 1, ino: 1 }, '/a.log', 0, 11, src, 0, src.length, false);
    expect(JSON.parse(doc.source)).toMatchObject({ message: 'first line' });
    arena.reset();
    expect(arena.length).toBe(0);
    expect(() => doc.source).toThrow('the document of /a.log at offset 0 was read after its batch was settled');
    expect(() => doc.writeOp!(Buffer.alloc(1024), 0)).toThrow('after its batch was settled');
  });
});
