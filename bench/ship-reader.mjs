// Reader comparison behind sidekick-ship's own tailer: @logdna/tail-file vs FileHandle.read into a reusable
// buffer, both framing lines with the shipper's Framer, over the benchmark file (run bench/ship.mjs first).
// Usage: npm run build && node bench/ship-reader.mjs
import { createRequire } from 'node:module';
import { open, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const root = resolve(new URL('.', import.meta.url).pathname, '..');
const { Framer } = require(join(root, 'dist/src/ship/input/framing.js'));
const TailFile = require('@logdna/tail-file');
const file = join(root, '.bench/ship-1m.log');
const size = await stat(file).then((s) => s.size, () => undefined);
if (size === undefined) {
  console.log(`${file} is missing: run bench/ship.mjs first (npm run bench runs it before this one)`);
  console.log(JSON.stringify({ bench: 'ship-reader', skipped: 'no benchmark file; run bench/ship.mjs first' }));
  process.exit(0);
}
const identity = { key: 'k', dev: 0, ino: 0 };

async function viaTailFile() {
  let lines = 0;
  const framer = new Framer(identity, file, 0, 1 << 20, () => lines++);
  const tail = new TailFile(file, { startPos: 0, pollFileIntervalMs: 100 });
  let pos = 0;
  await new Promise((done, fail) => {
    tail.on('data', (chunk) => {
      framer.push(chunk, 0, chunk.length, pos);
      pos += chunk.length;
      if (pos >= size) done();
    });
    tail.on('tail_error', fail);
    tail.start().catch(fail);
  });
  await tail.quit();
  return lines;
}

async function viaFileHandle() {
  let lines = 0;
  const framer = new Framer(identity, file, 0, 1 << 20, () => lines++);
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(128 * 1024);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    framer.push(buf, 0, bytesRead, pos);
    pos += bytesRead;
  }
  await fh.close();
  return lines;
}

const results = {};
for (const [name, fn] of [['tail-file', viaTailFile], ['filehandle', viaFileHandle], ['tail-file', viaTailFile], ['filehandle', viaFileHandle]]) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const lines = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  results[name] = { lines, s: +s.toFixed(2), mib_per_s: Math.round(size / 2 ** 20 / s), cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2) };
}
console.log(JSON.stringify({ bench: 'ship-reader', file_mib: +(size / 2 ** 20).toFixed(1), ...results }));
