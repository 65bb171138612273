// The pipeline's memory budget: reads are admitted by reserving what they are expected to cost, so that
// many files read at once stay within it.
import { createLogger } from '../../src/common/log';
import { FileRegistry } from '../../src/ship/input/registry';
import { bulkBody } from '../../src/ship/output/bulk';
import { makeBytesEncoder, makeEncoder, makeEventEncoder, makeRunEncoder } from '../../src/ship/output/encoder';
import { eventOf } from '../../src/ship/parsers/parser';
import { Pipeline, type PipelineOptions } from '../../src/ship/pipeline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ship-pipe-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pipeline whose sends succeed at once, unless `send` says otherwise. */
function pipeline(budgetBytes: number, send: PipelineOptions['send'] = async (docs) => docs.map(() => 'created' as const)): Pipeline {
  return new Pipeline({
    send,
    encode: makeEncoder({ hostName: 'h', agentVersion: 't' }),
    maxDocs: 100,
    maxBytes: 1 << 20,
    concurrency: 2,
    budgetBytes,
    registry: FileRegistry.load(join(dir, 'state'), logger),
    logger,
  });
}

test('many readers asking at once are admitted only as far as the budget allows, the rest one by one as reads end', async () => {
  const p = pipeline(1024 * 1024);
  const cost = 512 * 1024;
  const admitted: number[] = [];
  const asks = Array.from({ length: 10 }, (_, i) => {
    const wait = p.room(cost);
    if (!wait) admitted.push(i);
    else void wait.then(() => admitted.push(i));
  });
  expect(asks).toHaveLength(10);
  await Promise.resolve();
  expect(admitted).toEqual([0, 1]);
  p.release(cost);
  await new Promise((r) => setImmediate(r));
  expect(admitted).toEqual([0, 1, 2]);
});

test('a budget smaller than one read still lets one reader go on at a time', async () => {
  const p = pipeline(64 * 1024);
  expect(p.room(512 * 1024)).toBeUndefined();
  const second = p.room(512 * 1024);
  expect(second).toBeDefined();
  p.release(512 * 1024);
  await expect(second).resolves.toBeUndefined();
});

test('a file key keeps no settled chunks, and is forgotten with the registry entry', async () => {
  const p = pipeline(1024 * 1024);
  const file = { key: 'k', dev: 1, ino: 2 };
  let offset = 0;
  for (let i = 0; i < 2000; i++) {
    const text = `line ${i}`;
    p.line({ file, path: '/x.log', offset, next: offset + text.length + 1, text, truncated: false });
    offset += text.length + 1;
    p.flush(); // one batch per line: many chunks
  }
  p.consumed('k', offset);
  await p.drain();
  const progress = (p as unknown as { progress: Map<string, { chunks: unknown[] }> }).progress;
  expect(progress.get('k')!.chunks).toHaveLength(0);
  expect(p.settled('k')).toBe(offset);
  p.forget('k');
  expect(p.settled('k')).toBeUndefined();
});

test('an idle pipeline sends at once; while a request is in flight, lines gather and leave the moment it is answered', async () => {
  const sent: number[] = [];
  const answers: (() => void)[] = [];
  const p = new Pipeline({
    send: (docs) => {
      sent.push(docs.length);
      return new Promise((resolve) => answers.push(() => resolve(docs.map(() => 'created' as const))));
    },
    encode: makeEncoder({ hostName: 'h', agentVersion: 't' }),
    maxDocs: 1000,
    maxBytes: 1 << 20,
    concurrency: 1,
    budgetBytes: 1 << 20,
    registry: FileRegistry.load(join(dir, 'state'), logger),
    logger,
  });
  const file = { key: 'k', dev: 1, ino: 2 };
  let offset = 0;
  const line = (): void => {
    const text = `line at ${offset}`;
    p.line({ file, path: '/x.log', offset, next: offset + text.length + 1, text, truncated: false });
    offset += text.length + 1;
  };
  // Lines framed in one go (one read) leave together, as soon as the current task is over: no timer.
  line();
  line();
  await new Promise((r) => setImmediate(r));
  expect(sent).toEqual([2]);
  for (let i = 0; i < 50; i++) line();
  await new Promise((r) => setTimeout(r, 20));
  expect(sent).toEqual([2]); // the only request slot is busy: they wait together
  answers.shift()!();
  await new Promise((r) => setImmediate(r));
  expect(sent).toEqual([2, 50]);
  answers.shift()!();
  p.consumed('k', offset);
  await p.drain();
  expect(p.settled('k')).toBe(offset);
});

test('pause() holds every read until resume() (the state directory cannot be written)', async () => {
  const p = pipeline(1024 * 1024);
  p.pause();
  const held = p.room(1024);
  expect(held).toBeDefined();
  let admitted = false;
  void held!.then(() => (admitted = true));
  await new Promise((r) => setImmediate(r));
  expect(admitted).toBe(false);
  p.resume();
  await new Promise((r) => setImmediate(r));
  expect(admitted).toBe(true);
});

test('a parsed document counts what it holds besides its text (a joined message, fields as text) while it waits', () => {
  // Sends never answered: what is encoded stays pending.
  const p = pipeline(1 << 30, () => new Promise(() => {}));
  const encodeEvent = makeEventEncoder({ hostName: 'h', agentVersion: 't' });
  const file = { key: 'k', dev: 1, ino: 2 };
  const text = 'x'.repeat(10_000);
  const plain = { ...eventOf({ file, path: '/x.log', offset: 0, next: 10_001, text, truncated: false }) };
  p.line(plain, encodeEvent);
  const alone = p.pendingBytes;
  expect(alone).toBeGreaterThanOrEqual(10_000);
  // A message that is not the text (joined by multiline) and fields held as text are counted on top of the text.
  const parsed = { ...eventOf({ file, path: '/x.log', offset: 10_001, next: 20_002, text, truncated: false }), message: 'y'.repeat(10_000), fields: { a: 'z'.repeat(5_000) } };
  p.line(parsed, encodeEvent);
  expect(p.pendingBytes - alone).toBeGreaterThanOrEqual(10_000 + 10_000 + 5_000);
});

describe('plain lines as bytes (lineBytes): the batch body is written as the lines come', () => {
  const bytes = makeBytesEncoder({ hostName: 'h', agentVersion: 't' });
  const file = { key: 'k1', dev: 1, ino: 2 };
  /** Hands `n` lines of a reused read buffer to the pipeline, starting at file offset `from`. */
  function feed(p: Pipeline, n: number, from: number): number {
    const read = Buffer.alloc(64);
    let at = from;
    for (let i = 0; i < n; i++) {
      const len = read.write(`line ${at}`);
      p.lineBytes(bytes, file, '/a.log', at, at + len + 1, read, 0, len, false);
      read.fill(0x21);
      at += len + 1;
    }
    return at;
  }

  test('a batch of them is sent with its arena as the body, the same bytes bulkBody builds, and the arena serves the next batch once settled', async () => {
    const sent: { n: number; body: string | undefined; built: string; buffer: ArrayBufferLike | undefined }[] = [];
    const p = pipeline(1024 * 1024, async (docs, body) => {
      sent.push({ n: docs.length, body: body?.toString('utf8'), built: bulkBody(docs).toString('utf8'), buffer: body?.buffer });
      return docs.map(() => 'created' as const);
    });
    const second = feed(p, 250, 0); // maxDocs 100: two full batches and one of 50
    await p.drain();
    feed(p, 10, second);
    await p.drain();
    expect(sent.map((s) => s.n)).toEqual([100, 100, 50, 10]);
    for (const s of sent) {
      expect(s.body).toBeDefined();
      expect(s.body).toBe(s.built);
      expect(s.body!.split('\n').filter(Boolean)).toHaveLength(2 * s.n);
    }
    expect(JSON.parse(sent[3].body!.split('\n')[1])).toMatchObject({ message: `line ${second}`, log: { offset: second } });
    // The arenas of settled batches are written again, not allocated anew: at most one per request slot and one being filled.
    expect(new Set(sent.map((s) => s.buffer)).size).toBeLessThanOrEqual(3);
    // Every line's cost was given back when its batch settled.
    expect(p.pendingBytes).toBe(0);
  });

  test('a batch that also holds a parsed event is built by the sender: the arena alone is not its body', async () => {
    const bodies: (Buffer | undefined)[] = [];
    const p = pipeline(1024 * 1024, async (docs, body) => {
      bodies.push(body);
      return docs.map(() => 'created' as const);
    });
    const at = feed(p, 3, 0);
    p.line({ ...eventOf({ file, path: '/a.log', offset: at, next: at + 6, text: 'event', truncated: false }) }, makeEventEncoder({ hostName: 'h', agentVersion: 't' }));
    feed(p, 2, at + 6);
    await p.drain();
    expect(bodies).toEqual([undefined]);
  });
});

describe('runs of plain lines (lineRun, the bulk-lines binding): as many batches as they fill, bodies as they come', () => {
  const run = makeRunEncoder({ hostName: 'h', agentVersion: 't' });
  const bytes = makeBytesEncoder({ hostName: 'h', agentVersion: 't' });
  const withBinding = run ? test : test.skip;
  const file = { key: 'k1', dev: 1, ino: 2 };

  withBinding('one read of 250 lines and a second of 10 go out in batches of maxDocs with their arenas as bodies; the lines a run leaves go one by one', async () => {
    const sent: { n: number; body: string | undefined; built: string }[] = [];
    const p = pipeline(1024 * 1024, async (docs, body) => {
      sent.push({ n: docs.length, body: body?.toString('utf8'), built: bulkBody(docs).toString('utf8') });
      return docs.map(() => 'created' as const);
    });
    const text = Array.from({ length: 250 }, (_, i) => (i === 120 ? 'needs "escaping"' : `line ${i}`)).join('\n') + '\n';
    const read = Buffer.from(text);
    // As the framer does: a run, then the line it stops at by the per-line path, then a run again.
    let i = 0;
    let lines = 0;
    while (i < read.length) {
      const taken = p.lineRun(run!, file, '/a.log', read, i, read.length, i, 1024);
      lines += countLines(read, i, taken);
      i = taken;
      if (i >= read.length) break;
      const nl = read.indexOf(10, i);
      p.lineBytes(bytes, file, '/a.log', i, nl + 1, read, i, nl, false);
      lines++;
      i = nl + 1;
    }
    read.fill(0x21);
    expect(lines).toBe(250);
    await p.drain();
    const second = Buffer.from('tail 1\ntail 2\n'.repeat(5));
    expect(p.lineRun(run!, file, '/a.log', second, 0, second.length, text.length, 1024)).toBe(second.length);
    await p.drain();
    expect(sent.map((s) => s.n)).toEqual([100, 100, 50, 10]);
    for (const s of sent) expect(s.body).toBe(s.built);
    const sources = sent.flatMap((s) => s.built.split('\n').filter((_, k) => k % 2 === 1).map((l) => JSON.parse(l) as { message: string; log: { offset: number } }));
    expect(sources.slice(118, 122).map((d) => d.message)).toEqual(['line 118', 'line 119', 'needs "escaping"', 'line 121']);
    // Each line's offset is where it starts in the file: both reads, back to back.
    const all = text + second.toString('utf8');
    expect(sources.map((d) => d.log.offset)).toEqual(all.split('\n').slice(0, -1).map((_, k, ls) => ls.slice(0, k).join('\n').length + (k > 0 ? 1 : 0)));
    expect(p.linesOf('k1')).toBe(260);
    expect(p.pendingBytes).toBe(0);
  });
});

function countLines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (buf[i] === 10) n++;
  return n;
}
