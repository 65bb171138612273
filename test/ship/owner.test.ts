// One owner per state directory: a second shipper is refused naming the first; an owner killed with SIGKILL
// leaves nothing that blocks the next one.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { claimStateDir, OWNER_SOCKET, StateDirOwned, type OwnerInfo } from '../../src/ship/input/owner';
import { startShipper, stopShipper, tempDir, waitFor, waitForLog, type ShipperRun } from './helpers';

const me = (pid = process.pid): OwnerInfo => ({ program: 'sidekick-ship', version: 'test', pid, hostname: hostname(), started: new Date().toISOString() });

describe('claimStateDir', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('ship-owner-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a second claim is refused naming the owner; after release the directory can be claimed again', async () => {
    const state = join(dir, 'state');
    const first = await claimStateDir(state, me());
    const err = await claimStateDir(state, me(4242)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDirOwned);
    expect((err as StateDirOwned).exitCode).toBe(2);
    expect((err as Error).message).toContain(`pid ${process.pid} on host ${hostname()}`);
    expect((err as Error).message).toContain(state);
    await first.release();
    const again = await claimStateDir(state, me());
    await again.release();
  });

  test('the socket left by an owner killed with SIGKILL is taken over at once', async () => {
    mkdirSync(dir, { recursive: true });
    // An owner in another process, killed without any chance to clean up.
    const script = `require(${JSON.stringify(join(__dirname, '../../dist/src/ship/input/owner.js'))}).claimStateDir(${JSON.stringify(dir)}, { program: 'x', version: '0', pid: process.pid, hostname: 'h', started: 'now' }).then(() => { console.log('owned'); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor('the other process to own the directory', () => out.includes('owned'));
      await expect(claimStateDir(dir, me())).rejects.toThrow(`pid ${child.pid} on host h`);
    } finally {
      // Also when an assertion failed: a live child's pipe would keep the jest worker from exiting.
      child.kill('SIGKILL');
      await exited;
    }
    expect(existsSync(join(dir, OWNER_SOCKET))).toBe(true);
    const lock = await claimStateDir(dir, me());
    await lock.release();
    expect(existsSync(join(dir, OWNER_SOCKET))).toBe(false);
  });

  test('a state directory whose path is too long for a unix socket still gets one owner', async () => {
    const deep = join(dir, 'a'.repeat(60), 'b'.repeat(60));
    const first = await claimStateDir(deep, me());
    await expect(claimStateDir(deep, me(7))).rejects.toBeInstanceOf(StateDirOwned);
    expect(existsSync(join(deep, OWNER_SOCKET))).toBe(true);
    await first.release();
  });
});

describe('sidekick-ship on a state directory another shipper owns', () => {
  let dir: string;
  let run: ShipperRun | undefined;
  beforeEach(() => {
    dir = tempDir('ship-owner-cli-');
  });
  afterEach(async () => {
    if (run) await stopShipper(run, 'SIGKILL');
    run = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('exits 2 naming the running one; once that one is killed with SIGKILL, a new one starts', async () => {
    // No engine is needed: the shipper waits for it, and the second one is refused before it would ask.
    const opts = { dir, esUrl: 'http://127.0.0.1:9', index: 'owner-test', paths: [join(dir, '*.log')] };
    run = startShipper(opts);
    await waitForLog(run, 'sidekick-ship starting');
    const second = startShipper(opts);
    expect(await second.exited).toBe(2);
    expect(second.stderr()).toContain(`state_dir ${join(dir, 'state')} is in use by another shipper (sidekick-ship`);
    expect(second.stderr()).toContain(`pid ${run.child.pid} on host ${hostname()}`);
    expect(await stopShipper(run, 'SIGKILL')).toBe(null);
    run = startShipper(opts);
    // Stopped the moment it says it is starting, as a supervisor may: still a clean stop (exit 0).
    const started = run;
    await new Promise<void>((resolve) => started.child.stderr!.on('data', () => started.stderr().includes('"msg":"sidekick-ship starting"') && resolve()));
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
  });
});
