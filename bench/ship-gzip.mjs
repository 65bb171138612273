// Gzip of _bulk bodies alone: node:zlib (GzipPool, the fallback) against libdeflate (LibdeflatePool, the binding in
// native/), level 1, on bodies the shipper builds (makeEncoder + bulkBody over the drain benchmark's kind of line,
// ~512 KiB each as batch.max_bytes makes them), two calls in flight as with two requests under way. CPU is the
// process's (the libuv pool's threads included); the two codecs alternate round by round.
// --file PATH: the bodies are the first N 512 KiB pieces of that file instead (the parsers benchmark's files, say).
// Usage: npm run build && node bench/ship-gzip.mjs [--bodies N] [--rounds N] [--file PATH]
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { drainLine } from './lib/drain-line.mjs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const { makeEncoder } = require(join(root, 'dist/src/ship/output/encoder.js'));
const { bulkBody } = require(join(root, 'dist/src/ship/output/bulk.js'));
const { GzipPool, LibdeflatePool } = require(join(root, 'dist/src/ship/output/gzip.js'));
const { loadLibdeflate, libdeflateError } = require(join(root, 'dist/src/ship/output/libdeflate.js'));

const arg = (name, dflt) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const BODIES = arg('--bodies', 200);
const ROUNDS = arg('--rounds', 6);
const BODY_BYTES = 512 * 1024;

const binding = loadLibdeflate();
if (!binding) {
  console.error(`the libdeflate binding is not built (${libdeflateError()}): npm run build with gcc and libdeflate-dev`);
  process.exit(2);
}

const fileAt = process.argv.indexOf('--file');
const file = fileAt > 0 ? process.argv[fileAt + 1] : undefined;
// The drain benchmark's lines (bench/ship.mjs), encoded as the shipper encodes them, cut into ~512 KiB bodies.
const encode = makeEncoder({ hostName: 'bench-host', agentVersion: '0.1.0' });
const bodies = [];
let docs = [];
let size = 0;
let offset = 0;
if (file) {
  const fd = openSync(file, 'r');
  for (let i = 0; i < BODIES; i++) {
    const piece = Buffer.allocUnsafe(BODY_BYTES);
    if (readSync(fd, piece, 0, BODY_BYTES, i * BODY_BYTES) < BODY_BYTES) break;
    bodies.push(piece);
  }
  closeSync(fd);
}
for (let i = 0; bodies.length < BODIES && !file; i++) {
  const text = drainLine(i);
  const next = offset + Buffer.byteLength(text) + 1;
  const doc = encode({ file: { key: 'Zv8ExUKtBcn7', dev: 1, ino: 2 }, path: '/var/log/app/orders.log', offset, next, text, truncated: false });
  offset = next;
  docs.push(doc);
  size += doc.opLength;
  if (size >= BODY_BYTES) {
    bodies.push(Buffer.from(bulkBody(docs)));
    docs = [];
    size = 0;
  }
}
const mib = bodies.reduce((n, b) => n + b.length, 0) / 2 ** 20;

/** Compresses every body, two at a time; returns CPU ms per MiB of body and the compression ratio. */
async function run(codec) {
  const start = process.cpuUsage();
  let out = 0;
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      // Not `out += await …`: that reads `out` before the await, and the other worker's sum would be lost.
      const compressed = await codec.compress(bodies[next++]);
      out += compressed.length;
    }
  };
  await Promise.all([worker(), worker()]);
  const u = process.cpuUsage(start);
  return { ms_per_mib: (u.user + u.system) / 1000 / mib, ratio: (mib * 2 ** 20) / out };
}

const codecs = { zlib: new GzipPool(1, 2), libdeflate: new LibdeflatePool(binding, 1, 2) };
for (const c of Object.values(codecs)) await run(c); // warm-up
const results = { zlib: [], libdeflate: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 === 0 ? ['zlib', 'libdeflate'] : ['libdeflate', 'zlib']) results[name].push(await run(codecs[name]));
}
const range = (xs, d = 2) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`\ngzip level 1 of ${bodies.length} ${file ? `pieces of ${file}` : '_bulk bodies'} (${mib.toFixed(0)} MiB, ~${(BODY_BYTES / 1024).toFixed(0)} KiB each), ${ROUNDS} rounds, Node ${process.version}\n`);
console.log('codec                  CPU ms per MiB (range)   mean   ratio');
for (const [name, rs] of Object.entries(results)) {
  const label = name === 'zlib' ? `zlib ${process.versions.zlib}` : `libdeflate ${binding.version}`;
  console.log(`${label.padEnd(22)} ${range(rs.map((r) => r.ms_per_mib)).padEnd(24)} ${mean(rs.map((r) => r.ms_per_mib)).toFixed(2).padStart(5)}   ${rs[0].ratio.toFixed(2)}`);
}
const summary = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, { ms_per_mib: +mean(rs.map((r) => r.ms_per_mib)).toFixed(3), ratio: +rs[0].ratio.toFixed(2) }]));
console.log(JSON.stringify({ bench: 'ship-gzip', node: process.version, file, mib: +mib.toFixed(1), rounds: ROUNDS, ...summary }));
for (const c of Object.values(codecs)) c.close();
