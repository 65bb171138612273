// Against a real HAProxy: state-change events from real checks, admin writes, agent checks, levels, both socket modes.
import { RuntimeApiError, RuntimeClient } from '../../src/haproxy/socket';
import { parseStat } from '../../src/haproxy/stat';
import { Watcher, type WatchEvent, type ServerStateEvent } from '../../src/haproxy/watch';
import { createLogger } from '../../src/common/log';
import { Agent, Backend, eventually, Haproxy, haveHaproxy, sleep } from './helpers/haproxy';

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });
// Waits for HAProxy's checks, reloads and restarts: generous, because on a loaded machine (the full suite on two
// cores) a reload alone can take seconds. They wait for a condition, so they cost nothing when things are quick.
const PATIENT = 30_000;
jest.setTimeout(180_000);
const d = haveHaproxy ? describe : describe.skip;

d('watch against a real HAProxy', () => {
  const web1 = new Backend();
  const web2 = new Backend();
  const a1 = new Backend();
  const agent = new Agent();
  let hap: Haproxy;
  let watcher: Watcher;
  const events: WatchEvent[] = [];
  const admin = (): RuntimeClient => new RuntimeClient({ address: { kind: 'unix', path: hap.adminSocket } });

  beforeAll(async () => {
    await Promise.all([web1.start(), web2.start(), a1.start(), agent.start()]);
    hap = await new Haproxy({
      backends: [
        { name: 'app', http: true, servers: [{ name: 'web1', port: web1.port }, { name: 'web2', port: web2.port }] },
        { name: 'agents', servers: [{ name: 'a1', port: a1.port, extra: `agent-check agent-port ${agent.port} agent-inter 200ms` }] },
      ],
    }).start();
    watcher = new Watcher({
      client: new RuntimeClient({ address: { kind: 'unix', path: hap.adminSocket }, mode: 'prompt' }),
      intervalMs: 200,
      logger,
      onEvent: (e) => events.push(e),
    });
    watcher.start();
    // Baseline: every server has passed its rise checks.
    await eventually(() => (watcher.tracker.view().filter((v) => v.type === 'server' && v.state === 'up').length === 3 ? true : undefined), PATIENT, 'all servers up');
  });

  afterAll(async () => {
    await watcher?.stop();
    await hap?.destroy();
    await Promise.all([web1.stop(), web2.stop(), a1.stop(), agent.stop()]);
  });

  const allUp = (): Promise<boolean> =>
    eventually(() => (watcher.tracker.view().filter((v) => v.type === 'server' && v.state === 'up').length === 3 ? true : undefined), PATIENT, 'all servers up');
  const next = (pred: (e: ServerStateEvent) => boolean, what: string): Promise<ServerStateEvent> =>
    eventually(() => events.find((e): e is ServerStateEvent => e.event === 'server.state' && pred(e)), PATIENT, what);

  test('a stopped server is reported up → down with the failed check, then down → up after restart', async () => {
    events.length = 0;
    await web1.stop();
    const down = await next((e) => e.server === 'web1' && e.to === 'down', 'web1 down');
    expect(down).toMatchObject({ event: 'server.state', proxy: 'app', server: 'web1', from: 'up', to: 'down', status: 'DOWN', check_status: 'L4CON', check_desc: 'Layer4 connection problem' });
    expect(Date.parse(down.at)).not.toBeNaN();
    await web1.start();
    const up = await next((e) => e.server === 'web1' && e.to === 'up', 'web1 up');
    expect(up).toMatchObject({ proxy: 'app', server: 'web1', from: 'down', to: 'up', status: 'UP', check_status: 'L7OK' });
    // Transitional "UP 1/2" / "DOWN 1/2" states were hidden: exactly two events for web1, none for the others.
    expect(events.filter((e) => e.event === 'server.state').map((e) => `${(e as ServerStateEvent).server}:${(e as ServerStateEvent).to}`)).toEqual(['web1:down', 'web1:up']);
  });

  test('when every server of a backend is down, backend.state reports it', async () => {
    events.length = 0;
    await Promise.all([web1.stop(), web2.stop()]);
    const ev = await eventually(() => events.find((e) => e.event === 'backend.state'), PATIENT, 'backend down');
    expect(ev).toMatchObject({ event: 'backend.state', proxy: 'app', from: 'up', to: 'down', status: 'DOWN' });
    await Promise.all([web1.start(), web2.start()]);
    await eventually(() => events.find((e) => e.event === 'backend.state' && e.to === 'up'), PATIENT, 'backend up');
  });

  test('drain and maint set over the admin socket become events, and ready brings the server back', async () => {
    await allUp();
    events.length = 0;
    const c = admin();
    expect(await c.command('set server app/web2 state drain')).toBe('');
    expect(await next((e) => e.server === 'web2' && e.to === 'drain', 'drain')).toMatchObject({ from: 'up', to: 'drain', status: 'DRAIN' });
    await c.command('set server app/web2 state maint');
    expect(await next((e) => e.server === 'web2' && e.to === 'maint', 'maint')).toMatchObject({ from: 'drain', to: 'maint', status: 'MAINT' });
    await c.command('set server app/web2 state ready');
    expect(await next((e) => e.server === 'web2' && e.from === 'maint', 'ready')).toMatchObject({ to: 'up', status: 'UP' });
  });

  test('an agent-check answer of drain and down shows as DRAIN (agent) and DOWN (agent)', async () => {
    await allUp();
    events.length = 0;
    agent.reply = 'drain';
    expect(await next((e) => e.server === 'a1' && e.to === 'drain', 'agent drain')).toMatchObject({ proxy: 'agents', from: 'up', status: 'DRAIN (agent)' });
    agent.reply = 'ready up';
    await next((e) => e.server === 'a1' && e.to === 'up', 'agent ready');
    agent.reply = 'down #disk-full';
    expect(await next((e) => e.server === 'a1' && e.to === 'down', 'agent down')).toMatchObject({ from: 'up', status: 'DOWN (agent)' });
    agent.reply = 'up';
    expect(await next((e) => e.server === 'a1' && e.from === 'down', 'agent up')).toMatchObject({ to: 'up', status: 'UP' });
  });

  test('a user-level socket refuses set with a message that names the level needed', async () => {
    const user = new RuntimeClient({ address: { kind: 'unix', path: hap.userSocket } });
    const err = await user.command('set server app/web1 state maint').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeApiError);
    expect((err as RuntimeApiError).code).toBe('PERMISSION');
    expect((err as RuntimeApiError).message).toMatch(/Permission denied.*level admin/);
    // The state did not change.
    const rows = parseStat(await admin().command('show stat')).rows;
    expect(rows.find((r) => r.proxy === 'app' && r.name === 'web1')?.state).toBe('up');
  });

  test('one-shot and prompt modes return the same answers; prompt keeps one session', async () => {
    const one = admin();
    const prompt = new RuntimeClient({ address: { kind: 'unix', path: hap.adminSocket }, mode: 'prompt' });
    try {
      for (let i = 0; i < 3; i++) {
        const [a, b] = [parseStat(await one.command('show stat')), parseStat(await prompt.command('show stat'))];
        expect(b.rows.map((r) => [r.proxy, r.name, r.state])).toEqual(a.rows.map((r) => [r.proxy, r.name, r.state]));
        expect(await prompt.command('show servers state app')).toMatch(/^1\n# be_id/);
      }
      expect(one.connections).toBe(3);
      expect(prompt.connections).toBe(1);
    } finally {
      prompt.close();
    }
  });

  test('prompt mode reopens the session after HAProxy closes it for idleness', async () => {
    const prompt = new RuntimeClient({ address: { kind: 'unix', path: hap.adminSocket }, mode: 'prompt' });
    try {
      // HAProxy itself closes this session after 1 s idle (the per-session form of "stats timeout"); 3 s leave it time under load.
      expect(await prompt.command('set timeout cli 1')).toBe('');
      await sleep(3000);
      expect(await prompt.command('show info')).toMatch(/^Name: HAProxy/);
      expect(prompt.connections).toBe(2);
    } finally {
      prompt.close();
    }
  });
});

d('reload', () => {
  const web1 = new Backend();
  let hap: Haproxy;

  afterAll(async () => {
    await hap?.destroy();
    await web1.stop();
  });

  test('a master-worker reload yields haproxy.reload and no invented server events', async () => {
    await web1.start();
    // ghost has nothing listening: down before the reload, and down again once its checks run after it.
    hap = await new Haproxy({
      masterWorker: true,
      backends: [{ name: 'app', http: true, servers: [{ name: 'web1', port: web1.port }, { name: 'ghost', port: 1 }] }],
    }).start();
    const events: WatchEvent[] = [];
    const watcher = new Watcher({
      client: new RuntimeClient({ address: { kind: 'unix', path: hap.adminSocket }, mode: 'prompt' }),
      intervalMs: 200,
      reloadGraceMs: 2000,
      logger,
      onEvent: (e) => events.push(e),
    });
    watcher.start();
    try {
      await eventually(() => (watcher.tracker.view().find((v) => v.server === 'ghost')?.state === 'down' && watcher.tracker.view().find((v) => v.server === 'web1')?.state === 'up' ? true : undefined), PATIENT, 'baseline');
      const before = watcher.info!.pid;
      events.length = 0;
      hap.reload();
      const reload = await eventually(() => events.find((e) => e.event === 'haproxy.reload'), PATIENT, 'reload event');
      expect(reload).toMatchObject({ event: 'haproxy.reload', from_pid: before });
      expect(reload.event === 'haproxy.reload' && reload.to_pid).not.toBe(before);
      // Past the grace period: HAProxy restarted ghost as UP and took it DOWN again; none of that is a change.
      await sleep(3000);
      expect(events.filter((e) => e.event !== 'haproxy.reload')).toEqual([]);
      // Events still flow after the re-baseline.
      await web1.stop();
      const down = await eventually(() => events.find((e) => e.event === 'server.state'), PATIENT, 'web1 down after reload');
      expect(down).toMatchObject({ server: 'web1', from: 'up', to: 'down' });
    } finally {
      await watcher.stop();
    }
  });

  test('a full restart (socket gone for a while, new pid) is a reload too, and the outage is not a state change', async () => {
    await web1.start();
    await hap.destroy();
    hap = await new Haproxy({ backends: [{ name: 'app', http: true, servers: [{ name: 'web1', port: web1.port }] }] }).start();
    const events: WatchEvent[] = [];
    const watcher = new Watcher({
      client: new RuntimeClient({ address: { kind: 'unix', path: hap.adminSocket }, mode: 'prompt', timeoutMs: 1000 }),
      intervalMs: 200,
      reloadGraceMs: 2000,
      logger,
      onEvent: (e) => events.push(e),
    });
    watcher.start();
    try {
      await eventually(() => (watcher.tracker.view().find((v) => v.server === 'web1')?.state === 'up' ? true : undefined), PATIENT, 'baseline');
      const before = watcher.info!.pid;
      await hap.stop();
      await eventually(() => watcher.lastError, PATIENT, 'poll failure while HAProxy is gone');
      expect(watcher.lastError).toMatch(/does not exist|connection refused/);
      await hap.start();
      const reload = await eventually(() => events.find((e) => e.event === 'haproxy.reload'), PATIENT, 'reload event');
      expect(reload).toMatchObject({ from_pid: before, to_pid: hap.pid });
      await sleep(2500);
      expect(events.map((e) => e.event)).toEqual(['haproxy.reload']);
    } finally {
      await watcher.stop();
    }
  });
});
