// End-to-end: the state directory on a small tmpfs the test mounts, filled up and then made read-only. Positions
// that cannot be saved stop reading (lines appended meanwhile wait in the file), /healthz turns 503 naming the
// cause, and once space returns (or the mount is writable again) shipping resumes by itself, each line stored once.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithEngine, uniqueName, useEngine } from '../support/engine';
import { allDocs, count, expectExactlyOnce, healthz, httpPort, lines, metricOf, sleep, startShipper, stopShipper, tempDir, waitFor, waitForCount, type ShipHealthz, type ShipperRun } from './helpers';

const write = (file: string, ls: string[]): void => appendFileSync(file, ls.map((l) => l + '\n').join(''));

const isRoot = process.getuid?.() === 0;
const describeAsRoot = isRoot
  ? describeWithEngine
  : (name: string, fn: () => void): void => describe.skip(`${name} [skipped: mounting a tmpfs needs root]`, fn);

/** Writes a file until the file system is full (ENOSPC); returns its path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(16 * 1024, 120);
  try {
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
  return path;
}

/**
 * Remounts `mnt` read-only. The kernel refuses (EBUSY, "mount point is busy") while a file on it is open for writing:
 * the shipper's registry save (a temp file written, synced and renamed every registry_flush) holds one for a few ms,
 * so a refusal is tried again until the save is over.
 */
async function remountReadOnly(mnt: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (err) {
      if (attempt >= 100 || !/busy/.test(String((err as { stderr?: Buffer }).stderr))) throw err;
      await sleep(20);
    }
  }
}

describeAsRoot('sidekick-ship with its state directory on a full or read-only disk', () => {
  const engine = useEngine();
  let run: ShipperRun | undefined;
  let dir: string;
  let mnt: string;
  let mounted = false;

  beforeEach(() => {
    dir = tempDir('ship-statedir-');
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0755', 'tmpfs', mnt]);
    mounted = true;
  });
  afterEach(async () => {
    try {
      if (run) await stopShipper(run, 'SIGKILL');
      run = undefined;
    } finally {
      // Always unmounted, whatever failed above (lazily, in case something still holds it).
      if (mounted) execFileSync('umount', ['-l', mnt]);
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('full, then read-only: reading pauses, /healthz says why, and it recovers by itself with every line once', async () => {
    const index = uniqueName('ship-statedir');
    const file = join(dir, 'app.log');
    const expected: string[] = [];
    const add = (tag: string, n: number): string[] => {
      const ls = lines(tag, 0, n);
      write(file, ls);
      expected.push(...ls);
      return ls;
    };
    add('first', 500);
    run = startShipper({
      dir,
      esUrl: engine.url,
      index,
      paths: [file],
      args: ['--http', '127.0.0.1:0'],
      extra: { state_dir: join(mnt, 'state'), registry_flush: '200ms' },
    });
    const port = await httpPort(run);
    const health = (): Promise<ShipHealthz> => healthz(port);
    const metric = (re: RegExp): Promise<number> => metricOf(port, re);
    const linesRead = (): Promise<number> => metric(/sidekick_ship_lines_read_total\{[^}]*\} (\d+)/);
    await waitForCount(index, 500);

    for (const phase of ['full', 'read-only'] as const) {
      let filler = '';
      if (phase === 'full') filler = await fill(mnt);
      else await remountReadOnly(mnt);
      add(`${phase}-a`, 300);
      const code = phase === 'full' ? 'ENOSPC' : 'EROFS';
      await waitFor(`/healthz 503 naming ${code}`, async () => {
        const h = await health();
        return h.code === 503 && h.body.detail.waiting.some((w) => w.reason === 'state_dir' && w.message.includes(code));
      });
      expect(await metric(/sidekick_ship_waiting\{reason="state_dir"[^}]*\} (\d+)/)).toBe(1);
      // Reading is paused: these lines stay in the file for now.
      const readBefore = await linesRead();
      add(`${phase}-b`, 300);
      await sleep(1500);
      expect(await linesRead()).toBe(readBefore);
      // The '-a' lines may or may not have been read before the failed save stopped reading; '-b' lines not.
      expect(await count(index)).toBeLessThanOrEqual(expected.length - 300);
      if (phase === 'full') rmSync(filler);
      else execFileSync('mount', ['-o', 'remount,rw', mnt]);
      await waitForCount(index, expected.length, 30_000);
      await waitFor('/healthz 200 again', async () => (await health()).code === 200);
      expect(await metric(/sidekick_ship_waiting\{reason="state_dir"[^}]*\} (\d+)/)).toBe(0);
    }
    expect(run.stderr()).toContain('positions saved again; reading resumes');
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
    // A restart finds the saved positions: nothing is read twice into the index.
    const again = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true, extra: { state_dir: join(mnt, 'state') } });
    expect(await again.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), expected);
  }, 120_000);
});
