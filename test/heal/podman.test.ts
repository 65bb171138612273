// sidekick-heal on Podman's Docker-compatible API: a `podman system service` of this test's own on a private socket,
// a container on the project's base image (copied in from Docker once, then kept in Podman's storage), and heal
// restarting it when it turns unhealthy. Two things of a machine without systemd or CAP_SYS_RESOURCE (the README's
// Podman paragraph): the container gets rlimits within the host's hard limits (Podman's own defaults for root are
// above them, and runc fails with "error setting rlimit type 7"), and `podman healthcheck run` runs the check that
// systemd timers would. Skipped with the reason where Podman is not installed or not run as root.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { eventually, tempDir } from '../support/wait';
import { BUILD_TIMEOUT_MS, runHeal, testImage, type RunningHeal } from './helpers';

const NAME = `heal-p${process.pid}-app`;
const LABEL = `heal-p${process.pid}`;

function podman(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', input, timeout: 300_000, maxBuffer: 1 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function podmanMissing(): string | undefined {
  if (process.env.SIDEKICK_TEST_NO_DOCKER === '1') return 'SIDEKICK_TEST_NO_DOCKER=1';
  if (spawnSync('podman', ['--version']).status !== 0) return 'podman is not installed (apt-get install -y podman)';
  if (process.getuid?.() !== 0) return 'podman as root only here';
  return undefined;
}

const startedAt = (): string => podman(['inspect', '--format', '{{.State.StartedAt}}', NAME]).stdout.trim();

const missing = podmanMissing();
(missing ? describe.skip : describe)(`sidekick-heal on Podman's Docker-compatible API${missing ? ` [skipped: ${missing}]` : ''}`, () => {
  const dir = tempDir('sidekick-heal-podman-');
  const socket = join(dir, 'podman.sock');
  let service: ChildProcess | undefined;
  let heal: RunningHeal | undefined;

  beforeAll(async () => {
    const image = await testImage();
    if (podman(['image', 'exists', image]).status !== 0) {
      const r = spawnSync('sh', ['-c', 'docker save "$1" | podman load', 'sh', image], { encoding: 'utf8', timeout: 600_000 });
      if (r.status !== 0) throw new Error(`copying ${image} from Docker into Podman failed: ${r.stderr}`);
    }
    service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { stdio: 'ignore' });
    await eventually('the podman service to answer', () => ping(socket), 60_000, 250);
    podman(['rm', '-f', NAME]);
    const run = podman([
      'run', '-d', '--name', NAME, '--label', `${LABEL}=true`,
      '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=32768:32768',
      '--health-cmd', 'test -f /tmp/healthy', '--health-interval', '1h', '--health-retries', '1',
      image, 'sh', '-c', 'touch /tmp/healthy; exec sleep infinity',
    ]);
    if (run.status !== 0) throw new Error(`podman run failed: ${run.stderr}`);
    heal = await runHeal(`docker_host: unix://${socket}\nlabel: ${LABEL}\nstop_timeout: 1s\nresync: 0\n`);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await heal?.stop();
    podman(['rm', '-f', '-t', '0', NAME]);
    if (service && service.exitCode === null) {
      const exited = new Promise<void>((resolve) => service!.once('exit', () => resolve()));
      service.kill('SIGTERM');
      await exited;
    }
  }, 120_000);

  test('an opted-in container that turns unhealthy is restarted', async () => {
    expect(podman(['healthcheck', 'run', NAME]).status).toBe(0);
    const before = startedAt();
    podman(['exec', NAME, 'rm', '/tmp/healthy']);
    expect(podman(['healthcheck', 'run', NAME]).status).toBe(1);
    const action = await eventually('heal.action', () => heal!.about(NAME).find((e) => e.event === 'heal.action'), 30_000, 200);
    expect(action).toMatchObject({ action: 'restart', reason: 'unhealthy', result: 'ok' });
    expect(startedAt()).not.toBe(before);
  }, 60_000);
});

/** Whether the API on this unix socket answers GET /_ping with 200. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}
