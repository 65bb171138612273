// An input's parsers run on one file: lines in, events out to the pipeline, in file order. Positions reported
// never pass a byte a parser still holds, so a restart re-reads every event not yet handed on, whole. An event
// ended by time (timeout, end of file) rather than by its lines is a "cut": recorded in the registry before the
// event is handed on, and replayed when the same bytes are read again, so a re-read groups lines exactly as the
// first read did and every event keeps its _id (its first line's offset) with the same lines in it.
import type { Line, LineBytesSink, LineRunSink } from '../types';
import { eventOf, type Emit, type Event, type Step, type StepFactory } from './parser';

/** Where a step's held events were passed on by time: before the line at or after `at`, step `step` was flushed. */
export interface Cut {
  at: number;
  step: number;
}

/** Durable cuts per file key (the registry). */
export interface CutStore {
  /** The cuts recorded for a key that are still ahead of its saved position, ascending. */
  cuts(key: string): Cut[];
  /** Records a cut; resolves once it is on disk (rejects when saving failed). */
  add(key: string, cut: Cut): Promise<void>;
}

/** What a chain hands on. */
export interface ChainTarget {
  event(ev: Event): void;
  /** Every byte of the key before pos is handed on or dropped. */
  consumed(key: string, pos: number): void;
}

/** How one open file's lines reach the pipeline (see Input): straight through, or through a chain. */
export interface FileSink {
  line(line: Line): void;
  /** When given, the file's lines come here as bytes instead of to line() (see LineBytesSink). */
  lineBytes?: LineBytesSink;
  /** When given with lineBytes, runs of the file's whole lines are offered here first (see LineRunSink). */
  lineRun?: LineRunSink;
  consumed(key: string, pos: number): void;
  /** The file was closed: `ended` when read to its end (nothing more will come), not when stopped or failed. */
  closed(ended: boolean): void;
}

export class Chain implements FileSink {
  private readonly steps: Step[];
  private readonly emits: Emit[];
  private key: string | undefined;
  /** Cuts of an earlier read of this key still ahead of the read position. */
  private replay: Cut[] = [];
  /** Where the framer stands: every line before it was pushed into the first step. */
  private readPos = 0;
  /** While a cut is being saved, events wait here, in order. */
  private gate: Promise<void> | undefined;
  private queue: Event[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private done = false;
  private ended = false;

  constructor(
    factories: readonly StepFactory[],
    private readonly target: ChainTarget,
    private readonly store: CutStore,
    private readonly track: (saving: Promise<void>) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.steps = factories.map((f) => f());
    const last = (ev: Event): void => this.deliver(ev);
    this.emits = new Array<Emit>(this.steps.length);
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const next = this.steps[i + 1];
      const nextEmit = i + 1 < this.steps.length ? this.emits[i + 1] : undefined;
      this.emits[i] = next && nextEmit ? (ev) => next.push(ev, nextEmit) : last;
    }
  }

  line(line: Line): void {
    if (line.file.key !== this.key) this.switchTo(line.file.key);
    while (this.replay.length > 0 && this.replay[0].at <= line.offset) {
      const cut = this.replay.shift()!;
      this.steps[cut.step]?.flush?.(this.emits[cut.step]);
    }
    this.steps[0].push(eventOf(line), this.emits[0]);
  }

  consumed(key: string, pos: number): void {
    if (key !== this.key) this.switchTo(key);
    this.readPos = pos;
    this.report();
    this.schedule();
  }

  closed(ended: boolean): void {
    if (ended && this.key !== undefined) {
      this.cutAll();
      this.report();
    }
    this.done = true;
    this.ended = ended;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!ended) this.queue = [];
  }

  /** New content under a new key (truncation): what the old content's steps hold is passed on first. */
  private switchTo(key: string): void {
    if (this.key !== undefined) {
      const old = this.key;
      // Rare (a file truncated in the middle of an event) and not gated: the cut is saved with the registry.
      for (let i = 0; i < this.steps.length; i++) {
        if (this.steps[i].held?.() === undefined) continue;
        this.store.add(old, { at: this.readPos, step: i }).catch(this.onError);
        this.steps[i].flush!(this.emits[i]);
      }
      this.target.consumed(old, this.readPos);
    }
    this.key = key;
    this.replay = this.store.cuts(key);
    this.readPos = 0;
  }

  /** Flushes, as cuts, the steps whose held events are due. */
  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.done || this.key === undefined) return;
    const now = Date.now();
    for (let i = 0; i < this.steps.length; i++) {
      const due = this.steps[i].due?.();
      if (due !== undefined && due <= now) this.cut(i);
    }
    this.report();
    this.schedule();
  }

  private cutAll(): void {
    for (let i = 0; i < this.steps.length; i++) this.cut(i);
  }

  /** Records a cut for step i, holds delivery until it is saved, and flushes the step. */
  private cut(i: number): void {
    const step = this.steps[i];
    if (step.held?.() === undefined) return;
    const saving = this.store.add(this.key!, { at: this.readPos, step: i }).catch((err: unknown) => {
      // Not saved: shipping goes on (the registry stays dirty and is saved again); only a crash before that
      // could regroup these lines on a re-read.
      this.onError(err);
    });
    const gate = this.gate ? Promise.all([this.gate, saving]).then(() => undefined) : saving;
    this.gate = gate;
    this.track(gate);
    void gate.then(() => {
      if (this.gate !== gate) return;
      this.gate = undefined;
      const queued = this.queue;
      this.queue = [];
      for (const ev of queued) this.target.event(ev);
      if (this.key !== undefined && (!this.done || this.ended)) this.report();
    });
    step.flush!(this.emits[i]);
  }

  private deliver(ev: Event): void {
    if (this.gate) this.queue.push(ev);
    else this.target.event(ev);
  }

  /** Reports the position before the first byte not yet handed on. */
  private report(): void {
    let pos = this.readPos;
    for (const s of this.steps) {
      const h = s.held?.();
      if (h !== undefined && h < pos) pos = h;
    }
    if (this.queue.length > 0 && this.queue[0].offset < pos) pos = this.queue[0].offset;
    this.target.consumed(this.key!, pos);
  }

  private schedule(): void {
    let next = Infinity;
    for (const s of this.steps) {
      const due = s.due?.();
      if (due !== undefined && due < next) next = due;
    }
    if (next === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Infinity || this.done) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }
}
