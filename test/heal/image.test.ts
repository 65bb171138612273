// The heal image as a deployment runs it: the non-root user with the socket's group added, a read-only root file
// system and no capabilities; it restarts an opted-in container that turns unhealthy, its own HEALTHCHECK reads
// /healthz, and `docker stop` ends it with status 0.
import { statSync } from 'node:fs';
import { BUILD_TIMEOUT_MS, buildImage, docker as docker_, dockerOk } from '../support/docker';
import { eventually } from '../support/wait';
import { SOCKET, describeWithDocker, docker, exec, removeContainers, removeStale, runContainer, startedAt, waitForHealth } from './helpers';

const P = `heal-i${process.pid}-`;
const LABEL = `heal-i${process.pid}`;

describeWithDocker('the heal image', () => {
  const d = docker();
  let image = '';

  beforeAll(async () => {
    image = await buildImage('heal');
    await removeStale('heal-i');
    await removeContainers(d, P);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await removeContainers(d, P);
  });

  test('as user node with the socket group, read-only and without capabilities, it restarts an opted-in container', async () => {
    await runContainer(d, { name: `${P}app`, labels: { [LABEL]: 'true' } });
    await waitForHealth(d, `${P}app`, 'healthy');
    const before = await startedAt(d, `${P}app`);
    const gid = String(statSync(SOCKET).gid);
    // The image's own HEALTHCHECK, every 2 s instead of 10 s, with room for a slow node start on a loaded machine.
    const health = ['--health-interval', '2s', '--health-timeout', '15s'];
    await dockerOk(['run', '-d', '--name', `${P}heal`, '--read-only', '--cap-drop', 'ALL', '--group-add', gid, ...health, '-v', `${SOCKET}:/var/run/docker.sock`, image, '--label', LABEL, '--stop-timeout', '1s']);
    expect(await dockerOk(['exec', `${P}heal`, 'id', '-u'])).toBe('1000');
    await eventually('heal to follow the engine', async () => (await docker_(['logs', `${P}heal`])).stderr.includes('following the engine events'), 30_000, 250);

    exec(`${P}app`, 'rm /tmp/healthy');
    await eventually('the restart', async () => (await startedAt(d, `${P}app`)) !== before, 20_000, 250);
    const events = (await docker_(['logs', `${P}heal`])).stdout.split('\n').filter((l) => l.startsWith('{"event"'));
    expect(events.map((l) => JSON.parse(l) as object)).toEqual([expect.objectContaining({ event: 'heal.action', container: `${P}app`, action: 'restart', result: 'ok' })]);
    await waitForHealth(d, `${P}heal`, 'healthy', 60_000);

    await dockerOk(['stop', `${P}heal`]);
    expect((await d.getContainer(`${P}heal`).inspect()).State.ExitCode).toBe(0);
  }, 150_000);
});
