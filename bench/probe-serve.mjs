// Benchmark: `sidekick-probe serve` with 1,000 tcp checks at a 1 s interval against a local listener.
// Reports the serve process's CPU use (% of one core, from /proc/PID/stat over the measuring window) and its
// peak RSS (VmHWM). Targets: under 10% of one core and under 120 MiB.
// For context it also measures the floor: a bare Node process doing nothing but the same number of
// net.connect + RST closes per second against the same listener, measured the same way.
// --http N: then also `serve` with N http checks at 1 s against a local HTTP server (no target; CPU and peak RSS
// reported), and with PROBE_BASELINE=<other build>/dist/cmd/sidekick-probe.js the same with that build, alternating.
// Usage: node bench/probe-serve.mjs [seconds=30] [checks=1000] [--http N]   (needs `npm run build` first)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/cmd/sidekick-probe.js');
const httpAt = process.argv.indexOf('--http');
const httpChecks = httpAt > 0 ? Number(process.argv[httpAt + 1]) : 0;
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--http');
const seconds = Number(positional[0] ?? 30);
const n = Number(positional[1] ?? 1000);
const warmup = 5;
const ticks = 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let accepted = 0;
const listener = createServer((s) => {
  accepted++;
  s.on('error', () => {});
  s.end();
});
await new Promise((r) => listener.listen(0, '127.0.0.1', r));
const port = listener.address().port;

const dir = mkdtempSync(join(tmpdir(), 'probe-serve-bench-'));
const checks = Array.from({ length: n }, (_, i) => `  - {name: c${i}, kind: tcp, target: "127.0.0.1:${port}", interval: 1s, timeout: 1s}`);
writeFileSync(join(dir, 'checks.yml'), `http: 127.0.0.1:0\nchecks:\n${checks.join('\n')}\n`);

/** Runs a child for warm-up + window and returns its CPU % of one core and peak RSS. */
async function measure(args, onStdout) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', onStdout ?? (() => {}));
  const cpuMs = () => {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) / ticks) * 1000; // utime, stime
  };
  const status = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
  await sleep(warmup * 1000);
  const cpu0 = cpuMs();
  const acc0 = accepted;
  const t0 = Date.now();
  let rssMax = 0;
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(1000);
    rssMax = Math.max(rssMax, status('VmRSS'));
  }
  const wall = (Date.now() - t0) / 1000;
  const result = { wall, cpuPct: ((cpuMs() - cpu0) / 1000 / wall) * 100, probesPerSec: (accepted - acc0) / wall, peakRss: status('VmHWM'), rssMax };
  child.kill('SIGTERM');
  result.code = await new Promise((r) => child.on('exit', (c) => r(c)));
  return result;
}

let events = 0;
const serve = await measure([cli, 'serve', '--config', join(dir, 'checks.yml'), '--log-level', 'warn'], (d) => (events += d.toString().split('\n').length - 1));
const floorScript = `const net = require('net');
for (let i = 0; i < ${n}; i++) setTimeout(function tick() {
  const s = net.connect(${port}, '127.0.0.1');
  s.on('error', () => {});
  s.once('connect', () => s.resetAndDestroy());
  setTimeout(tick, 1000);
}, i);`;
const floor = await measure(['-e', floorScript]);
listener.close();
rmSync(dir, { recursive: true, force: true });
const { wall, cpuPct, probesPerSec, peakRss, rssMax, code } = serve;

const figures = {
  bench: 'probe-serve',
  checks: n,
  interval_s: 1,
  window_s: +wall.toFixed(1),
  probes_per_s: +probesPerSec.toFixed(0),
  cpu_pct_one_core: +cpuPct.toFixed(1),
  peak_rss_mib: +peakRss.toFixed(1),
  rss_max_sampled_mib: +rssMax.toFixed(1),
  state_events: events,
  floor_bare_connect_cpu_pct: +floor.cpuPct.toFixed(1),
  floor_bare_connect_rss_mib: +floor.peakRss.toFixed(1),
  exit_code_after_sigterm: code,
};
figures.pass = figures.cpu_pct_one_core < 10 && figures.peak_rss_mib < 120 && code === 0;
console.log(`probe-serve: ${n} tcp checks at 1 s, measured for ${figures.window_s} s after ${warmup} s warm-up, node ${process.version}`);
console.log('| figure                  | value  | target |');
console.log('|-------------------------|-------:|-------:|');
console.log(`| probes per second       | ${String(figures.probes_per_s).padStart(6)} | ${String(n).padStart(6)} |`);
console.log(`| CPU, % of one core      | ${String(figures.cpu_pct_one_core).padStart(6)} |   < 10 |`);
console.log(`| peak RSS (VmHWM), MiB   | ${String(figures.peak_rss_mib).padStart(6)} |  < 120 |`);
console.log(`| exit status on SIGTERM  | ${String(code).padStart(6)} |      0 |`);
console.log(`floor for comparison: a bare node process doing ${n} net.connect + RST closes a second uses ${figures.floor_bare_connect_cpu_pct}% of one core, peak RSS ${figures.floor_bare_connect_rss_mib} MiB`);
console.log(figures.pass ? 'PASS' : 'FAIL');

if (httpChecks > 0) {
  // The same serve with http checks: what a probe sidecar watching HTTP endpoints costs.
  let requests = 0;
  const web = createHttpServer((req, res) => {
    requests++;
    res.end('ok');
  });
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const httpDir = mkdtempSync(join(tmpdir(), 'probe-serve-bench-http-'));
  const url = `http://127.0.0.1:${web.address().port}/healthz`;
  const lines = Array.from({ length: httpChecks }, (_, i) => `  - {name: h${i}, kind: http, url: "${url}", interval: 1s, timeout: 1s}`);
  writeFileSync(join(httpDir, 'checks.yml'), `http: 127.0.0.1:0\nchecks:\n${lines.join('\n')}\n`);
  const builds = { this: cli, ...(process.env.PROBE_BASELINE ? { baseline: process.env.PROBE_BASELINE } : {}) };
  figures.http = {};
  for (const round of [0, 1]) {
    for (const [name, build] of Object.entries(builds)) {
      const before = requests;
      const r = await measure([build, 'serve', '--config', join(httpDir, 'checks.yml'), '--log-level', 'warn']);
      const got = { requests_per_s: +((requests - before) / (r.wall + warmup)).toFixed(0), cpu_pct_one_core: +r.cpuPct.toFixed(1), peak_rss_mib: +r.peakRss.toFixed(1) };
      (figures.http[name] ??= []).push(got);
      console.log(`http checks, ${name} (${build}), round ${round}: ${got.cpu_pct_one_core}% of one core, peak RSS ${got.peak_rss_mib} MiB, ~${got.requests_per_s} requests/s`);
    }
  }
  web.close();
  rmSync(httpDir, { recursive: true, force: true });
}
console.log(JSON.stringify(figures));
