// Benchmark of sidekick-ship's parsers: drains 1,000,000-line files with --once into a local counting _bulk
// endpoint, each file once plain (no parsers: one document a line) and once parsed, in the same run:
// a Java service log with stack traces through the `java` multiline preset, and JSON lines through `ndjson`.
// Reports drain times, their ratio (target <= 1.5), CPU-seconds and peak RSS (from /usr/bin/time -v).
// Usage: npm run build && node bench/ship-parsers.mjs
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { startCountingEndpoint } from './lib/ship-endpoint.mjs';

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

function measure(args) {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
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

async function drain(ep, name, file, parsers) {
  const state = join(dir, `parsers-state-${name}`);
  rmSync(state, { recursive: true, force: true });
  const config = join(dir, `parsers-${name}.json`);
  writeFileSync(config, JSON.stringify({ es: { urls: [ep.url] }, index: 'bench-parsers', state_dir: state, paths: [file], parsers }));
  ep.reset();
  const r = await measure([cli, '-c', config, '--once', '--compression', 'gzip', '--log-level', 'warn']);
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
const ep = await startCountingEndpoint();
const results = {};
for (const [name, file, parsers] of [
  ['java', javaFile, [{ multiline: { preset: 'java' } }]],
  ['json', jsonFile, [{ ndjson: {} }]],
]) {
  const plain = await drain(ep, `${name}-plain`, file, []);
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
    parsed_peak_rss_mib: +parsed.rssMiB.toFixed(1),
  };
}
await ep.close();
console.log('\nsidekick-ship parsers benchmark (1,000,000 lines each, --once, gzip, counting _bulk endpoint)\n');
console.log('case  file MiB  documents  plain s  parsed s  ratio  parsed lines/s  plain CPU-s  parsed CPU-s  parsed peak RSS MiB');
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(4)}  ${String(r.file_mib).padStart(8)}  ${String(r.docs).padStart(9)}  ${String(r.plain_s).padStart(7)}  ${String(r.parsed_s).padStart(8)}  ${String(r.ratio).padStart(5)}  ${String(r.parsed_lines_per_s).padStart(14)}  ${String(r.plain_cpu_s).padStart(11)}  ${String(r.parsed_cpu_s).padStart(12)}  ${String(r.parsed_peak_rss_mib).padStart(19)}`);
}
console.log('\ntarget: ratio <= 1.5 (parsed drain time over plain drain time of the same file)');
console.log(JSON.stringify({ bench: 'ship-parsers', ...results }));
