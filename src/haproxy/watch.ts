// Watches HAProxy: polls the runtime API, diffs snapshots into server.state / backend.state events, notices reloads.
import type { Logger } from '../common/log';
import { isNewProcess, parseInfo, processSample, type Info, type ProcessSample } from './info';
import type { RuntimeClient } from './socket';
import { describeMalformed, parseStat, type StatRow, type StatTable } from './stat';
import type { ServerState } from './status';

export interface ServerStateEvent {
  event: 'server.state';
  proxy: string;
  server: string;
  from: ServerState;
  to: ServerState;
  status: string;
  check_status?: string;
  check_desc?: string;
  /** The server's address as HAProxy shows it (`10.0.0.5:8000`), so a receiver can find the container behind it. */
  addr?: string;
  at: string;
}

export interface BackendStateEvent {
  event: 'backend.state';
  proxy: string;
  from: ServerState;
  to: ServerState;
  status: string;
  at: string;
}

export interface ReloadEvent {
  event: 'haproxy.reload';
  from_pid?: number;
  to_pid?: number;
  version?: string;
  at: string;
}

export type WatchEvent = ServerStateEvent | BackendStateEvent | ReloadEvent;

/** A backend or server as /state shows it; the optional fields are HAProxy's `show stat` columns of the same name. */
export interface ViewItem {
  proxy: string;
  server?: string;
  type: string;
  /** The state as reported in events (transitional states hidden unless --transitional report). */
  state: ServerState;
  /** HAProxy's own status text, such as "UP 1/3". */
  status: string;
  check_status?: string;
  check_desc?: string;
  /** Milliseconds the last check took. */
  check_duration?: number;
  weight?: number;
  /** Current sessions. */
  scur?: number;
  /** Seconds since HAProxy last changed the state (at the last poll). */
  lastchg?: number;
  /** ISO time the watcher first saw the reported state. */
  since: string;
}

/** report: "UP 1/3" is an event to going-down. hide: transitional states count as the last steady state. */
export type TransitionalMode = 'report' | 'hide';

export interface TrackerOptions {
  transitional?: TransitionalMode;
  /** A new state must be seen this long before it is reported (flap damping). Default 0. */
  settleMs?: number;
  /** After a reload, states are not compared for this long: HAProxy restarts every server as UP until its checks run. */
  reloadGraceMs?: number;
}

/** Columns watch needs; parsing only these keeps a 10k-server poll cheap. */
export const WATCH_COLUMNS = ['addr', 'check_status', 'check_desc', 'check_duration', 'agent_status', 'agent_desc', 'weight', 'scur', 'lastchg', 'act', 'bck', 'chkfail', 'chkdown'];

interface Tracked {
  reported: ServerState;
  pending?: ServerState;
  since: number;
  row: StatRow;
}

function keyOf(row: StatRow): string {
  return row.type === 'server' ? `${row.proxy}/${row.name}` : row.proxy;
}

/** The pure state machine behind watch: snapshots in, events out. */
export class StateTracker {
  private readonly transitional: TransitionalMode;
  private readonly settleMs: number;
  private readonly reloadGraceMs: number;
  private readonly items = new Map<string, Tracked>();
  private order: Tracked[] = [];
  private process: ProcessSample | undefined;
  private graceUntil = 0;

  constructor(opts: TrackerOptions = {}) {
    this.transitional = opts.transitional ?? 'hide';
    this.settleMs = opts.settleMs ?? 0;
    this.reloadGraceMs = opts.reloadGraceMs ?? 5000;
  }

  /**
   * Feeds one snapshot; returns the events it reveals, in row order. `asked`: when `show info` was sent and
   * answered (ms since epoch), which bounds the instant its uptime was read.
   */
  update(rows: readonly StatRow[], info: Info | undefined, now: number, asked = { sentAt: now, answeredAt: now }): WatchEvent[] {
    const at = new Date(now).toISOString();
    const events: WatchEvent[] = [];
    if (info) {
      const cur = processSample(info, asked.sentAt, asked.answeredAt);
      const prev = this.process;
      if (prev && isNewProcess(prev, cur)) {
        events.push({ event: 'haproxy.reload', ...(prev.pid !== undefined ? { from_pid: prev.pid } : {}), ...(info.pid !== undefined ? { to_pid: info.pid } : {}), ...(info.version ? { version: info.version } : {}), at });
        this.graceUntil = now + this.reloadGraceMs;
      }
      this.process = cur;
    }
    const inGrace = now < this.graceUntil;
    // HAProxy prints rows in the same order every time, so the previous poll's order usually matches
    // position by position; that avoids building a key and a map lookup per row on 10k-server polls.
    const previous = this.order;
    const order: Tracked[] = [];
    let aligned = true;
    for (const row of rows) {
      if (row.type !== 'server' && row.type !== 'backend') continue;
      let t: Tracked | undefined = previous[order.length];
      if (t === undefined || t.row.name !== row.name || t.row.proxy !== row.proxy || t.row.type !== row.type) {
        aligned = false;
        t = this.items.get(keyOf(row));
      }
      const observed = this.effective(row.state, t?.reported);
      if (!t) {
        // First sight (start-up, or a server added by a reload): a baseline, never an event.
        t = { reported: observed, since: now, row };
        this.items.set(keyOf(row), t);
        order.push(t);
        continue;
      }
      order.push(t);
      t.row = row;
      if (inGrace || observed === t.reported) {
        t.pending = undefined;
        continue;
      }
      if (t.pending !== observed) {
        t.pending = observed;
        t.since = now;
      }
      if (now - t.since < this.settleMs) continue;
      events.push(this.event(row, t.reported, observed, at));
      t.reported = observed;
      t.pending = undefined;
    }
    this.order = order;
    // Servers gone from the config (after a reload) are forgotten silently: their absence is not a state.
    if (!aligned || order.length !== previous.length || this.items.size !== order.length) {
      const keep = new Set(order);
      for (const [key, t] of this.items) if (!keep.has(t)) this.items.delete(key);
    }
    return events;
  }

  /** The current view: every backend and server with its reported state and HAProxy's columns of the last poll. */
  view(): ViewItem[] {
    return [...this.items.values()].map(({ row, reported, since }) => {
      const f = row.fields;
      return {
        proxy: row.proxy,
        ...(row.type === 'server' ? { server: row.name } : {}),
        type: row.type,
        state: reported,
        status: row.status,
        ...(typeof f.check_status === 'string' ? { check_status: f.check_status } : {}),
        ...(typeof f.check_desc === 'string' ? { check_desc: f.check_desc } : {}),
        ...(typeof f.check_duration === 'number' ? { check_duration: f.check_duration } : {}),
        ...(typeof f.weight === 'number' ? { weight: f.weight } : {}),
        ...(typeof f.scur === 'number' ? { scur: f.scur } : {}),
        ...(typeof f.lastchg === 'number' ? { lastchg: f.lastchg } : {}),
        since: new Date(since).toISOString(),
      };
    });
  }

  private effective(state: ServerState, previous: ServerState | undefined): ServerState {
    if (this.transitional === 'report' || (state !== 'going-down' && state !== 'going-up')) return state;
    // Hidden transitions read as the steady state they leave: "UP 1/3" is still up, "DOWN 1/2" still down.
    if (previous !== undefined) return previous;
    return state === 'going-down' ? 'up' : 'down';
  }

  private event(row: StatRow, from: ServerState, to: ServerState, at: string): WatchEvent {
    if (row.type === 'backend') return { event: 'backend.state', proxy: row.proxy, from, to, status: row.status, at };
    const f = row.fields;
    return {
      event: 'server.state',
      proxy: row.proxy,
      server: row.name,
      from,
      to,
      status: row.status,
      ...(typeof f.check_status === 'string' ? { check_status: f.check_status } : {}),
      ...(typeof f.check_desc === 'string' ? { check_desc: f.check_desc } : {}),
      ...(typeof f.addr === 'string' ? { addr: f.addr } : {}),
      at,
    };
  }
}

export interface WatcherOptions extends TrackerOptions {
  client: RuntimeClient;
  intervalMs: number;
  logger: Logger;
  onEvent: (e: WatchEvent) => void;
  /** Called after each poll (successful or not), e.g. for metrics. */
  onPoll?: (result: { ok: boolean; durationMs: number; error?: string }) => void;
}

/** Polls on an interval and feeds the tracker; a failed poll keeps the last view and is retried next interval. */
export class Watcher {
  readonly tracker: StateTracker;
  table: StatTable | undefined;
  info: Info | undefined;
  lastError: string | undefined;
  lastPollAt: number | undefined;
  /** Rows of `show stat` skipped so far because their field count did not match the header. */
  malformedRows = 0;
  private malformedSeen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: WatcherOptions) {
    this.tracker = new StateTracker(opts);
  }

  /** One poll: show info, show stat, diff. Throws on socket or parse errors. */
  async pollOnce(now = Date.now): Promise<WatchEvent[]> {
    let sentAt = now();
    let info = parseInfo(await this.opts.client.command('show info'));
    if (info.values.Stopping === 1 && this.opts.client.mode === 'prompt') {
      // A kept session outlives a reload on the old worker, which answers with stale data until it exits.
      this.opts.client.close();
      sentAt = now();
      info = parseInfo(await this.opts.client.command('show info'));
    }
    const asked = { sentAt, answeredAt: now() };
    const table = parseStat(await this.opts.client.command('show stat'), { columns: WATCH_COLUMNS });
    this.malformedRows += table.malformed.length;
    // Warned once while a row stays malformed, not on every poll.
    const seen = new Set<string>();
    for (const m of table.malformed) {
      const key = `${m.line}:${m.text}`;
      seen.add(key);
      if (!this.malformedSeen.has(key)) this.opts.logger.warn({ line: m.line, proxy: m.proxy, name: m.name, fields: m.fields, expected: m.expected }, describeMalformed(m));
    }
    this.malformedSeen = seen;
    this.info = info;
    this.table = table;
    const events = this.tracker.update(table.rows, info, now(), asked);
    for (const e of events) this.opts.onEvent(e);
    return events;
  }

  start(): void {
    const loop = async (): Promise<void> => {
      const started = Date.now();
      try {
        await this.pollOnce();
        if (this.lastError !== undefined) this.opts.logger.info('HAProxy answers again');
        this.lastError = undefined;
        this.opts.onPoll?.({ ok: true, durationMs: Date.now() - started });
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== this.lastError) this.opts.logger.warn({ err: msg }, 'poll failed');
        this.lastError = msg;
        this.opts.onPoll?.({ ok: false, durationMs: Date.now() - started, error: msg });
      }
      this.lastPollAt = Date.now();
      if (this.stopped) return;
      // Interval counts from the start of a poll so the cadence does not drift with slow answers.
      this.timer = setTimeout(() => {
        this.running = loop();
      }, Math.max(0, this.opts.intervalMs - (Date.now() - started)));
    };
    this.running = loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.opts.client.close();
  }
}
