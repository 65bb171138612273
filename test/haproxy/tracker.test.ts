// The watch state machine: baseline without events, transitional states hidden or reported, settling, reloads.
import type { Info } from '../../src/haproxy/info';
import type { StatRow } from '../../src/haproxy/stat';
import { parseStatus } from '../../src/haproxy/status';
import { StateTracker } from '../../src/haproxy/watch';

const row = (name: string, status: string, type: StatRow['type'] = 'server'): StatRow => ({
  proxy: 'app',
  name,
  type,
  status,
  state: parseStatus(status).state,
  fields: { check_status: 'L7OK' },
});
const info = (pid: number, start = 1000): Info => ({ values: {}, pid, startTime: start, version: '2.6.12' });
const changes = (events: ReturnType<StateTracker['update']>): string[] => events.map((e) => (e.event === 'haproxy.reload' ? 'reload' : `${e.event === 'server.state' ? e.server : e.proxy}:${e.from}->${e.to}`));

test('the first snapshot is a baseline, not a burst of events', () => {
  const t = new StateTracker();
  expect(t.update([row('a', 'UP'), row('b', 'DOWN'), row('BACKEND', 'UP', 'backend')], info(1), 0)).toEqual([]);
});

test('hide (default): UP 1/3 and DOWN 1/2 read as the state they leave, so one failed check is no event', () => {
  const t = new StateTracker();
  t.update([row('a', 'UP')], info(1), 0);
  expect(t.update([row('a', 'UP 1/3')], info(1), 1000)).toEqual([]);
  expect(t.update([row('a', 'UP')], info(1), 2000)).toEqual([]);
  expect(t.update([row('a', 'UP 2/3')], info(1), 3000)).toEqual([]);
  expect(changes(t.update([row('a', 'DOWN')], info(1), 4000))).toEqual(['a:up->down']);
  expect(t.update([row('a', 'DOWN 1/2')], info(1), 5000)).toEqual([]);
  expect(changes(t.update([row('a', 'UP')], info(1), 6000))).toEqual(['a:down->up']);
});

test('report: transitional states are events to going-down and going-up', () => {
  const t = new StateTracker({ transitional: 'report' });
  t.update([row('a', 'UP')], info(1), 0);
  expect(changes(t.update([row('a', 'UP 1/2')], info(1), 1000))).toEqual(['a:up->going-down']);
  expect(changes(t.update([row('a', 'DOWN')], info(1), 2000))).toEqual(['a:going-down->down']);
  expect(changes(t.update([row('a', 'DOWN 1/2')], info(1), 3000))).toEqual(['a:down->going-up']);
});

test('settle: a state that does not hold for the settle time is never reported (flap damping)', () => {
  const t = new StateTracker({ settleMs: 3000 });
  t.update([row('a', 'UP')], info(1), 0);
  expect(t.update([row('a', 'DOWN')], info(1), 1000)).toEqual([]);
  expect(t.update([row('a', 'UP')], info(1), 2000)).toEqual([]);
  expect(t.update([row('a', 'DOWN')], info(1), 3000)).toEqual([]);
  expect(t.update([row('a', 'DOWN')], info(1), 5000)).toEqual([]);
  const ev = t.update([row('a', 'DOWN')], info(1), 6000);
  expect(changes(ev)).toEqual(['a:up->down']);
});

test('event content: server.state carries status, check status and a timestamp', () => {
  const t = new StateTracker();
  t.update([row('a', 'UP')], info(1), 0);
  const [ev] = t.update([{ ...row('a', 'DRAIN (agent)'), fields: { check_status: 'L7OK', check_desc: 'Layer7 check passed' } }], info(1), Date.UTC(2026, 0, 1));
  expect(ev).toEqual({ event: 'server.state', proxy: 'app', server: 'a', from: 'up', to: 'drain', status: 'DRAIN (agent)', check_status: 'L7OK', check_desc: 'Layer7 check passed', at: '2026-01-01T00:00:00.000Z' });
});

test('a reload is reported once; states during the grace period are not compared, real differences after it are', () => {
  const t = new StateTracker({ reloadGraceMs: 5000 });
  t.update([row('a', 'UP'), row('b', 'DOWN'), row('c', 'UP')], info(1), 0);
  const ev = t.update([row('a', 'UP'), row('b', 'UP'), row('c', 'UP')], info(2, 1010), 1000);
  expect(ev).toEqual([{ event: 'haproxy.reload', from_pid: 1, to_pid: 2, version: '2.6.12', at: new Date(1000).toISOString() }]);
  // HAProxy restarts b as UP until its checks fail again: inside the grace period nothing is said.
  expect(t.update([row('a', 'UP'), row('b', 'UP 1/2'), row('c', 'DOWN')], info(2, 1010), 2000)).toEqual([]);
  expect(t.update([row('a', 'UP'), row('b', 'DOWN'), row('c', 'DOWN')], info(2, 1010), 4000)).toEqual([]);
  // After it, b is down as before (no event); c really changed across the reload.
  expect(changes(t.update([row('a', 'UP'), row('b', 'DOWN'), row('c', 'DOWN')], info(2, 1010), 7000))).toEqual(['c:up->down']);
});

test('servers added or removed by a reload make no events', () => {
  const t = new StateTracker({ reloadGraceMs: 0 });
  t.update([row('a', 'UP'), row('old', 'UP')], info(1), 0);
  expect(changes(t.update([row('a', 'UP'), row('new', 'DOWN')], info(2, 2000), 1000))).toEqual(['reload']);
  expect(t.view().map((v) => v.server)).toEqual(['a', 'new']);
});

test('backend.state events', () => {
  const t = new StateTracker();
  t.update([row('BACKEND', 'UP', 'backend')], info(1), 0);
  expect(t.update([row('BACKEND', 'DOWN', 'backend')], info(1), 1000)).toEqual([{ event: 'backend.state', proxy: 'app', from: 'up', to: 'down', status: 'DOWN', at: new Date(1000).toISOString() }]);
});

test('rows that come in a different order are still matched by name', () => {
  const t = new StateTracker();
  t.update([row('a', 'UP'), row('b', 'UP'), row('c', 'UP')], info(1), 0);
  expect(changes(t.update([row('c', 'UP'), row('b', 'DOWN'), row('a', 'UP')], info(1), 1000))).toEqual(['b:up->down']);
  expect(changes(t.update([row('a', 'UP'), row('c', 'MAINT')], info(1), 2000))).toEqual(['c:up->maint']);
  expect(t.view().map((v) => `${v.server}:${v.state}`)).toEqual(['a:up', 'c:maint']);
});

describe('reloads when show info lacks Start_time_sec (1.8: Name, Version, Pid, Uptime_sec)', () => {
  /** show info of a process with this pid that started at startSec (unix seconds, fractional), read at nowMs. */
  const info18 = (pid: number, startSec: number, nowMs: number): Info => ({ values: {}, pid, uptimeSec: Math.floor(nowMs / 1000 - startSec), version: '1.8.30' });

  test('polls every 200 ms of a process that started 2.3 s past a multiple of 5 s: no reload, and the DOWN is reported', () => {
    const t = new StateTracker();
    const start = 1_700_000_000 + 2.3;
    const events: string[] = [];
    for (let now = (start + 100) * 1000; now < (start + 130) * 1000; now += 200) {
      const down = now >= (start + 110) * 1000;
      events.push(...changes(t.update([row('web1', down ? 'DOWN' : 'UP'), row('web2', 'UP')], info18(812, start, now), now)));
    }
    expect(events).toEqual(['web1:up->down']);
  });

  test('a new process is a reload: another pid, an uptime that went backwards, or a start that moved', () => {
    const start = 1_700_000_000.5;
    const at = (s: number): number => (start + s) * 1000;
    const pid = new StateTracker({ reloadGraceMs: 0 });
    pid.update([row('a', 'UP')], info18(1, start, at(50)), at(50));
    expect(changes(pid.update([row('a', 'UP')], info18(2, start + 50, at(51)), at(51)))).toEqual(['reload']);
    // The same pid (reused, or a reload that kept it): the uptime went from 50 back to 1.
    const back = new StateTracker({ reloadGraceMs: 0 });
    back.update([row('a', 'UP')], info18(1, start, at(50)), at(50));
    expect(changes(back.update([row('a', 'UP')], info18(1, start + 49, at(50.5)), at(50.5)))).toEqual(['reload']);
    // Polls 60 s apart; the uptime grew by 10 s only: the process started again 50 s after the first one.
    const moved = new StateTracker({ reloadGraceMs: 0 });
    moved.update([row('a', 'UP')], info18(1, start, at(1)), at(1));
    expect(changes(moved.update([row('a', 'UP')], info18(1, start + 50, at(61)), at(61)))).toEqual(['reload']);
    // A second's jitter in the whole-second uptime is not a new process.
    expect(moved.update([row('a', 'UP')], info18(1, start + 50.9, at(62)), at(62))).toEqual([]);
  });
});
