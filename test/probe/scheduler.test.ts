// The scheduler against real probes: regular start-to-start intervals, timeouts at the deadline, no overlap,
// a hanging check never delays the others, stop() aborts what is in flight.
import { Scheduler, type CheckRuntime, type TimedResult } from '../../src/probe/scheduler';
import type { CheckConfig } from '../../src/probe/types';
import { closedPort, tcpServer } from './helpers';

const check = (name: string, port: number, interval: number, timeout: number): CheckConfig => ({
  name,
  target: { kind: 'tcp', host: '127.0.0.1', port },
  interval,
  timeout,
  rise: 1,
  fall: 1,
  start_period: 0,
  role: 'both',
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Stopped and closed even when an assertion fails, so a failing test does not keep jest running.
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});
const servers = async <T extends { close: () => Promise<void> }>(...all: Promise<T>[]): Promise<T[]> => {
  const done = await Promise.all(all);
  cleanup.push(...done.map((d) => d.close));
  return done;
};
const scheduler = (...args: ConstructorParameters<typeof Scheduler>): Scheduler => {
  const s = new Scheduler(...args);
  cleanup.unshift(() => s.stop());
  return s;
};

/** A server that accepts and never says anything: a tcp check expecting a reply hangs until its deadline. */
const silentServer = (): ReturnType<typeof tcpServer> => tcpServer(() => undefined);

describe('Scheduler', () => {
  it('runs each check every interval, start to start, and one hanging check does not delay another', async () => {
    const [open, silent] = await servers(tcpServer((s) => s.end()), silentServer());
    const results = new Map<string, TimedResult[]>();
    const hanging = { ...check('hanging', silent.port, 300, 250), target: { kind: 'tcp' as const, host: '127.0.0.1', port: silent.port, expect: 'never' } };
    const s = scheduler([check('fast', open.port, 100, 1000), hanging], 100, {
      onResult: (rt: CheckRuntime, r: TimedResult) => results.set(rt.config.name, [...(results.get(rt.config.name) ?? []), r]),
    });
    s.start();
    await sleep(1250);
    await s.stop();

    const fast = results.get('fast') ?? [];
    expect(fast.length).toBeGreaterThanOrEqual(11);
    expect(fast.length).toBeLessThanOrEqual(14);
    expect(fast.every((r) => r.ok)).toBe(true);
    const gaps = fast.slice(1).map((r, i) => r.at - fast[i].at);
    // Each run is due an interval after the previous one's planned start, so after a start the machine delayed,
    // the next gap is that much shorter: the cadence holds on average, and no run follows another at once.
    const mean = (fast[fast.length - 1].at - fast[0].at) / gaps.length;
    expect(mean).toBeGreaterThanOrEqual(97);
    expect(mean).toBeLessThanOrEqual(106);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(50);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(130);

    const slow = results.get('hanging') ?? [];
    expect(slow.length).toBeGreaterThanOrEqual(3);
    for (const r of slow) {
      expect(r).toMatchObject({ ok: false, message: 'timed out after 250 ms while waiting for a reply matching /never/' });
      expect(r.duration_ms).toBeGreaterThanOrEqual(245);
      expect(r.duration_ms).toBeLessThan(300);
    }
    // Never overlapping itself: each run starts after the previous one ended (timeout 250 ms, interval 300 ms).
    for (let i = 1; i < slow.length; i++) expect(slow[i].at - slow[i - 1].at).toBeGreaterThanOrEqual(295);
  });

  it('starts the next run right after a run that took longer than the interval, never two at once', async () => {
    const [silent] = await servers(silentServer());
    const starts: number[] = [];
    const c = { ...check('slow', silent.port, 100, 300), target: { kind: 'tcp' as const, host: '127.0.0.1', port: silent.port, expect: 'never' } };
    const s = scheduler([c], 10, { onResult: (_rt, r) => starts.push(r.at) });
    s.start();
    await sleep(1000);
    expect(s.checks[0].running).toBe(true);
    await s.stop();
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(starts.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(295);
  });

  it('stop() aborts the runs in flight and resolves once they have finished', async () => {
    const [silent] = await servers(silentServer());
    const c = { ...check('slow', silent.port, 1000, 60_000), target: { kind: 'tcp' as const, host: '127.0.0.1', port: silent.port, expect: 'never' } };
    const s = scheduler([c, check('refused', await closedPort(), 1000, 1000)], 10);
    s.start();
    await sleep(700); // the second check's first run is spread to 500 ms
    expect(s.checks[0].running).toBe(true);
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(s.checks.every((rt) => !rt.running)).toBe(true);
    expect(s.checks[1].last).toMatchObject({ ok: false, message: 'connection refused' });
  });
});
