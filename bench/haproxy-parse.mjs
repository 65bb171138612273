// Benchmark: parse `show stat` for 10,000 servers (full parse, and the column subset watch uses). Run after `npm run build`.
import { createRequire } from 'node:module';
import { measure } from './lib/timing.mjs';
import { generateStat } from './lib/haproxy-fixture.mjs';

const require = createRequire(import.meta.url);
const { parseStat } = require('../dist/src/haproxy/stat.js');
const { WATCH_COLUMNS } = require('../dist/src/haproxy/watch.js');

const servers = Number(process.env.SERVERS ?? 10000);
const runs = Number(process.env.RUNS ?? 25);
const text = generateStat(servers);

const rows = parseStat(text).rows.length;
const full = measure(() => parseStat(text), runs);
const subset = measure(() => parseStat(text, { columns: WATCH_COLUMNS }), runs);
const target = 50;

console.log(`show stat parse: ${servers} servers, ${rows} rows, ${(text.length / 1048576).toFixed(1)} MiB, ${runs} runs (node ${process.version})`);
console.log('case                   median ms  p90 ms  min ms  target');
for (const [name, r] of [['full (every column)', full], ['watch (column subset)', subset]]) {
  console.log(`${name.padEnd(22)} ${String(r.median_ms).padStart(9)}  ${String(r.p90_ms).padStart(6)}  ${String(r.min_ms).padStart(6)}  < ${target} ms ${r.median_ms < target ? 'ok' : 'MISSED'}`);
}
console.log(JSON.stringify({ bench: 'haproxy-parse', servers, rows, bytes: text.length, runs, full, watch_subset: subset, target_ms: target, ok: full.median_ms < target }));
