// The pure parts of sidekick-heal: guardrails (labels, start period, back-off, cap, quorum), signal mapping,
// the recreate plan built from an inspect answer, and the work queue's rules.
import type { ContainerInspectInfo } from 'dockerode';
import { labelNames } from '../../src/heal/config';
import { backoffMs, containerPolicy, decide, quorumHolds, type History } from '../../src/heal/policy';
import { recreatePlan } from '../../src/heal/recreate';
import { WorkQueue } from '../../src/heal/queue';
import { Signals, addrHost, parseIncoming } from '../../src/heal/signals';
import { sleep, waitUntil } from '../support/wait';

const names = labelNames('sidekick.heal');
const defaults = { action: 'restart' as const, start_period: 0, stop_timeout: 10_000, min_healthy: 1 };
const limits = { min_interval: 30_000, max_interval: 600_000, max_actions: 3, window: 3_600_000 };
const running = { status: 'running' as const, startedAt: 0 };
const optedIn = containerPolicy({ 'sidekick.heal': 'true' }, 0, names, defaults);
const fresh = (): History => ({ actions: [], gaveUp: false });

describe('labels', () => {
  test('opt-in needs the value "true"; action, durations and quorum come from labels over the defaults', () => {
    expect(containerPolicy({ 'sidekick.heal': 'yes' }, 0, names, defaults).optedIn).toBe(false);
    const p = containerPolicy(
      { 'sidekick.heal': 'true', 'sidekick.heal.action': 'recreate', 'sidekick.heal.start_period': '2m', 'sidekick.heal.stop_timeout': '30s', 'sidekick.heal.min_healthy': '2' },
      0,
      names,
      defaults,
    );
    expect(p).toMatchObject({ optedIn: true, action: 'recreate', startPeriodMs: 120_000, stopTimeoutMs: 30_000, minHealthy: 2, labelErrors: [] });
  });

  test("the HEALTHCHECK's start period counts when it is the longer one", () => {
    expect(containerPolicy({ 'sidekick.heal.start_period': '10s' }, 60_000, names, defaults).startPeriodMs).toBe(60_000);
    expect(containerPolicy({ 'sidekick.heal.start_period': '10s' }, 5_000, names, defaults).startPeriodMs).toBe(10_000);
  });

  test('a bad label is named with what was expected, and keeps the container from being acted on', () => {
    const p = containerPolicy({ 'sidekick.heal': 'true', 'sidekick.heal.action': 'reboot', 'sidekick.heal.stop_timeout': '10' }, 0, names, defaults);
    expect(p.labelErrors).toEqual([
      'sidekick.heal.action: "reboot" is not valid; expected one of restart, recreate, none',
      'sidekick.heal.stop_timeout: "10" is not valid; expected a duration such as 500ms, 5s, 2m, 1h or 1m30s, with a unit',
    ]);
    expect(decide(running, p, fresh(), limits, 1e9)).toEqual({ kind: 'skip', reason: 'bad_label' });
  });

  test("the quorum group is the service label, else compose's project/service", () => {
    expect(containerPolicy({ 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'api' }, 0, names, defaults).service).toBe('shop/api');
    expect(containerPolicy({ 'sidekick.heal.service': 'workers', 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'api' }, 0, names, defaults).service).toBe('workers');
    expect(containerPolicy({}, 0, names, defaults).service).toBeUndefined();
  });
});

describe('decide', () => {
  test('acts on an opted-in running container past its start period with no recent action', () => {
    expect(decide(running, optedIn, fresh(), limits, 1e9)).toEqual({ kind: 'act' });
  });

  test('never acts on one that did not opt in, is set to none, or is restarting, paused, dead, being removed or stopped', () => {
    expect(decide(running, containerPolicy({}, 0, names, defaults), fresh(), limits, 1e9)).toMatchObject({ reason: 'not_opted_in' });
    expect(decide(running, { ...optedIn, action: 'none' }, fresh(), limits, 1e9)).toMatchObject({ reason: 'action_none' });
    for (const [status, reason] of [
      ['restarting', 'restarting'],
      ['paused', 'paused'],
      ['dead', 'dead'],
      ['removing', 'removing'],
      ['exited', 'not_running'],
      ['created', 'not_running'],
    ] as const) {
      expect(decide({ status, startedAt: 0 }, optedIn, fresh(), limits, 1e9)).toEqual({ kind: 'skip', reason });
    }
  });

  test('inside the start period it waits, until the period ends', () => {
    const p = { ...optedIn, startPeriodMs: 60_000 };
    expect(decide({ status: 'running', startedAt: 1000 }, p, fresh(), limits, 30_000)).toEqual({ kind: 'skip', reason: 'starting', retryAt: 61_000 });
    expect(decide({ status: 'running', startedAt: 1000 }, p, fresh(), limits, 61_000)).toEqual({ kind: 'act' });
  });

  test('backs off exponentially from min_interval up to max_interval', () => {
    expect([0, 1, 2, 3, 6, 10].map((n) => backoffMs(n, limits))).toEqual([0, 30_000, 60_000, 120_000, 600_000, 600_000]);
    const h: History = { actions: [100_000], gaveUp: false };
    expect(decide(running, optedIn, h, limits, 110_000)).toEqual({ kind: 'skip', reason: 'backoff', retryAt: 130_000 });
    expect(decide(running, optedIn, h, limits, 130_000)).toEqual({ kind: 'act' });
    h.actions.push(130_000);
    expect(decide(running, optedIn, h, limits, 150_000)).toEqual({ kind: 'skip', reason: 'backoff', retryAt: 190_000 });
  });

  test('after max_actions in the window it gives up once, then skips, until the oldest action leaves the window', () => {
    const h: History = { actions: [1_000_000, 1_100_000, 1_300_000], gaveUp: false };
    const retryAt = 1_000_000 + limits.window;
    expect(decide(running, optedIn, h, limits, 2_000_000)).toEqual({ kind: 'give_up', retryAt });
    h.gaveUp = true;
    expect(decide(running, optedIn, h, limits, 2_000_000)).toEqual({ kind: 'skip', reason: 'gave_up', retryAt });
    expect(decide(running, optedIn, h, limits, retryAt + 1)).toEqual({ kind: 'act' });
  });

  test('quorum: at least min_healthy healthy peers, or all of them when there are fewer; a lone container is eligible', () => {
    expect(quorumHolds(1, 0, 0)).toBe(true);
    expect(quorumHolds(1, 1, 0)).toBe(false);
    expect(quorumHolds(1, 1, 1)).toBe(true);
    expect(quorumHolds(2, 1, 1)).toBe(true);
    expect(quorumHolds(2, 3, 1)).toBe(false);
    expect(quorumHolds(0, 3, 0)).toBe(true);
  });
});

describe('signals', () => {
  test('reads sidekick-probe and sidekick-haproxy events and refuses anything else with what was expected', () => {
    const body = (v: unknown) => Buffer.from(JSON.stringify(v));
    expect(parseIncoming(body({ check: 'api', from: 'healthy', to: 'unhealthy', at: 'x', message: 'refused' }))).toEqual({ source: 'probe', check: 'api', state: 'unhealthy' });
    expect(parseIncoming(body({ event: 'server.state', proxy: 'app', server: 'web1', from: 'up', to: 'down', addr: '10.0.0.5:8000', at: 'x' }))).toEqual({
      source: 'haproxy',
      server: 'app/web1',
      state: 'down',
      addr: '10.0.0.5:8000',
    });
    expect(parseIncoming(body({ event: 'haproxy.reload', from_pid: 1, to_pid: 2 }))).toEqual({ source: 'haproxy', ignored: 'haproxy.reload' });
    expect(parseIncoming(Buffer.from('not json'))).toEqual({ error: 'the body is not JSON' });
    expect(parseIncoming(body({ check: 'api', to: 'sideways' }))).toMatchObject({ error: expect.stringContaining('expected a sidekick-probe state change') });
  });

  test('maps checks and servers by label, by configuration, and servers by address for opted-in containers', () => {
    const s = new Signals(names, { probe: { heartbeat: 'worker-1' }, haproxy: { 'app/web9': 'web-9' } }, 10_000);
    const worker = { name: 'worker-1', labels: { 'sidekick.heal.probe_check': 'api, db' }, addresses: ['172.18.0.5'] };
    s.record({ source: 'haproxy', server: 'app/web1', state: 'down', addr: '172.18.0.5:8000' }, 0);
    expect(s.mapped(worker, true)).toEqual({ checks: ['api', 'db', 'heartbeat'], servers: ['app/web1'], explicit: true });
    expect(s.mapped(worker, false).servers).toEqual([]);
    expect(s.mapped({ name: 'web-9', labels: {}, addresses: [] }, false)).toEqual({ checks: [], servers: ['app/web9'], explicit: true });
    expect(addrHost('[fd00::5]:80')).toBe('fd00::5');
    expect(addrHost('10.0.0.5:8000')).toBe('10.0.0.5');
  });

  test('a failing check triggers at once; a DOWN server only after down_grace; a recovered one not at all', () => {
    const s = new Signals(names, { probe: {}, haproxy: {} }, 10_000);
    const m = { checks: ['api'], servers: ['app/web1'], explicit: true };
    expect(s.record({ source: 'probe', check: 'api', state: 'unhealthy' }, 0)).toBe('api');
    expect(s.record({ source: 'probe', check: 'api', state: 'unhealthy' }, 5)).toBeUndefined();
    s.record({ source: 'haproxy', server: 'app/web1', state: 'down' }, 1000);
    expect(s.triggers(m, 2000)).toEqual({ triggers: [{ reason: 'probe_failing', check: 'api' }], retryAt: 11_000 });
    expect(s.triggers(m, 11_000).triggers).toEqual([
      { reason: 'probe_failing', check: 'api' },
      { reason: 'haproxy_down', server: 'app/web1' },
    ]);
    s.record({ source: 'probe', check: 'api', state: 'healthy' }, 12_000);
    s.record({ source: 'haproxy', server: 'app/web1', state: 'maint' }, 12_000);
    expect(s.triggers(m, 20_000)).toEqual({ triggers: [] });
  });
});

describe('recreate plan', () => {
  const info = {
    Id: 'abcdef0123456789',
    Name: '/shop-api-1',
    Image: 'sha256:1111',
    State: { Running: true },
    Config: {
      Hostname: 'abcdef012345',
      Image: 'shop/api:1.2',
      Env: ['A=1'],
      Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'api', 'sidekick.heal': 'true' },
      Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 },
      ExposedPorts: { '8000/tcp': {} },
    },
    HostConfig: { NetworkMode: 'shop_default', Binds: ['/srv/conf:/conf:ro', 'data:/data'], RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 }, Links: ['/db:/shop-api-1/database'] },
    Mounts: [
      { Type: 'bind', Source: '/srv/conf', Destination: '/conf', RW: false },
      { Type: 'volume', Name: 'data', Source: '/var/lib/docker/volumes/data/_data', Destination: '/data', RW: true },
      { Type: 'volume', Name: '9f8e7d', Source: '/var/lib/docker/volumes/9f8e7d/_data', Destination: '/cache', RW: true },
    ],
    NetworkSettings: {
      Networks: {
        shop_default: { NetworkID: 'n1', Aliases: ['api', 'abcdef012345'], IPAMConfig: null, Links: null },
        shop_backend: { NetworkID: 'n2', Aliases: ['api-backend', 'abcdef012345'], IPAMConfig: { IPv4Address: '10.5.0.9' }, Links: null },
      },
    },
  } as unknown as ContainerInspectInfo;

  test('keeps the name, configuration, mounts (anonymous volumes by name), restart policy, networks and aliases', () => {
    const plan = recreatePlan(info, 'shop/api:1.2');
    expect(plan.name).toBe('shop-api-1');
    expect(plan.create).toMatchObject({
      Image: 'shop/api:1.2',
      Env: ['A=1'],
      Labels: info.Config.Labels,
      Healthcheck: info.Config.Healthcheck,
      ExposedPorts: { '8000/tcp': {} },
      HostConfig: { NetworkMode: 'shop_default', Binds: ['/srv/conf:/conf:ro', 'data:/data', '9f8e7d:/cache'], RestartPolicy: { Name: 'unless-stopped' }, Links: ['db:database'] },
      NetworkingConfig: { EndpointsConfig: { shop_default: { Aliases: ['api'] } } },
    });
    // The engine names the new one's hostname after its own id.
    expect(plan.create).not.toHaveProperty('Hostname');
    expect(plan.connect).toEqual([{ network: 'shop_backend', endpoint: { Aliases: ['api-backend'], IPAMConfig: { IPv4Address: '10.5.0.9' } } }]);
  });

  test("a container in another container's network namespace keeps that mode and no ports or hostname of its own", () => {
    const sidecar = { ...info, HostConfig: { ...info.HostConfig, NetworkMode: 'container:0123' }, NetworkSettings: { Networks: {} } } as unknown as ContainerInspectInfo;
    const plan = recreatePlan(sidecar, 'img');
    expect(plan.create.HostConfig?.NetworkMode).toBe('container:0123');
    expect(plan.create).not.toHaveProperty('ExposedPorts');
    expect(plan.create).not.toHaveProperty('NetworkingConfig');
    expect(plan.connect).toEqual([]);
  });
});

describe('work queue', () => {
  test('an id waits once, is worked on again if added while being worked on, and a delayed add keeps the earliest time', async () => {
    const runs: string[] = [];
    let release: (() => void) | undefined;
    const q = new WorkQueue(
      async (id) => {
        runs.push(id);
        if (id === 'slow' && !release) await new Promise<void>((r) => (release = r));
      },
      () => undefined,
      1,
    );
    q.add('slow');
    q.add('slow'); // being worked on: once more afterwards
    q.add('a');
    q.add('a'); // already waiting
    await sleep(50);
    expect(runs).toEqual(['slow']);
    release!();
    await waitUntil('the rest', () => runs.length === 3);
    expect(runs).toEqual(['slow', 'a', 'slow']);
    q.addAfter('b', 500);
    q.addAfter('b', 20);
    q.addAfter('b', 300);
    await sleep(150);
    expect(runs.filter((r) => r === 'b')).toEqual(['b']);
    await q.stop();
  });
});
