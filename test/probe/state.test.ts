// The rise/fall/start-period state machine, driven with an explicit clock.
import { initialState, isLive, isReady, nextState, type CheckState, type Health, type Thresholds } from '../../src/probe/state';

/** Feeds outcomes one second apart and returns the health after each. */
function run(t: Thresholds, outcomes: boolean[], startAt = 0): { healths: Health[]; changes: string[]; state: CheckState } {
  let state = initialState(startAt);
  const healths: Health[] = [];
  const changes: string[] = [];
  outcomes.forEach((ok, i) => {
    const tr = nextState(state, ok, startAt + (i + 1) * 1000, t);
    if (tr.from) changes.push(`${tr.from}->${tr.state.health}`);
    state = tr.state;
    healths.push(state.health);
  });
  return { healths, changes, state };
}

describe('check state machine', () => {
  const t = { rise: 2, fall: 3, start_period: 0 };

  it('becomes healthy only after rise consecutive successes', () => {
    expect(run(t, [true, false, true, true]).healths).toEqual(['starting', 'starting', 'starting', 'healthy']);
  });

  it('becomes unhealthy only after fall consecutive failures, and a success resets the count', () => {
    const r = run(t, [true, true, false, false, true, false, false, false]);
    expect(r.healths).toEqual(['starting', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy']);
    expect(r.changes).toEqual(['starting->healthy', 'healthy->unhealthy']);
  });

  it('recovers from unhealthy after rise successes and reports each change once', () => {
    const r = run({ rise: 2, fall: 1, start_period: 0 }, [false, false, true, true, true]);
    expect(r.healths).toEqual(['unhealthy', 'unhealthy', 'unhealthy', 'healthy', 'healthy']);
    expect(r.changes).toEqual(['starting->unhealthy', 'unhealthy->healthy']);
  });

  it('ignores failures during the start period, then counts them', () => {
    // start_period 3.5 s: failures at 1 s, 2 s, 3 s do not count; those at 4 s, 5 s, 6 s do.
    const r = run({ rise: 1, fall: 3, start_period: 3500 }, [false, false, false, false, false, false]);
    expect(r.healths).toEqual(['starting', 'starting', 'starting', 'starting', 'starting', 'unhealthy']);
  });

  it('ends the start period early on success: later failures count at once', () => {
    const r = run({ rise: 1, fall: 2, start_period: 60_000 }, [false, true, false, false]);
    expect(r.healths).toEqual(['starting', 'healthy', 'healthy', 'unhealthy']);
  });

  it('treats a starting check as alive but not ready', () => {
    expect([isLive('starting'), isReady('starting')]).toEqual([true, false]);
    expect([isLive('healthy'), isReady('healthy')]).toEqual([true, true]);
    expect([isLive('unhealthy'), isReady('unhealthy')]).toEqual([false, false]);
  });
});
