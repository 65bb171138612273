// The built sidekick-probe CLI as a user runs it: exit statuses, --json result objects, usage errors, run, wait.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeAsUser, NOBODY } from '../support/other-user';
import { cli, closedPort, httpServer, tcpServer, tempDir } from './helpers';

describe('sidekick-probe one-shot checks', () => {
  it('exits 0 and prints a readable line for a healthy tcp check', async () => {
    const s = await tcpServer((sock) => sock.end());
    const r = await cli(['tcp', `127.0.0.1:${s.port}`, '--timeout', '15s']);
    await s.close();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^OK   tcp 127\\.0\\.0\\.1:${s.port}: connected \\([\\d.]+ ms\\)\\n$`));
  });

  it('exits 1 with one JSON object per check on --json', async () => {
    const port = await closedPort();
    const r = await cli(['tcp', `127.0.0.1:${port}`, '--json', '--timeout', '15s']);
    expect(r.code).toBe(1);
    const line = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['check', 'kind', 'target', 'ok', 'duration_ms', 'message', 'detail']);
    expect(line).toMatchObject({ check: 'tcp', kind: 'tcp', target: `127.0.0.1:${port}`, ok: false, message: 'connection refused' });
  });

  it('checks http status ranges, headers and JSON values from flags', async () => {
    const s = await httpServer((req, res) => res.end(JSON.stringify({ status: req.headers['x-env'] === 'prod' ? 'UP' : 'DOWN' })));
    const url = `http://127.0.0.1:${s.port}/health`;
    // Generous timeouts: a loaded machine can be slow even on loopback, and no outcome here depends on them.
    const ok = await cli(['http', url, '--status', '200-299', '--header', 'X-Env: prod', '--json-path', 'status=UP', '--json', '--name', 'api', '--timeout', '15s']);
    const bad = await cli(['http', url, '--json-path', 'status=UP', '--timeout', '15s']);
    await s.close();
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ check: 'api', kind: 'http', ok: true, detail: { status: 200 } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('json path status is "DOWN", expected "UP"');
  });

  it('loads no HTTP client library for a one-shot http check: a HEALTHCHECK pays for every module it loads', async () => {
    // node:http instead of undici halved the CPU of each `sidekick-probe http` start (bench/probe-startup.mjs).
    const s = await httpServer((_req, res) => res.end('ok'));
    const preload = join(tempDir('sidekick-probe-modules-'), 'modules.cjs');
    writeFileSync(preload, "process.on('exit', () => require('node:fs').writeSync(2, '\\nMODULES ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));\n");
    const r = await cli(['http', `http://127.0.0.1:${s.port}/healthz`, '--timeout', '15s'], { nodeArgs: ['--require', preload] });
    await s.close();
    expect([r.code, r.stdout]).toEqual([0, expect.stringContaining('OK   http')]);
    const modules = JSON.parse(/^MODULES (.*)$/m.exec(r.stderr)![1]) as string[];
    expect(modules.some((m) => m.includes('/src/probe/kinds/http'))).toBe(true);
    expect(modules.filter((m) => m.includes('/node_modules/undici/'))).toEqual([]);
  });

  it('answers an http check when the status is known although the body stalls, and fails a redirect loop', async () => {
    const s = await httpServer((req, res) => {
      if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
      else res.writeHead(200, { 'content-length': '100' }).flushHeaders(); // and then nothing
    });
    const base = `http://127.0.0.1:${s.port}`;
    const stalled = await cli(['http', `${base}/`, '--timeout', '40s', '--json']);
    // Long enough for the headers to arrive on a loaded machine: the phase named is reading the body.
    const body = await cli(['http', `${base}/`, '--timeout', '3s', '--body', 'ok']);
    const loop = await cli(['http', `${base}/loop`, '--follow-redirects', '--timeout', '15s']);
    await s.close();
    expect(stalled.code).toBe(0);
    const verdict = JSON.parse(stalled.stdout) as { message: string; duration_ms: number };
    expect(verdict.message).toBe('status 200');
    expect(verdict.duration_ms).toBeLessThan(15_000); // with the status, not at the 40 s timeout
    expect(body.code).toBe(1);
    expect(body.stdout).toContain('timed out after 3000 ms while reading the body');
    expect(loop.code).toBe(1);
    expect(loop.stdout).toContain('stopped after 10 redirects');
  });

  it('runs exec commands after -- and reports their exit code', async () => {
    const r = await cli(['exec', '--json', '--', 'sh', '-c', 'echo degraded; exit 3']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'exec', ok: false, message: 'exit code 3: degraded', detail: { exit_code: 3, output: 'degraded\n' } });
  });

  it('checks file freshness', async () => {
    const file = join(tempDir(), 'hb');
    writeFileSync(file, '');
    expect((await cli(['file', file, '--max-age', '30s'])).code).toBe(0);
    expect((await cli(['file', join(tempDir(), 'missing')])).code).toBe(1);
  });

  it('pings 127.0.0.1', async () => {
    const r = await cli(['icmp', '127.0.0.1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'icmp', ok: true, detail: { received: 1 } });
  });
});

describeAsUser(NOBODY, 'sidekick-probe as an unprivileged user', (root) => {
  it('says plainly that CAP_NET_RAW is missing when ICMP is not permitted', async () => {
    // A real unprivileged user (nobody) cannot open a raw socket on this machine.
    const r = await cli(['icmp', '127.0.0.1'], { as: { ...NOBODY, root: root() } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('the CAP_NET_RAW capability is missing');
    expect(r.stderr).toBe('');
  });
});

describe('sidekick-probe usage errors exit 2 and name the problem', () => {
  it.each([
    [['tcp', 'db'], 'target "db" is not valid; expected HOST:PORT'],
    [['tcp', 'db:5432', '--timeout', '5q'], 'flag --timeout: "5q" is not valid; expected a duration'],
    [['tcp', 'db:5432', '--bogus'], "unknown option '--bogus'"],
    [['tcp', 'db:5432', '--expect', '(unclosed'], 'flag --expect: "(unclosed" is not a valid regular expression'],
    [['http', 'ftp://x/'], 'expected an http:// or https:// URL'],
    [['http', 'http://x/', '--status', '2xx'], 'flag --status: "2xx" is not valid; expected status codes or ranges'],
    [['http', 'http://x/', '--header', 'nocolon'], 'flag --header: "nocolon" is not valid'],
    [['http', 'https://x/', '--ca', '/no/such/ca.pem'], 'flag --ca: cannot read /no/such/ca.pem: ENOENT'],
    [['icmp', 'h', '--count', '0'], 'flag --count: "0" is not valid; expected an integer from 1 to 100'],
    [['wait', 'db:5432'], 'wait target "db:5432" is not valid; expected tcp://HOST:PORT'],
    [['nosuch'], "unknown command 'nosuch'"],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('prints complete --help with examples', async () => {
    const root = await cli(['--help']);
    const http = await cli(['http', '--help']);
    expect(root.code).toBe(0);
    for (const sub of ['tcp', 'http', 'exec', 'icmp', 'file', 'run', 'serve', 'wait']) expect(root.stdout).toContain(sub);
    expect(http.stdout).toContain('--json-path <path=value>');
    expect(http.stdout).toContain('Examples:');
  });
});

describe('sidekick-probe run --config', () => {
  it('runs every check once and exits 1 when any fails, naming each', async () => {
    const dir = tempDir();
    const s = await tcpServer((sock) => sock.end());
    const cfg = join(dir, 'checks.yml');
    writeFileSync(cfg, `defaults: {timeout: 15s}\nchecks:\n  - {name: up, kind: tcp, target: "127.0.0.1:${s.port}"}\n  - {name: down, kind: tcp, target: "127.0.0.1:${await closedPort()}"}\n`);
    const all = await cli(['run', '--config', cfg, '--json']);
    const one = await cli(['run', '--config', cfg, '--check', 'up']);
    await s.close();
    expect(all.code).toBe(1);
    const lines = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { check: string; ok: boolean });
    expect(lines.map((l) => [l.check, l.ok])).toEqual([['up', true], ['down', false]]);
    expect(one.code).toBe(0);
  });

  it('rejects a bad configuration naming the check and key, exit 2', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'checks.yml');
    writeFileSync(cfg, 'checks:\n  - {name: db, kind: tcp, target: "db:5432"}\n  - {name: api, kind: http, url: "http://x/", interval: soon, tiemout: 1s}\n');
    const r = await cli(['run', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(cfg);
    expect(r.stderr).toContain('check "api" (checks[1]) interval: "soon" is not valid; expected a duration');
    expect(r.stderr).toContain('check "api" (checks[1]): unknown key "tiemout"');
  });

  it('rejects an unknown kind', async () => {
    const cfg = join(tempDir(), 'checks.yml');
    writeFileSync(cfg, 'checks:\n  - {name: a, kind: smtp}\n');
    const r = await cli(['run', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('check "a" (checks[0]) kind: "smtp" is not valid; expected kind to be one of tcp, http, exec, icmp, file');
  });

  it('rejects duplicate check names', async () => {
    const cfg = join(tempDir(), 'checks.yml');
    writeFileSync(cfg, 'checks:\n  - {name: b, kind: file, path: /x}\n  - {name: b, kind: file, path: /y}\n');
    const r = await cli(['run', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('check "b" (checks[1]) name: "b" is not valid; expected a unique name; checks[0] has it too');
  });
});

describe('sidekick-probe wait', () => {
  it('blocks until every target is healthy', async () => {
    const dir = tempDir();
    const ready = join(dir, 'ready');
    const port = await closedPort();
    const waiting = cli(['wait', `tcp://127.0.0.1:${port}`, `file:${ready}`, '--interval', '200ms', '--timeout', '20s']);
    await new Promise((r) => setTimeout(r, 800));
    const { createServer } = await import('node:net');
    const late = createServer((sock) => sock.on('error', () => undefined).end());
    await new Promise<void>((resolve) => late.listen(port, '127.0.0.1', resolve));
    writeFileSync(ready, '');
    const r = await waiting;
    late.close();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`ready: tcp://127.0.0.1:${port}`);
    expect(r.stderr).toContain(`ready: file:${ready}`);
  });

  it('exits 1 after the timeout, saying what it still waits for', async () => {
    const port = await closedPort();
    // Long enough for a first answer on a loaded machine, so the reason is known when it gives up.
    const r = await cli(['wait', `tcp://127.0.0.1:${port}`, '--timeout', '3s', '--interval', '200ms']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`timed out after 3s; still waiting for: tcp://127.0.0.1:${port} (connection refused)`);
  });
});

