// ndjson writes most lines by copying their members from the line's text (json-splice.ts) instead of decoding
// and re-serialising them: every line must make the same document either way, and the scanner that vouches
// for a line must never vouch for text JSON.parse refuses. Fixed odd lines, then generated ones (seeded).
import { z } from 'zod';
import { bulkBody } from '../../../src/ship/output/bulk';
import { makeEncoder, makeEventEncoder } from '../../../src/ship/output/encoder';
import { keyHashOf, scanObject } from '../../../src/ship/parsers/json-splice';
import { dropFields, dropFieldsSchema } from '../../../src/ship/parsers/drop-fields';
import { ndjson, ndjsonSchema } from '../../../src/ship/parsers/ndjson';
import { preview } from '../../../src/ship/parsers/preview';
import { timestamp, timestampSchema } from '../../../src/ship/parsers/timestamp';
import type { Event, StepFactory } from '../../../src/ship/parsers/parser';

const LINES = [
  // As ECS logging libraries write them.
  '{"@timestamp":"2026-01-01T00:00:00.007Z","log.level":"info","message":"order 1 processed in 1ms","service.name":"orders","trace.id":"000000009e3779b1","http":{"request":{"method":"POST"},"response":{"status_code":200}},"event.duration":1000000}',
  '{"@timestamp":"2026-03-01T10:00:00.123+01:00","log.level":"warn","log.logger":"db","message":"slow query","service.name":"a","service.version":"1","service.node.name":"n","error.message":"boom"}',
  // Merged, repeated or overlapping keys.
  '{"a.b":1,"a.c":2,"a":{"d":3}}',
  '{"a.b":1,"a.b.c":2}',
  '{"a":{"d":3},"a.b":1}',
  '{"a.b":1,"a.b":2,"m":"x"}',
  '{"x":{"y":1,"y":2}}',
  '{"x":[{"y":1,"y":2}]}',
  '{"x":{"y.z":1,"w":{"v.u":2}}}',
  '{"x":[{"y.z":1}],"q":[[{"r.s":{"t.u":1}}]]}',
  '{"log.level":"info","log.file.path":"/elsewhere","log.offset":5}',
  '{"log":{"level":"x"},"log.logger":"y"}',
  '{"log.level":"a","log.origin.file.line":3,"log.origin.function":"f"}',
  '{"host.name":"other","agent":{"type":"fake"},"message":"m","env":"dev","env.x":1}',
  '{"labels.team":"y","labels.other":"z"}',
  '{"message":{"a":1}}',
  '{"message.x":1,"message":"m"}',
  '{"message":"m\\nsecond line\\u0000","message2":1}',
  '{"@timestamp":"yesterday","message":"m"}',
  '{"@timestamp":"2026-01-01 10:00:00","message":"m"}',
  '{"@timestamp":17,"message":"m"}',
  '{"@timestamp.x":1}',
  '{"\\u0061":1,"a":2}',
  '{"k\\"q":1,"p\\\\":2}',
  '{"__proto__":{"x":1},"a.b":1}',
  '{"__proto__.polluted":"yes","a":{"__proto__":{"z":1}},"a.__proto__.w":1,"log":{}}',
  '{"constructor":1,"toString.x":2,"hasOwnProperty":{"a":1}}',
  '{"o":{"__proto__":1}}',
  // Text that must be copied exactly.
  '{"é.ü":"ñ","emoji":"😀","esc":"a\\"b\\\\c\\n\\u0000\\t","url":"http:\\/\\/x","quote\\"in":"\\""}',
  ' { "spaced" : 1 , "b" : [ 1 , 2 ] , "c.d" : { "e" : null } }\t',
  '{}',
  '{"":1,"a..b":1,".c":2,"d.":3,"e.f.g.h":4,"e.f.i":5}',
  '{"n":1.5e3,"t":true,"f":false,"z":null,"neg":-0.5,"arr":[],"obj":{},"big":1e400,"zero":-0}',
  '{"msg":"hello","msg.x":1}',
  '{"msg":"hello","other":"o","json":{"x":1}}',
  '{"msg":7}',
  '{"time":1700000000123,"message":"a"}',
  '{"stream":"stdout","log.level":"debug","secret":"s","user":{"password":"p","name":"n"}}',
  '{"a":"' + '\\n'.repeat(400_000) + '"}',
  '{"deep":' + '['.repeat(1000) + ']'.repeat(1000) + ',"o":' + '{"a":'.repeat(100) + '1' + '}'.repeat(100) + '}',
  // Not JSON objects.
  'not json at all',
  '[1,2]',
  '"a string"',
  'null',
  '{"a":1} trailing',
  '{"a":1,}',
  '{"a":01}',
  '{"a":"\\x"}',
  '{"a":\'b\'}',
  '{"a":tru}',
  '\ufeff{"a":1}',
  '{"a":"tab\there"}',
  '{"a":1}{"b":2}',
];

const CONFIGS: Record<string, unknown>[] = [
  {},
  { overwrite_keys: true },
  { expand_keys: false },
  { expand_keys: false, overwrite_keys: true },
  { target: 'json' },
  { target: 'a.b' },
  { target: 'log' },
  { target: 'host' },
  { target: 'json', expand_keys: false },
  { message_key: 'msg' },
  { message_key: 'message' },
  { message_key: 'a.b' },
  { message_key: 'msg', overwrite_keys: true },
  { target: 'json', message_key: 'msg' },
];

const fields = { env: 'prod', labels: { team: 'x' } };
const ctx = { constant: { host: { name: 'h' }, agent: { type: 'sidekick-ship', version: 't' }, ...fields } };

/** -0 and 0 are the same number to the engine; JSON.parse tells them apart. */
const noNegativeZero = (_k: string, v: unknown): unknown => (Object.is(v, -0) ? 0 : v);

let copiedCount = 0;

async function documents(lines: string[], steps: StepFactory[]): Promise<unknown[]> {
  const base = { hostName: 'h', agentVersion: 't', fields };
  const docs = await preview(Buffer.from(lines.join('\n') + '\n'), { steps, encodeLine: makeEncoder(base), encodeEvent: makeEventEncoder(base), path: '/var/log/app/app.json', maxLine: 1 << 23 });
  copiedCount = docs.filter((d) => (d.line as Event).spliced !== undefined).length;
  // All of them written into one _bulk body (copied values are copied as bytes from the line's text, encoded once
  // into the room past each operation) make each document's own operation, in order, nothing of one in another.
  expect(bulkBody(docs).toString()).toBe(docs.map((d) => JSON.stringify({ create: { _id: d.id } }) + '\n' + d.source + '\n').join(''));
  return docs.map((d) => {
    const doc = JSON.parse(d.source, noNegativeZero) as Record<string, unknown>;
    // The read time differs between runs; a stamp taken from the line does not.
    if (!(d.line as { timestamp?: string }).timestamp) doc['@timestamp'] = 'read time';
    return { ...doc, _id: d.id };
  });
}

/** The same documents copied and decoded, with the given steps after ndjson; returns how many were copied. */
async function expectSame(lines: string[], raw: Record<string, unknown>, after: StepFactory[] = []): Promise<number> {
  const cfg = ndjsonSchema.parse(raw);
  const copied = await documents(lines, [ndjson(cfg, ctx), ...after]);
  const count = copiedCount;
  const decoded = await documents(lines, [ndjson(cfg, ctx, false), ...after]);
  expect(copied).toHaveLength(lines.length);
  for (let i = 0; i < lines.length; i++) expect({ line: lines[i].slice(0, 300), doc: copied[i] }).toEqual({ line: lines[i].slice(0, 300), doc: decoded[i] });
  return count;
}

/** A small seeded generator (mulberry32): the same cases every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// Keys as written in the text: dotted, overlapping, the shipper's own, escaped, odd.
const KEYS = ['a', 'b', 'a.b', 'a.c', 'a.b.c', 'b.a', 'log', 'log.level', 'log.logger', 'log.file.path', 'log.offset', 'log.flags', 'message', 'msg', 'msg.x', '@timestamp', 'host', 'host.name', 'agent.type', 'agent.id', 'env', 'labels.team', 'labels.x', 'time', '.x', 'x.', 'a..b', '', 'é.ü', '\\u0061', 'k\\"q', '__proto__', 'service.name', 'json', '1', '0.5'];
const STRINGS = ['', 'plain', 'order 7 processed', 'a\\"b', 'back\\\\slash', 'line\\nbreak', '\\u00e9t\\u00e9', '\\ud83d\\ude00', '😀 ñ', 'http:\\/\\/x', '\\ud800', '2026-01-01T00:00:00.007Z', '2026-03-01T10:00:00.123456+01:00', '2026-01-01 10:00:00', 'yesterday', '{"not":"an object"}'];
const NUMBERS = ['0', '-0', '7', '-12', '1.50', '3.25', '12345678901234567890', '1e3', '-2.5E-3', '1e400', '1700000000123'];

function generator(rnd: () => number, newlines: boolean): () => string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const ws = (): string => (rnd() < 0.85 ? '' : pick(newlines ? [' ', '\t', '\n', '\r\n ', '  '] : [' ', '\t', '  ']));
  const value = (depth: number): string => {
    const r = rnd();
    if (r < 0.35) return '"' + pick(STRINGS) + '"';
    if (r < 0.55) return pick(NUMBERS);
    if (r < 0.62) return pick(['true', 'false', 'null']);
    if (r < 0.75 && depth < 4) return '[' + ws() + Array.from({ length: Math.floor(rnd() * 3) }, () => value(depth + 1)).join(ws() + ',' + ws()) + ws() + ']';
    if (depth < 4) return object(depth + 1, 3);
    return '"leaf"';
  };
  const object = (depth: number, width: number): string =>
    '{' + ws() + Array.from({ length: Math.floor(rnd() * width) }, () => `"${pick(KEYS)}"${ws()}:${ws()}${value(depth)}`).join(ws() + ',' + ws()) + ws() + '}';
  return () => ws() + object(0, 8) + ws();
}

/** One to three random edits (delete, insert or replace a character): mostly invalid JSON, sometimes not. */
function mutate(rnd: () => number, text: string): string {
  const chars = ['"', '\\', ',', ':', '{', '}', '[', ']', '.', '-', 'e', '0', '1', ' ', '\n', '\u0001', 'u', 'n', 't', 'x', '/'];
  let s = text;
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const at = Math.floor(rnd() * (s.length + 1));
    const c = chars[Math.floor(rnd() * chars.length)];
    const op = rnd();
    s = op < 0.33 ? s.slice(0, at) + s.slice(at + 1) : op < 0.66 ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + c + s.slice(at + 1);
  }
  return s;
}

describe('ndjson copies members from the line', () => {
  test.each(CONFIGS.map((c) => [JSON.stringify(c), c]))('odd lines make the same documents copied as decoded, %s', async (_name, raw) => {
    await expectSame(LINES, raw);
    // and with later parsers that read or change the fields (the copied text is decoded for them)
    await expectSame(LINES, raw, [timestamp(z.parse(timestampSchema, { field: 'time', layouts: ['ISO8601', 'UNIX_MS'] }))]);
    await expectSame(LINES, raw, [dropFields(z.parse(dropFieldsSchema, { fields: ['secret', 'user.password', 'a.b'] }))]);
  });

  test.each(CONFIGS.map((c, i) => [JSON.stringify(c), c, i]))('2,000 generated lines make the same documents copied as decoded, %s', async (_name, raw, i) => {
    const next = generator(random(1000 + i), false);
    const key = raw.message_key as string | undefined;
    // Lines with the message key, when one is configured, and (every other line) without.
    const lines = Array.from({ length: 2000 }, (_, n) => (key && n % 2 === 0 ? next().replace(/\{(\s*)(\}?)/, (_m, w: string, close: string) => `{"${key}":"m"${close ? '' : ','}${w}${close}`) : next()));
    const copied = await expectSame(lines, raw);
    // Both ways were compared often (a target the shipper sets, or a dotted message_key, is always decoded).
    if (raw.target === 'log' || raw.target === 'host' || key?.includes('.')) expect(copied).toBe(0);
    else expect(copied).toBeGreaterThan(200);
  });

  test('the scanner vouches only for text JSON.parse reads as the same object (50,000 generated and mutated texts)', () => {
    const rnd = random(7);
    const next = generator(rnd, true);
    let vouched = 0;
    let refused = 0;
    for (let i = 0; i < 50_000; i++) {
      const valid = next();
      const text = i % 2 === 0 ? valid : mutate(rnd, valid);
      const members = scanObject(text, i % 4 < 2);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text, noNegativeZero);
      } catch {
        refused++;
        if (members !== undefined) throw new Error(`vouched for invalid JSON: ${text}`);
        continue;
      }
      if (members === undefined) continue;
      vouched++;
      const copied = Object.fromEntries(members.map((m) => [m.key, JSON.parse(m.value, noNegativeZero) as unknown]));
      if (!(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))) throw new Error(`vouched for a non-object: ${text}`);
      expect(Object.keys(copied)).toHaveLength(Object.keys(parsed).length);
      expect({ text, copied }).toEqual({ text, copied: parsed });
    }
    // Both kinds occur in numbers: the loop tested something.
    expect(vouched).toBeGreaterThan(5_000);
    expect(refused).toBeGreaterThan(5_000);
  });

  test('keys with the same hash, and more keys than the key cache holds, make the same documents copied as decoded', async () => {
    // "abcd" and "aXcd" hash alike (length, first, middle and last characters): the cache of key entries and the
    // scanner's repeat check compare text.
    const hash = (k: string): number => keyHashOf(k, 0, k.length);
    for (const [a, b] of [['abcd', 'aXcd'], ['abcd.x', 'aXcd.x'], ['log.abcd', 'log.aXcd'], ['abcdabcd', 'aXcdaXcd'], ['abcdaXcd', 'aXcdabcd']]) expect(hash(a)).toBe(hash(b));
    expect(scanObject('{"abcd":1,"aXcd":2}', true)).toEqual([
      { key: 'abcd', value: '1' },
      { key: 'aXcd', value: '2' },
    ]);
    expect(scanObject('{"x":{"abcd":1,"aXcd":2,"abcd":3}}', true)).toBeUndefined();
    const colliding = ['{"abcd":1,"aXcd":2}', '{"aXcd.x":1,"abcd.x":2,"message":"m"}', '{"abcd.b":1,"abcd.c":2,"aXcd":{"d":3}}', '{"log.abcd":1,"log.aXcd":2}', '{"abcdabcd":1,"aXcdaXcd":2,"abcdaXcd":3,"aXcdabcd":4}'];
    for (const raw of [{}, { target: 'json' }, { expand_keys: false }]) expect(await expectSame([...colliding, ...colliding], raw)).toBeGreaterThan(colliding.length);
    // 6,000 lines of new keys (the cache starts again past 4,096, at a line's new key): in each line, one pair
    // of members share a first name (c.d and c.e, log.origin.*) around the new keys, and are merged alike
    // before, at and after the new start.
    const many = Array.from({ length: 6000 }, (_, i) => (i % 2 === 0 ? `{"c.d":3,"u${i}.a":1,"v${i}":2,"c.e":4,"message":"m${i}"}` : `{"log.origin.line":${i},"u${i}":1,"v${i}.a":{"x":1},"log.origin.file":"f","c.d":1}`));
    expect(await expectSame(many, {})).toBe(many.length);
  });

  test("a line's __proto__ keys are fields like any other, never the shipper's objects' prototypes", async () => {
    for (const raw of [{}, { overwrite_keys: true }, { target: 'json' }]) {
      const docs = await documents(['{"__proto__.polluted":"yes","host":{"__proto__":{"y":2}},"log":{}}', '{"message":"next"}'], [ndjson(ndjsonSchema.parse(raw), ctx)]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(docs[1]).not.toHaveProperty('polluted');
      expect(JSON.stringify(docs[0])).toContain('"__proto__":{"polluted":"yes"}');
    }
  });

  test('values are written as the line has them; a document the engine would refuse is never made', async () => {
    const line = '{"message":"m","trace.id":12345678901234567890,"ratio":1.50,"http":{"status":200}}';
    const [doc] = await preview(Buffer.from(line + '\n'), { steps: [ndjson(ndjsonSchema.parse({}), ctx)], encodeLine: makeEncoder({ hostName: 'h', agentVersion: 't' }), encodeEvent: makeEventEncoder({ hostName: 'h', agentVersion: 't' }), path: '/a', maxLine: 1 << 20 });
    // JSON.parse would round the integer and drop the zero (and 1.50 would map as a long).
    expect(doc.source).toContain('"trace":{"id":12345678901234567890}');
    expect(doc.source).toContain('"ratio":1.50');
    expect(doc.source).toContain('"message":"m","log":{"file":{"path":"/a"},"offset":0}');
    // Repeated keys at any depth, escaped keys, nested dotted keys (when expanding), exponents: not copied.
    expect(scanObject('{"a":1,"b":{"a":1,"a":2}}', true)).toBeUndefined();
    expect(scanObject('{"a":1,"\\u0061":2}', true)).toBeUndefined();
    expect(scanObject('{"a":{"b.c":1}}', true)).toBeUndefined();
    expect(scanObject('{"a":1e400}', true)).toBeUndefined();
    expect(scanObject('{"a":{"b.c":1}}', false)).toEqual([{ key: 'a', value: '{"b.c":1}' }]);
    expect(scanObject('{"a":[{"b.c":1}]}', true)).toEqual([{ key: 'a', value: '[{"b.c":1}]' }]);
    expect(scanObject(' {"a" : "x,y}" ,"b":[1,{"c":"]"}] } ', true)).toEqual([
      { key: 'a', value: '"x,y}"' },
      { key: 'b', value: '[1,{"c":"]"}]' },
    ]);
  });
});
