// The container images and the ELK demo compose file, checked statically (test/containers/ runs them on a real
// Docker engine), and the compose file's reference deployment run as local processes: the same commands and configuration files, with
// container paths mapped to temp directories and service names to loopback ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadProbeConfig } from '../src/probe/config';
import { NODE_FLAGS } from '../src/ship/heap';
import { describeWithEngine, esRequest, getEngine, refresh } from './support/engine';
import { eventually as until, freePort, tempDir } from './support/wait';

const root = join(__dirname, '..');
const HAPROXY = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p)) ?? 'haproxy';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target: string };
  command?: string[];
  volumes?: string[];
  network_mode?: string;
  depends_on?: unknown;
}
const compose = parse(readFileSync(join(root, 'docker-compose.elk.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const dockerfile = readFileSync(join(root, 'images', 'Dockerfile'), 'utf8');

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (m) out.push({ from: m[1], name: m[2] ?? '', lines: [] });
    else out[out.length - 1]?.lines.push(line);
  }
  return out;
}

describe('images/Dockerfile', () => {
  const all = stages(dockerfile);
  const byName = new Map(all.map((s) => [s.name, s]));
  const chain = (s: Stage): Stage[] => (byName.has(s.from) ? [s, ...chain(byName.get(s.from)!)] : [s]);

  it.each([
    ['ship', 'sidekick-ship'],
    ['probe', 'sidekick-probe'],
    ['haproxy', 'sidekick-haproxy'],
    ['heal', 'sidekick-heal'],
    ['sidekick', 'sidekick'],
  ])('target %s runs %s, a built entry point, as a non-root user', (target, bin) => {
    const stage = byName.get(target);
    expect(stage).toBeDefined();
    const entry = stage!.lines.find((l) => l.startsWith('ENTRYPOINT'));
    // under tini, node runs the built entry point, directly or through a script of images/ that execs it
    const script = /^ENTRYPOINT \["tini", "--", "([\w-]+)"\]$/.exec(entry ?? '')?.[1];
    if (script) {
      const copy = chain(stage!).flatMap((s) => s.lines).find((l) => l.startsWith('COPY ') && l.endsWith(`/${script}`));
      expect(readFileSync(join(root, copy!.split(/\s+/)[1]), 'utf8')).toContain(`exec node /app/dist/cmd/${bin}.js "$@"`);
    } else {
      // The shipper's Node flags (the young generation's size) are given where it can run: ship and sidekick.
      const flags = bin === 'sidekick-ship' || bin === 'sidekick' ? NODE_FLAGS : [];
      expect(entry).toBe(`ENTRYPOINT ${JSON.stringify(['tini', '--', 'node', ...flags, `/app/dist/cmd/${bin}.js`]).replace(/","/g, '", "')}`);
    }
    expect(existsSync(join(root, 'dist', 'cmd', `${bin}.js`))).toBe(true);
    const users = chain(stage!).flatMap((s) => s.lines.filter((l) => l.startsWith('USER')).reverse());
    expect(users[0]).toBe('USER node'); // the last USER instruction wins
  });

  it('copies only files that exist in the repository, and builds what package.json builds', () => {
    for (const s of all)
      for (const l of s.lines.filter((x) => x.startsWith('COPY') && !x.includes('--from'))) {
        const parts = l.split(/\s+/).slice(1, -1);
        for (const p of parts) expect([p, existsSync(join(root, p))]).toEqual([p, true]);
      }
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(dockerfile).toContain('RUN npm run build');
    expect(pkg.scripts.build).toContain('tsconfig.build.json');
  });

  it('the compose file builds only targets that exist and mounts only files that exist', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.build) {
        expect([name, byName.has(svc.build.target)]).toEqual([name, true]);
        expect(svc.build.dockerfile).toBe('images/Dockerfile');
      } else expect([name, typeof svc.image]).toEqual([name, 'string']);
      for (const v of svc.volumes ?? []) {
        const [src] = v.split(':');
        if (src.startsWith('.')) expect([v, existsSync(join(root, src))]).toEqual([v, true]);
        // The one host path a service may mount: the engine's socket, for heal.
        else if (src.startsWith('/')) expect([name, src]).toEqual(['heal', '/var/run/docker.sock']);
        else expect([v, src in compose.volumes]).toEqual([v, true]);
      }
    }
  });

  it('images/demo/checks.yml is a valid sidekick-probe configuration', () => {
    expect(loadProbeConfig(join(root, 'images/demo/checks.yml'), [], {}).checks.map((c) => c.name)).toEqual(['worker-heartbeat', 'app-http']);
  });

  it('examples/checks.yml has no mistake but the files it names that only exist in a real deployment', () => {
    let message = '';
    try {
      loadProbeConfig(join(root, 'examples/checks.yml'), [], {});
    } catch (err) {
      message = (err as Error).message;
    }
    const issues = message.split(/\n\s*/).filter((l) => l && !l.endsWith('examples/checks.yml:'));
    for (const issue of issues) expect(issue).toMatch(/ENOENT$/);
  });

  it('the demo HAProxy configuration is valid for HAProxy', () => {
    const r = spawnSync(HAPROXY, ['-c', '-f', join(root, 'images/demo/haproxy.cfg')], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toContain('Configuration file is valid');
    expect(r.status).toBe(0);
  });
});

// ---- the reference deployment as local processes ----

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
}

function start(name: string, cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, child, out: '', err: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.err += d.toString()));
  return p;
}

async function stop(p: Proc): Promise<number | null> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  return p.exited;
}

async function json<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

describeWithEngine('the compose deployment, run as local processes', () => {
  const dir = tempDir('sidekick-deployment-');
  const volumes: Record<string, string> = {};
  for (const v of Object.keys(compose.volumes)) mkdirSync((volumes[v] = join(dir, 'volumes', v)), { recursive: true });
  const procs: Proc[] = [];
  let app: Server;
  let appPort = 0;
  const ports: Record<string, number> = {};

  /** A container path of `service` as a local path, through that service's volumes. */
  function hostPath(service: string, containerPath: string): string {
    for (const v of compose.services[service].volumes ?? []) {
      const [src, dst] = v.split(':');
      if (containerPath === dst || containerPath.startsWith(dst + '/')) {
        const base = src.startsWith('.') ? join(root, src) : volumes[src];
        return base + containerPath.slice(dst.length);
      }
    }
    throw new Error(`${containerPath} is not on a volume of ${service}`);
  }

  /** The service's compose command with container paths, service names and published addresses made local. */
  function localCommand(service: string, rewrite: (arg: string) => string = (a) => a): string[] {
    const es = getEngine().url;
    return compose.services[service].command!.map((arg) => {
      let a = arg.replace('http://elasticsearch:9200', es);
      if (a.startsWith('/')) a = hostPath(service, a);
      return rewrite(a);
    });
  }

  const logFile = (): string => hostPath('app', '/var/log/app/app.log');
  const heartbeat = (): string => hostPath('app', '/var/run/app/heartbeat');
  let lines = 0;
  let writer: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    // The app: an HTTP port and a worker that writes a log line and touches its heartbeat while alive.
    app = createHttpServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appPort = (app.address() as AddressInfo).port;
    for (const k of ['probeApi', 'agent', 'ship', 'watch', 'lb']) ports[k] = await freePort();
    const beat = (): void => {
      appendFileSync(logFile(), `${new Date().toISOString()} INFO  [worker] processed job ${++lines}\n`);
      writeFileSync(heartbeat(), '');
    };
    beat();
    writer = setInterval(beat, 50);
  });

  afterAll(async () => {
    clearInterval(writer);
    for (const p of procs.reverse()) await stop(p);
    await new Promise<void>((resolve) => app?.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('ship-setup, then ship: every line the app writes is stored once in the default data stream', async () => {
    const setup = spawnSync(process.execPath, [join(root, 'dist/cmd/sidekick-ship.js'), ...localCommand('ship-setup')], { encoding: 'utf8' });
    expect([setup.status, setup.stderr]).toEqual([0, expect.any(String)]);

    const args = localCommand('ship', (a) => a.replace('0.0.0.0:5066', `127.0.0.1:${ports.ship}`));
    const ship = start('ship', process.execPath, [join(root, 'dist/cmd/sidekick-ship.js'), ...args]);
    procs.push(ship);
    const index = 'logs-sidekick-default';
    const query = { query: { term: { 'log.file.path': logFile() } } };
    await until('40 lines written', () => lines >= 40);
    clearInterval(writer);
    writer = undefined;
    const written = lines;
    await until(
      `all ${written} lines stored`,
      async () => {
        await refresh(index);
        const r = await esRequest<{ count: number }>('POST', `/${index}/_count`, query);
        return r.body.count === written;
      },
      60_000,
      100,
    );
    const ids = await esRequest<{ aggregations: { ids: { value: number } } }>('POST', `/${index}/_search`, { ...query, size: 0, aggs: { ids: { cardinality: { field: 'log.offset' } } } });
    expect(ids.body.aggregations.ids.value).toBe(written);
    expect((await fetch(`http://127.0.0.1:${ports.ship}/healthz`)).status).toBe(200);
    // the worker keeps writing for the later tests
    writer = setInterval(() => {
      appendFileSync(logFile(), `${new Date().toISOString()} INFO  [worker] processed job ${++lines}\n`);
      writeFileSync(heartbeat(), '');
    }, 50);
  });

  it('probe, lb and haproxy-sidekick: a stale heartbeat takes the app out of HAProxy and back, pushed as events', async () => {
    // The demo's checks.yml with test-sized timings, and the app's HTTP port where the app listens here.
    const checks = parse(readFileSync(hostPath('probe', '/etc/sidekick/checks.yml'), 'utf8')) as { checks: Record<string, unknown>[] };
    for (const c of checks.checks) {
      Object.assign(c, { interval: '200ms', start_period: '0s', rise: 1, fall: 2 });
      if (c.kind === 'file') c.path = heartbeat();
      // Long enough that a busy machine stalling the heartbeat writer does not flap the check; going stale below is
      // a file 60 s old, so nothing waits on it.
      if (c.kind === 'file') c.max_age = '5s';
      if (typeof c.url === 'string') c.url = c.url.replace('127.0.0.1:8000', `127.0.0.1:${appPort}`);
    }
    const checksFile = join(dir, 'checks.yml');
    writeFileSync(checksFile, JSON.stringify(checks));
    const probeArgs = localCommand('probe').map((a) => (a.endsWith('checks.yml') ? checksFile : a));
    const probe = start('probe', process.execPath, [join(root, 'dist/cmd/sidekick-probe.js'), ...probeArgs, '--http', `127.0.0.1:${ports.probeApi}`, '--agent', `127.0.0.1:${ports.agent}`]);
    procs.push(probe);
    await until('probe healthy', async () => (await fetch(`http://127.0.0.1:${ports.probeApi}/readyz`).catch(() => undefined))?.status === 200);

    // The demo's haproxy.cfg with the app and its sidekick on loopback and faster checks.
    const cfg = readFileSync(join(root, 'images/demo/haproxy.cfg'), 'utf8')
      .replaceAll('/var/lib/haproxy', hostPath('lb', '/var/lib/haproxy'))
      .replace('bind :80', `bind 127.0.0.1:${ports.lb}`)
      .replace('app:8000', `127.0.0.1:${appPort}`)
      .replace('agent-port 8081', `agent-port ${ports.agent}`)
      .replaceAll('inter 2s', 'inter 200ms');
    const cfgFile = join(dir, 'haproxy.cfg');
    writeFileSync(cfgFile, cfg);
    const lb = start('lb', HAPROXY, ['-f', cfgFile, '-db']);
    procs.push(lb);

    const watchArgs = localCommand('haproxy-sidekick', (a) => a.replace('0.0.0.0:9101', `127.0.0.1:${ports.watch}`).replace(/^2s$/, '300ms'));
    const watch = start('haproxy-sidekick', process.execPath, [join(root, 'dist/cmd/sidekick-haproxy.js'), ...watchArgs]);
    procs.push(watch);

    type Item = { proxy: string; server?: string; type: string; state: string };
    const app1 = async (): Promise<Item | undefined> => {
      const r = await fetch(`http://127.0.0.1:${ports.watch}/state`).catch(() => undefined);
      if (!r || r.status !== 200) return undefined;
      const body = (await r.json()) as { items: Item[] };
      return body.items.find((x) => x.proxy === 'app' && x.server === 'app1');
    };
    // The watcher's complete output lines; only those after `since` of them count, so each step waits for its own transition.
    const lines = (): string[] => watch.out.split('\n').slice(0, -1);
    const serverEvent = (from: string, to: string, since: number): Record<string, unknown> | undefined =>
      lines()
        .slice(since)
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.event === 'server.state' && e.proxy === 'app' && e.server === 'app1' && e.from === from && e.to === to);
    await until('app/app1 up in HAProxy', async () => (await app1())?.state === 'up');

    // The worker stops: its heartbeat goes stale, the probe turns unhealthy, HAProxy's agent check takes it out.
    clearInterval(writer);
    writer = undefined;
    const beforeStale = lines().length;
    const old = Date.now() / 1000 - 60;
    utimesSync(heartbeat(), old, old);
    await until('probe unhealthy', async () => (await json(`http://127.0.0.1:${ports.probeApi}/healthz`)).status === 503);
    const downEvent = await until('a server.state event app/app1 up → down', () => serverEvent('up', 'down', beforeStale));
    expect(downEvent.status).toMatch(/^DOWN/);
    expect(probe.out).toContain('"to":"unhealthy"');

    // It comes back.
    const beforeFresh = lines().length;
    writeFileSync(heartbeat(), '');
    writer = setInterval(() => writeFileSync(heartbeat(), ''), 100);
    await until('a server.state event app/app1 down → up', () => serverEvent('down', 'up', beforeFresh));
    expect((await app1())?.state).toBe('up');

    for (const p of [watch, probe]) expect([p.name, await stop(p)]).toEqual([p.name, 0]);
  });
});
