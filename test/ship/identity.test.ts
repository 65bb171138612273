// File identity decisions against a saved registry, with real files: resume, inode reuse, shrink while
// stopped, and a copytruncate copy found after a restart. The input and pipeline run in-process; the
// "engine" is a function that acknowledges at once and records what it was sent.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/log';
import { Input } from '../../src/ship/input/input';
import { FINGERPRINT_BYTES, fingerprintOf } from '../../src/ship/input/identity';
import { FileRegistry, type FileState } from '../../src/ship/input/registry';
import { makeEncoder } from '../../src/ship/output/encoder';
import { Pipeline } from '../../src/ship/pipeline';
import type { Doc } from '../../src/ship/types';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ship-id-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the input once over the globs; returns what was shipped and the registry. */
async function shipOnce(globs: string[]): Promise<{ docs: Doc[]; registry: FileRegistry }> {
  const registry = FileRegistry.load(join(dir, 'state'), logger);
  const docs: Doc[] = [];
  const pipeline = new Pipeline({
    send: async (batch) => {
      docs.push(...batch);
      return batch.map(() => 'created' as const);
    },
    encode: makeEncoder({ hostName: 'h', agentVersion: 't' }),
    maxDocs: 100,
    maxBytes: 1 << 20,
    concurrency: 2,
    budgetBytes: 1 << 20,
    registry,
    logger,
  });
  const input = new Input(
    { globs, from: 'beginning', once: true, scanMs: 1000, pollMs: 100, closeInactiveMs: 100, maxLine: 1 << 20, bufferSize: 4096, deferMs: 10_000, forgetAfterMs: 3_600_000 },
    registry,
    pipeline,
    logger,
  );
  await input.start();
  await input.finished();
  await pipeline.drain();
  await registry.save();
  return { docs, registry };
}

const text = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix} line ${i} ${'.'.repeat(40)}\n`).join('');
const messages = (docs: Doc[]): string[] => docs.map((d) => d.line.text);

test('a restart resumes at the saved offset with the same key, so no line is sent twice', async () => {
  const file = join(dir, 'a.log');
  writeFileSync(file, text('first', 50));
  const one = await shipOnce([file]);
  expect(one.docs).toHaveLength(50);
  writeFileSync(file, text('first', 50) + text('second', 10));
  const two = await shipOnce([file]);
  expect(messages(two.docs)).toEqual(text('second', 10).trimEnd().split('\n'));
  expect(two.docs[0].line.file.key).toBe(one.docs[0].line.file.key);
  expect(two.docs[0].id).toBe(`${one.docs[0].line.file.key}-${two.docs[0].line.offset.toString(36)}`);
});

test('a recycled inode holding other bytes is a new file: new key, read from 0', async () => {
  const file = join(dir, 'a.log');
  writeFileSync(file, text('new content', 30));
  const st = statSync(file);
  // The registry remembers other content at this very device and inode, read far into it.
  const reg = FileRegistry.load(join(dir, 'state'), logger);
  const fp = fingerprintOf(Buffer.from(text('old content', 30)).subarray(0, FINGERPRINT_BYTES));
  const old: FileState = { key: 'oldkey', path: file, dev: st.dev, ino: st.ino, fp: fp.hash, fpLen: fp.len, offset: 500, seen: Date.now() };
  reg.set(old);
  await reg.save();
  const { docs, registry } = await shipOnce([file]);
  expect(docs).toHaveLength(30);
  expect(docs[0].line.offset).toBe(0);
  expect(docs[0].line.file.key).not.toBe('oldkey');
  expect(registry.get('oldkey')?.detached).toBe(true);
});

test('a file that shrank while the shipper was stopped is read from 0 under a new key', async () => {
  const file = join(dir, 'a.log');
  writeFileSync(file, text('x', 40));
  const one = await shipOnce([file]);
  writeFileSync(file, text('x', 5)); // same head, but shorter than the saved position
  const two = await shipOnce([file]);
  expect(two.docs).toHaveLength(5);
  expect(two.docs[0].line.file.key).not.toBe(one.docs[0].line.file.key);
  expect(two.docs[0].id).not.toBe(one.docs[0].id);
});

test('copytruncate while stopped: the copy continues the old content, the emptied original is new content', async () => {
  const file = join(dir, 'app.log');
  writeFileSync(file, text('old', 40));
  const one = await shipOnce([join(dir, 'app.log*')]);
  expect(one.docs).toHaveLength(40);
  // logrotate copytruncate: more lines, copy, truncate, new lines in the original.
  writeFileSync(file, text('old', 40) + text('late', 7));
  copyFileSync(file, join(dir, 'app.log.1'));
  writeFileSync(file, text('fresh', 3));
  const two = await shipOnce([join(dir, 'app.log*')]);
  const byPath = (p: string) => two.docs.filter((d) => d.line.path === p);
  expect(messages(byPath(join(dir, 'app.log.1')))).toEqual(text('late', 7).trimEnd().split('\n'));
  expect(byPath(join(dir, 'app.log.1'))[0].line.file.key).toBe(one.docs[0].line.file.key);
  expect(messages(byPath(file))).toEqual(text('fresh', 3).trimEnd().split('\n'));
  expect(byPath(file)[0].line.file.key).not.toBe(one.docs[0].line.file.key);
});

test('a file smaller than the fingerprint size is still shipped and resumed correctly', async () => {
  const file = join(dir, 'tiny.log');
  writeFileSync(file, 'a\n');
  const one = await shipOnce([file]);
  expect(messages(one.docs)).toEqual(['a']);
  writeFileSync(file, 'a\nb\n');
  const two = await shipOnce([file]);
  expect(messages(two.docs)).toEqual(['b']);
  expect(two.docs[0].line.file.key).toBe(one.docs[0].line.file.key);
});

test('a new file that only shares the head of truncated content, and is shorter than what was read of it, is read as new', async () => {
  const file = join(dir, 'app.log');
  const banner = `${'=== service banner '.repeat(60)}\n`; // more than FINGERPRINT_BYTES alike
  writeFileSync(file, banner + text('old', 40));
  const one = await shipOnce([join(dir, 'app.log*')]);
  expect(one.docs).toHaveLength(41);
  // The original is truncated and rewritten while stopped; another file starts with the same banner.
  writeFileSync(file, 'fresh start\n');
  writeFileSync(join(dir, 'app.log.other'), banner + text('other', 2));
  const two = await shipOnce([join(dir, 'app.log*')]);
  const other = two.docs.filter((d) => d.line.path.endsWith('app.log.other'));
  expect(other).toHaveLength(3);
  expect(other[0].line.offset).toBe(0);
  expect(other[0].line.file.key).not.toBe(one.docs[0].line.file.key);
});

test('a small file whose whole content is the head of another file does not give that file its key', async () => {
  const header = 'timestamp,level,service,request_id,user_id,duration_ms,status,message\n'; // >= 64 bytes
  writeFileSync(join(dir, 'a.csv'), header);
  writeFileSync(join(dir, 'b.csv'), `${header}2024-01-01T00:00:00Z,INFO,b,1,2,3,200,hello\n`);
  // a.csv is read to its end and closed (as every file is in --once) before b.csv is first seen.
  const one = await shipOnce([join(dir, 'a.csv')]);
  const two = await shipOnce([join(dir, '*.csv')]);
  const three = await shipOnce([join(dir, '*.csv')]);
  const shipped = [...one.docs, ...two.docs, ...three.docs].map((d) => `${d.line.path.split('/').pop()}: ${d.line.text.slice(0, 20)}`);
  expect(shipped.sort()).toEqual(['a.csv: timestamp,level,serv', 'b.csv: 2024-01-01T00:00:00Z', 'b.csv: timestamp,level,serv']);
  expect(two.docs[0].line.file.key).not.toBe(one.docs[0].line.file.key);
});

test('the key is derived from the file itself: after a lost state directory every line comes back with the _id it was stored with', async () => {
  const file = join(dir, 'a.log');
  writeFileSync(file, text('first', 40));
  const one = await shipOnce([file]);
  rmSync(join(dir, 'state'), { recursive: true, force: true });
  writeFileSync(file, text('first', 40) + text('more', 5));
  const two = await shipOnce([file]);
  expect(two.docs.slice(0, 40).map((d) => d.id)).toEqual(one.docs.map((d) => d.id)); // 409s at the engine
  expect(messages(two.docs.slice(40))).toEqual(text('more', 5).trimEnd().split('\n'));
});

test('a recycled inode holding the same bytes (another birth time) is new content: new key, read from 0', async () => {
  const file = join(dir, 'a.log');
  writeFileSync(file, text('same', 3));
  const st = statSync(file, { bigint: true });
  const fp = fingerprintOf(Buffer.from(text('same', 3)));
  // What the registry knew of the deleted file whose inode this one got: same bytes, read to the end.
  const reg = FileRegistry.load(join(dir, 'state'), logger);
  reg.set({ key: 'deletedkey1', path: join(dir, 'old.log'), dev: Number(st.dev), ino: Number(st.ino), btime: String(st.birthtimeNs - 1000n), fp: fp.hash, fpLen: fp.len, offset: fp.len, seen: Date.now() });
  await reg.save();
  const { docs, registry } = await shipOnce([file]);
  expect(messages(docs)).toEqual(text('same', 3).trimEnd().split('\n'));
  expect(docs[0].line.file.key).not.toBe('deletedkey1');
  expect(registry.get('deletedkey1')?.deleted).toBe(true);
});

test('a registry written by the previous version (minted keys, no birth time) still loads: each file continues under its key', async () => {
  const file = join(dir, 'a.log');
  const content = text('old', 30);
  writeFileSync(file, content + text('new', 4));
  const st = statSync(file);
  const fp = fingerprintOf(Buffer.from(content).subarray(0, FINGERPRINT_BYTES));
  const offset = Buffer.byteLength(text('old', 20));
  // Exactly what the previous version wrote: version 1, a random 12-character key, no btime.
  mkdirSync(join(dir, 'state'));
  const v1 = { version: 1, files: [{ key: 'Zq3pV8kLm2Xw', path: file, dev: st.dev, ino: st.ino, fp: fp.hash, fpLen: fp.len, offset, seen: Date.now() }] };
  writeFileSync(join(dir, 'state', 'registry.json'), JSON.stringify(v1));
  const { docs, registry } = await shipOnce([file]);
  expect(messages(docs)).toEqual([...text('old', 30).trimEnd().split('\n').slice(20), ...text('new', 4).trimEnd().split('\n')]);
  expect(docs[0].id).toBe(`Zq3pV8kLm2Xw-${offset.toString(36)}`);
  expect(registry.get('Zq3pV8kLm2Xw')).toMatchObject({ btime: String(statSync(file, { bigint: true }).birthtimeNs), offset: Buffer.byteLength(content + text('new', 4)) });
  expect([...registry.all()]).toHaveLength(1);
});
