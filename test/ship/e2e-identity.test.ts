// End-to-end faults rebuilt from public bug reports (issue #13): a recycled inode holding the same bytes (Vector
// #5902/#25079), a lost state directory, sparse NUL holes after copytruncate (Fluent Bit #3117), and a partial last
// line under --once. The built sidekick-ship against the real engine, with real files.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithEngine, isCi, uniqueName, useEngine } from '../support/engine';
import { allDocs, count, expectExactlyOnce, lines, perTestShipper, sleep, startShipper, stopShipper, waitForCount, waitForLog } from './helpers';

const write = (file: string, ls: string[]): void => appendFileSync(file, ls.map((l) => l + '\n').join(''));

/** Why a small ext4 volume cannot be loop-mounted here, or undefined when it can. */
function loopUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'loop-mounting an ext4 image needs root';
  if (!existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control is missing)';
  for (const tool of ['mkfs.ext4', 'mount', 'umount']) {
    if (spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool} || test -x /sbin/${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

describeWithEngine('sidekick-ship: file identity, NUL holes and partial lines', () => {
  const engine = useEngine();
  const t = perTestShipper();

  const loopWhy = loopUnavailable();
  // Needs a filesystem that reuses a freed inode at once: a fresh ext4 (with its journal) hands out the lowest free one.
  const onExt4 = loopWhy !== undefined && !isCi() ? test.skip : test;
  onExt4(`a recycled inode holding the same bytes is new content, while running and across a restart${loopWhy ? ` [skipped: ${loopWhy}]` : ''}`, async () => {
    if (loopWhy) throw new Error(`cannot loop-mount an ext4 image (CI=true): ${loopWhy}`);
    const image = join(t.dir, 'volume.img');
    const mnt = join(t.dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('truncate', ['-s', '16M', image]);
    // 256-byte inodes hold a birth time (e2fsprogs before 1.46.4 made 128-byte ones, without, on volumes this small).
    execFileSync('mkfs.ext4', ['-q', '-F', '-I', '256', image], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    execFileSync('mount', ['-o', 'loop', image, mnt]);
    try {
      const jobs = join(mnt, 'jobs');
      mkdirSync(jobs);
      const index = uniqueName('ship-inode-reuse');
      const three = ['job line 1 of the batch run, status=started', 'job line 2 of the batch run, status=running', 'job line 3 of the batch run, status=stopped'];
      const five = [...three, 'job line 4 of the batch run, status=archived', 'job line 5 of the batch run, status=reported'];
      expect(three.map((l) => `${l}\n`).join('').length).toBe(132);
      const paths = [join(jobs, '*.txt')];
      const state = { dir: t.dir, esUrl: engine.url, index, paths, extra: { read: { scan_interval: '300ms', poll_interval: '200ms', close_inactive: '500ms' } } };
      t.run = startShipper(state);
      await waitForLog(t.run, 'sidekick-ship starting');
      const inodes: number[] = [];
      let stored = 0;
      let closed = 0;
      /** Writes a job file, waits until its lines are stored, deletes it and waits until the shipper closed it. */
      const job = async (name: string, ls: string[]): Promise<void> => {
        const file = join(jobs, name);
        write(file, ls);
        inodes.push(statSync(file).ino);
        stored += ls.length;
        await waitForCount(index, stored);
        unlinkSync(file);
        closed++;
        await waitForLog(t.run!, 'closed file', closed);
      };
      await job('job-1.txt', three);
      await job('job-2.txt', three);
      await job('job-3.txt', five);
      // The same across a restart: the file is deleted and its inode recycled while the shipper is stopped.
      write(join(jobs, 'job-4.txt'), five);
      inodes.push(statSync(join(jobs, 'job-4.txt')).ino);
      await waitForCount(index, stored + five.length);
      expect(await stopShipper(t.run)).toBe(0);
      unlinkSync(join(jobs, 'job-4.txt'));
      write(join(jobs, 'job-5.txt'), five);
      inodes.push(statSync(join(jobs, 'job-5.txt')).ino);
      t.run = startShipper(state);
      await waitForCount(index, 21);
      await sleep(1000);
      // The faults need the inode recycled: the volume hands out the one just freed.
      expect(new Set(inodes).size).toBe(1);
      expect(statSync(jobs, { bigint: true }).birthtimeNs).toBeGreaterThan(0n);
      const docs = await allDocs(index);
      expect(docs.map((d) => `${d.path.split('/').pop()}: ${d.message}`).sort()).toEqual(
        [
          ...three.map((m) => `job-1.txt: ${m}`),
          ...three.map((m) => `job-2.txt: ${m}`),
          ...five.map((m) => `job-3.txt: ${m}`),
          ...five.map((m) => `job-4.txt: ${m}`),
          ...five.map((m) => `job-5.txt: ${m}`),
        ].sort(),
      );
      expect(new Set(docs.map((d) => d.id)).size).toBe(21);
    } finally {
      if (t.run) await stopShipper(t.run);
      t.run = undefined;
      // A loop device set up by mount -o loop is freed with the unmount; lazily if something still holds a file.
      if (spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
    }
  }, 180_000);

  test('a lost state directory re-reads every file under the same keys: the re-read lines are 409s, none is stored twice', async () => {
    const index = uniqueName('ship-lost-state');
    const file = join(t.dir, 'app.log');
    const first = lines('before', 0, 3000);
    write(file, first);
    const once = startShipper({ dir: t.dir, esUrl: engine.url, index, paths: [file], once: true });
    expect(await once.exited).toBe(0);
    expect(await count(index)).toBe(3000);
    rmSync(join(t.dir, 'state'), { recursive: true, force: true }); // a container redeployed without its state volume
    const more = lines('after', 0, 500);
    write(file, more);
    const again = startShipper({ dir: t.dir, esUrl: engine.url, index, paths: [file], once: true });
    expect(await again.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), [...first, ...more]);
  });

  /** A writer without O_APPEND: after `truncate -s 0` it goes on writing at its old offset, leaving a hole of NULs. */
  async function holeAfterCopytruncate(before: number, after: number): Promise<void> {
    const index = uniqueName(`ship-nul-hole-${before}`);
    const file = join(t.dir, 'app.log');
    const fd = openSync(file, 'w'); // O_WRONLY|O_CREAT|O_TRUNC, no O_APPEND
    const line = (tag: string, i: number): string => `${tag} ${String(i).padStart(6, '0')} ${'x'.repeat(107)}`; // ~125 bytes with the newline
    const first = Array.from({ length: before }, (_, i) => line('before', i));
    writeSync(fd, first.map((l) => `${l}\n`).join(''));
    t.run = startShipper({ dir: t.dir, esUrl: engine.url, index, paths: [file] });
    await waitForCount(index, before, 60_000);
    truncateSync(file, 0);
    const next = Array.from({ length: after }, (_, i) => line('after', i));
    for (const l of next) writeSync(fd, `${l}\n`);
    closeSync(fd);
    expect(statSync(file).size).toBeGreaterThan(before * 120); // a hole, then the new lines
    await waitForCount(index, before + after, 30_000);
    await sleep(1500);
    const docs = await allDocs(index);
    expect(docs.filter((d) => d.message.includes('\u0000')).map((d) => d.message.length)).toEqual([]);
    expectExactlyOnce(docs, [...first, ...next]);
    expect(docs.filter((d) => d.message.startsWith('after')).every((d) => !d.flags?.includes('truncated'))).toBe(true);
  }

  test('NUL holes after copytruncate by a writer without O_APPEND (1 MiB hole): the new lines each stored with their own text', async () => {
    await holeAfterCopytruncate(9000, 5);
  });

  test('NUL holes after copytruncate (62 KB hole): the new line is stored without the NULs before it', async () => {
    await holeAfterCopytruncate(500, 5);
  });

  test('--once with a partial last line says so, naming the file and its size', async () => {
    const index = uniqueName('ship-once-partial');
    const file = join(t.dir, 'app.log');
    writeFileSync(file, 'one\ntwo\nthree without newline');
    writeFileSync(join(t.dir, 'done.log'), 'complete\n');
    const once = startShipper({ dir: t.dir, esUrl: engine.url, index, paths: [join(t.dir, '*.log')], once: true });
    expect(await once.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), ['one', 'two', 'complete']);
    const logs = once
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const partial = logs.filter((l) => l.msg === 'a partial last line is not shipped: it waits for its newline');
    expect(partial).toEqual([expect.objectContaining({ level: 'warn', path: file, size: 29, partial_offset: 8, partial_bytes: 21 })]);
    expect(logs.some((l) => l.msg === 'all lines acknowledged')).toBe(false);
    expect(logs.find((l) => l.msg === 'all complete lines acknowledged; 1 file ends in a partial line')).toMatchObject({ level: 'info', lines: 3 });
  });
});
