// The health state machine of one check: rise consecutive successes make it healthy, fall consecutive failures
// make it unhealthy, and failures during the start period do not count. Pure: the caller passes the clock.

export type Health = 'starting' | 'healthy' | 'unhealthy';

export interface Thresholds {
  rise: number;
  fall: number;
  start_period: number;
}

export interface CheckState {
  health: Health;
  /** Consecutive successes / failures that count toward the thresholds. */
  successes: number;
  failures: number;
  started_at: number;
  changed_at: number;
}

export interface Transition {
  state: CheckState;
  /** Set when the health changed with this result. */
  from?: Health;
}

export function initialState(now: number): CheckState {
  return { health: 'starting', successes: 0, failures: 0, started_at: now, changed_at: now };
}

/** Applies one probe outcome. */
export function nextState(s: CheckState, ok: boolean, now: number, t: Thresholds): Transition {
  if (ok) {
    const successes = s.successes + 1;
    if (s.health !== 'healthy' && successes >= t.rise) {
      return { state: { ...s, health: 'healthy', successes, failures: 0, changed_at: now }, from: s.health };
    }
    return { state: { ...s, successes, failures: 0 } };
  }
  // Like Docker's start period: while the service is still starting, a failure does not count toward fall.
  if (s.health === 'starting' && now - s.started_at < t.start_period) return { state: { ...s, successes: 0 } };
  const failures = s.failures + 1;
  if (s.health !== 'unhealthy' && failures >= t.fall) {
    return { state: { ...s, health: 'unhealthy', successes: 0, failures, changed_at: now }, from: s.health };
  }
  return { state: { ...s, successes: 0, failures } };
}

/** Liveness fails only on a confirmed failure: a starting service is alive (a restart would not help it). */
export function isLive(h: Health): boolean {
  return h !== 'unhealthy';
}

/** Readiness needs a confirmed success: a starting service gets no traffic yet. */
export function isReady(h: Health): boolean {
  return h === 'healthy';
}
