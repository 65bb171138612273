// The registry: atomic saves, reload, corrupt files set aside, cleanup of files gone for long.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/common/log';
import { FileRegistry, REGISTRY_FILE, type FileState } from '../../src/ship/input/registry';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ship-reg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry = (key: string, extra: Partial<FileState> = {}): FileState => ({
  key,
  path: `/logs/${key}.log`,
  dev: 1,
  ino: 100,
  fp: 'abc',
  fpLen: 3,
  offset: 42,
  seen: Date.now(),
  ...extra,
});

test('saves atomically and reloads the same positions', async () => {
  const reg = FileRegistry.load(join(dir, 'state'), logger);
  reg.set(entry('a'));
  reg.set(entry('b', { ino: 101, offset: 7 }));
  reg.update('a', { offset: 1000 });
  await reg.save();
  expect(readdirSync(join(dir, 'state'))).toEqual([REGISTRY_FILE]); // no temp file left behind
  const again = FileRegistry.load(join(dir, 'state'), logger);
  expect(again.get('a')?.offset).toBe(1000);
  expect(again.get('b')?.offset).toBe(7);
  expect(again.byInode(1, 101).map((e) => e.key)).toEqual(['b']);
});

test('detached entries are not found by inode (their file now holds other content)', () => {
  const reg = FileRegistry.load(dir, logger);
  reg.set(entry('old', { detached: true }));
  reg.set(entry('new', { offset: 0 }));
  expect(reg.byInode(1, 100).map((e) => e.key)).toEqual(['new']);
});

test('a corrupt registry is set aside with a log line, and reading starts afresh', () => {
  writeFileSync(join(dir, REGISTRY_FILE), '{"version":1,"files":[{"key":');
  const reg = FileRegistry.load(dir, logger);
  expect([...reg.all()]).toEqual([]);
  expect(existsSync(join(dir, REGISTRY_FILE))).toBe(false);
  expect(readdirSync(dir).some((f) => f.startsWith(`${REGISTRY_FILE}.corrupt-`))).toBe(true);
});

test('cleanup forgets entries not seen for long, but never those in use', async () => {
  const reg = FileRegistry.load(dir, logger);
  const now = Date.now();
  reg.set(entry('fresh', { seen: now }));
  reg.set(entry('stale', { seen: now - 10_000 }));
  reg.set(entry('stale-in-use', { seen: now - 10_000 }));
  expect(reg.cleanup(5000, new Set(['stale-in-use']), now)).toEqual(['stale']);
  await reg.save();
  const saved = JSON.parse(readFileSync(join(dir, REGISTRY_FILE), 'utf8')) as { files: FileState[] };
  expect(saved.files.map((f) => f.key).sort()).toEqual(['fresh', 'stale-in-use']);
});

test('an unwritable state directory is a usage error naming it', () => {
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, '');
  expect(() => FileRegistry.load(join(file, 'state'), logger)).toThrow(/state directory .*not-a-dir\/state: cannot create it/);
});

test('a failed save is tried again by the next autosave', async () => {
  const state = join(dir, 'state');
  const reg = FileRegistry.load(state, logger);
  reg.set(entry('a'));
  mkdirSync(join(state, `${REGISTRY_FILE}.tmp`)); // the temp file cannot be opened for writing
  await expect(reg.save()).rejects.toThrow();
  rmSync(join(state, `${REGISTRY_FILE}.tmp`), { recursive: true });
  reg.autoSave(20);
  try {
    const deadline = Date.now() + 2000;
    while (!existsSync(join(state, REGISTRY_FILE)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  } finally {
    reg.stopAutoSave();
  }
  expect(FileRegistry.load(state, logger).get('a')?.offset).toBe(42);
});
