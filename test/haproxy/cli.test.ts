// The built sidekick-haproxy run as a real process against a real HAProxy: output formats, set, watch, exit statuses.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Backend, eventually, freePort, Haproxy, haveHaproxy } from './helpers/haproxy';

const BIN = join(__dirname, '..', '..', 'dist', 'cmd', 'sidekick-haproxy.js');
const env = { ...process.env };
delete env.SIDEKICK_HAPROXY_SOCKET;

/** Runs the CLI without blocking this process, which also serves the backends HAProxy health-checks. */
function run(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const d = haveHaproxy ? describe : describe.skip;

d('sidekick-haproxy CLI', () => {
  const web1 = new Backend();
  const web2 = new Backend();
  let hap: Haproxy;

  beforeAll(async () => {
    await Promise.all([web1.start(), web2.start()]);
    hap = await new Haproxy({
      backends: [
        { name: 'app', http: true, servers: [{ name: 'web1', port: web1.port }, { name: 'web2', port: web2.port }] },
        { name: 'static', servers: [{ name: 'cdn1', port: web1.port, check: false }] },
      ],
    }).start();
  });
  afterAll(async () => {
    await hap?.destroy();
    await Promise.all([web1.stop(), web2.stop()]);
  });

  test('show --json: rows with proxy, name, type, status, state, check_status and typed columns', async () => {
    await eventually(async () => {
      const rows = JSON.parse((await run('show', '--socket', hap.adminSocket, '--json')).stdout) as Record<string, unknown>[];
      return rows.filter((r) => r.type === 'server' && r.proxy === 'app' && r.state === 'up').length === 2 ? true : undefined;
    }, 10000, 'app servers up');
    const res = await run('show', '--socket', hap.adminSocket, '--json');
    expect(res.status).toBe(0);
    const rows = JSON.parse(res.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.proxy, r.name, r.type])).toEqual([
      ['fe_main', 'FRONTEND', 'frontend'],
      ['app', 'web1', 'server'],
      ['app', 'web2', 'server'],
      ['app', 'BACKEND', 'backend'],
      ['static', 'cdn1', 'server'],
      ['static', 'BACKEND', 'backend'],
    ]);
    expect(rows[1]).toMatchObject({ status: 'UP', state: 'up', check_status: 'L7OK', weight: 1, scur: 0, addr: `127.0.0.1:${web1.port}` });
    expect(rows[4]).toMatchObject({ status: 'no check', state: 'no-check' });
    expect(rows[4]).not.toHaveProperty('check_status');
  });

  test('show --backend --servers filters; the table has one line per row', async () => {
    const res = await run('show', '--socket', hap.adminSocket, '--backend', 'app', '--servers');
    expect(res.status).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PROXY\s+NAME\s+TYPE\s+STATE\s+STATUS\s+CHECK\s+WEIGHT\s+SESSIONS\s+LAST CHANGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 5))).toEqual([
      ['app', 'web1', 'server', 'up', 'UP'],
      ['app', 'web2', 'server', 'up', 'UP'],
    ]);
    expect(lines[1]).toMatch(/L7OK \d+ms/);
  });

  test('show --prom: a gauge per state labelled proxy and server', async () => {
    const res = await run('show', '--socket', hap.adminSocket, '--prom');
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('# TYPE haproxy_server_state gauge');
    expect(res.stdout).toContain('haproxy_server_state{proxy="app",server="web1",state="up"} 1');
    expect(res.stdout).toContain('haproxy_server_state{proxy="app",server="web1",state="down"} 0');
    expect(res.stdout).toContain('haproxy_server_state{proxy="static",server="cdn1",state="no-check"} 1');
    expect(res.stdout).toContain('haproxy_backend_state{proxy="app",state="up"} 1');
  });

  test('info --json', async () => {
    const res = await run('info', '--socket', hap.adminSocket, '--json');
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ Name: 'HAProxy', Pid: expect.any(Number) });
  });

  test('show, info and set in prompt mode close their session and exit (HAProxy would keep it open for its stats timeout, 10 s here)', async () => {
    for (const args of [['show', '--json'], ['info'], ['set', 'app/web2', 'ready']]) {
      const started = Date.now();
      const res = await run(...args, '--socket', hap.adminSocket, '--socket-mode', 'prompt');
      expect([args[0], res.status]).toEqual([args[0], 0]);
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  test('show --admin tells who put a server in maintenance (show servers state joined onto show stat)', async () => {
    expect((await run('set', 'app/web1', 'maint', '--socket', hap.adminSocket)).status).toBe(0);
    try {
      const rows = JSON.parse((await run('show', '--socket', hap.adminSocket, '--json', '--servers', '--admin')).stdout) as Record<string, unknown>[];
      expect(rows.find((r) => r.proxy === 'app' && r.name === 'web1')).toMatchObject({ state: 'maint', admin: ['fmaint'], op_state: 'stopped' });
      expect(rows.find((r) => r.proxy === 'app' && r.name === 'web2')).toMatchObject({ admin: [], op_state: 'running' });
      const table = await run('show', '--socket', hap.adminSocket, '--backend', 'app', '--servers', '--admin');
      expect(table.stdout.split('\n')[0]).toMatch(/LAST CHANGE\s+ADMIN$/);
      expect(table.stdout).toMatch(/^app\s+web1\s+server\s+maint\s+MAINT\b.*\bfmaint$/m);
      expect((await run('show', '--socket', hap.adminSocket, '--prom', '--admin')).status).toBe(2);
    } finally {
      await run('set', 'app/web1', 'ready', '--socket', hap.adminSocket);
    }
  });

  test('set drain, then ready, through an admin socket; refused with a clear message on a user socket', async () => {
    const drain = await run('set', 'app/web2', 'drain', '--socket', hap.adminSocket);
    expect(drain.status).toBe(0);
    expect(drain.stdout).toBe('app/web2: admin state set to drain\n');
    const rows = JSON.parse((await run('show', '--socket', hap.adminSocket, '--json', '--servers', '--backend', 'app')).stdout) as Record<string, unknown>[];
    expect(rows.find((r) => r.name === 'web2')).toMatchObject({ status: 'DRAIN', state: 'drain' });
    expect((await run('set', 'app/web2', 'ready', '--socket', hap.adminSocket)).status).toBe(0);

    const user = await run('set', 'app/web2', 'maint', '--socket', hap.userSocket);
    expect(user.status).toBe(1);
    expect(user.stderr).toMatch(/Permission denied.*level admin/);
    const noSuch = await run('set', 'app/nope', 'maint', '--socket', hap.adminSocket);
    expect(noSuch.status).toBe(1);
    expect(noSuch.stderr).toMatch(/HAProxy refused to set app\/nope to maint: No such server/);
  });

  test('exit status 2 for bad usage, naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['show', '--json', '--prom', '--socket', hap.adminSocket], /--json and --prom/],
      [['show', '--bogus'], /unknown option '--bogus'/],
      [['set', 'app/web1', 'sleep', '--socket', hap.adminSocket], /state "sleep" is not valid; expected one of ready, drain, maint/],
      [['set', 'web1', 'drain'], /BACKEND\/SERVER "web1" is not valid/],
      [['watch', '--interval', 'soon'], /flag --interval: "soon" is not valid; expected a duration/],
      [['watch', '--webhook', 'ftp://x'], /flag --webhook: "ftp:\/\/x" is not valid/],
      [['show', '--socket', hap.adminSocket, '--backend', 'nope'], /--backend "nope": no such proxy/],
    ];
    for (const [args, message] of cases) {
      const res = await run(...args);
      expect({ args, status: res.status }).toEqual({ args, status: 2 });
      expect(res.stderr).toMatch(message);
    }
  });

  test('exit status 1 when the socket is missing, with a message saying so', async () => {
    const res = await run('show', '--socket', join(hap.dir, 'missing.sock'));
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/socket .*missing\.sock does not exist; is HAProxy running/);
  });

  test('--help lists every command with examples', async () => {
    const res = await run('--help');
    expect(res.status).toBe(0);
    for (const word of ['show', 'info', 'watch', 'set', 'Examples:']) expect(res.stdout).toContain(word);
    const watch = await run('watch', '--help');
    for (const flag of ['--socket', '--interval', '--webhook', '--http', '--transitional', '--settle', '--reload-grace']) expect(watch.stdout).toContain(flag);
  });

  test('watch: JSON lines on stdout for a real change, /state and /metrics over HTTP, clean exit on SIGTERM', async () => {
    const port = await freePort();
    const hooked: unknown[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooked.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/events`;
    const child = spawn(process.execPath, [BIN, 'watch', '--socket', hap.adminSocket, '--interval', '200ms', '--http', `127.0.0.1:${port}`, '--log-format', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, SIDEKICK_HAPROXY_WEBHOOKS: hookUrl },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually(async () => {
        const res = await fetch(`${base}/state`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      }, 10000, '/state');
      await web1.stop();
      const line = await eventually(() => out.split('\n').find((l) => l.includes('"server":"web1"') && l.includes('"to":"down"')), 8000, 'web1 down event');
      expect(JSON.parse(line)).toMatchObject({ event: 'server.state', proxy: 'app', server: 'web1', from: 'up', to: 'down', status: 'DOWN', check_status: 'L4CON' });
      const state = (await (await fetch(`${base}/state`)).json()) as { items: { server?: string; state: string }[] };
      expect(state.items.find((i) => i.server === 'web1')?.state).toBe('down');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('haproxy_server_state{proxy="app",server="web1",state="down",program="sidekick-haproxy"} 1');
      expect(metrics).toMatch(/sidekick_haproxy_events_total\{event="server.state",program="sidekick-haproxy"\} [1-9]/);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      // The same event was POSTed to the webhook given in SIDEKICK_HAPROXY_WEBHOOKS.
      const posted = await eventually(() => hooked.find((e) => (e as { server?: string }).server === 'web1'), 8000, 'webhook delivery');
      expect(posted).toEqual(JSON.parse(line));
    } finally {
      await web1.start();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      hook.close();
    }
    expect(err).not.toMatch(/"level":"error"/);
  });
});
