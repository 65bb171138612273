// End-to-end: the built sidekick-ship under faults — killed with SIGKILL and restarted, the engine down,
// 429s for requests and items, mapping errors, SIGTERM — still stores every line exactly once.
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng, startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { describeWithEngine, esRequest, uniqueName, useEngine } from '../support/engine';
import { allDocs, expectExactlyOnce, lines, sleep, startShipper, stopShipper, tempDir, waitFor, waitForCount, waitForLog, type ShipperRun } from './helpers';

// On a loaded machine (the full suite on two cores, the engine in the same box) one of these tests can take minutes;
// every wait below is for a condition (documents stored, a log line, a status), so a generous bound costs nothing
// when things go well and only says "too slow" instead of "lost" when they do not.
jest.setTimeout(240_000);

const write = (file: string, ls: string[]): void => appendFileSync(file, ls.map((l) => l + '\n').join(''));

describeWithEngine('sidekick-ship under faults', () => {
  const engine = useEngine();
  let run: ShipperRun | undefined;
  let proxy: FaultProxy | undefined;
  let dir: string;

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    if (run) await stopShipper(run, 'SIGKILL');
    run = undefined;
    await proxy?.close();
    proxy = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('killed with SIGKILL at random moments while files grow, then restarted: every line stored exactly once', async () => {
    const index = uniqueName('ship-kill');
    const files = [0, 1, 2].map((i) => join(dir, `svc-${i}.log`));
    for (const f of files) writeFileSync(f, '');
    const expected: string[] = [];
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        for (const [i, f] of files.entries()) {
          const ls = lines(`kill${i}`, n, n + 150);
          write(f, ls);
          expected.push(...ls);
        }
        n += 150;
        await sleep(40);
      }
    })();
    const random = prng(Number(process.env.SHIP_KILL_SEED ?? 7));
    const extra = { batch: { max_latency: '50ms', max_docs: 300, concurrency: 2 }, registry_flush: '200ms' };
    for (let round = 0; round < 6; round++) {
      const r = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], extra });
      await sleep(400 + Math.floor(random() * 1600));
      r.child.kill('SIGKILL');
      await r.exited;
    }
    writing = false;
    await writer;
    const last = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true, extra });
    expect(await last.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), expected);
  });

  test('killed with SIGKILL before any position was saved: the restart finds each file under the key its lines were stored with', async () => {
    const index = uniqueName('ship-kill-unsaved');
    const expected = [...lines('unsaved-a', 0, 300), ...lines('unsaved-b', 0, 200)];
    write(join(dir, 'a.log'), expected.slice(0, 300));
    write(join(dir, 'b.log'), expected.slice(300));
    // Positions are not saved on a timer during this run: only what must be on disk before lines are stored.
    run = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], extra: { registry_flush: '1h' } });
    await waitForCount(index, expected.length, 120_000);
    expect(await stopShipper(run, 'SIGKILL')).toBe(null);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [join(dir, '*.log')], once: true });
    expect(await run.exited).toBe(0);
    run = undefined;
    expectExactlyOnce(await allDocs(index), expected);
  });

  test('the engine down for a while (connections dropped, then 503 for everything): nothing lost once it heals, /healthz says so meanwhile', async () => {
    const index = uniqueName('ship-down');
    proxy = await startFaultProxy({ target: engine.url, drop: 1, dropPhase: 'before', only: /_bulk/ });
    const file = join(dir, 'app.log');
    const first = lines('down', 0, 2000);
    write(file, first);
    run = startShipper({ dir, esUrl: proxy.url, index, paths: [file], extra: { unhealthy_after: '1s' }, args: ['--http', '127.0.0.1:0'] });
    await waitForLog(run, 'http listening', 1, 60_000);
    const port = Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(run.stderr())![1]);
    await waitFor('healthz 503 while the engine is unreachable', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 503, 60_000);
    proxy.set({ drop: 0, status503: 1 });
    const second = lines('down', 2000, 2500);
    write(file, second);
    await sleep(1500);
    expect((await allDocs(index)).length).toBe(0);
    proxy.set({ status503: 0 });
    await waitForCount(index, 2500, 120_000);
    await waitFor('healthz 200 after healing', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, 60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/sidekick_ship_lines_read_total\{[^}]*\} 2500/);
    await sleep(500);
    expectExactlyOnce(await allDocs(index), [...first, ...second]);
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
  });

  test('429 for a share of requests and of items, and answers lost after the engine did the work: stored exactly once', async () => {
    const index = uniqueName('ship-429');
    proxy = await startFaultProxy({ target: engine.url, status429: 0.3, rejectBulkItems: 0.2, only: /_bulk/, mode: 'random', seed: 3 });
    const file = join(dir, 'app.log');
    const ls = lines('busy', 0, 6000);
    write(file, ls);
    const once = startShipper({ dir, esUrl: proxy.url, index, paths: [file], once: true, extra: { batch: { max_docs: 500, max_latency: '50ms' } } });
    expect(await once.exited).toBe(0);
    expect(proxy.counters.status429).toBeGreaterThan(0);
    expect(proxy.counters.itemsRejected).toBeGreaterThan(0);
    expectExactlyOnce(await allDocs(index), ls);

    // Now the engine stores every request but a third of the answers never arrive: re-sent lines are 409s.
    proxy.set({ status429: 0, rejectBulkItems: 0, drop: 0.3, dropPhase: 'after' });
    const more = lines('lost-answer', 0, 3000);
    write(file, more);
    const again = startShipper({ dir, esUrl: proxy.url, index, paths: [file], once: true, extra: { batch: { max_docs: 300, max_latency: '50ms' } } });
    expect(await again.exited).toBe(0);
    expect(proxy.counters.dropped).toBeGreaterThan(0);
    expectExactlyOnce(await allDocs(index), [...ls, ...more]);
  });

  test('lines the engine refuses (mapping error) go to the dead-letter file; the others are delivered', async () => {
    const index = uniqueName('ship-mapping');
    const created = await esRequest('PUT', `/${index}`, { mappings: { properties: { message: { type: 'long' } } } });
    expect(created.status).toBe(200);
    const file = join(dir, 'app.log');
    const good: string[] = [];
    const bad: string[] = [];
    const all: string[] = [];
    for (let i = 0; i < 300; i++) {
      const l = i % 10 === 3 ? `not a number ${i}` : String(1000 + i);
      (i % 10 === 3 ? bad : good).push(l);
      all.push(l);
    }
    write(file, all);
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true });
    expect(await once.exited).toBe(0);
    const docs = await allDocs(index);
    expectExactlyOnce(
      docs.map((d) => ({ ...d, message: String(d.message) })),
      good,
    );
    const letters = join(dir, 'state', 'dead-letter.ndjson');
    expect(existsSync(letters)).toBe(true);
    const records = readFileSync(letters, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message: string; offset: number; status: number; path: string });
    expect(records.map((r) => r.message).sort()).toEqual([...bad].sort());
    expect(records.every((r) => r.status === 400 && r.path === file)).toBe(true);
  });

  test('SIGTERM while the engine is slow: exits 0 in the grace period, and a restart completes exactly once', async () => {
    const index = uniqueName('ship-term');
    proxy = await startFaultProxy({ target: engine.url, delayMs: 700, only: /_bulk/ });
    const file = join(dir, 'app.log');
    const ls = lines('term', 0, 5000);
    write(file, ls);
    run = startShipper({ dir, esUrl: proxy.url, index, paths: [file], extra: { batch: { max_docs: 200, max_latency: '50ms' }, shutdown_grace: '5s' } });
    await waitForCount(index, 1, 60_000);
    const t0 = Date.now();
    expect(await stopShipper(run)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(6000);
    run = undefined;
    expect(existsSync(join(dir, 'state', 'registry.json'))).toBe(true);
    proxy.set({ delayMs: 0 });
    const once = startShipper({ dir, esUrl: proxy.url, index, paths: [file], once: true });
    expect(await once.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), ls);
  });

  test('SIGTERM while the engine is down and reading is paused by the memory budget: exits 0, nothing is lost', async () => {
    const index = uniqueName('ship-term-down');
    proxy = await startFaultProxy({ target: engine.url, drop: 1, only: /_bulk/ });
    const file = join(dir, 'app.log');
    const ls = lines('blocked', 0, 20_000, 100);
    write(file, ls);
    run = startShipper({ dir, esUrl: proxy.url, index, paths: [file], extra: { memory_budget: '256KiB', shutdown_grace: '4s' } });
    await waitFor('the shipper to try the engine', () => proxy!.counters.dropped > 2, 60_000);
    const t0 = Date.now();
    expect(await stopShipper(run)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    run = undefined;
    proxy.set({ drop: 0 });
    const once = startShipper({ dir, esUrl: proxy.url, index, paths: [file], once: true });
    expect(await once.exited).toBe(0);
    expectExactlyOnce(await allDocs(index), ls);
  });
});
