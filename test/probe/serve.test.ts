// `serve` end to end in process: the HTTP API, state-change events, webhooks (good, broken and flaky receivers),
// heartbeat pushes, and a clean stop on SIGTERM of the built CLI.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/common/log';
import { loadProbeConfig } from '../../src/probe/config';
import { serve, type Server, type StateEvent } from '../../src/probe/serve';
import { CLI, closedPort, httpServer, tcpServer, tempDir, waitUntil } from './helpers';
import { readBody } from '../support/http';

const quietLogger = () => createLogger({ name: 'test', level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

function makeStale(file: string): void {
  const old = new Date(Date.now() - 60_000);
  utimesSync(file, old, old);
}

describe('serve', () => {
  let dir: string;
  let heartbeat: string;
  let server: Server | undefined;
  const events: StateEvent[] = [];
  const received: { path: string; body: string }[] = [];
  const pushes: string[] = [];
  let brokenCalls = 0;
  let flakyCalls = 0;
  let receiver: Awaited<ReturnType<typeof httpServer>>;
  let tcp: Awaited<ReturnType<typeof tcpServer>>;
  // The worker's heartbeat, touched every 200 ms while it is alive, so the check stays healthy however slowly the
  // tests run on a loaded machine; the test that wants it stale stops it and backdates the file.
  let beating = true;
  let beat: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    dir = tempDir();
    heartbeat = join(dir, 'heartbeat');
    writeFileSync(heartbeat, '');
    beat = setInterval(() => beating && writeFileSync(heartbeat, 'alive'), 200);
    receiver = await httpServer(async (req, res) => {
      const body = (await readBody(req)).toString();
      if (req.url?.startsWith('/push')) {
        pushes.push(req.url);
        return res.end('ok');
      }
      if (req.url === '/broken') {
        brokenCalls++;
        return res.writeHead(500).end('no');
      }
      if (req.url === '/flaky' && ++flakyCalls <= 2) return res.writeHead(503).end('later');
      received.push({ path: req.url ?? '', body });
      res.writeHead(204).end();
    });
    tcp = await tcpServer((s) => s.end());
    const base = `http://127.0.0.1:${receiver.port}`;
    const cfg = join(dir, 'checks.yml');
    writeFileSync(
      cfg,
      `http: 127.0.0.1:0
history: 5
webhook_attempts: 3
webhooks:
  - ${base}/good
  - ${base}/broken
  - ${base}/flaky
  - http://127.0.0.1:${await closedPort()}/refused
checks:
  - name: worker
    kind: file
    path: ${heartbeat}
    max_age: 5s
    interval: 200ms
    fall: 2
    role: readiness
    push: ${base}/push?check={check}&msg={message}
  - name: port
    kind: tcp
    target: 127.0.0.1:${tcp.port}
    interval: 200ms
    role: liveness
`,
    );
    server = await serve(loadProbeConfig(cfg), { logger: quietLogger(), events: (line) => events.push(JSON.parse(line) as StateEvent) });
  });

  afterAll(async () => {
    clearInterval(beat);
    await server?.stop();
    await receiver.close();
    await tcp.close();
  });

  it('reports ready and alive once the checks pass', async () => {
    await waitUntil('both checks healthy', () => events.filter((e) => e.to === 'healthy').length === 2);
    const ready = await get(`${server!.http.url}/readyz`);
    const live = await get(`${server!.http.url}/healthz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ok', checks: [{ check: 'worker', state: 'healthy', ok: true }] });
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toMatchObject({ status: 'ok', detail: [{ check: 'port', state: 'healthy' }] });
  });

  it('calls the heartbeat URL while healthy, with the placeholders filled', async () => {
    await waitUntil('a heartbeat push arrived', () => pushes.length >= 2);
    expect(pushes[0]).toMatch(/^\/push\?check=worker&msg=.*heartbeat%20modified/);
  });

  it('goes not-ready (503, with the reason) when the heartbeat goes stale, while staying alive', async () => {
    beating = false;
    makeStale(heartbeat);
    await waitUntil('worker unhealthy', () => events.some((e) => e.check === 'worker' && e.to === 'unhealthy'));
    const ready = await get(`${server!.http.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'unhealthy', checks: [{ check: 'worker', state: 'unhealthy', ok: false, message: expect.stringMatching(/heartbeat is 1m(\d+s)? old > 5s$/) }] });
    expect((await get(`${server!.http.url}/healthz`)).status).toBe(200);
    // A push sent just before the fall may still be on its way; after that, five intervals pass with none.
    await new Promise((r) => setTimeout(r, 1000));
    const pushesWhenDown = pushes.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(pushes.length).toBe(pushesWhenDown);
  });

  it('prints every state change as a JSON line with check, from, to, at and message', () => {
    const down = events.find((e) => e.check === 'worker' && e.to === 'unhealthy')!;
    expect(Object.keys(down)).toEqual(['check', 'from', 'to', 'at', 'message']);
    expect(down).toMatchObject({ from: 'healthy', to: 'unhealthy' });
    expect(new Date(down.at).toISOString()).toBe(down.at);
  });

  it('delivers events to webhooks: once each to a good one, after retries to a flaky one; a broken one is retried and given up', async () => {
    await waitUntil('good webhook got 3 events', () => received.filter((r) => r.path === '/good').length >= 3);
    await waitUntil('flaky webhook got its first event after two failures', () => received.some((r) => r.path === '/flaky'));
    const good = received.filter((r) => r.path === '/good').map((r) => JSON.parse(r.body) as StateEvent);
    expect(good.map((e) => `${e.check}:${e.from}->${e.to}`).sort()).toEqual(['port:starting->healthy', 'worker:healthy->unhealthy', 'worker:starting->healthy']);
    expect(flakyCalls).toBeGreaterThanOrEqual(3);
    await waitUntil('the broken webhook was tried 3 times for the first event', () => brokenCalls >= 3);
  });

  it('keeps running the checks while webhooks fail, and recovers', async () => {
    const runsBefore = server!.scheduler.checks[0].runs;
    beating = true;
    await waitUntil('worker healthy again', () => events.some((e) => e.check === 'worker' && e.from === 'unhealthy' && e.to === 'healthy'));
    expect(server!.scheduler.checks[0].runs).toBeGreaterThan(runsBefore);
    await waitUntil('the good webhook got the recovery', () => received.some((r) => r.path === '/good' && r.body.includes('"from":"unhealthy"')));
    expect((await get(`${server!.http.url}/readyz`)).status).toBe(200);
  });

  it('shows state, counters and the last results on /checks', async () => {
    const body = JSON.parse((await get(`${server!.http.url}/checks`)).body) as { checks: Record<string, unknown>[] };
    const worker = body.checks.find((c) => c.check === 'worker') as { state: string; counters: { runs: number; failures: number; state_changes: number }; history: unknown[]; kind: string };
    expect(worker).toMatchObject({ kind: 'file', state: 'healthy' });
    expect(worker.counters.runs).toBeGreaterThan(5);
    expect(worker.counters.failures).toBeGreaterThanOrEqual(2);
    expect(worker.counters.state_changes).toBe(3);
    expect(worker.history).toHaveLength(5);
  });

  it('exposes Prometheus metrics labelled by check', async () => {
    const text = (await get(`${server!.http.url}/metrics`)).body;
    expect(text).toMatch(/^probe_success\{check="port",kind="tcp",program="sidekick-probe"\} 1$/m);
    expect(text).toMatch(/^probe_duration_seconds\{check="worker",kind="file",program="sidekick-probe"\} [\d.e-]+$/m);
    expect(text).toMatch(/^probe_state_changes_total\{check="worker",from="healthy",to="unhealthy",program="sidekick-probe"\} 1$/m);
    expect(text).toMatch(/^probe_runs_total\{check="worker",kind="file",program="sidekick-probe"\} \d+$/m);
  });
});

describe('serve process', () => {
  it('stops cleanly on SIGTERM with exit 0', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'checks.yml');
    const marker = `${30 + Math.random()}`.slice(0, 8); // a sleep argument no other process has
    writeFileSync(cfg, `checks:\n  - {name: slow, kind: exec, command: [sleep, "${marker}"], timeout: 60s, interval: 1s}\n`);
    const sleeping = (): boolean =>
      readdirSync('/proc').some((pid) => {
        try {
          return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\0${marker}\0`;
        } catch {
          return false;
        }
      });
    const child = spawn(process.execPath, [CLI, 'serve', '--config', cfg, '--http', '127.0.0.1:0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitUntil('checks started', () => stderr.includes('checks started'));
    await waitUntil('the exec check is running its command', sleeping);
    const started = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(stderr).toContain('"msg":"stopping"');
    expect(sleeping()).toBe(false); // the check's process group went with it
  });
});
