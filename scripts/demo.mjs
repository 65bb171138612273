#!/usr/bin/env node
// `npm run demo`: the three sidekicks at work on this machine, no Docker needed (`npm run demo -- --docker`: the same
// tour in containers, scripts/demo-docker.mjs).
// Starts an embedded OpenSearch (or uses SIDEKICK_ES_URL), writes and rotates an app's log file, ships every line
// with sidekick-ship and checks each one is stored exactly once, probes the app's heartbeat and port with
// sidekick-probe, and reads a real HAProxy's state with sidekick-haproxy when HAProxy is installed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import engine from '../test/engine/engine.js';
import { check, es, finish, say, show } from './demo-common.mjs';

if (process.argv.includes('--docker')) await import('./demo-docker.mjs'); // it ends the process

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'dist', 'cmd', `${name}.js`);
const work = mkdtempSync(join(tmpdir(), 'sidekick-demo-'));

function run(name, args, { show: visible = true } = {}) {
  if (visible) show([name, ...args]);
  const r = spawnSync(process.execPath, [bin(name), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (visible && r.stdout) process.stdout.write(r.stdout);
  if (visible && r.stderr && r.status !== 0) process.stdout.write(r.stderr);
  return r;
}

if (!existsSync(bin('sidekick'))) {
  const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);
}

let handle;
let url = process.env.SIDEKICK_ES_URL;
try {
  if (!url) {
    say('Starting an embedded OpenSearch (first run builds it with Maven: a minute or two)');
    await engine.buildEngine({ log: (l) => process.stdout.write(`  ${l}\n`) });
    handle = await engine.startEngine({ port: 0, log: () => {} });
    url = handle.url;
    process.stdout.write(`OpenSearch ${engine.OPENSEARCH_VERSION} ready at ${url}\n`);
  }

  say('sidekick-ship: an app writes a log file, rotates it, writes more; every line is shipped once');
  const logs = join(work, 'logs');
  const state = join(work, 'state');
  spawnSync('mkdir', ['-p', logs]);
  const app = join(logs, 'app.log');
  let written = 0;
  const write = (n) => {
    let text = '';
    for (let i = 0; i < n; i++, written++) text += `${new Date().toISOString()} INFO  [worker-${written % 4}] processed job ${written} in ${written % 97} ms\n`;
    appendFileSync(app, text);
  };
  write(3000);
  renameSync(app, join(logs, 'app.log.1')); // rotation by rename + create
  write(2000);
  const index = 'logs-sidekick-demo';
  run('sidekick-ship', ['setup', '--es', url, '--index', index]);
  run('sidekick-ship', ['--once', '--es', url, '--index', index, '--state-dir', state, join(logs, 'app.log*')]);
  await es(url, 'POST', `/${index}/_refresh`);
  let count = (await es(url, 'GET', `/${index}/_count`)).count;
  check(count === written, `${count} documents stored for ${written} lines written`);
  write(500);
  run('sidekick-ship', ['--once', '--es', url, '--index', index, '--state-dir', state, join(logs, 'app.log*')]);
  await es(url, 'POST', `/${index}/_refresh`);
  count = (await es(url, 'GET', `/${index}/_count`)).count;
  check(count === written, `after 500 more lines and a restart: ${count} documents for ${written} lines (nothing re-sent, nothing lost)`);
  const sample = await es(url, 'POST', `/${index}/_search`, { size: 1, sort: [{ 'log.offset': 'desc' }] });
  process.stdout.write(`one document:\n${JSON.stringify(sample.hits.hits[0]?._source, null, 2)}\n`);

  say('sidekick-probe: a portless worker is healthy while its heartbeat file is fresh');
  const heartbeat = join(work, 'heartbeat');
  writeFileSync(heartbeat, '');
  let r = run('sidekick-probe', ['file', heartbeat, '--max-age', '30s', '--json']);
  check(r.status === 0, `fresh heartbeat: exit ${r.status}`);
  const old = Date.now() / 1000 - 120;
  utimesSync(heartbeat, old, old);
  r = run('sidekick-probe', ['file', heartbeat, '--max-age', '30s', '--json']);
  check(r.status === 1, `stale heartbeat: exit ${r.status}`);
  const port = new URL(url).port || '9200';
  r = run('sidekick-probe', ['tcp', `127.0.0.1:${port}`, '--json']);
  check(r.status === 0, `the search engine's port answers: exit ${r.status}`);
  r = run('sidekick-probe', ['http', `${url}/_cluster/health`, '--json-path', 'status=green', '--json']);
  check(r.status === 0, `the engine's cluster health is green: exit ${r.status}`);
  r = run('sidekick-probe', ['http', `${url}/no-such-index/_doc/1`, '--status', '200-299', '--json']);
  check(r.status === 1, `a failing check says why: exit ${r.status}`);

  const haproxy = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p));
  if (haproxy) {
    say('sidekick-haproxy: a real HAProxy in front of two servers, one of them down');
    const up = createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((res) => up.once('listening', res));
    const sock = join(work, 'haproxy.sock');
    const cfg = join(work, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `global\n  stats socket ${sock} mode 600 level admin\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n` +
        `backend app\n  server up1 127.0.0.1:${up.address().port} check inter 200ms\n  server down1 127.0.0.1:1 check inter 200ms fall 1\n`,
    );
    const lb = spawn(haproxy, ['-f', cfg, '-db'], { stdio: 'ignore' });
    await new Promise((res) => setTimeout(res, 1500));
    run('sidekick-haproxy', ['show', '--socket', sock]);
    run('sidekick-haproxy', ['set', 'app/up1', 'drain', '--socket', sock]);
    r = run('sidekick-haproxy', ['show', '--socket', sock, '--json'], { show: false });
    const rows = r.status === 0 ? JSON.parse(r.stdout) : [];
    const states = Object.fromEntries(rows.filter((x) => x.type === 'server').map((x) => [x.name, x.state]));
    check(states.up1 === 'drain' && states.down1 === 'down', `server states: ${JSON.stringify(states)}`);
    lb.kill('SIGTERM');
    up.close();
  } else {
    say('sidekick-haproxy: skipped (install HAProxy: apt-get install haproxy)');
  }
} finally {
  if (handle) await handle.stop();
  rmSync(work, { recursive: true, force: true });
}
finish();
