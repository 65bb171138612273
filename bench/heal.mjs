// Benchmark: sidekick-heal on the real Docker engine. How long from the engine's `health_status: unhealthy` event
// to heal starting the restart (reaction), how long the restart takes, and what heal costs: CPU while N opted-in
// containers are healthy (idle) and peak RSS. Containers run the project's base image (images/build.js).
// Usage: node bench/heal.mjs [containers] [idle seconds]   (needs `npm run build` and a Docker engine)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const n = Number(process.argv[2] ?? 10);
const idleSeconds = Number(process.argv[3] ?? 30);
const label = `heal-bench-${process.pid}`;
const ticks = 100; // USER_HZ

if (spawnSync('docker', ['version'], { stdio: 'ignore' }).status !== 0) {
  console.log('no Docker engine answers: skipped');
  console.log(JSON.stringify({ bench: 'heal', skipped: 'no Docker engine' }));
  process.exit(0);
}
const image = await require('../images/build.js').nodeImage({ log: () => undefined });
const docker = (...args) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) / ticks) * 1000;
};
const hwmMiB = (pid) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const names = Array.from({ length: n }, (_, i) => `${label}-${i}`);
const cleanup = () => spawnSync('docker', ['rm', '-f', ...names], { stdio: 'ignore' });
cleanup();
// Also when a step fails: the containers are this run's own, and nothing else removes them.
process.on('exit', cleanup);
for (const name of names) {
  docker('run', '-d', '--name', name, '--init', '--network', 'none', '-l', `${label}=true`, '--health-cmd', 'test -f /tmp/healthy', '--health-interval', '1s', '--health-retries', '1', image, 'sh', '-c', 'touch /tmp/healthy; exec sleep infinity');
}
await until('healthy containers', () => names.every((c) => docker('inspect', '-f', '{{.State.Health.Status}}', c) === 'healthy'), 60_000);

// The engine's own timestamps of the unhealthy transitions.
const unhealthyAt = new Map();
const events = spawn('docker', ['events', '--filter', `label=${label}=true`, '--filter', 'event=health_status', '--format', '{{json .}}']);
process.on('exit', () => events.kill());
let evBuf = '';
events.stdout.on('data', (b) => {
  evBuf += b;
  for (let i; (i = evBuf.indexOf('\n')) >= 0; evBuf = evBuf.slice(i + 1)) {
    const e = JSON.parse(evBuf.slice(0, i));
    if (e.Action === 'health_status: unhealthy' && !unhealthyAt.has(e.Actor.Attributes.name)) unhealthyAt.set(e.Actor.Attributes.name, e.timeNano / 1e6);
  }
});

const heal = spawn(process.execPath, [join(root, 'dist/cmd/sidekick-heal.js'), '--label', label, '--http', '127.0.0.1:0', '--min-interval', '1h', '--max-interval', '1h', '--stop-timeout', '1s', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
process.on('exit', () => heal.kill());
let log = '';
heal.stderr.on('data', (b) => (log += b));
const actions = new Map();
let out = '';
heal.stdout.on('data', (b) => {
  out += b;
  for (let i; (i = out.indexOf('\n')) >= 0; out = out.slice(i + 1)) {
    const e = JSON.parse(out.slice(0, i));
    if (e.event === 'heal.action') actions.set(e.container, e);
  }
});
// Idle is measured once start-up (loading dockerode, the first scan) is over.
await until('heal to follow the engine', () => log.includes('following the engine events'));
await sleep(2000);
const cpu0 = cpuMs(heal.pid);
await sleep(idleSeconds * 1000);
const idlePct = ((cpuMs(heal.pid) - cpu0) / (idleSeconds * 1000)) * 100;

const reaction = [];
const restart = [];
for (const name of names) {
  docker('exec', name, 'rm', '/tmp/healthy');
  const a = await until(`heal.action for ${name}`, () => actions.get(name));
  const unhealthy = await until(`the engine event for ${name}`, () => unhealthyAt.get(name));
  reaction.push(Date.parse(a.at) - a.duration_ms - unhealthy);
  restart.push(a.duration_ms);
}
const rss = hwmMiB(heal.pid);
heal.kill('SIGTERM');
events.kill();
cleanup();

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const r = stats(reaction);
const t = stats(restart);
console.log(`containers                      ${n}`);
console.log(`reaction (event -> restart)     median ${r.median.toFixed(0)} ms, max ${r.max.toFixed(0)} ms`);
console.log(`restart (engine call)           median ${t.median.toFixed(0)} ms, max ${t.max.toFixed(0)} ms`);
console.log(`CPU while idle (${idleSeconds}s)           ${idlePct.toFixed(2)}% of one core`);
console.log(`peak RSS                        ${rss.toFixed(1)} MiB`);
console.log(JSON.stringify({ bench: 'heal', containers: n, reaction_ms_median: Math.round(r.median), reaction_ms_max: Math.round(r.max), restart_ms_median: t.median, idle_cpu_pct: +idlePct.toFixed(2), peak_rss_mib: +rss.toFixed(1) }));
