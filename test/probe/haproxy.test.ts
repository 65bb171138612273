// The agent-check port read by a real HAProxy (Debian package): a stale heartbeat takes the server DOWN and a
// fresh one brings it UP again, as seen in `show stat` on HAProxy's stats socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/common/log';
import { loadProbeConfig } from '../../src/probe/config';
import { serve, type Server } from '../../src/probe/serve';
import { tcpServer, tempDir, waitUntil } from './helpers';

const HAPROXY = '/usr/sbin/haproxy';
const describeIfHaproxy = existsSync(HAPROXY) ? describe : describe.skip;

/** `show stat` over the stats socket, parsed by header name. */
function showStat(socket: string): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let text = '';
    conn.on('data', (d: Buffer) => (text += d.toString()));
    conn.on('error', reject);
    conn.on('end', () => {
      const lines = text.split('\n').filter(Boolean);
      const header = lines[0].replace(/^# /, '').split(',');
      resolve(lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v]))));
    });
    conn.write('show stat\n');
  });
}

describeIfHaproxy('HAProxy agent-check', () => {
  let dir: string;
  let haproxy: ChildProcess | undefined;
  let server: Server | undefined;
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let haproxyLog = '';
  let beat: NodeJS.Timeout | undefined;

  afterAll(async () => {
    clearInterval(beat);
    haproxy?.kill('SIGKILL');
    await server?.stop();
    await app?.close();
  });

  it('marks the server DOWN when the heartbeat goes stale and UP again when it is fresh', async () => {
    dir = tempDir('sidekick-probe-haproxy-');
    const heartbeat = join(dir, 'heartbeat');
    writeFileSync(heartbeat, '');
    // The worker's heartbeat, touched while it is alive so a slow start of HAProxy on a loaded machine cannot make
    // it stale before the test does.
    beat = setInterval(() => writeFileSync(heartbeat, 'alive'), 200);
    app = await tcpServer((s) => s.end()); // the service's own port, which HAProxy's plain check finds open
    const cfg = join(dir, 'checks.yml');
    writeFileSync(cfg, `http: 127.0.0.1:0\nagent: 127.0.0.1:0\nchecks:\n  - {name: worker, kind: file, path: ${heartbeat}, max_age: 5s, interval: 200ms, fall: 1}\n`);
    const quiet = createLogger({ name: 'test', level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    server = await serve(loadProbeConfig(cfg), { logger: quiet, events: () => undefined });

    const stats = join(dir, 'admin.sock');
    const haproxyCfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      haproxyCfg,
      `global
  stats socket ${stats} mode 600 level admin
defaults
  mode tcp
  timeout connect 1s
  timeout client 5s
  timeout server 5s
backend app
  server s1 127.0.0.1:${app.port} check inter 500ms agent-check agent-port ${server.agent!.port} agent-addr 127.0.0.1 agent-inter 500ms
`,
    );
    haproxy = spawn(HAPROXY, ['-f', haproxyCfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout!.on('data', (d: Buffer) => (haproxyLog += d.toString()));
    haproxy.stderr!.on('data', (d: Buffer) => (haproxyLog += d.toString()));

    const s1 = async (): Promise<Record<string, string> | undefined> => {
      if (!existsSync(stats)) return undefined;
      return (await showStat(stats).catch(() => [])).find((r) => r.pxname === 'app' && r.svname === 's1');
    };
    const statusBecomes = (re: RegExp) => waitUntil(`HAProxy shows s1 ${re}; log: ${haproxyLog}`, async () => re.test((await s1())?.status ?? ''), 20_000, 200);

    await statusBecomes(/^UP$/);
    clearInterval(beat);
    const old = new Date(Date.now() - 60_000);
    utimesSync(heartbeat, old, old);
    await statusBecomes(/^DOWN/);
    const down = await s1();
    expect(down!.status).toBe('DOWN (agent)');
    // HAProxy keeps the reason the agent gave.
    expect(down!.last_agt).toMatch(/^via agent : down \(worker: .*heartbeat is 1m(\d+s)? old > 5s\)$/);

    writeFileSync(heartbeat, 'alive');
    await statusBecomes(/^UP$/);
  });
});
