// End-to-end against a real 3-node OpenSearch cluster on loopback (started here, not the suite's single node):
// a node is killed with SIGKILL while lines are shipped and started again later; every line is stored exactly
// once, and acknowledgements never stop for longer than the configured retry backoff.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type ClusterHandle, type ClusterNode } from '../engine/engine';
import { describeWithEngine, esRequest } from '../support/engine';
import { allDocs, expectExactlyOnce, healthz, httpPort, lines, sleep, startShipper, stopShipper, tempDir, waitFor, waitForLog, type ShipperRun } from './helpers';

const BACKOFF_MAX_MS = 2000;

interface Activity {
  /** Times (ms since epoch) of the acknowledgements. */
  acks: number[];
  /** [start, end] of every _bulk request, answered or failed. */
  requests: [number, number][];
}

/** The shipper's acknowledgements and requests, read from its debug log as it runs. */
function activity(run: ShipperRun): Activity {
  const out: Activity = { acks: [], requests: [] };
  let partial = '';
  run.child.stderr!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      if (l.includes('"msg":"documents acknowledged"')) out.acks.push(Date.parse((JSON.parse(l) as { time: string }).time));
      else if (l.includes('"msg":"bulk request"')) {
        const { time, ms } = JSON.parse(l) as { time: string; ms: number };
        const end = Date.parse(time);
        out.requests.push([end - ms, end]);
      }
    }
  });
  return out;
}

function longestGap(times: number[]): { ms: number; at: number } {
  let worst = { ms: 0, at: 0 };
  for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > worst.ms) worst = { ms: times[i] - times[i - 1], at: times[i - 1] };
  return worst;
}

/**
 * The longest stretch, between the first request and the last acknowledgement, in which no _bulk request was
 * under way: the time the shipper itself held lines back (backoff sleeps). A slow engine does not count (a
 * request was under way), a stall of the shipper does.
 */
function longestIdle(a: Activity): { ms: number; at: number } {
  const spans = [...a.requests].sort((x, y) => x[0] - y[0]);
  const last = a.acks[a.acks.length - 1];
  let worst = { ms: 0, at: 0 };
  let coveredTo = spans[0][0];
  for (const [start, end] of spans) {
    if (start > last) break;
    if (start - coveredTo > worst.ms) worst = { ms: start - coveredTo, at: coveredTo };
    coveredTo = Math.max(coveredTo, end);
  }
  return worst;
}

async function count(url: string, index: string): Promise<number> {
  await esRequest('POST', `/${index}/_refresh`, undefined, { baseUrl: url });
  const res = await esRequest<{ count?: number }>('GET', `/${index}/_count`, undefined, { baseUrl: url });
  return res.body.count ?? 0;
}

/** Appends `total` lines in steps of `step` every `everyMs`; resolves with them once all are written. */
async function writeSteadily(file: string, tag: string, total: number, step: number, everyMs: number): Promise<string[]> {
  const all = lines(tag, 0, total, 40);
  for (let i = 0; i < total; i += step) {
    appendFileSync(file, all.slice(i, i + step).map((l) => l + '\n').join(''));
    await sleep(everyMs);
  }
  return all;
}

describeWithEngine('sidekick-ship against a 3-node cluster', () => {
  let cluster: ClusterHandle;
  let run: ShipperRun | undefined;
  let dir: string;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, heap: '768m', timeoutMs: 300_000, log: (l) => process.stderr.write(`[cluster] ${l}\n`) });
  }, 360_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  beforeEach(() => {
    dir = tempDir('ship-cluster-');
  });
  afterEach(async () => {
    if (run) await stopShipper(run, 'SIGKILL');
    run = undefined;
    for (const n of cluster?.nodes ?? []) if (!n.running) await n.start();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  /** An index whose every shard has a replica on another node: losing one node loses no acknowledged write. */
  async function replicatedIndex(name: string): Promise<void> {
    const res = await esRequest('PUT', `/${name}`, { settings: { number_of_shards: 3, number_of_replicas: 1 } }, { baseUrl: cluster.urls[0] });
    expect(res.status).toBe(200);
    await esRequest('GET', `/_cluster/health/${name}?wait_for_status=green&timeout=60s`, undefined, { baseUrl: cluster.urls[0] });
  }

  async function manager(): Promise<string> {
    const res = await esRequest<string>('GET', '/_cat/cluster_manager?h=node', undefined, { baseUrl: cluster.nodes.find((n) => n.running)!.url });
    return String(res.body).trim();
  }

  test('es.urls lists the nodes: 100,000 lines while a node is killed and restarted are stored exactly once, no stall beyond the backoff', async () => {
    const index = 'ship-cluster-static';
    await replicatedIndex(index);
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    run = startShipper({
      dir,
      esUrl: cluster.urls[0],
      index,
      paths: [file],
      args: ['--log-level', 'debug'],
      extra: {
        // A slow answer is not a failure here: a loaded machine makes a 3-node cluster slow, not absent.
        es: { urls: cluster.urls, backoff_initial: '100ms', backoff_max: `${BACKOFF_MAX_MS}ms`, request_timeout: '60s' },
        batch: { max_docs: 1000 },
      },
    });
    const seen = activity(run);
    await waitForLog(run, 'following file');
    // A node that is not the elected cluster manager: its primaries move to their replicas on the others.
    const leader = await manager();
    const victim: ClusterNode = cluster.nodes.find((n) => n.name !== leader)!;
    const other = cluster.nodes.find((n) => n !== victim)!;
    const writing = writeSteadily(file, 'cluster', 100_000, 500, 100);
    await sleep(5000);
    await victim.kill('SIGKILL');
    const killedAt = Date.now();
    await sleep(6000);
    const restarting = victim.start();
    const expected = await writing;
    await restarting;
    let stored = 0;
    await waitFor('100,000 documents', async () => (stored = await count(other.url, index)) >= 100_000, 300_000, 3000).catch((err: Error) => {
      const log = run!.stderr().split('\n').filter((l) => !/documents acknowledged|bulk request"/.test(l)).slice(-30).join('\n');
      throw new Error(`${err.message} (${stored} stored, ${seen.acks.length} acknowledgements); shipper log:\n${log}`);
    });
    const gap = longestGap(seen.acks);
    const idle = longestIdle(seen);
    process.stderr.write(
      `[cluster] ${seen.requests.length} requests, ${seen.acks.length} acknowledgements; longest gap between acknowledgements ${gap.ms} ms ` +
        `(${gap.at - killedAt} ms after the kill), longest time with no request under way ${idle.ms} ms (${idle.at - killedAt} ms after the kill)\n`,
    );
    expect(seen.acks.length).toBeGreaterThan(10);
    // Backoff sleeps are at most backoff_max; the allowance is for gzip and a loaded event loop between them.
    expect(idle.ms).toBeLessThanOrEqual(BACKOFF_MAX_MS + 250);
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
    await esRequest('GET', `/_cluster/health/${index}?wait_for_status=green&timeout=120s`, undefined, { baseUrl: other.url });
    expectExactlyOnce(await allDocs(index, other.url), expected);
  }, 600_000);

  test('sniff: true follows the cluster from one seed: a node that leaves is dropped, one that joins is used', async () => {
    const index = 'ship-cluster-sniff';
    await replicatedIndex(index);
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    const seed = cluster.nodes[0];
    run = startShipper({
      dir,
      esUrl: seed.url,
      index,
      paths: [file],
      args: ['--http', '127.0.0.1:0'],
      extra: { es: { urls: [seed.url], sniff: true, sniff_interval: '1s', backoff_initial: '100ms', backoff_max: `${BACKOFF_MAX_MS}ms`, request_timeout: '60s' } },
    });
    const port = await httpPort(run);
    const nodes = async (): Promise<string[]> => (await healthz(port)).body.detail.engine.nodes.map((n) => n.url.replace(/\/$/, '')).sort();
    await waitFor('the three nodes sniffed', async () => (await nodes()).length === 3, 30_000);
    expect(await nodes()).toEqual([...cluster.urls].sort());
    const writing = writeSteadily(file, 'sniff', 20_000, 500, 100);
    await sleep(2000);
    // The seed itself goes: the shipper knows the others from the cluster, not from its configuration.
    await seed.kill('SIGKILL');
    await waitFor('the killed node dropped', async () => !(await nodes()).includes(seed.url), 60_000);
    await seed.start();
    await waitFor('the restarted node used again', async () => (await nodes()).includes(seed.url), 60_000);
    const expected = await writing;
    const other = cluster.nodes[1];
    await waitFor('20,000 documents', async () => (await count(other.url, index)) >= 20_000, 300_000, 3000);
    expect(run.stderr()).toContain('engine nodes changed (sniffed)');
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
    await esRequest('GET', `/_cluster/health/${index}?wait_for_status=green&timeout=120s`, undefined, { baseUrl: other.url });
    expectExactlyOnce(await allDocs(index, other.url), expected);
  }, 600_000);
});
