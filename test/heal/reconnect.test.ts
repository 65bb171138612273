// The engine restarting mid-run loses no unhealthy transition: heal follows a private dockerd of this test's own
// (never the shared one), which is stopped, and started again after the container behind it went unhealthy.
// The private dockerd runs in a network namespace of its own, so it cannot touch the host's docker0 bridge (with
// --bridge=none a dockerd deletes any link named docker0 in its namespace). Not with --live-restore: dockerd 20.10
// does not resume the HEALTHCHECKs of containers it restores, so their health would never change again.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { eventually } from '../support/wait';
import { BUILD_TIMEOUT_MS, describeWithDocker, docker, runContainer, runHeal, startedAt, testImage, type RunningHeal } from './helpers';

const NAME = `heal-c${process.pid}-app`;
const LABEL = `heal-c${process.pid}`;

function privateDockerdMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'a second dockerd needs root';
  for (const tool of ['dockerd', 'unshare']) if (spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status !== 0) return `${tool} is not installed`;
  return undefined;
}

/** A dockerd of this test's own: its own socket, data and exec roots, containerd namespace and network namespace. */
class PrivateDockerd {
  readonly dir = mkdtempSync('/tmp/heal-dockerd-');
  readonly socket = join(this.dir, 'docker.sock');
  private proc: ChildProcess | undefined;
  private readonly log = join(this.dir, 'dockerd.log');

  async start(): Promise<void> {
    const ns = `sidekick-heal-test-${process.pid}`;
    const args = ['--net', 'dockerd', '--host', `unix://${this.socket}`, '--data-root', join(this.dir, 'data'), '--exec-root', join(this.dir, 'x'), '--pidfile', join(this.dir, 'dockerd.pid')];
    args.push('--bridge=none', '--iptables=false', '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}-plugins`);
    writeFileSync(this.log, '', { flag: 'a' });
    this.proc = spawn('unshare', args, { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
    await eventually('the private dockerd to answer', () => this.cli(['version', '--format', '{{.Server.Version}}']).status === 0, 60_000, 250);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    await exited;
  }

  cli(args: string[], input?: string | Buffer) {
    return spawnSync('docker', ['-H', `unix://${this.socket}`, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 20 });
  }

  /** Copies an image from the shared engine into this one. */
  load(image: string): void {
    const r = spawnSync('sh', ['-c', `docker save "$1" | docker -H "unix://$2" load`, 'sh', image, this.socket], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`loading ${image} into the private dockerd failed: ${r.stderr}`);
  }

  /** Stops it and removes what it left: its containers, the mounts under its directories, the directories. */
  async destroy(): Promise<void> {
    this.cli(['rm', '-f', NAME]);
    await this.stop();
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m): m is string => !!m && m.startsWith(this.dir))
      .reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const missing = privateDockerdMissing();
(missing && process.env.CI !== 'true' ? describe.skip : describeWithDocker)(`sidekick-heal across an engine restart${missing ? ` [skipped: ${missing}]` : ''}`, () => {
  let engine: PrivateDockerd;
  let d: Docker;
  let heal: RunningHeal;
  let healthy: string;

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    engine = new PrivateDockerd();
    await engine.start();
    engine.load(await testImage());
    d = docker(engine.socket);
    // The health file lives on the host, so it can be removed while the engine is down; the engine starts the
    // container again when it comes back (restart policy), unhealthy from then on.
    healthy = join(engine.dir, 'state', 'healthy');
    mkdirSync(join(engine.dir, 'state'));
    writeFileSync(healthy, '');
    await runContainer(d, {
      name: NAME,
      labels: { [LABEL]: 'true' },
      network: 'none',
      health: 'test -f /state/healthy',
      command: 'exec sleep infinity',
      extra: { HostConfig: { Binds: [`${join(engine.dir, 'state')}:/state`], RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } },
    });
    heal = await runHeal(`docker_host: unix://${engine.socket}\nlabel: ${LABEL}\nmin_interval: 1s\nstop_timeout: 1s\nresync: 0\n`);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await heal?.stop();
    await engine?.destroy();
  });

  test('heal reconnects after the engine restarts, rescans, and restarts the container that came back unhealthy', async () => {
    await eventually('healthy', async () => (await d.getContainer(NAME).inspect()).State.Health?.Status === 'healthy', 20_000, 200);

    await engine.stop();
    await eventually('heal to notice', () => !heal.server.healer.follower.connected, 10_000);
    expect((await fetch(`${heal.url}/healthz`)).status).toBe(503);
    unlinkSync(healthy);
    await engine.start();
    const restartedByEngine = await startedAt(d, NAME);

    const action = await eventually('heal.action', () => heal.about(NAME).find((e) => e.event === 'heal.action'), 40_000, 200);
    expect(action).toMatchObject({ action: 'restart', reason: 'unhealthy', result: 'ok' });
    expect(await startedAt(d, NAME)).not.toBe(restartedByEngine);
    expect((await fetch(`${heal.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${heal.url}/metrics`)).text()).toMatch(/sidekick_heal_engine_disconnects_total\{[^}]*\} 1\n/);
  }, 120_000);
});
