// Probe and HAProxy events into sidekick-heal, end to end: the real sidekick-probe and sidekick-haproxy (against a
// real HAProxy) sign their webhooks with the shared secret, and heal restarts the mapped containers. Requests that
// are unsigned, badly signed, stale, replayed or carry a wrong token get 401, are counted, and change nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { signBody, signatureHeaders } from '../../src/common/signature';
import { Haproxy, haveHaproxy } from '../haproxy/helpers/haproxy';
import { eventually, freePort, sleep, tempDir } from '../support/wait';
import { describeWithDocker, BUILD_TIMEOUT_MS, testImage, docker, exec, inspect, removeContainers, removeStale, runContainer, runHeal, startedAt, waitForHealth, type RunningHeal } from './helpers';

const P = `heal-v${process.pid}-`;
const LABEL = `heal-v${process.pid}`;
const SECRET = 'a-shared-secret-of-some-length';
const TOKEN = 'a-bearer-token-of-some-length';
const DIST = join(__dirname, '../../dist/cmd');

// A TCP listener on 8000 beside the main process; killing it makes HAProxy's check see the server DOWN.
const LISTENER = 'touch /tmp/healthy; perl -MIO::Socket::INET -e \'$s = IO::Socket::INET->new(LocalPort => 8000, Listen => 5, ReuseAddr => 1) or die; while (1) { close $s->accept }\' & echo $! > /tmp/listener.pid; exec sleep infinity';

function spawnCli(cli: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: string[] } {
  const child = spawn(process.execPath, [join(DIST, cli), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { output: string[] };
  child.output = [];
  child.stdout!.on('data', (b: Buffer) => child.output.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => child.output.push(b.toString()));
  return child;
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: { reason?: string } }> {
  const res = await fetch(`${url}/events`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as { reason?: string } };
}

describeWithDocker('probe and HAProxy events into sidekick-heal', () => {
  let d: Docker;
  let heal: RunningHeal;
  const children: ChildProcess[] = [];
  let haproxy: Haproxy | undefined;
  const before: Record<string, string> = {};
  let dir: string;

  beforeAll(async () => {
    d = docker();
    await testImage();
    dir = tempDir('sidekick-heal-events-');
    await removeStale('heal-v');
    await removeContainers(d, P);
    // min_interval 1m: one action per container in this file, however long a signal stays bad.
    heal = await runHeal(`label: ${LABEL}\nmin_interval: 1m\nmax_interval: 1m\ndown_grace: 1s\nstop_timeout: 1s\nresync: 0\n`, { SIDEKICK_HEAL_SECRET: SECRET, SIDEKICK_HEAL_TOKEN: TOKEN });
    await Promise.all([
      runContainer(d, { name: `${P}worker`, labels: { [LABEL]: 'true', [`${LABEL}.probe_check`]: 'heartbeat' } }),
      runContainer(d, { name: `${P}web`, labels: { [LABEL]: 'true' }, command: LISTENER }),
      runContainer(d, { name: `${P}target`, labels: { [LABEL]: 'true', [`${LABEL}.probe_check`]: 'victim' } }),
      // Its own HEALTHCHECK's start period (an hour), no heal label for one: heal reads it from the engine.
      runContainer(d, { name: `${P}young`, labels: { [LABEL]: 'true', [`${LABEL}.probe_check`]: 'young' }, startPeriodMs: 3_600_000 }),
      runContainer(d, { name: `${P}paused`, labels: { [LABEL]: 'true', [`${LABEL}.probe_check`]: 'paused' } }),
    ]);
    for (const n of ['worker', 'web', 'target', 'young', 'paused']) {
      await waitForHealth(d, `${P}${n}`, 'healthy');
      before[n] = await startedAt(d, `${P}${n}`);
    }
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await haproxy?.destroy();
    await heal?.stop();
    if (d) await removeContainers(d, P);
  });

  test('a failing sidekick-probe check, signed, restarts the container labelled with it', async () => {
    const heartbeat = join(dir, 'heartbeat');
    writeFileSync(heartbeat, '');
    const checks = join(dir, 'checks.yml');
    writeFileSync(checks, `listen: 127.0.0.1:0\nwebhooks: [${heal.url}/events]\nchecks:\n  - name: heartbeat\n    kind: file\n    path: ${heartbeat}\n    max_age: 5s\n    interval: 200ms\n    fall: 1\n`);
    const probe = spawnCli('sidekick-probe.js', ['serve', '--config', checks], { SIDEKICK_PROBE_WEBHOOK_SECRET: SECRET });
    children.push(probe);
    await eventually('the probe to report healthy', () => probe.output.join('').includes('"to":"healthy"'), 15_000);
    const stale = new Date(Date.now() - 60_000);
    utimesSync(heartbeat, stale, stale);
    const action = await eventually('heal.action', () => heal.about(`${P}worker`).find((e) => e.event === 'heal.action'), 15_000);
    expect(action).toMatchObject({ action: 'restart', reason: 'probe_failing', check: 'heartbeat', result: 'ok' });
    expect(await startedAt(d, `${P}worker`)).not.toBe(before.worker);
  }, 40_000);

  (haveHaproxy ? test : test.skip)('an HAProxy server DOWN past down_grace, signed, restarts the container at its address', async () => {
    const ip = (await inspect(d, `${P}web`)).NetworkSettings.Networks.bridge!.IPAddress;
    haproxy = await new Haproxy({ backends: [{ name: 'app', servers: [{ name: 'web1', host: ip, port: 8000 }] }] }).start();
    const port = await freePort();
    const watch = spawnCli('sidekick-haproxy.js', ['watch', '--socket', haproxy.adminSocket, '--interval', '200ms', '--http', `127.0.0.1:${port}`, '--webhook', `${heal.url}/events`], {
      SIDEKICK_HAPROXY_WEBHOOK_SECRET: SECRET,
    });
    children.push(watch);
    // Up first, as the watcher sees it (its first poll is its baseline), then the listener goes away.
    await eventually('app/web1 up in the watcher', async () => {
      const state = (await (await fetch(`http://127.0.0.1:${port}/state`).catch(() => undefined))?.json().catch(() => undefined)) as { items?: { proxy: string; server?: string; state: string }[] } | undefined;
      return state?.items?.some((i) => i.proxy === 'app' && i.server === 'web1' && i.state === 'up');
    }, 20_000, 200);
    exec(`${P}web`, 'kill $(cat /tmp/listener.pid)');
    await eventually('the server.state event', () => watch.output.join('').includes('"to":"down"'), 15_000);
    const action = await eventually('heal.action', () => heal.about(`${P}web`).find((e) => e.event === 'heal.action'), 15_000);
    expect(action).toMatchObject({ action: 'restart', reason: 'haproxy_down', server: 'app/web1', result: 'ok' });
    expect(await startedAt(d, `${P}web`)).not.toBe(before.web);
    // Restarted, it listens again and HAProxy takes it back.
    await eventually('the server back up', () => watch.output.join('').includes('"to":"up"'), 15_000);
  }, 40_000);

  test("a container inside its HEALTHCHECK's start period, or paused, is not acted on, and heal says why", async () => {
    // Paused, its HEALTHCHECK cannot run and the engine soon calls it unhealthy too: neither trigger may act.
    // It stays paused until afterAll removes it, so nothing restarts it once the test is over.
    await d.getContainer(`${P}paused`).pause();
    for (const check of ['young', 'paused']) {
      const body = JSON.stringify({ check, from: 'healthy', to: 'unhealthy', at: new Date().toISOString(), message: 'failing' });
      expect((await post(heal.url, body, signatureHeaders(SECRET, body))).status).toBe(202);
    }
    const young = await eventually('heal.skipped young', () => heal.about(`${P}young`).find((e) => e.event === 'heal.skipped'), 15_000);
    expect(young).toMatchObject({ reason: 'starting', trigger: 'probe_failing' });
    const paused = await eventually('heal.skipped paused', () => heal.about(`${P}paused`).find((e) => e.event === 'heal.skipped'), 15_000);
    expect(paused).toMatchObject({ reason: 'paused' });
    await sleep(2000);
    expect(heal.about(`${P}young`).concat(heal.about(`${P}paused`)).filter((e) => e.event === 'heal.action')).toEqual([]);
    expect(await startedAt(d, `${P}young`)).toBe(before.young);
    expect(await startedAt(d, `${P}paused`)).toBe(before.paused);
  });

  test('unsigned, badly signed, stale, replayed and wrongly authorised events get 401, are counted, and change nothing', async () => {
    const failing = JSON.stringify({ check: 'victim', from: 'healthy', to: 'unhealthy', at: new Date().toISOString(), message: 'forged' });
    const now = Date.now();
    const answers = [
      await post(heal.url, failing, {}),
      await post(heal.url, failing, { 'x-sidekick-timestamp': String(Math.floor(now / 1000)), 'x-sidekick-signature': signBody('not-the-secret-at-all', Math.floor(now / 1000), failing) }),
      await post(heal.url, failing, signatureHeaders(SECRET, failing, now - 10 * 60_000)),
      await post(heal.url, failing, { authorization: 'Bearer not-the-token' }),
      // Signed for another body: the signature covers the body.
      await post(heal.url, failing, signatureHeaders(SECRET, failing.replace('forged', 'other'), now)),
    ];
    expect(answers.map((a) => [a.status, a.body.reason])).toEqual([
      [401, 'unsigned'],
      [401, 'bad_signature'],
      [401, 'stale'],
      [401, 'bad_token'],
      [401, 'bad_signature'],
    ]);
    // A valid request, replayed byte for byte.
    const harmless = JSON.stringify({ check: 'victim', from: 'unhealthy', to: 'healthy' });
    const headers = signatureHeaders(SECRET, harmless);
    expect((await post(heal.url, harmless, headers)).status).toBe(202);
    expect(await post(heal.url, harmless, headers)).toEqual({ status: 401, body: expect.objectContaining({ reason: 'replayed' }) });
    // The bearer token is accepted.
    expect((await post(heal.url, JSON.stringify({ event: 'haproxy.reload' }), { authorization: `Bearer ${TOKEN}` })).status).toBe(202);

    await sleep(2000);
    expect(await startedAt(d, `${P}target`)).toBe(before.target);
    expect(heal.about(`${P}target`)).toEqual([]);
    const metrics = await (await fetch(`${heal.url}/metrics`)).text();
    for (const [reason, n] of [
      ['unsigned', 1],
      ['bad_signature', 2],
      ['stale', 1],
      ['bad_token', 1],
      ['replayed', 1],
    ] as const) {
      expect(metrics).toMatch(new RegExp(`sidekick_heal_events_rejected_total\\{reason="${reason}"[^}]*\\} ${n}\\n`));
    }
  });
});
