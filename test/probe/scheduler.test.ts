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

    // The bounds leave room for a loaded CI machine (two jest workers, a JVM and child processes on 2 cores):
    // what must hold is the cadence on average, no overlap, and the fast check running while the other hangs.
    const fast = (results.get('fast') ?? []).map((r) => ({ at: r.at, duration_ms: r.duration_ms, ok: r.ok }));
    expect(fast.length).toBeGreaterThanOrEqual(8);
    expect(fast.length).toBeLessThanOrEqual(14);
    expect(fast.every((r) => r.ok)).toBe(true);
    // Each run is due an interval after the previous one's planned start, so after a start the machine delayed,
    // the next gap is that much shorter: the cadence holds on average.
    const mean = (fast[fast.length - 1].at - fast[0].at) / (fast.length - 1);
    expect(mean).toBeGreaterThanOrEqual(95);
    expect(mean).toBeLessThanOrEqual(130);
    for (let i = 1; i < fast.length; i++) expect(fast[i].at).toBeGreaterThanOrEqual(fast[i - 1].at + fast[i - 1].duration_ms - 1);

    const slow = (results.get('hanging') ?? []).map((r) => ({ at: r.at, duration_ms: r.duration_ms, ok: r.ok, message: r.message }));
    expect(slow.length).toBeGreaterThanOrEqual(3);
    for (const r of slow) {
      expect(r).toMatchObject({ ok: false, message: 'timed out after 250 ms while waiting for a reply matching /never/' });
      expect(r.duration_ms).toBeGreaterThanOrEqual(245);
      expect(r.duration_ms).toBeLessThan(600);
    }
    // Never overlapping itself: each run starts after the previous one ended.
    for (let i = 1; i < slow.length; i++) expect(slow[i].at).toBeGreaterThanOrEqual(slow[i - 1].at + slow[i - 1].duration_ms - 1);
    // The hanging check did not hold the other back: the fast one started runs while each hanging run waited.
    const during = slow.map((h) => fast.filter((f) => f.at > h.at && f.at < h.at + h.duration_ms).length);
    expect(during.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(slow.length);
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
    expect(Date.now() - t0).toBeLessThan(2000); // far below the 60 s timeout it aborts
    expect(s.checks.every((rt) => !rt.running)).toBe(true);
    expect(s.checks[1].last).toMatchObject({ ok: false, message: 'connection refused' });
  });
});
