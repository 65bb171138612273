// watch against answers only an old HAProxy gives (the installed 2.6 cannot): a 1.6 `show stat` row one field
// short (haproxy_exporter #45) and a `show info` without Start_time_sec. The socket speaks the runtime API's
// one-shot framing exactly: one command line per connection, the answer, an empty line, then close.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort } from './helpers/haproxy';

const BIN = join(__dirname, '..', '..', 'dist', 'cmd', 'sidekick-haproxy.js');
const fixture = readFileSync(join(__dirname, 'fixtures', 'stat-1.8.csv'), 'utf8');
/** HAProxy 1.6's 62 show stat columns (up to ttime). */
const COLUMNS_16 = fixture.slice(2, fixture.indexOf(',ttime,') + 6).split(',');
const row16 = (proxy: string, name: string, type: number, status: string): string =>
  COLUMNS_16.map((c) => ({ pxname: proxy, svname: name, status, type: String(type), weight: '1', check_status: 'L7OK' })[c] ?? '0').join(',') + ',';

let dir: string;
let server: Server;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sidekick-legacy-'));
});
afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('watch on HAProxy 1.6: a row one field short is skipped with a warning and counted; no phantom reloads; the real DOWN is reported', async () => {
  // The process started 2.3 s past a multiple of 5 s: the start derived from the whole-second uptime and rounded
  // to 5 s flipped between two values, a phantom reload almost every poll.
  const startSec = Math.floor(Date.now() / 5000) * 5 - 60 + 2.3;
  let polls = 0;
  const stat = (): string => {
    // web1 goes DOWN after a few polls have seen it UP (a baseline, and polls in which a phantom reload would start a grace period).
    const web1 = ++polls > 5 ? 'DOWN' : 'UP';
    const rows = [
      row16('fe_http', 'FRONTEND', 0, 'OPEN'),
      row16('app', 'web1', 2, web1),
      // Before 1.6.4 the comma after "DRAIN (agent)" was missing: 61 values and the trailing comma.
      row16('app', 'web2', 2, 'DRAIN (agent)').replace('DRAIN (agent),', 'DRAIN (agent)'),
      row16('app', 'BACKEND', 1, 'UP'),
    ];
    return `# ${COLUMNS_16.join(',')},\n${rows.join('\n')}\n`;
  };
  const info = (): string => `Name: HAProxy\nVersion: 1.6.3\nRelease_date: 2015/12/25\nPid: 812\nUptime_sec: ${Math.floor(Date.now() / 1000 - startSec)}\n`;
  const socket = join(dir, 'admin.sock');
  server = createServer((sock) => {
    sock.on('error', () => undefined);
    let buf = '';
    sock.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const cmd = buf.slice(0, nl);
      sock.end(`${cmd === 'show info' ? info() : cmd === 'show stat' ? stat() : 'Unknown command.\n'}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));

  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'watch', '--socket', socket, '--socket-mode', 'oneshot', '--interval', '200ms', '--http', `127.0.0.1:${port}`, '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  try {
    await eventually(() => out.split('\n').find((l) => l.includes('"server":"web1"') && l.includes('"to":"down"')), 15_000, 'the web1 DOWN event').catch((e: Error) => {
      throw new Error(`${e.message}; stdout: ${out.slice(-2000)}; stderr: ${err.slice(-2000)}`);
    });
    await new Promise((r) => setTimeout(r, 1500)); // more polls, in which a phantom reload would show
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; server?: string; from?: string; to?: string });
    expect(events.map((e) => `${e.event}:${e.server ?? ''}:${e.from}->${e.to}`)).toEqual(['server.state:web1:up->down']);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^sidekick_haproxy_malformed_rows_total\{program="sidekick-haproxy"\} ([2-9]|\d\d+)$/m);
    expect(metrics).not.toContain('haproxy_frontend_state{proxy="app"');
    expect(metrics).toContain('haproxy_server_state{proxy="app",server="web1",state="down",program="sidekick-haproxy"} 1');
    const warnings = err.split('\n').filter((l) => l.includes('row skipped'));
    expect(warnings).toHaveLength(1); // once while the row stays malformed, not on every poll
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 'warn', line: 4, proxy: 'app', name: 'web2', fields: 62, expected: 63 });
    expect(warnings[0]).toContain('show stat line 4 (app/web2): 62 fields where the header has 63 (trailing comma included); row skipped');
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

test('show on HAProxy 1.6: the malformed row is left out with a warning on stderr naming it', async () => {
  const socket = join(dir, 'show.sock');
  const text = `# ${COLUMNS_16.join(',')},\n${row16('app', 'web1', 2, 'UP')}\n${row16('app', 'web2', 2, 'DRAIN (agent)').replace('DRAIN (agent),', 'DRAIN (agent)')}\n`;
  const s = createServer((sock) => sock.on('error', () => undefined).once('data', () => sock.end(`${text}\n`)));
  await new Promise<void>((resolve) => s.listen(socket, resolve));
  const res = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'show', '--socket', socket, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  s.close();
  expect(res.status).toBe(0);
  expect((JSON.parse(res.stdout) as { name: string; type: string }[]).map((r) => `${r.name}:${r.type}`)).toEqual(['web1:server']);
  expect(res.stderr).toContain('sidekick-haproxy: warning: show stat line 3 (app/web2): 62 fields where the header has 63 (trailing comma included); row skipped: "app,web2,0,');
});
