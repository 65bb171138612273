// Benchmark: wall and CPU time of a one-shot `sidekick-probe tcp HOST:PORT` and `sidekick-probe http URL` (what the
// probe and heal images' HEALTHCHECK runs every 10 s) against `node -e 0` on this machine. The target is under 2x
// both, for tcp. Children run one at a time, alternating, against local listeners; CPU time is the children's
// user+system time read from /proc/self/stat (cutime+cstime) around each batch.
// Usage: node bench/probe-startup.mjs [runs] [--image-node]   (needs `npm run build` first)
// --image-node: every child runs on the images' Node (bench/lib/image-node.mjs). PROBE_BASELINE=<other
// build>/dist/cmd/sidekick-probe.js: that build's tcp and http checks run too, in the same alternation.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageNode } from './lib/image-node.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/cmd/sidekick-probe.js');
const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 30);
const runtime = process.argv.includes('--image-node') ? imageNode(root) : process.execPath;
const baseline = process.env.PROBE_BASELINE;
const ticks = 100; // USER_HZ on Linux

const server = createServer((s) => {
  s.on('error', () => {}); // probes close with RST
  s.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const web = createHttpServer((req, res) => res.end('ok'));
await new Promise((r) => web.listen(0, '127.0.0.1', r));
const healthz = `http://127.0.0.1:${web.address().port}/healthz`;

function childCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ", field 3 is state; cutime and cstime are fields 16 and 17 of the full line.
  return ((Number(fields[13]) + Number(fields[14])) / ticks) * 1000;
}

function once(args) {
  return new Promise((resolve, reject) => {
    const cpu0 = childCpuMs();
    const t0 = process.hrtime.bigint();
    const child = spawn(runtime, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ wall, cpu: childCpuMs() - cpu0, code });
    });
  });
}

const cases = {
  'node -e 0': ['-e', '0'],
  'sidekick-probe tcp': [cli, 'tcp', `127.0.0.1:${port}`],
  'sidekick-probe http': [cli, 'http', healthz],
};
if (baseline) {
  cases['baseline probe tcp'] = [baseline, 'tcp', `127.0.0.1:${port}`];
  cases['baseline probe http'] = [baseline, 'http', healthz];
}
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const args of Object.values(cases)) await once(args); // warm the file cache
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(cases)) {
    const s = await once(args);
    if (name !== 'node -e 0' && s.code !== 0) throw new Error(`probe exited ${s.code}`);
    samples[name].push(s);
  }
}
server.close();
web.close();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const stats = Object.fromEntries(
  Object.entries(samples).map(([k, v]) => [k, { wall_median_ms: +median(v.map((s) => s.wall)).toFixed(1), wall_mean_ms: +mean(v.map((s) => s.wall)).toFixed(1), cpu_mean_ms: +mean(v.map((s) => s.cpu)).toFixed(1) }]),
);
const base = stats['node -e 0'];
const probe = stats['sidekick-probe tcp'];
const ratio = { wall: +(probe.wall_median_ms / base.wall_median_ms).toFixed(2), cpu: +(probe.cpu_mean_ms / base.cpu_mean_ms).toFixed(2) };
const http = stats['sidekick-probe http'];
const httpRatio = { wall: +(http.wall_median_ms / base.wall_median_ms).toFixed(2), cpu: +(http.cpu_mean_ms / base.cpu_mean_ms).toFixed(2) };
const version = await new Promise((resolve) => {
  let out = '';
  spawn(runtime, ['--version']).stdout.on('data', (d) => (out += d)).on('end', () => resolve(out.trim()));
});

console.log(`probe-startup: ${runs} runs each, node ${version} (${runtime})`);
console.log('| command                | wall median ms | wall mean ms | CPU mean ms |');
console.log('|------------------------|---------------:|-------------:|------------:|');
for (const [k, s] of Object.entries(stats)) console.log(`| ${k.padEnd(22)} | ${String(s.wall_median_ms).padStart(14)} | ${String(s.wall_mean_ms).padStart(12)} | ${String(s.cpu_mean_ms).padStart(11)} |`);
console.log(`tcp, ratio to node -e 0: wall ${ratio.wall}x, CPU ${ratio.cpu}x (target < 2x): ${ratio.wall < 2 && ratio.cpu < 2 ? 'PASS' : 'FAIL'}`);
console.log(`http (a HEALTHCHECK), ratio to node -e 0: wall ${httpRatio.wall}x, CPU ${httpRatio.cpu}x`);
console.log(JSON.stringify({ bench: 'probe-startup', runs, node: version, ...stats, ratio, http_ratio: httpRatio, pass: ratio.wall < 2 && ratio.cpu < 2 }));
