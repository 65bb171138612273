// recreate on the real engine: the new container keeps the old one's name, labels, env, mounts (bind, named and
// anonymous volumes, with their data), networks and aliases, restart policy and healthcheck, and works; a
// compose-created container is still compose's afterwards (docker-compose 1.29 and compose v2, when installed, see
// it up to date).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { eventually, tempDir } from '../support/wait';
import { composeCommands } from '../support/docker';
import { BUILD_TIMEOUT_MS, SOCKET, describeWithDocker, docker, exec, inspect, removeContainers, removeStale, runContainer, runHeal, testImage, waitForHealth, type RunningHeal } from './helpers';
import { RECREATE_CALLS, socketProxy, type SocketProxy } from './socket-proxy';

const P = `heal-r${process.pid}-`;
const LABEL = `heal-r${process.pid}`;
const composes = composeCommands();
const project = (argv: string[]): string => `healr${process.pid}-${argv.length}`;

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

describeWithDocker('sidekick-heal recreate', () => {
  let d: Docker;
  let heal: RunningHeal;
  let dir: string;
  let proxy: SocketProxy;
  // Anonymous volumes heal reattached by name: `docker rm -v` no longer removes them, so this test does.
  const reattached: string[] = [];

  beforeAll(async () => {
    d = docker();
    await testImage();
    dir = tempDir('sidekick-heal-recreate-');
    for (const prefix of ['heal-r', 'healr']) await removeStale(prefix);
    await removeContainers(d, P);
    // Through a socket proxy that allows only the calls the README lists for recreating.
    proxy = await socketProxy(SOCKET, RECREATE_CALLS);
    heal = await runHeal(`docker_host: ${proxy.url}\nlabel: ${LABEL}\naction: recreate\nmin_interval: 1m\nstop_timeout: 1s\nresync: 0\n`);
    for (const n of ['a', 'b']) await d.createNetwork({ Name: `${P}${n}` });
    await d.createVolume({ Name: `${P}data` });
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await heal?.stop();
    await proxy?.close();
    if (!d) return;
    for (const c of composes) if (!c.missing) spawnSync(c.argv[0], [...c.argv.slice(1), '-p', project(c.argv), 'down', '-v', '-t', '1'], { cwd: dir });
    await removeContainers(d, P);
    for (const n of ['a', 'b']) await d.getNetwork(`${P}${n}`).remove().catch(() => undefined);
    for (const v of [`${P}data`, ...reattached]) await d.getVolume(v).remove().catch(() => undefined);
  });

  test('the new container has the same name, configuration, mounts and data, networks and aliases, and works', async () => {
    const name = `${P}app`;
    writeFileSync(join(dir, 'app.conf'), 'setting=1\n');
    const oldId = await runContainer(d, {
      name,
      labels: { [LABEL]: 'true', 'com.example.team': 'shop' },
      network: `${P}a`,
      extra: {
        Env: ['GREETING=hello'],
        Volumes: { '/cache': {} },
        HostConfig: { Binds: [`${dir}:/conf:ro`, `${P}data:/data`], RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 } },
        NetworkingConfig: { EndpointsConfig: { [`${P}a`]: { Aliases: ['app-alias'] } } },
      },
    });
    await d.getNetwork(`${P}b`).connect({ Container: oldId, EndpointConfig: { Aliases: ['app-b'] } });
    await runContainer(d, { name: `${P}sidecar`, network: `container:${oldId}` });
    await waitForHealth(d, name, 'healthy');
    exec(name, 'echo kept > /data/file && echo kept > /cache/file');
    const old = await inspect(d, name);
    reattached.push(...old.Mounts.filter((m) => m.Destination === '/cache').map((m) => m.Name!));

    exec(name, 'rm /tmp/healthy');
    const action = await eventually('heal.action', () => heal.about(name).find((e) => e.event === 'heal.action'), 20_000);
    expect(action).toMatchObject({ action: 'recreate', reason: 'unhealthy', result: 'ok', new_id: expect.any(String), dependents: [`${P}sidecar`] });

    const now = await inspect(d, name);
    expect(now.Id).not.toBe(oldId);
    expect(now.Id.startsWith((action as { new_id: string }).new_id)).toBe(true);
    expect(now.Config.Labels).toEqual(old.Config.Labels);
    expect(now.Config.Env).toEqual(old.Config.Env);
    expect(now.Config.Healthcheck).toEqual(old.Config.Healthcheck);
    expect(now.Config.Cmd).toEqual(old.Config.Cmd);
    expect(now.HostConfig.RestartPolicy).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
    const mounts = (i: typeof now) => i.Mounts.map((m) => ({ type: m.Type, name: m.Name, source: m.Type === 'bind' ? m.Source : undefined, to: m.Destination, rw: m.RW })).sort((x, y) => x.to.localeCompare(y.to));
    expect(mounts(now)).toEqual(mounts(old));
    expect(sh('docker', ['exec', name, 'cat', '/data/file', '/cache/file', '/conf/app.conf'])).toBe('kept\nkept\nsetting=1\n');
    const aliases = (i: typeof now, net: string) => (i.NetworkSettings.Networks[net]!.Aliases as string[]).filter((a) => !i.Id.startsWith(a)).sort();
    expect(Object.keys(now.NetworkSettings.Networks).sort()).toEqual([`${P}a`, `${P}b`]);
    expect(aliases(now, `${P}a`)).toEqual(aliases(old, `${P}a`));
    expect(aliases(now, `${P}b`)).toEqual(aliases(old, `${P}b`));
    // It works: healthy again, and its aliases resolve to it for its neighbours.
    await waitForHealth(d, name, 'healthy');
    await runContainer(d, { name: `${P}neighbour`, network: `${P}b` });
    expect(sh('docker', ['exec', `${P}neighbour`, 'getent', 'hosts', 'app-b']).split(/\s+/)[0]).toBe(now.NetworkSettings.Networks[`${P}b`]!.IPAddress);
    // The sidekick in its network namespace was recreated into the new one's.
    expect((await inspect(d, `${P}sidecar`)).HostConfig.NetworkMode).toBe(`container:${now.Id}`);
    expect(sh('docker', ['exec', `${P}sidecar`, 'readlink', '/proc/self/ns/net'])).toBe(sh('docker', ['exec', name, 'readlink', '/proc/self/ns/net']));
    // The old one is gone, not left aside.
    await expect(d.getContainer(oldId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 60_000);

  for (const compose of composes)
    (compose.missing ? test.skip : test)(`a compose service container is recreated as one ${compose.name} still owns and finds up to date${compose.missing ? ` [skipped: ${compose.missing}]` : ''}`, async () => {
    const dc = (...args: string[]): string => sh(compose.argv[0], [...compose.argv.slice(1), '-p', project(compose.argv), ...args], dir);
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      `version: "2.4"
services:
  svc:
    image: ${await testImage()}
    command: ["sh", "-c", "touch /tmp/healthy; exec sleep infinity"]
    init: true
    labels: { ${LABEL}: "true" }
    healthcheck: { test: ["CMD-SHELL", "test -f /tmp/healthy"], interval: 1s, retries: 1 }
`,
    );
    dc('up', '-d');
    const id = dc('ps', '-q', 'svc').trim();
    const name = (await d.getContainer(id).inspect()).Name.slice(1);
    await waitForHealth(d, name, 'healthy');
    exec(name, 'rm /tmp/healthy');
    await eventually('heal.action', () => heal.about(name).find((e) => e.event === 'heal.action' && e.result === 'ok'), 20_000);
    const newId = dc('ps', '-q', 'svc').trim();
    expect(newId).not.toBe(id);
    expect(newId).toBe((await inspect(d, name)).Id);
    // `up` again changes nothing: compose recognises the container as its own, with the same configuration
    // (1.29 says "is up-to-date", v2 "Running"; neither creates or recreates).
    const up = spawnSync(compose.argv[0], [...compose.argv.slice(1), '-p', project(compose.argv), 'up', '-d'], { cwd: dir, encoding: 'utf8' });
    expect([up.status, up.stderr]).toEqual([0, expect.stringMatching(/is up-to-date|Running/)]);
    expect(up.stderr).not.toMatch(/Recreat|Creat/);
    expect(dc('ps', '-q', 'svc').trim()).toBe(newId);
  }, 60_000);

  test('it all went through a socket proxy that allows only the calls recreating needs', () => {
    expect(proxy.denied).toEqual([]);
  });
});
