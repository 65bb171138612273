// End-to-end on the real engine: writes refused by a block (index.blocks.write, the flood-stage watermark's
// read_only_allow_delete, a closed index) are waited out, never dead-lettered; /healthz and
// sidekick_ship_waiting{reason="cluster_block"} say so; shipping resumes by itself once the block is lifted.
import { appendFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithEngine, esRequest, uniqueName, useEngine } from '../support/engine';
import { allDocs, count, expectExactlyOnce, healthz, httpPort, lines, metricOf, sleep, startShipper, stopShipper, tempDir, waitFor, waitForCount, type ShipHealthz, type ShipperRun } from './helpers';

const write = (file: string, ls: string[]): void => appendFileSync(file, ls.map((l) => l + '\n').join(''));

describeWithEngine('sidekick-ship and cluster write blocks', () => {
  const engine = useEngine();
  let run: ShipperRun | undefined;
  let dir: string;

  beforeEach(() => {
    dir = tempDir('ship-blocks-');
  });
  afterEach(async () => {
    if (run) await stopShipper(run, 'SIGKILL');
    run = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('index.blocks.write, read_only_allow_delete and a closed index: waits, says why, resumes, stores each line once', async () => {
    const index = uniqueName('ship-block');
    expect((await esRequest('PUT', `/${index}`, { settings: { number_of_shards: 1 } })).status).toBe(200);
    const file = join(dir, 'app.log');
    const expected: string[] = [];
    const first = lines('before', 0, 200);
    write(file, first);
    expected.push(...first);
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file], args: ['--http', '127.0.0.1:0'], extra: { unhealthy_after: '2s' } });
    const port = await httpPort(run);
    const health = (): Promise<ShipHealthz> => healthz(port);
    const waitingMetric = (): Promise<number> => metricOf(port, /sidekick_ship_waiting\{reason="cluster_block"[^}]*\} (\d+)/);
    await waitForCount(index, 200);

    const blocks: { name: string; set: () => Promise<unknown>; clear: () => Promise<unknown>; reason: RegExp }[] = [
      {
        name: 'index.blocks.write',
        set: () => esRequest('PUT', `/${index}/_settings`, { 'index.blocks.write': true }),
        clear: () => esRequest('PUT', `/${index}/_settings`, { 'index.blocks.write': null }),
        reason: /cluster_block_exception.*index write/,
      },
      {
        name: 'read_only_allow_delete',
        set: () => esRequest('PUT', `/${index}/_settings`, { 'index.blocks.read_only_allow_delete': true }),
        clear: () => esRequest('PUT', `/${index}/_settings`, { 'index.blocks.read_only_allow_delete': null }),
        reason: /cluster_block_exception.*read-only-allow-delete/,
      },
      {
        name: 'closed index',
        set: () => esRequest('POST', `/${index}/_close`),
        clear: () => esRequest('POST', `/${index}/_open?wait_for_active_shards=1`),
        reason: /index_closed_exception/,
      },
    ];
    for (const [i, block] of blocks.entries()) {
      await block.set();
      const batch = lines(`blocked-${i}`, 0, 300);
      write(file, batch);
      expected.push(...batch);
      await waitFor(`/healthz to name the ${block.name} block`, async () => {
        const h = await health();
        return h.body.detail.waiting.some((w) => w.reason === 'cluster_block' && block.reason.test(w.message));
      });
      expect(await waitingMetric()).toBe(1);
      // Longer than unhealthy_after: the wait turns /healthz unhealthy, still naming the block.
      await waitFor('/healthz 503 after unhealthy_after', async () => (await health()).code === 503, 10_000);
      await sleep(500);
      expect(existsSync(join(dir, 'state', 'dead-letter.ndjson'))).toBe(false);
      await block.clear();
      await waitForCount(index, expected.length, 60_000);
      await waitFor('/healthz 200 once the block is lifted', async () => (await health()).code === 200, 20_000);
      expect(await waitingMetric()).toBe(0);
    }
    expect(await count(index)).toBe(expected.length);
    expect(existsSync(join(dir, 'state', 'dead-letter.ndjson'))).toBe(false);
    expect(run.stderr()).toContain('the engine refuses writes for now (block)');
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
    expectExactlyOnce(await allDocs(index), expected);
  }, 180_000);
});
