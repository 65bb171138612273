// The dead-letter file stays bounded: rotated past max_size, at most max_files kept, dropped records counted.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterFile, type DeadLetter } from '../../../src/ship/output/deadletter';
import { makeDocs, tempDir } from './helpers';

const letters = (n: number, from = 0): DeadLetter[] =>
  makeDocs(n, { text: (i) => `refused line ${from + i} ${'x'.repeat(100)}` }).map((doc) => ({ doc, status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad' } }));

describe('DeadLetterFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('rotates past maxBytes, keeps maxFiles files and counts the records deleted with the oldest', async () => {
    const path = join(dir, 'dead-letter.ndjson');
    const rotations: number[] = [];
    const file = new DeadLetterFile(path, 'logs-x', { maxBytes: 4096, maxFiles: 3, onRotate: (dropped) => rotations.push(dropped) });
    for (let i = 0; i < 40; i++) await file.write(letters(5, i * 5));
    await file.close();
    const names = readdirSync(dir).sort();
    expect(names).toEqual(['dead-letter.ndjson', 'dead-letter.ndjson.1', 'dead-letter.ndjson.2']);
    const kept = names.flatMap((n) => readFileSync(join(dir, n), 'utf8').trim().split('\n'));
    for (const n of names) expect(readFileSync(join(dir, n)).length).toBeLessThanOrEqual(4096);
    // Every record is whole JSON, and what was kept plus what was dropped is everything written.
    const records = kept.map((l) => JSON.parse(l) as { message: string });
    const dropped = rotations.reduce((a, b) => a + b, 0);
    expect(records.length + dropped).toBe(200);
    expect(rotations.length).toBeGreaterThan(2);
    // The newest records are the ones kept.
    expect(records.map((r) => r.message)).toContain(`refused line 199 ${'x'.repeat(100)}`);
  });

  test('with one file kept, a full file is emptied and its records counted as dropped', async () => {
    const path = join(dir, 'dl.ndjson');
    let dropped = 0;
    const file = new DeadLetterFile(path, 'logs-x', { maxBytes: 2048, maxFiles: 1, onRotate: (d) => (dropped += d) });
    for (let i = 0; i < 10; i++) await file.write(letters(4, i * 4));
    await file.close();
    expect(readdirSync(dir)).toEqual(['dl.ndjson']);
    const kept = readFileSync(path, 'utf8').trim().split('\n').length;
    expect(kept + dropped).toBe(40);
  });
});
