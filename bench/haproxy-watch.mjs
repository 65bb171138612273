// Benchmark: CPU of `sidekick-haproxy watch --interval 1s` against a protocol-exact fake runtime API serving 10,000 servers.
// Run after `npm run build`. DURATION (s), SERVERS and INTERVAL can be set in the environment.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateInfo, generateStat } from './lib/haproxy-fixture.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'cmd', 'sidekick-haproxy.js');
const servers = Number(process.env.SERVERS ?? 10000);
const duration = Number(process.env.DURATION ?? 20);
const interval = process.env.INTERVAL ?? '1s';
const warmup = 3;

// Two snapshots that differ in 20 servers, swapped every 5 s, so the watcher has real changes to report.
const flipped = new Set(Array.from({ length: 20 }, (_, i) => `be_svc_${i * 3}/srv_${i * 3}_0`));
const snapshots = [generateStat(servers), generateStat(servers, 100, flipped)];
const started = Date.now();
const current = () => snapshots[Math.floor((Date.now() - started) / 5000) % 2];
let commands = 0;

// The runtime API as HAProxy 2.6 frames it: non-interactive = output + "\n" then close;
// after "prompt" = output + "\n> " per command, connection kept.
const dir = mkdtempSync(join(tmpdir(), 'sidekick-bench-'));
const path = join(dir, 'admin.sock');
const server = createServer((sock) => {
  let interactive = false;
  let buf = '';
  sock.on('error', () => undefined);
  sock.on('data', (b) => {
    buf += b.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const cmd = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      commands++;
      let out = '';
      if (cmd === 'prompt') interactive = !interactive;
      else if (cmd === 'show info') out = generateInfo();
      else if (cmd === 'show stat') out = current();
      else if (cmd === 'quit') return sock.end();
      else out = 'Unknown command\n';
      if (interactive) sock.write(out + '\n> ');
      else {
        sock.end(out + '\n');
        return;
      }
    }
  });
});
await new Promise((resolve) => server.listen(path, resolve));

const port = 20000 + Math.floor(Math.random() * 20000);
const child = spawn(process.execPath, [BIN, 'watch', '--socket', path, '--interval', interval, '--http', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
let events = 0;
child.stdout.on('data', (b) => (events += b.toString().split('\n').filter(Boolean).length));

const cpuTicks = () => {
  const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (USER_HZ = 100 on Linux)
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(warmup * 1000);
const t0 = Date.now();
const c0 = cpuTicks();
const e0 = events;
await sleep(duration * 1000);
const c1 = cpuTicks();
const wall = (Date.now() - t0) / 1000;
const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
const metric = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
const polls = metric('sidekick_haproxy_poll_duration_seconds_count');
const pollAvgMs = (metric('sidekick_haproxy_poll_duration_seconds_sum') / polls) * 1000;
const rssMiB = metric('process_resident_memory_bytes') / 1048576;
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
server.close();
rmSync(dir, { recursive: true, force: true });

const cpuPct = ((c1 - c0) / 100 / wall) * 100;
const target = 5;
console.log(`watch: ${servers} servers, interval ${interval}, measured ${wall.toFixed(1)} s after ${warmup} s warm-up (node ${process.version})`);
console.log('cpu % of one core  polls  avg poll ms  events  rss MiB  target');
console.log(`${cpuPct.toFixed(2).padStart(17)}  ${String(polls).padStart(5)}  ${pollAvgMs.toFixed(1).padStart(11)}  ${String(events - e0).padStart(6)}  ${rssMiB.toFixed(0).padStart(7)}  < ${target}% ${cpuPct < target ? 'ok' : 'MISSED'}`);
console.log(JSON.stringify({ bench: 'haproxy-watch', servers, interval, seconds: +wall.toFixed(1), cpu_percent: +cpuPct.toFixed(2), polls, poll_avg_ms: +pollAvgMs.toFixed(1), events: events - e0, rss_mib: +rssMiB.toFixed(0), commands, target_percent: target, ok: cpuPct < target }));
