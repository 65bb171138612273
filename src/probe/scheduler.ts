// Runs every check on its own schedule: a run starts every interval (measured start to start, so timing stays
// regular), a check never overlaps itself (a slow run delays only its own next run), and one slow check never
// delays the others. Each result goes through the check's state machine.
import { runProbe } from './kinds';
import { initialState, nextState, type CheckState, type Health } from './state';
import type { CheckConfig, ProbeConfig, ProbeResult } from './types';

export interface TimedResult extends ProbeResult {
  at: number; // epoch ms when the run started
}

export interface CheckRuntime {
  config: CheckConfig;
  state: CheckState;
  last?: TimedResult;
  /** The last N results, oldest first once read through history(). */
  ring: TimedResult[];
  ringNext: number;
  runs: number;
  successes: number;
  failures: number;
  transitions: number;
  running: boolean;
  /** Aborts the run in flight (on stop). */
  controller?: AbortController;
  /** The probe configuration, built once. */
  probe: ProbeConfig;
}

export interface SchedulerHooks {
  /** After every result (the state is already updated). Must be cheap: it runs for every probe. */
  onResult?: (rt: CheckRuntime, result: TimedResult) => void;
  onTransition?: (rt: CheckRuntime, from: Health, to: Health, result: TimedResult) => void;
}

/** Results in order, oldest first. */
export function history(rt: CheckRuntime): TimedResult[] {
  return [...rt.ring.slice(rt.ringNext), ...rt.ring.slice(0, rt.ringNext)];
}

export class Scheduler {
  readonly checks: CheckRuntime[];
  private readonly timers = new Map<CheckRuntime, NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    configs: CheckConfig[],
    private readonly historySize: number,
    private readonly hooks: SchedulerHooks = {},
    now = Date.now(),
  ) {
    this.checks = configs.map((config) => ({
      config,
      state: initialState(now),
      ring: [],
      ringNext: 0,
      runs: 0,
      successes: 0,
      failures: 0,
      transitions: 0,
      running: false,
      probe: { ...config.target, timeout: config.timeout } as ProbeConfig,
    }));
  }

  /** Starts every check; first runs are spread over the first second so a thousand checks do not start at once. */
  start(): void {
    const n = this.checks.length;
    this.checks.forEach((rt, i) => {
      const spread = Math.min(rt.config.interval, 1000);
      this.schedule(rt, Math.floor((i / n) * spread));
    });
  }

  /** Stops scheduling, aborts runs in flight and waits for them to finish (exec probes reap their children). */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('shutting down'));
    for (const rt of this.checks) rt.controller?.abort(this.stopping.signal.reason);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.inflight]);
  }

  private schedule(rt: CheckRuntime, delay: number): void {
    if (this.stopping.signal.aborted) return;
    this.timers.set(
      rt,
      setTimeout(() => this.run(rt), delay),
    );
  }

  private run(rt: CheckRuntime): void {
    if (rt.running || this.stopping.signal.aborted) return;
    rt.running = true;
    const at = Date.now();
    const started = performance.now();
    rt.controller = new AbortController();
    const p = runProbe(rt.probe, undefined, rt.controller).then((r) => {
      rt.running = false;
      rt.controller = undefined;
      if (this.stopping.signal.aborted) return;
      const timed = r as TimedResult;
      timed.at = at;
      this.record(rt, timed);
      const took = performance.now() - started;
      this.schedule(rt, Math.max(0, rt.config.interval - took));
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private record(rt: CheckRuntime, r: TimedResult): void {
    rt.runs++;
    if (r.ok) rt.successes++;
    else rt.failures++;
    rt.last = r;
    if (rt.ring.length < this.historySize) rt.ring.push(r);
    else {
      rt.ring[rt.ringNext] = r;
      rt.ringNext = (rt.ringNext + 1) % this.historySize;
    }
    const t = nextState(rt.state, r.ok, r.at, rt.config);
    rt.state = t.state;
    this.hooks.onResult?.(rt, r);
    if (t.from !== undefined) {
      rt.transitions++;
      this.hooks.onTransition?.(rt, t.from, t.state.health, r);
    }
  }
}
