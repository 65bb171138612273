// Runs any check once: loads the probe module of its kind on first use (so a one-shot tcp check never loads
// the http or icmp probe, nor net-ping) and enforces the timeout through the AbortSignal every probe honours.
import type { Probe, ProbeConfig, ProbeResult, Target } from '../types';
import { ProbeTimeout } from './common';
import type { FastConnect } from './tcp-fastpath';

export type { FastConnect };

type AnyProbe = Probe<Target>;
const loaded = new Map<Target['kind'], AnyProbe>();

/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point of this module */
function load(kind: Target['kind']): AnyProbe {
  let probe = loaded.get(kind);
  if (!probe) {
    switch (kind) {
      case 'tcp':
        probe = (require('./tcp') as typeof import('./tcp')).tcpProbe as AnyProbe;
        break;
      case 'http':
        probe = (require('./http') as typeof import('./http')).httpProbe as AnyProbe;
        break;
      case 'exec':
        probe = (require('./exec') as typeof import('./exec')).execProbe as AnyProbe;
        break;
      case 'icmp':
        probe = (require('./icmp') as typeof import('./icmp')).icmpProbe as AnyProbe;
        break;
      case 'file':
        probe = (require('./file') as typeof import('./file')).fileProbe as AnyProbe;
        break;
    }
    loaded.set(kind, probe);
  }
  return probe;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Runs one probe with its timeout; `stop` (optional) aborts it early, e.g. on shutdown. A caller that runs many
 * probes at once passes its own `controller` instead, to abort them without a listener per probe on one signal.
 * Never rejects: an unexpected exception becomes a failed result that says what happened.
 */
export async function runProbe(cfg: ProbeConfig, stop?: AbortSignal, controller = new AbortController()): Promise<ProbeResult> {
  const start = performance.now();
  let probe: AnyProbe;
  try {
    probe = load(cfg.kind);
  } catch (err) {
    return probeFailure(err, start);
  }
  // The timeout starts once the probe's module is loaded: loading a module can take seconds on a loaded machine,
  // and that is our start-up, not the target being slow (it said "timed out after 2000 ms" after 211 ms of probing).
  const timer = setTimeout(() => controller.abort(new ProbeTimeout(cfg.timeout)), cfg.timeout);
  const onStop = (): void => controller.abort(stop?.reason);
  stop?.addEventListener('abort', onStop, { once: true });
  try {
    return await probe(cfg, controller.signal);
  } catch (err) {
    return probeFailure(err, start);
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener('abort', onStop);
  }
}

/**
 * Starts one probe on `signal` with no timer of its own, for a scheduler that aborts it with a ProbeTimeout at
 * the deadline. Rejects only on an unexpected exception; probeFailure() turns that into a result.
 */
export function startProbe(cfg: ProbeConfig, signal: AbortSignal): Promise<ProbeResult> {
  try {
    return load(cfg.kind)(cfg, signal);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The failed result for a probe that threw instead of returning one; `start` is its performance.now(). */
export function probeFailure(err: unknown, start: number): ProbeResult {
  return { ok: false, duration_ms: Math.round(performance.now() - start), message: `probe failed unexpectedly: ${(err as Error)?.message ?? String(err)}`, detail: {} };
}

/** serve: plain tcp connect checks use Node's TCP handle directly. Returns why not, or undefined when on. */
export function enableTcpFastPath(): Promise<string | undefined> {
  return (require('./tcp') as typeof import('./tcp')).enableTcpFastPath(); // eslint-disable-line @typescript-eslint/no-require-imports
}

let tcp: typeof import('./tcp') | undefined;

/**
 * serve: for a plain tcp connect check on the fast path, a runner the scheduler starts and times out itself,
 * with no AbortSignal, promise or listener per run; undefined for every other check (run those with startProbe).
 */
export function fastConnect(cfg: ProbeConfig, done: (r: ProbeResult) => void): FastConnect | undefined {
  if (cfg.kind !== 'tcp') return undefined;
  tcp ??= require('./tcp') as typeof import('./tcp'); // eslint-disable-line @typescript-eslint/no-require-imports
  return tcp.fastConnect(cfg, done);
}

/** Starts a fastConnect() runner; false when the fast path turned out unusable (it is off now): use startProbe. */
export function runFast(conn: FastConnect): boolean {
  return tcp!.runFast(conn);
}

/** Releases what probes hold open between runs (ICMP raw sockets), so a one-shot process can exit. */
export function releaseProbes(): void {
  if (loaded.has('icmp')) (require('./icmp') as typeof import('./icmp')).closeIcmpSessions(); // eslint-disable-line @typescript-eslint/no-require-imports
}
