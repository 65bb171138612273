// Runs every check on its own schedule: a run starts every interval (measured start to start, so timing stays
// regular), a check never overlaps itself (a slow run delays only its own next run), and one slow check never
// delays the others. Each result goes through the check's state machine.
import { getEventListeners } from 'node:events';
import { fastConnect, probeFailure, runFast, startProbe, type FastConnect } from './kinds';
import { ProbeTimeout } from './kinds/common';
import { initialState, nextState, type CheckState, type Health } from './state';
import type { CheckConfig, ProbeConfig, ProbeResult } from './types';

/**
 * One timer serves every check: the earliest due time (next start, or the deadline of the run in flight) is
 * armed, and the timer never fires sooner than a tick after the last one, so that the starts and deadlines due
 * within a tick share a wake-up. The tick grows with the load, 1 ms per 100 runs a second, from 1 ms up to
 * MAX_TICK_MS: a few checks start within a millisecond of their time, while at a thousand runs a second a start
 * or a timeout is up to 10 ms late (1% of a 1 s interval) and wake-ups drop from one per run to 100 a second.
 * That took 1,000 checks at 1 s from 7.7-8.9% to 6.5-7.4% of one core (5 ms ticks before).
 */
const MAX_TICK_MS = 10;

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

/** The scheduler's bookkeeping for one check; an entry of the due-time heap. */
interface Slot {
  rt: CheckRuntime;
  /** performance.now() time of the next start, or of the deadline while a run is in flight. */
  due: number;
  /** Position in the heap, -1 when not in it (a run in flight past its deadline, waiting to finish). */
  index: number;
  /** performance.now() time the current or last run was due to start; the next is due an interval later. */
  planned: number;
  started: number;
  at: number;
  /** Aborts the run in flight (timeout, stop). Reused by the next run unless it aborted. */
  controller?: AbortController;
  /**
   * A plain tcp connect check on the fast path runs here instead, timed out by cancel() at the deadline: no
   * AbortSignal listener or promise per run. Undefined until the first run, null when the check has none.
   */
  fast?: FastConnect | null;
  onResult: (r: ProbeResult) => void;
  onError: (err: unknown) => void;
}

export class Scheduler {
  readonly checks: CheckRuntime[];
  private readonly slots: Slot[];
  private readonly heap: Slot[] = [];
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private lastTick = -Infinity;
  private readonly tickMs: number;
  private inflight = 0;
  private drained?: () => void;
  private stopped = false;

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
    const runsPerSecond = configs.reduce((sum, c) => sum + 1000 / c.interval, 0);
    this.tickMs = Math.min(MAX_TICK_MS, Math.max(1, runsPerSecond / 100));
    this.slots = this.checks.map((rt) => {
      const slot: Slot = {
        rt,
        due: Infinity,
        index: -1,
        planned: 0,
        started: 0,
        at: 0,
        onResult: (r) => this.finish(slot, r),
        onError: (err) => this.finish(slot, probeFailure(err, slot.started)),
      };
      return slot;
    });
  }

  /** Starts every check; first runs are spread over the first second so a thousand checks do not start at once. */
  start(): void {
    const n = this.slots.length;
    const now = performance.now();
    this.slots.forEach((slot, i) => {
      slot.due = now + Math.floor((i / n) * Math.min(slot.rt.config.interval, 1000));
      this.push(slot);
    });
    this.arm();
  }

  /** Stops scheduling, aborts runs in flight and waits for them to finish (exec probes reap their children). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const reason = new Error('shutting down');
    for (const slot of this.slots) {
      if (!slot.rt.running) continue;
      if (slot.fast?.running) slot.fast.cancel(reason);
      else slot.controller?.abort(reason);
    }
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    this.lastTick = now;
    const heap = this.heap;
    while (heap.length > 0 && heap[0].due <= now && !this.stopped) {
      const slot = heap[0];
      if (slot.rt.running) {
        // Past its deadline: abort; the probe resolves with "timed out after N ms …" and finish() reschedules.
        this.remove(slot);
        const timeout = new ProbeTimeout(slot.rt.probe.timeout);
        if (slot.fast?.running) slot.fast.cancel(timeout);
        else slot.controller?.abort(timeout);
      } else {
        this.run(slot, now);
      }
    }
    this.arm();
  };

  /** Arms the one timer for the earliest due slot, no sooner than a tick after the last one. */
  private arm(): void {
    if (this.stopped || this.heap.length === 0) return;
    const at = Math.max(this.heap[0].due, this.lastTick + this.tickMs);
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.tick, Math.max(0, at - performance.now()));
  }

  private run(slot: Slot, now: number): void {
    const rt = slot.rt;
    rt.running = true;
    slot.planned = slot.due;
    slot.started = now;
    slot.at = Date.now();
    slot.due = now + rt.probe.timeout;
    this.update(slot);
    this.inflight++;
    if (slot.fast === undefined) slot.fast = fastConnect(rt.probe, slot.onResult) ?? null;
    if (slot.fast) {
      // May finish (an immediate error) before it returns; everything above is already in place for that.
      if (runFast(slot.fast)) return;
      slot.fast = null;
    }
    // A controller per run was 5% of serve's CPU at a thousand runs a second (creating an AbortSignal is slow).
    slot.controller ??= new AbortController();
    startProbe(rt.probe, slot.controller.signal).then(slot.onResult, slot.onError);
  }

  private finish(slot: Slot, r: ProbeResult): void {
    const rt = slot.rt;
    rt.running = false;
    // An aborted signal cannot be reused; nor one a probe left a listener on (it would pile up run after run).
    const signal = slot.fast ? undefined : slot.controller?.signal;
    if (signal && (signal.aborted || getEventListeners(signal, 'abort').length > 0)) slot.controller = undefined;
    this.inflight--;
    if (this.stopped) {
      if (this.inflight === 0) this.drained?.();
      return;
    }
    const timed = r as TimedResult;
    timed.at = slot.at;
    this.record(rt, timed);
    // From the planned start, so that starting up to a tick late does not make every interval a tick longer.
    slot.due = Math.max(slot.planned + rt.config.interval, performance.now());
    if (slot.index < 0) this.push(slot);
    else this.update(slot);
    this.arm();
  }

  private record(rt: CheckRuntime, r: TimedResult): void {
    rt.runs++;
    if (r.ok) rt.successes++;
    else rt.failures++;
    // What is kept for a while is kept in objects allocated once: at a thousand results a second, each result and
    // state kept in a new object outlives a scavenge and is promoted to the old generation, and that GC work was
    // the largest share of serve's CPU left. The ring's entries are copies, rewritten in place as it wraps.
    let kept: TimedResult;
    if (rt.ring.length < this.historySize) {
      kept = { ok: r.ok, duration_ms: r.duration_ms, message: r.message, detail: r.detail, at: r.at };
      rt.ring.push(kept);
    } else {
      kept = rt.ring[rt.ringNext];
      kept.ok = r.ok;
      kept.duration_ms = r.duration_ms;
      kept.message = r.message;
      kept.detail = r.detail;
      kept.at = r.at;
      rt.ringNext = (rt.ringNext + 1) % this.historySize;
    }
    rt.last = kept;
    const t = nextState(rt.state, r.ok, r.at, rt.config);
    Object.assign(rt.state, t.state);
    this.hooks.onResult?.(rt, r);
    if (t.from !== undefined) {
      rt.transitions++;
      this.hooks.onTransition?.(rt, t.from, t.state.health, r);
    }
  }

  // A binary min-heap on `due`, each slot knowing its index so its due time can change in place.

  private push(slot: Slot): void {
    slot.index = this.heap.length;
    this.heap.push(slot);
    this.up(slot.index);
  }

  private remove(slot: Slot): void {
    const i = slot.index;
    const last = this.heap.pop()!;
    slot.index = -1;
    if (last === slot) return;
    this.heap[i] = last;
    last.index = i;
    this.update(last);
  }

  private update(slot: Slot): void {
    this.down(this.up(slot.index));
  }

  private up(i: number): number {
    const heap = this.heap;
    const slot = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].due <= slot.due) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = slot;
    slot.index = i;
    return i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const slot = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1].due < heap[child].due) child++;
      if (heap[child].due >= slot.due) break;
      heap[i] = heap[child];
      heap[i].index = i;
      i = child;
    }
    heap[i] = slot;
    slot.index = i;
  }
}
