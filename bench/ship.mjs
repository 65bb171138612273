// Benchmark of sidekick-ship: drains a 1,000,000-line (~150 MB) file with --once into a local counting _bulk
// endpoint, and in the same run a minimal Node.js loop doing the same HTTP work, with gzip and without.
// Reports drain time ratio, CPU-seconds per million lines and peak RSS (from /usr/bin/time -v).
// Usage: npm run build && node bench/ship.mjs [--big]   (--big: also drain a ~1 GB backlog, peak RSS only)
// A/B: SHIP_BASELINE=/elsewhere/dist/cmd/sidekick-ship.js (another build, e.g. of main) drains the same file with
// that build too, in the same run; --rounds N alternates the two builds N times, --gzip-only skips `none`.
// SHIP_NODE_FLAGS: Node flags for the shipper (e.g. --max-semi-space-size=8), SHIP_BASELINE_NODE_FLAGS those of
// the baseline (default: the same).
// Runtime: the Node running this script, or SHIP_NODE=/path/to/node, or --image-node: the Node the images run
// (images/node-standin.sh's NODE_VERSION, the official binary, fetched once with npm pack into .bench/), and the
// shipper then gets the Node flags the ship image's ENTRYPOINT gives it unless SHIP_NODE_FLAGS is set. The
// shipper, the baseline and the minimal loop all run on it.
import { existsSync, mkdirSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { startCountingEndpoint } from './lib/ship-endpoint.mjs';
import { drainLine } from './lib/drain-line.mjs';
import { imageNode, imageShipFlags } from './lib/image-node.mjs';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const dir = join(root, '.bench');
const cli = join(root, 'dist/cmd/sidekick-ship.js');
const big = process.argv.includes('--big');
const baseline = process.env.SHIP_BASELINE;
const roundsAt = process.argv.indexOf('--rounds');
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 1;
const compressions = process.argv.includes('--gzip-only') ? ['gzip'] : ['gzip', 'none'];
const asImage = process.argv.includes('--image-node');
const runtime = asImage ? imageNode(root) : (process.env.SHIP_NODE ?? process.execPath);
const runtimeVersion = execFileSync(runtime, ['--version'], { encoding: 'utf8' }).trim();
const flagsOf = (text) => text.split(/\s+/).filter(Boolean);
const nodeFlags = process.env.SHIP_NODE_FLAGS !== undefined ? flagsOf(process.env.SHIP_NODE_FLAGS) : asImage ? imageShipFlags(root) : [];
const baselineFlags = process.env.SHIP_BASELINE_NODE_FLAGS === undefined ? nodeFlags : flagsOf(process.env.SHIP_BASELINE_NODE_FLAGS);

async function generate(file, lines) {
  if (existsSync(file) && statSync(file).size > 0) return;
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(file + '.tmp');
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    chunk += drainLine(i) + '\n';
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      chunk = '';
    }
  }
  out.write(chunk);
  await new Promise((r) => out.end(r));
  const { renameSync } = await import('node:fs');
  renameSync(file + '.tmp', file);
}

/** Runs a command under /usr/bin/time -v; returns wall seconds, CPU seconds and peak RSS (MiB). */
function measure(args, env = {}) {
  return new Promise((resolveRun, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', runtime, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const num = (re) => Number((re.exec(err) ?? [])[1]);
      const user = num(/User time \(seconds\): ([\d.]+)/);
      const sys = num(/System time \(seconds\): ([\d.]+)/);
      const rssKiB = num(/Maximum resident set size \(kbytes\): (\d+)/);
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}\n${err.slice(-2000)}`));
      resolveRun({ wall, cpu: user + sys, rssMiB: rssKiB / 1024, out });
    });
  });
}

async function runShipper(ep, file, compression, build = cli, flags = nodeFlags) {
  const state = join(dir, `ship-state-${compression}`);
  rmSync(state, { recursive: true, force: true });
  ep.reset();
  const r = await measure([...flags, build, '--once', '--es', ep.url, '--index', 'bench-ship', '--state-dir', state, '--compression', compression, '--log-level', 'warn', file]);
  return { ...r, items: ep.stats.items };
}

async function runMinimal(ep, file, compression) {
  ep.reset();
  const r = await measure([join(root, 'bench/lib/ship-minimal.mjs'), file, ep.url, compression]);
  return { ...r, items: ep.stats.items };
}

const LINES = 1_000_000;
const file = join(dir, 'ship-1m.log');
if (!existsSync(cli)) {
  console.error('build first: npm run build');
  process.exit(2);
}
await generate(file, LINES);
const ep = await startCountingEndpoint();
const results = {};
const ab = [];
const loadBefore = loadavg()[0];
for (const compression of compressions) {
  const minimal = await runMinimal(ep, file, compression);
  const ship = await runShipper(ep, file, compression);
  for (const [name, r] of [['minimal', minimal], ['ship', ship]]) {
    if (r.items !== LINES) throw new Error(`${name} (${compression}) delivered ${r.items} items, expected ${LINES}`);
  }
  results[compression] = {
    lines: LINES,
    file_mib: +(statSync(file).size / 2 ** 20).toFixed(1),
    minimal_s: +minimal.wall.toFixed(2),
    ship_s: +ship.wall.toFixed(2),
    ratio: +(ship.wall / minimal.wall).toFixed(3),
    ship_lines_per_s: Math.round(LINES / ship.wall),
    minimal_lines_per_s: Math.round(LINES / minimal.wall),
    ship_cpu_s_per_mlines: +((ship.cpu * 1e6) / LINES).toFixed(2),
    minimal_cpu_s_per_mlines: +((minimal.cpu * 1e6) / LINES).toFixed(2),
    ship_peak_rss_mib: +ship.rssMiB.toFixed(1),
    minimal_peak_rss_mib: +minimal.rssMiB.toFixed(1),
  };
  if (!baseline) continue;
  // Alternating order, so that a change in the machine's load falls on both builds alike.
  for (let round = 0; round < rounds; round++) {
    const pair = {};
    for (const which of round % 2 === 0 ? ['baseline', 'this'] : ['this', 'baseline']) {
      const r = which === 'this' && round === 0 ? ship : await (which === 'this' ? runShipper(ep, file, compression) : runShipper(ep, file, compression, baseline, baselineFlags));
      if (r.items !== LINES) throw new Error(`${which} (${compression}) delivered ${r.items} items, expected ${LINES}`);
      pair[which] = { s: +r.wall.toFixed(2), lines_per_s: Math.round(LINES / r.wall), cpu_s_per_mlines: +((r.cpu * 1e6) / LINES).toFixed(2), peak_rss_mib: +r.rssMiB.toFixed(1) };
    }
    ab.push({ compression, round, ...pair });
  }
}
if (big) {
  const bigFile = join(dir, 'ship-7m.log');
  await generate(bigFile, 7_000_000);
  const ship = await runShipper(ep, bigFile, 'gzip');
  results.big = {
    lines: ship.items,
    file_mib: +(statSync(bigFile).size / 2 ** 20).toFixed(1),
    ship_s: +ship.wall.toFixed(2),
    ship_lines_per_s: Math.round(ship.items / ship.wall),
    ship_cpu_s_per_mlines: +((ship.cpu * 1e6) / ship.items).toFixed(2),
    ship_peak_rss_mib: +ship.rssMiB.toFixed(1),
  };
}
await ep.close();

// Issue 12: the ratio to the minimal loop kept (item 5); throughput, CPU and peak RSS of the gzip drain (item 6).
const targets = { ratio: 1.0, linesPerS: 300_000, cpu: 3, rss: 110 };
console.log(`\nsidekick-ship drain benchmark (1,000,000 lines, --once, counting _bulk endpoint), Node ${runtimeVersion} (${runtime}) [${nodeFlags.join(' ')}]\n`);
console.log('compression  minimal s  ship s  ratio  ship lines/s  ship CPU-s/Mlines  minimal CPU-s/Mlines  ship peak RSS MiB  minimal peak RSS MiB');
for (const c of compressions) {
  const r = results[c];
  console.log(
    `${c.padEnd(11)}  ${String(r.minimal_s).padStart(9)}  ${String(r.ship_s).padStart(6)}  ${String(r.ratio).padStart(5)}  ${String(r.ship_lines_per_s).padStart(12)}  ${String(r.ship_cpu_s_per_mlines).padStart(17)}  ${String(r.minimal_cpu_s_per_mlines).padStart(20)}  ${String(r.ship_peak_rss_mib).padStart(17)}  ${String(r.minimal_peak_rss_mib).padStart(20)}`,
  );
}
if (results.big) console.log(`\n1 GB backlog (${results.big.lines} lines, ${results.big.file_mib} MiB, gzip): ${results.big.ship_s} s, peak RSS ${results.big.ship_peak_rss_mib} MiB`);
if (baseline) {
  console.log(`\nA/B in the same run, baseline ${baseline} [${baselineFlags.join(' ')}], this build [${nodeFlags.join(' ')}] (load average ${loadBefore.toFixed(1)} -> ${loadavg()[0].toFixed(1)}):`);
  console.log('compression  round  baseline s  this s  baseline lines/s  this lines/s  baseline CPU-s/M  this CPU-s/M  baseline RSS MiB  this RSS MiB');
  for (const r of ab) {
    const b = r.baseline;
    const t = r.this;
    console.log(`${r.compression.padEnd(11)}  ${String(r.round).padStart(5)}  ${String(b.s).padStart(10)}  ${String(t.s).padStart(6)}  ${String(b.lines_per_s).padStart(16)}  ${String(t.lines_per_s).padStart(12)}  ${String(b.cpu_s_per_mlines).padStart(16)}  ${String(t.cpu_s_per_mlines).padStart(12)}  ${String(b.peak_rss_mib).padStart(16)}  ${String(t.peak_rss_mib).padStart(12)}`);
  }
}
const g = results.gzip;
if (g) {
  const verdict = (ok) => (ok ? 'met' : 'NOT met');
  console.log(
    `\ntargets (gzip): ratio <= ${targets.ratio} ${verdict(g.ratio <= targets.ratio)}; >= ${targets.linesPerS.toLocaleString('en')} lines/s ${verdict(g.ship_lines_per_s >= targets.linesPerS)}; ` +
      `<= ${targets.cpu} CPU-s per million lines ${verdict(g.ship_cpu_s_per_mlines <= targets.cpu)}; peak RSS <= ${targets.rss} MiB ${verdict(g.ship_peak_rss_mib <= targets.rss)}`,
  );
}
console.log(JSON.stringify({ bench: 'ship', node: runtimeVersion, load_average: [+loadBefore.toFixed(2), +loadavg()[0].toFixed(2)], ...results, ...(baseline && { ab }) }));
