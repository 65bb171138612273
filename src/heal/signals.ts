// Health signals from outside the engine — sidekick-probe state changes and sidekick-haproxy server.state
// events — kept as their latest state, and mapped to containers by label, by configuration or by address.
import { z } from 'zod';
import type { LabelNames } from './config';
import type { Trigger } from './policy';

/** A probe check's or an HAProxy server's latest state as heal last heard it; `since` is heal's clock, in ms. */
export interface SignalState {
  state: string;
  since: number;
  /** HAProxy only: the server's address, "10.0.0.5:8000". */
  addr?: string;
}

/** An accepted event: a probe check changed state, an HAProxy server changed state, or something heal has no use for. */
export type IncomingEvent =
  | { source: 'probe'; check: string; state: string }
  | { source: 'haproxy'; server: string; state: string; addr?: string }
  | { source: 'haproxy'; ignored: string };

// Loose objects: the senders may add fields; heal reads only these.
const probeEvent = z.object({ check: z.string().min(1), to: z.enum(['healthy', 'unhealthy', 'starting']) });
const serverEvent = z.object({ event: z.literal('server.state'), proxy: z.string().min(1), server: z.string().min(1), to: z.string().min(1), addr: z.string().optional() });
const otherEvent = z.object({ event: z.enum(['backend.state', 'haproxy.reload']) });

/**
 * Reads a POSTed body: sidekick-probe's `{"check","from","to","at","message"}` or sidekick-haproxy's
 * `{"event":"server.state","proxy","server","from","to","addr",…}`. Returns why it is neither.
 */
export function parseIncoming(body: Buffer): IncomingEvent | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { error: 'the body is not JSON' };
  }
  const server = serverEvent.safeParse(value);
  if (server.success) return { source: 'haproxy', server: `${server.data.proxy}/${server.data.server}`, state: server.data.to, ...(server.data.addr ? { addr: server.data.addr } : {}) };
  const other = otherEvent.safeParse(value);
  if (other.success) return { source: 'haproxy', ignored: other.data.event };
  const probe = probeEvent.safeParse(value);
  if (probe.success) return { source: 'probe', check: probe.data.check, state: probe.data.to };
  return { error: 'expected a sidekick-probe state change {"check","to":"healthy|unhealthy|starting"} or a sidekick-haproxy event {"event":"server.state","proxy","server","to"}' };
}

/** Configuration mapping of signals to container names: `map.probe` (check → name) and `map.haproxy` (BACKEND/SERVER → name). */
export interface SignalMap {
  probe: Record<string, string>;
  haproxy: Record<string, string>;
}

/** The part of a container the mapping looks at. */
export interface Mappable {
  name: string;
  labels: Record<string, string>;
  addresses: string[];
}

/** The signals that speak for one container. `explicit` ones were named by a label or the configuration. */
export interface MappedSignals {
  checks: string[];
  servers: string[];
  explicit: boolean;
}

function split(label: string | undefined): string[] {
  return (label ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** The host part of HAProxy's addr column: "10.0.0.5:8000" → "10.0.0.5", "[fd00::5]:80" → "fd00::5". */
export function addrHost(addr: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (bracketed) return bracketed[1]!;
  const colon = addr.lastIndexOf(':');
  return colon > 0 && addr.indexOf(':') === colon ? addr.slice(0, colon) : addr;
}

export class Signals {
  readonly probe = new Map<string, SignalState>();
  readonly haproxy = new Map<string, SignalState>();

  constructor(
    private readonly names: LabelNames,
    private readonly map: SignalMap,
    private readonly downGraceMs: number,
  ) {}

  /** Keeps the event's state; returns the key it changed ("check" or "BACKEND/SERVER"), or undefined if nothing changed. */
  record(e: IncomingEvent, now: number): string | undefined {
    if ('ignored' in e) return undefined;
    const [store, key] = e.source === 'probe' ? [this.probe, e.check] : [this.haproxy, e.server];
    const before = store.get(key);
    if (before && before.state === e.state) {
      if (e.source === 'haproxy' && e.addr) before.addr = e.addr;
      return undefined;
    }
    store.set(key, { state: e.state, since: now, ...(e.source === 'haproxy' && e.addr ? { addr: e.addr } : {}) });
    return key;
  }

  /** The probe checks and HAProxy servers mapped to `c`; address matching applies only to opted-in containers. */
  mapped(c: Mappable, optedIn: boolean): MappedSignals {
    const checks = new Set([...split(c.labels[this.names.probe_check]), ...Object.keys(this.map.probe).filter((k) => this.map.probe[k] === c.name)]);
    const servers = new Set([...split(c.labels[this.names.haproxy_server]), ...Object.keys(this.map.haproxy).filter((k) => this.map.haproxy[k] === c.name)]);
    const explicit = checks.size > 0 || servers.size > 0;
    if (optedIn && c.addresses.length > 0) {
      for (const [key, s] of this.haproxy) if (s.addr && c.addresses.includes(addrHost(s.addr))) servers.add(key);
    }
    return { checks: [...checks], servers: [...servers], explicit };
  }

  /**
   * The triggers these signals raise for `c` now: a mapped check that is unhealthy, a mapped server DOWN for at
   * least down_grace. `retryAt` is when a server DOWN for less than that will have been down long enough.
   */
  triggers(m: MappedSignals, now: number): { triggers: Trigger[]; retryAt?: number } {
    const triggers: Trigger[] = [];
    let retryAt: number | undefined;
    for (const check of m.checks) if (this.probe.get(check)?.state === 'unhealthy') triggers.push({ reason: 'probe_failing', check });
    for (const server of m.servers) {
      const s = this.haproxy.get(server);
      if (s?.state !== 'down') continue;
      const due = s.since + this.downGraceMs;
      if (now >= due) triggers.push({ reason: 'haproxy_down', server });
      else retryAt = Math.min(retryAt ?? Infinity, due);
    }
    return { triggers, ...(retryAt !== undefined ? { retryAt } : {}) };
  }

  /** Whether a changed signal (probe check or HAProxy server key) is one of `m`'s. */
  static concerns(m: MappedSignals, e: IncomingEvent): boolean {
    if ('ignored' in e) return false;
    return e.source === 'probe' ? m.checks.includes(e.check) : m.servers.includes(e.server);
  }

  /** The latest states, for /state. */
  view(): { probe: Record<string, SignalState>; haproxy: Record<string, SignalState> } {
    return { probe: Object.fromEntries(this.probe), haproxy: Object.fromEntries(this.haproxy) };
  }
}
