// End-to-end: the built sidekick-ship against the real engine, with real files that grow, rotate,
// shrink and disappear. Each test asserts that every written line is stored exactly once.
import { appendFileSync, closeSync, copyFileSync, mkdirSync, openSync, renameSync, symlinkSync, rmSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describeWithEngine, esRequest, uniqueName, useEngine } from '../support/engine';
import { CLI, allDocs, count, expectExactlyOnce, lines, sleep, startShipper, stopShipper, tempDir, waitForCount, waitForLog, type ShipperRun } from './helpers';

// On a loaded machine (the full suite on two cores, the engine in the same box) one of these tests can take minutes;
// every wait below is for a condition (documents stored, a log line, a status), so a generous bound costs nothing
// when things go well and only says "too slow" instead of "lost" when they do not.
jest.setTimeout(240_000);

const write = (file: string, ls: string[]): void => appendFileSync(file, ls.map((l) => l + '\n').join(''));

/** The warnings of a run about followed files gone while it was down (Input.reportGone): path and message of each. */
const goneWarnings = (run: ShipperRun): { path: string; msg: string }[] =>
  run
    .stderr()
    .split('\n')
    .filter((l) => l.includes('cannot be shipped'))
    .map((l) => JSON.parse(l) as { path: string; msg: string });

describeWithEngine('sidekick-ship with real files', () => {
  const engine = useEngine();
  let run: ShipperRun | undefined;
  let dir: string;

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    if (run) expect(await stopShipper(run)).toBe(0);
    run = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('--once drains many files at once and exits 0', async () => {
    const index = uniqueName('ship-many');
    const expected: string[] = [];
    for (let f = 0; f < 12; f++) {
      const ls = lines(`file${f}`, 0, 400 + f * 50);
      write(join(dir, `app-${f}.log`), ls);
      expected.push(...ls);
    }
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true });
    expect(await once.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), expected);
    // A second run ships nothing new: the positions were saved.
    const again = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true });
    expect(await again.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), expected);
  });

  test('--once ships a file whose head is the whole of a file still being read when it is first seen', async () => {
    const index = uniqueName('ship-once-deferred');
    const a = lines('shared', 0, 10_000);
    const b = [...a, ...lines('only-b', 0, 10)];
    write(join(dir, 'a.log'), a);
    write(join(dir, 'b.log'), b);
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true });
    expect(await once.exited).toBe(0);
    const docs = await allDocs(index);
    expect(docs.filter((d) => d.path.endsWith('b.log'))).toHaveLength(b.length);
    expect(docs.filter((d) => d.path.endsWith('a.log'))).toHaveLength(a.length);
    expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
  });

  test('--once stopped by SIGTERM exits 1 without claiming success; the next run ships the rest exactly once', async () => {
    const index = uniqueName('ship-once-term');
    const file = join(dir, 'app.log');
    const ls = lines('term', 0, 60_000);
    write(file, ls);
    const extra = { memory_budget: '256KiB', batch: { max_docs: 200, max_latency: '100ms', concurrency: 1 } };
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true, extra });
    await waitForCount(index, 1, 60_000);
    once.child.kill('SIGTERM');
    expect(await once.exited).toBe(1);
    expect(once.stderr()).not.toContain('all lines acknowledged');
    const again = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true });
    expect(await again.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), ls);
  });

  test('a file renamed out of the glob while the shipper was down (killed -9 mid-file) is found and read to its end at the next start', async () => {
    const index = uniqueName('ship-renamed-away');
    const file = join(dir, 'app.log');
    const first = lines('first', 0, 60_000);
    write(file, first);
    const extra = { memory_budget: '256KiB', batch: { max_docs: 200, max_latency: '100ms', concurrency: 1 } };
    const killed = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], extra });
    await waitForCount(index, 1, 60_000);
    killed.child.kill('SIGKILL');
    await killed.exited;
    // While it is down: the app writes on, then a rotation renames the file to a name the glob does not take.
    const more = lines('more', 0, 500);
    write(file, more);
    renameSync(file, join(dir, 'app.log.1'));
    const fresh = lines('fresh', 0, 100);
    write(file, fresh);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], extra });
    await waitForCount(index, first.length + more.length + fresh.length, 120_000);
    await waitForLog(run, 'found a file renamed out of the globs while stopped; reading it to its end');
    // Not matched by the glob: closed once read to its end and quiet, as a file rotated away while followed.
    await waitForLog(run, 'closed file');
    const docs = await allDocs(index);
    expectExactlyOnce(docs, [...first, ...more, ...fresh]);
    expect(new Set(docs.filter((d) => d.message.startsWith('more')).map((d) => d.path))).toEqual(new Set([join(dir, 'app.log.1')]));
    expect(run.stderr()).not.toContain('cannot be shipped');
  });

  test('a followed file deleted while the shipper was down is reported once, naming it', async () => {
    const index = uniqueName('ship-gone');
    const file = join(dir, 'app.log');
    write(file, lines('gone', 0, 200));
    const first = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')] });
    await waitForCount(index, 200);
    expect(await stopShipper(first)).toBe(0);
    unlinkSync(file);
    const again = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true });
    expect(await again.exited).toBe(0);
    expect(goneWarnings(again).map((w) => w.path)).toEqual([file]);
    const third = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true });
    expect(await third.exited).toBe(0);
    expect(third.stderr()).not.toContain('cannot be shipped');
  });

  test('through a symlinked path (as /var/log/containers/*.log), a target rotated while the shipper was down is found next to the target', async () => {
    const index = uniqueName('ship-renamed-symlink');
    const target = join(dir, 'pods');
    const links = join(dir, 'containers');
    for (const d of [target, links]) mkdirSync(d);
    const real = join(target, '0.log');
    write(real, lines('before', 0, 100));
    symlinkSync(real, join(links, 'app.log'));
    const first = startShipper({ dir, esUrl: engine.url, index, paths: [join(links, '*.log')], once: true });
    expect(await first.exited).toBe(0);
    // While stopped: the runtime appends, rotates 0.log to 0.log.1 and starts a new 0.log behind the same link.
    const more = lines('more', 0, 5);
    write(real, more);
    renameSync(real, join(target, '0.log.1'));
    const fresh = lines('fresh', 0, 3);
    write(real, fresh);
    const second = startShipper({ dir, esUrl: engine.url, index, paths: [join(links, '*.log')], once: true });
    expect(await second.exited).toBe(0);
    const docs = await allDocs(index);
    expectExactlyOnce(docs, [...lines('before', 0, 100), ...more, ...fresh]);
    expect(new Set(docs.filter((d) => d.message.startsWith('more')).map((d) => d.path))).toEqual(new Set([join(target, '0.log.1')]));
    expect(second.stderr()).not.toContain('cannot be shipped');
  });

  test('at start-up only the very content is resumed: not a renamed file rewritten since, nor one the globs no longer take', async () => {
    const index = uniqueName('ship-renamed-other');
    const keep = join(dir, 'keep');
    const dropped = join(dir, 'dropped');
    for (const d of [keep, dropped]) mkdirSync(d);
    write(join(keep, 'app.log'), lines('kept', 0, 50));
    write(join(dropped, 'old.log'), lines('old', 0, 50));
    const first = startShipper({ dir, esUrl: engine.url, index, paths: [join(keep, '*.log'), join(dropped, '*.log')], once: true });
    expect(await first.exited).toBe(0);
    // While stopped: keep/app.log is renamed away and then rewritten in place (same inode, other content);
    // dropped/old.log is rotated with a line more, but the next run no longer takes dropped/.
    renameSync(join(keep, 'app.log'), join(keep, 'app.log.1'));
    writeFileSync(join(keep, 'app.log.1'), lines('other content', 0, 80).map((l) => l + '\n').join(''));
    write(join(dropped, 'old.log'), ['old one more']);
    renameSync(join(dropped, 'old.log'), join(dropped, 'old.log.1'));
    const second = startShipper({ dir, esUrl: engine.url, index, paths: [join(keep, '*.log')], once: true });
    expect(await second.exited).toBe(0);
    const docs = await allDocs(index);
    expect(docs.filter((d) => d.message.startsWith('other content'))).toEqual([]);
    expect(docs.filter((d) => d.message === 'old one more')).toEqual([]);
    expect(docs).toHaveLength(100);
    const warned = goneWarnings(second);
    expect(warned.map((w) => w.path)).toEqual([join(keep, 'app.log')]);
    expect(warned[0].msg).toContain('its inode now holds another file');
  });

  test('rotation by rename while writing fast loses nothing, including lines written to the old file after the rename', async () => {
    const index = uniqueName('ship-rename');
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file] });
    await waitForLog(run, 'following file', 1, 60_000);
    const expected: string[] = [];
    let fd = openSync(file, 'a');
    let n = 0;
    for (let rotation = 0; rotation < 4; rotation++) {
      for (let burst = 0; burst < 20; burst++) {
        const ls = lines('ren', n, n + 50);
        n += 50;
        writeSync(fd, ls.map((l) => l + '\n').join(''));
        expected.push(...ls);
        await sleep(5);
      }
      // The shipper finds new files by scanning (read.scan_interval, 300 ms here), as Filebeat does: a file renamed
      // away from the watched name before any scan saw it is out of reach, so, as with any real rotation (minutes
      // to days apart), the file is rotated only once the shipper follows it. Rotating every ~150-300 ms regardless
      // lost a whole rotated file (1,030 lines) in 4 of 7 runs here.
      await waitForLog(run, 'following file', rotation + 1, 60_000);
      renameSync(file, join(dir, `app.log.${rotation}`));
      // The application still holds the old file open and writes a few more lines there...
      const late = lines(`late${rotation}`, 0, 30);
      writeSync(fd, late.map((l) => l + '\n').join(''));
      expected.push(...late);
      closeSync(fd);
      // ...then reopens its log by name: a new file.
      fd = openSync(file, 'a');
    }
    const tail = lines('ren', n, n + 100);
    writeSync(fd, tail.map((l) => l + '\n').join(''));
    closeSync(fd);
    expected.push(...tail);
    await waitForCount(index, expected.length, 120_000);
    await sleep(1000);
    expectExactlyOnce(await allDocs(index), expected);
  });

  test('copytruncate: the rotated copy continues where reading stopped, the truncated original is read as new content', async () => {
    const index = uniqueName('ship-copytrunc');
    const file = join(dir, 'app.log');
    const first = lines('before', 0, 1000);
    write(file, first);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, 'app.log*')] });
    await waitForCount(index, first.length, 120_000);
    // Lines the shipper may not have read yet when the copy is taken and the original emptied.
    const unread = lines('unread', 0, 700);
    write(file, unread);
    copyFileSync(file, join(dir, 'app.log.1'));
    truncateSync(file, 0);
    const after = lines('after', 0, 300);
    write(file, after);
    const expected = [...first, ...unread, ...after];
    await waitForCount(index, expected.length, 120_000);
    await sleep(1500);
    const docs = await allDocs(index);
    expectExactlyOnce(docs, expected);
    // The new content of the original has other _ids than the old content at the same offsets.
    const firstId = docs.find((d) => d.message === first[0])!.id;
    const afterId = docs.find((d) => d.message === after[0])!.id;
    expect(afterId).not.toBe(firstId);
  });

  test('copytruncate with lines written (and read) between the copy and the truncation stores each line once', async () => {
    const index = uniqueName('ship-copytrunc-late');
    const file = join(dir, 'app.log');
    const first = lines('before', 0, 300);
    write(file, first);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, 'app.log*')] });
    await waitForCount(index, first.length, 120_000);
    copyFileSync(file, join(dir, 'app.log.1'));
    // The application writes on after the copy; the shipper reads these before logrotate truncates,
    // so it has read past the end of the copy.
    const between = lines('between', 0, 20);
    write(file, between);
    await waitForCount(index, first.length + between.length, 120_000);
    truncateSync(file, 0);
    const after = lines('after', 0, 50);
    write(file, after);
    const expected = [...first, ...between, ...after];
    await waitForCount(index, expected.length, 120_000);
    await waitForLog(run, 'recognised a copy of known content (copytruncate)', 1, 60_000);
    await sleep(1500);
    expectExactlyOnce(await allDocs(index), expected);
  });

  test('truncation in place restarts at offset 0 with a new identity', async () => {
    const index = uniqueName('ship-trunc');
    const file = join(dir, 'app.log');
    const first = lines('old', 0, 500);
    write(file, first);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file] });
    await waitForCount(index, first.length, 120_000);
    truncateSync(file, 0);
    await sleep(600);
    const second = lines('new', 0, 200);
    write(file, second);
    await waitForCount(index, first.length + second.length, 120_000);
    await sleep(800);
    expectExactlyOnce(await allDocs(index), [...first, ...second]);
  });

  test('a file deleted while being read is read to its end', async () => {
    const index = uniqueName('ship-deleted');
    const file = join(dir, 'app.log');
    const ls = lines('del', 0, 40_000, 100);
    write(file, ls);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file], extra: { memory_budget: '1MiB', batch: { max_latency: '100ms', max_docs: 500 } } });
    await waitForCount(index, 1, 60_000);
    unlinkSync(file);
    await waitForCount(index, ls.length, 120_000);
    await sleep(800);
    expectExactlyOnce(await allDocs(index), ls);
  });

  test('a partial line waits for its newline and is shipped once when it is completed', async () => {
    const index = uniqueName('ship-partial');
    const file = join(dir, 'app.log');
    writeFileSync(file, 'one\ntwo\npart');
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file] });
    await waitForLog(run, 'following file', 1, 60_000);
    await waitForCount(index, 2, 120_000);
    await sleep(1500);
    expect(await count(index)).toBe(2);
    appendFileSync(file, 'ial line\r\nthree\n');
    await waitForCount(index, 4, 120_000);
    await sleep(500);
    expectExactlyOnce(await allDocs(index), ['one', 'two', 'partial line', 'three']);
  });

  test('a 2 MiB line is cut at the limit and flagged; invalid UTF-8 is replaced; empty lines are skipped', async () => {
    const index = uniqueName('ship-long');
    const file = join(dir, 'app.log');
    const long = 'L'.repeat(2 * 1024 * 1024);
    writeFileSync(file, Buffer.concat([Buffer.from(`before\n${long}\n\n\nafter\n`), Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x21, 0x0a])]));
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true });
    expect(await once.exited).toBe(0);
    const docs = await allDocs(index);
    const cut = 'L'.repeat(1024 * 1024);
    expectExactlyOnce(docs, ['before', cut, 'after', 'bad\ufffd\ufffd!']);
    expect(docs.find((d) => d.message === cut)!.flags).toEqual(['truncated']);
    expect(docs.find((d) => d.message === 'after')!.flags).toBeUndefined();
  });

  test('plain lines store the same documents through the bulk-lines binding as through the JS encoder (SIDEKICK_NATIVE=off)', async () => {
    // Lines the binding takes, and every kind it leaves to the JS path, mixed; the start-up line says which path ran.
    const file = join(dir, 'app.log');
    const kinds = ['plain', 'say "hi" \\ tab\there', 'ünï 🎉', '', 'x'.repeat(300), 'end\r'];
    writeFileSync(file, Array.from({ length: 3000 }, (_, i) => `${i} ${kinds[i % kinds.length]}`).join('\n') + '\n');
    const stored: Record<string, { id: string; message: string; offset: number; flags?: string[] }[]> = {};
    for (const [name, env] of [
      ['bulk-lines binding', {}],
      ['JS encoder', { SIDEKICK_NATIVE: 'off' }],
    ] as const) {
      const index = uniqueName('ship-paths');
      const own = join(dir, name.replace(/\W/g, ''));
      mkdirSync(own);
      const once = startShipper({ dir: own, esUrl: engine.url, index, paths: [file], once: true, extra: { read: { max_line: 200 } }, env });
      expect(await once.exited).toBe(0);
      const start = once.stderr().split('\n').find((l) => l.includes('"sidekick-ship starting"'))!;
      expect((JSON.parse(start) as { plain_lines: string }).plain_lines).toBe(name);
      stored[name] = (await allDocs(index)).map(({ id, message, offset, flags }) => ({ id, message, offset, flags })).sort((a, b) => a.offset - b.offset);
    }
    expect(stored['bulk-lines binding']).toHaveLength(3000);
    expect(stored['bulk-lines binding']).toEqual(stored['JS encoder']);
    expect(stored['JS encoder'].filter((d) => d.flags?.includes('truncated'))).toHaveLength(500);
  });

  test('setup creates the data stream, then lines ship into it', async () => {
    const index = uniqueName('logs-shipsetup').replace(/^logs-shipsetup-/, 'logs-shipsetup.') ;
    const setup = spawnSync(process.execPath, [CLI, 'setup', '--es', engine.url, '--index', index], { encoding: 'utf8', timeout: 90_000 });
    expect(setup.stderr).not.toMatch(/error/i);
    expect(setup.status).toBe(0);
    expect(setup.stdout.trim().length).toBeGreaterThan(0);
    const file = join(dir, 'app.log');
    const ls = lines('ds', 0, 300);
    write(file, ls);
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true });
    expect(await once.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), ls);
    const ds = await esRequest('GET', `/_data_stream/${index}`);
    expect(ds.status).toBe(200);
  });

  test('--from end skips what a file already holds when first seen, and ships what is appended', async () => {
    const index = uniqueName('ship-from-end');
    const file = join(dir, 'app.log');
    write(file, lines('history', 0, 200));
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file], args: ['--from', 'end'] });
    await waitForLog(run, 'following file', 1, 60_000);
    const fresh = lines('fresh', 0, 50);
    write(file, fresh);
    await waitForCount(index, fresh.length, 120_000);
    await sleep(800);
    expectExactlyOnce(await allDocs(index), fresh);
  });
});
