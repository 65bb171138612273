// sidekick-heal against the real Docker engine: containers whose HEALTHCHECK a file inside them toggles, all made
// unhealthy at once in beforeAll so the waits overlap; each test then checks one guardrail's outcome. heal reaches
// the engine over tcp:// through a socket proxy that passes only the calls the README lists for restarting.
import { execFileSync } from 'node:child_process';
import type Docker from 'dockerode';
import { eventually, sleep } from '../support/wait';
import { describeWithDocker, BUILD_TIMEOUT_MS, SOCKET, testImage, docker, exec, removeContainers, removeStale, runContainer, runHeal, startedAt, waitForHealth, type RunningHeal } from './helpers';
import { RESTART_CALLS, socketProxy, type SocketProxy } from './socket-proxy';

const P = `heal-e${process.pid}-`;
const LABEL = `heal-e${process.pid}`;
const DRY = `heal-d${process.pid}`;
const on = { [LABEL]: 'true' };

const netns = (name: string): string => execFileSync('docker', ['exec', name, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }).trim();

describeWithDocker('sidekick-heal on the Docker engine', () => {
  let d: Docker;
  let heal: RunningHeal;
  let dry: RunningHeal;
  let proxy: SocketProxy;
  const before: Record<string, string> = {};

  beforeAll(async () => {
    d = docker();
    await testImage();
    await removeStale('heal-e');
    await removeContainers(d, P);
    proxy = await socketProxy(SOCKET, RESTART_CALLS);
    heal = await runHeal(`docker_host: ${proxy.url}\nlabel: ${LABEL}\nmin_interval: 1500ms\nmax_interval: 5s\nmax_actions: 2\nwindow: 10m\nstop_timeout: 1s\nresync: 0\n`);
    dry = await runHeal(`label: ${DRY}\ndry_run: true\nmin_interval: 1s\nmax_actions: 2\nresync: 0\n`);
    const opted = await runContainer(d, { name: `${P}opted`, labels: on });
    // A sidekick in its network namespace, as sidekick-probe beside its app: it must follow the restart.
    await runContainer(d, { name: `${P}sidecar`, network: `container:${opted}` });
    await Promise.all([
      runContainer(d, { name: `${P}unlabelled` }),
      runContainer(d, { name: `${P}starting`, labels: { ...on, [`${LABEL}.start_period`]: '1h' } }),
      // Never healthy: restarted, unhealthy again, restarted, then given up on.
      runContainer(d, { name: `${P}broken`, labels: on, health: 'false', command: 'exec sleep infinity' }),
      runContainer(d, { name: `${P}q1`, labels: { ...on, [`${LABEL}.service`]: 'q' } }),
      // q2 is unhealthy too, but heal leaves it alone (start period): it is not a healthy peer for q1.
      runContainer(d, { name: `${P}q2`, labels: { ...on, [`${LABEL}.service`]: 'q', [`${LABEL}.start_period`]: '1h' } }),
      runContainer(d, { name: `${P}dry`, labels: { [DRY]: 'true' } }),
    ]);
    for (const n of ['opted', 'unlabelled', 'starting', 'q1', 'q2', 'dry']) await waitForHealth(d, `${P}${n}`, 'healthy');
    for (const n of ['opted', 'unlabelled', 'starting', 'broken', 'q1', 'q2', 'dry']) before[n] = await startedAt(d, `${P}${n}`);
    for (const n of ['opted', 'unlabelled', 'starting', 'q2', 'dry']) exec(`${P}${n}`, 'rm /tmp/healthy');
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await heal?.stop();
    await dry?.stop();
    await proxy?.close();
    if (d) await removeContainers(d, P);
  });

  test('an opted-in container that turns unhealthy is restarted within a few check intervals', async () => {
    await eventually('the restart', async () => heal.about(`${P}opted`).length > 0 && (await startedAt(d, `${P}opted`)) !== before.opted, 15_000, 200);
    expect(heal.about(`${P}opted`)).toEqual([expect.objectContaining({ event: 'heal.action', action: 'restart', reason: 'unhealthy', result: 'ok', attempt: 1, dependents: [`${P}sidecar`] })]);
    expect(netns(`${P}sidecar`)).toBe(netns(`${P}opted`));
    // Its command makes it healthy again after the restart.
    await waitForHealth(d, `${P}opted`, 'healthy');
    const metrics = await (await fetch(`${heal.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`sidekick_heal_actions_total\\{container="${P}opted",action="restart",reason="unhealthy",result="ok"[^}]*\\} 1`));
  });

  test('a container without the opt-in label is left alone', async () => {
    await waitForHealth(d, `${P}unlabelled`, 'unhealthy');
    await eventually('the opted-in one to be handled', () => heal.about(`${P}opted`).length > 0, 15_000);
    await sleep(2000);
    expect(await startedAt(d, `${P}unlabelled`)).toBe(before.unlabelled);
    expect(heal.about(`${P}unlabelled`)).toEqual([]);
  });

  test('a container inside its start period is not acted on, and says why', async () => {
    const skipped = await eventually('heal.skipped', () => heal.about(`${P}starting`).find((e) => e.event === 'heal.skipped'), 15_000);
    expect(skipped).toMatchObject({ reason: 'starting', trigger: 'unhealthy', action: 'restart' });
    expect(await startedAt(d, `${P}starting`)).toBe(before.starting);
  });

  test('a container that stays unhealthy is acted on max_actions times in the window, then heal.gave_up', async () => {
    const gaveUp = await eventually('heal.gave_up', () => heal.about(`${P}broken`).find((e) => e.event === 'heal.gave_up'), 40_000, 200);
    expect(gaveUp).toMatchObject({ actions: 2, reason: 'unhealthy', window_ms: 600_000 });
    const actions = heal.about(`${P}broken`).filter((e) => e.event === 'heal.action');
    expect(actions.map((a) => a.event === 'heal.action' && a.attempt)).toEqual([1, 2]);
    // Nothing more: it stays unhealthy, and is not restarted again.
    const last = await startedAt(d, `${P}broken`);
    await sleep(5000);
    expect(await startedAt(d, `${P}broken`)).toBe(last);
    expect(heal.about(`${P}broken`).filter((e) => e.event === 'heal.action')).toHaveLength(2);
  }, 60_000);

  test('quorum holds back the last healthy-enough replica, and acts once a peer is healthy again', async () => {
    await waitForHealth(d, `${P}q2`, 'unhealthy');
    exec(`${P}q1`, 'rm /tmp/healthy');
    const held = await eventually('q1 held back', () => heal.about(`${P}q1`).find((e) => e.event === 'heal.skipped'), 15_000);
    expect(held).toMatchObject({ reason: 'quorum', service: 'q', detail: '0 of 1 other containers of q healthy; 1 needed' });
    expect(await startedAt(d, `${P}q1`)).toBe(before.q1);
    expect(await startedAt(d, `${P}q2`)).toBe(before.q2);
    // q2 recovers by itself: now q1 has a healthy peer and is restarted; q2 is not.
    exec(`${P}q2`, 'touch /tmp/healthy');
    await eventually('q1 restarted', async () => heal.about(`${P}q1`).some((e) => e.event === 'heal.action') && (await startedAt(d, `${P}q1`)) !== before.q1, 15_000, 200);
    expect(heal.about(`${P}q1`).filter((e) => e.event === 'heal.action')).toEqual([expect.objectContaining({ result: 'ok', service: 'q' })]);
    expect(await startedAt(d, `${P}q2`)).toBe(before.q2);
  }, 40_000);

  test('--dry-run reports the action it would take and touches nothing', async () => {
    const would = await eventually('a dry-run heal.action', () => dry.about(`${P}dry`).find((e) => e.event === 'heal.action'), 15_000);
    expect(would).toMatchObject({ action: 'restart', result: 'dry_run', reason: 'unhealthy' });
    await sleep(1500);
    expect(await startedAt(d, `${P}dry`)).toBe(before.dry);
    await waitForHealth(d, `${P}dry`, 'unhealthy', 1000);
  });

  test('everything above went through a socket proxy that allows only the calls restarting needs', () => {
    expect(proxy.denied).toEqual([]);
  });

  test('a heal started after a container turned unhealthy finds it in its first scan and acts', async () => {
    // Its own label, and no periodic resync: only the scan on connecting can see what happened before.
    const late = `heal-l${process.pid}`;
    await runContainer(d, { name: `${P}before`, labels: { [late]: 'true' } });
    await waitForHealth(d, `${P}before`, 'healthy');
    const started = await startedAt(d, `${P}before`);
    exec(`${P}before`, 'rm /tmp/healthy');
    await waitForHealth(d, `${P}before`, 'unhealthy');
    const heal2 = await runHeal(`label: ${late}\nstop_timeout: 1s\nresync: 0\n`);
    try {
      const action = await eventually('heal.action', () => heal2.about(`${P}before`).find((e) => e.event === 'heal.action'), 15_000);
      expect(action).toMatchObject({ action: 'restart', reason: 'unhealthy', result: 'ok' });
      expect(await startedAt(d, `${P}before`)).not.toBe(started);
    } finally {
      await heal2.stop();
    }
  });

  test('/healthz says the engine connection is up, /state shows the history', async () => {
    const res = await fetch(`${heal.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', detail: { connected: true } });
    const state = (await (await fetch(`${heal.url}/state`)).json()) as { containers: { container: string; actions: string[] }[] };
    expect(state.containers.find((c) => c.container === `${P}broken`)?.actions).toHaveLength(2);
  });
});
