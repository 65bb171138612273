// Test helpers for sidekick-heal: the real Docker engine, a small base image, containers whose HEALTHCHECK a file
// inside them toggles, and heal started in-process with its events collected.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { createLogger } from '../../src/common/log';
import { loadHealConfig } from '../../src/heal/config';
import { engineClient, parseDockerHost } from '../../src/heal/engine';
import type { HealEvent } from '../../src/heal/healer';
import { startHeal, type HealServer } from '../../src/heal/serve';
import { ensureBaseImage } from '../support/docker';
import { eventually, tempDir } from '../support/wait';

export { describeWithDocker, BUILD_TIMEOUT_MS, removeStale } from '../support/docker';

export const SOCKET = '/var/run/docker.sock';
let image: Promise<string> | undefined;
/**
 * The image test containers run: the project's base image (test/support/docker.ts: the official node image or
 * the offline stand-in), for its shell, coreutils and perl (Debian's essential set). Built once per machine.
 */
export function testImage(): Promise<string> {
  return (image ??= ensureBaseImage());
}

export function docker(socket = SOCKET): Docker {
  return engineClient(parseDockerHost(socket)!);
}

export interface TestContainer {
  name: string;
  labels?: Record<string, string>;
  /** The HEALTHCHECK command, run by sh; default: healthy while /tmp/healthy exists. */
  health?: string;
  /** Shell command run at start (and after each restart); default makes it healthy. */
  command?: string;
  startPeriodMs?: number;
  network?: string;
  extra?: Record<string, unknown>;
}

const SECOND = 1e9;

/** Creates and starts a container with a 1 s HEALTHCHECK (one failure makes it unhealthy); resolves to its id. */
export async function runContainer(d: Docker, c: TestContainer): Promise<string> {
  await d.getContainer(c.name).remove({ force: true }).catch(() => undefined);
  const extra = (c.extra ?? {}) as { HostConfig?: object };
  const created = await d.createContainer({
    name: c.name,
    Image: await testImage(),
    Cmd: ['sh', '-c', c.command ?? 'touch /tmp/healthy; exec sleep infinity'],
    Labels: c.labels ?? {},
    Healthcheck: { Test: ['CMD-SHELL', c.health ?? 'test -f /tmp/healthy'], Interval: SECOND, Timeout: 2 * SECOND, Retries: 1, StartPeriod: (c.startPeriodMs ?? 0) * 1e6 },
    ...extra,
    // docker-init as PID 1 passes SIGTERM on, so a restart takes milliseconds rather than the stop timeout.
    HostConfig: { Init: true, NetworkMode: c.network ?? 'bridge', ...(extra.HostConfig ?? {}) },
  });
  await created.start();
  return created.id;
}

export async function inspect(d: Docker, name: string) {
  return d.getContainer(name).inspect();
}

export async function startedAt(d: Docker, name: string): Promise<string> {
  return (await inspect(d, name)).State.StartedAt;
}

export async function health(d: Docker, name: string): Promise<string | undefined> {
  return (await inspect(d, name)).State.Health?.Status;
}

export async function waitForHealth(d: Docker, name: string, status: string, timeoutMs = 20_000): Promise<void> {
  await eventually(`${name} to be ${status}`, async () => (await health(d, name)) === status, timeoutMs, 200);
}

/** Runs a command in the container (toggles the health file). */
export function exec(name: string, command: string, socket = SOCKET): void {
  execFileSync('docker', ['-H', `unix://${socket}`, 'exec', name, 'sh', '-c', command], { stdio: 'ignore' });
}

export async function removeContainers(d: Docker, prefix: string): Promise<void> {
  const list = await d.listContainers({ all: true, filters: { name: [prefix] } });
  await Promise.all(list.filter((c) => c.Names.some((n) => n.startsWith(`/${prefix}`))).map((c) => d.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
}

const quiet = () => createLogger({ name: 'test', level: process.env.SIDEKICK_TEST_LOG ?? 'silent', destination: new Writable({ write: (c, _e, cb) => cb(void (process.env.SIDEKICK_TEST_LOG && process.stderr.write(c))) }) });

export interface RunningHeal {
  server: HealServer;
  events: HealEvent[];
  url: string;
  stop(): Promise<void>;
  /** The events about one container. */
  about(container: string): HealEvent[];
}

/** Starts heal in this process with a YAML configuration (as a user writes it) and collects its events. */
export async function runHeal(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<RunningHeal> {
  const file = join(tempDir('sidekick-heal-'), 'heal.yml');
  writeFileSync(file, `http: 127.0.0.1:0\n${yaml}`);
  const settings = loadHealConfig(file, [], env);
  const events: HealEvent[] = [];
  const server = await startHeal(settings, { logger: quiet(), events: (line) => events.push(JSON.parse(line) as HealEvent) });
  await eventually('heal to follow the engine events', () => server.healer.follower.connected, 10_000);
  return { server, events, url: server.http.url, stop: () => server.stop(), about: (c) => events.filter((e) => e.container === c) };
}
