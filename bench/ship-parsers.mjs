// Benchmark of sidekick-ship's parsers: drains 1,000,000-line files with --once into a local counting _bulk
// endpoint, each file once plain (no parsers: one document a line) and once parsed, in the same run:
// a Java service log with stack traces through the `java` multiline preset, and JSON lines through `ndjson`.
// Reports drain times, their ratio (target <= 1.5), CPU-seconds and peak RSS (from /usr/bin/time -v), and the
// timestamp parser's cost per stamp (in process: a custom Luxon layout in a named zone, ISO 8601).
// Usage: npm run build && node bench/ship-parsers.mjs
// A/B: SHIP_PARSERS_BASELINE=/elsewhere/dist/cmd/sidekick-ship.js (another build, e.g. of main) also drains each
// parsed case with that build, in the same run, between the plain and the parsed drain.
// SHIP_NODE_FLAGS: Node flags for this build's drains (e.g. --max-semi-space-size=8), SHIP_BASELINE_NODE_FLAGS
// those of the baseline's (default: the same).
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { startCountingEndpoint } from './lib/ship-endpoint.mjs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const dir = join(root, '.bench');
const cli = join(root, 'dist/cmd/sidekick-ship.js');
const LINES = 1_000_000;

async function writeLines(file, make) {
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(file + '.tmp');
  let chunk = '';
  let events = 0;
  for (let i = 0; i < LINES; ) {
    const ls = make(i, events++);
    for (const l of ls.slice(0, LINES - i)) chunk += l + '\n';
    i += ls.length;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      chunk = '';
    }
  }
  out.write(chunk);
  await new Promise((r) => out.end(r));
  renameSync(file + '.tmp', file);
}

/** A Java service's log: mostly one-line events, every 40th an ERROR with a 24-line stack trace (Caused by, ... N more). */
function javaEvent(i, n) {
  const ts = new Date(Date.UTC(2026, 0, 1) + i * 7).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
  const head = `${ts} ${n % 40 === 39 ? 'ERROR' : 'INFO '} [http-nio-8080-exec-${n % 16}] c.e.orders.OrderService - order ${n} processed in ${n % 997}ms customer=${(n * 7919) % 100000}`;
  if (n % 40 !== 39) return [head];
  const frames = Array.from({ length: 10 }, (_, f) => `\tat com.example.orders.OrderService.step${f}(OrderService.java:${100 + f})`);
  return [head, `java.lang.IllegalStateException: inventory returned 503 for order ${n}`, ...frames, `Caused by: java.net.SocketTimeoutException: Read timed out`, ...frames, '\t... 42 more'];
}

/** JSON lines as an ECS logging library writes them (~200 bytes). */
function jsonEvent(i) {
  const ts = new Date(Date.UTC(2026, 0, 1) + i * 7).toISOString();
  return [JSON.stringify({ '@timestamp': ts, 'log.level': i % 50 === 0 ? 'warn' : 'info', message: `order ${i} processed in ${i % 997}ms`, 'service.name': 'orders', 'trace.id': (i * 2654435761).toString(16).padStart(16, '0'), http: { request: { method: 'POST' }, response: { status_code: 200 } }, 'event.duration': (i % 997) * 1e6 })];
}

const flagsOf = (text) => text.split(/\s+/).filter(Boolean);
const nodeFlags = flagsOf(process.env.SHIP_NODE_FLAGS ?? '');
const baselineFlags = process.env.SHIP_BASELINE_NODE_FLAGS === undefined ? nodeFlags : flagsOf(process.env.SHIP_BASELINE_NODE_FLAGS);

function measure(args, flags) {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', process.execPath, ...flags, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const num = (re) => Number((re.exec(err) ?? [])[1]);
      if (code !== 0) return fail(new Error(`${args.join(' ')} exited ${code}\n${err.slice(-2000)}`));
      done({ wall, cpu: num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/), rssMiB: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024 });
    });
  });
}

async function drain(ep, name, file, parsers, program = cli, flags = nodeFlags) {
  const state = join(dir, `parsers-state-${name}`);
  rmSync(state, { recursive: true, force: true });
  const config = join(dir, `parsers-${name}.json`);
  writeFileSync(config, JSON.stringify({ es: { urls: [ep.url] }, index: 'bench-parsers', state_dir: state, paths: [file], parsers }));
  ep.reset();
  const r = await measure([program, '-c', config, '--once', '--compression', 'gzip', '--log-level', 'warn'], flags);
  return { ...r, docs: ep.stats.items };
}

if (!existsSync(cli)) {
  console.error('build first: npm run build');
  process.exit(2);
}
const javaFile = join(dir, 'parsers-java-1m.log');
const jsonFile = join(dir, 'parsers-json-1m.log');
if (!existsSync(javaFile)) await writeLines(javaFile, (i, n) => javaEvent(i, n));
if (!existsSync(jsonFile)) await writeLines(jsonFile, (i) => jsonEvent(i));
const baseline = process.env.SHIP_PARSERS_BASELINE;
const loadBefore = loadavg()[0];
const ep = await startCountingEndpoint();
const results = {};
for (const [name, file, parsers] of [
  ['java', javaFile, [{ multiline: { preset: 'java' } }]],
  ['json', jsonFile, [{ ndjson: {} }]],
]) {
  const plain = await drain(ep, `${name}-plain`, file, []);
  const base = baseline ? await drain(ep, `${name}-baseline`, file, parsers, baseline, baselineFlags) : undefined;
  const parsed = await drain(ep, name, file, parsers);
  if (plain.docs !== LINES) throw new Error(`${name} plain delivered ${plain.docs} documents, expected ${LINES}`);
  results[name] = {
    lines: LINES,
    file_mib: +(statSync(file).size / 2 ** 20).toFixed(1),
    docs: parsed.docs,
    plain_s: +plain.wall.toFixed(2),
    parsed_s: +parsed.wall.toFixed(2),
    ratio: +(parsed.wall / plain.wall).toFixed(3),
    parsed_lines_per_s: Math.round(LINES / parsed.wall),
    plain_cpu_s: +plain.cpu.toFixed(2),
    parsed_cpu_s: +parsed.cpu.toFixed(2),
    plain_peak_rss_mib: +plain.rssMiB.toFixed(1),
    parsed_peak_rss_mib: +parsed.rssMiB.toFixed(1),
    ...(base && { baseline_parsed_s: +base.wall.toFixed(2), baseline_ratio: +(base.wall / plain.wall).toFixed(3), baseline_parsed_cpu_s: +base.cpu.toFixed(2), baseline_parsed_peak_rss_mib: +base.rssMiB.toFixed(1) }),
  };
}
await ep.close();
console.log('\nsidekick-ship parsers benchmark (1,000,000 lines each, --once, gzip, counting _bulk endpoint)\n');
console.log('case  file MiB  documents  plain s  parsed s  ratio  parsed lines/s  plain CPU-s  parsed CPU-s  parsed peak RSS MiB');
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(4)}  ${String(r.file_mib).padStart(8)}  ${String(r.docs).padStart(9)}  ${String(r.plain_s).padStart(7)}  ${String(r.parsed_s).padStart(8)}  ${String(r.ratio).padStart(5)}  ${String(r.parsed_lines_per_s).padStart(14)}  ${String(r.plain_cpu_s).padStart(11)}  ${String(r.parsed_cpu_s).padStart(12)}  ${String(r.parsed_peak_rss_mib).padStart(19)}`);
}
if (baseline) {
  console.log(`\nbaseline ${baseline}, same run:`);
  for (const [name, r] of Object.entries(results)) console.log(`${name.padEnd(4)}  baseline parsed ${r.baseline_parsed_s} s (ratio ${r.baseline_ratio}, ${r.baseline_parsed_cpu_s} CPU-s, ${r.baseline_parsed_peak_rss_mib} MiB)  this build ${r.parsed_s} s (ratio ${r.ratio}, ${r.parsed_cpu_s} CPU-s, ${r.parsed_peak_rss_mib} MiB)`);
}
console.log('\ntarget: ratio <= 1.5 (parsed drain time over plain drain time of the same file)');

/** CPU microseconds per stamp of the timestamp parser over 200,000 distinct stamps (each a different millisecond). */
function stampCost(cfg, format, dir = root) {
  const require = createRequire(import.meta.url);
  const { timestamp, timestampSchema } = require(join(dir, 'dist/src/ship/parsers/timestamp.js'));
  const { eventOf } = require(join(dir, 'dist/src/ship/parsers/parser.js'));
  const n = 200_000;
  const texts = Array.from({ length: n }, (_, i) => `${format(new Date(Date.UTC(2026, 0, 1) + i * 7))} INFO [main] c.e.App - started`);
  const step = timestamp(timestampSchema.parse(cfg))();
  const file = { key: 'bench', dev: 0, ino: 0 };
  let missing = 0;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) step.push(eventOf({ file, path: '/bench', offset: i, next: i + 1, text: texts[i], truncated: false }), (ev) => ev.timestamp === undefined && missing++);
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / n);
  }
  if (missing > 0) throw new Error(`timestamp ${JSON.stringify(cfg)}: ${missing} stamps did not parse`);
  return +best.toFixed(2);
}
const stampCases = (dir) => ({
  custom_layout_us: stampCost({ pattern: '^(\\S+ \\S+)', layout: 'yyyy-MM-dd HH:mm:ss,SSS', timezone: 'Europe/Berlin' }, (d) => d.toISOString().replace('T', ' ').replace('Z', '').replace('.', ','), dir),
  iso8601_us: stampCost({ pattern: '^(\\S+)', layout: 'ISO8601' }, (d) => d.toISOString(), dir),
  iso8601_local_us: stampCost({ pattern: '^(\\S+)', layout: 'ISO8601', timezone: 'Europe/Berlin' }, (d) => d.toISOString().replace('Z', ''), dir),
});
const stamps = stampCases(root);
if (baseline) stamps.baseline = stampCases(resolve(baseline, '../../..'));
console.log(`\ntimestamp parser, CPU us a stamp (200,000 distinct stamps, best of 3): layout "yyyy-MM-dd HH:mm:ss,SSS" in Europe/Berlin ${stamps.custom_layout_us}, ISO8601 ${stamps.iso8601_us}, ISO8601 without a zone in Europe/Berlin ${stamps.iso8601_local_us}`);
if (baseline) console.log(`  baseline: layout ${stamps.baseline.custom_layout_us}, ISO8601 ${stamps.baseline.iso8601_us}, ISO8601 without a zone ${stamps.baseline.iso8601_local_us}`);
const load = [loadBefore, loadavg()[0]].map((l) => +l.toFixed(2));
console.log(`load average (1 min) before and after: ${load.join(', ')}`);
console.log(JSON.stringify({ bench: 'ship-parsers', ...results, timestamp: stamps, load_average: load }));
