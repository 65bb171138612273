// Latency of sidekick-ship into the real engine: a line appended to a file -> its _bulk item acknowledged, at a
// steady 1,000 and 10,000 lines/s. Each line carries the time it was appended; a recording proxy between the
// shipper and the engine reads each _bulk request and, when the engine answers, notes every line's age.
// Starts the embedded OpenSearch (test/engine) unless SIDEKICK_ES_URL is set, compiling as a deployed engine
// does (jvm 'server': both JIT tiers, fixed 1 GiB heap, parallel GC; the tests' engine starts with C1 only, for start time),
// and warms it up first: `--warmup` seconds (default 20) of shipping at the highest rate into a throwaway index.
// Usage: npm run build && node bench/ship-latency.mjs [--seconds 10] [--warmup 20]
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer, request as httpRequest, Agent } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const cli = join(root, 'dist/cmd/sidekick-ship.js');
const require = createRequire(import.meta.url);
const { MAPPINGS } = require(join(root, 'dist/src/ship/output/setup.js'));
const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 10;
const argWarmup = process.argv.indexOf('--warmup');
const ENGINE_WARMUP_S = argWarmup > 0 ? Number(process.argv[argWarmup + 1]) : 20;
const WARMUP_S = 2;
const RATES = (process.env.RATES ?? "1000,10000").split(",").map(Number);
const TARGETS = { 1000: 100, 10000: 250 };

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A proxy to the engine that records, for every line in a _bulk request, its age when the engine answered. */
async function recordingProxy(target) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const ages = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let stamps = [];
      if (req.url.includes('/_bulk')) {
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
        // Every line is "lat <stamp> ...": find the stamps in the source lines.
        stamps = [...text.matchAll(/"message":"lat (\d+\.\d+) /g)].map((m) => Number(m[1]));
      }
      const url = new URL(req.url, target);
      const fwd = httpRequest(url, { method: req.method, headers: { ...req.headers, host: url.host }, agent }, (up) => {
        const parts = [];
        up.on('data', (c) => parts.push(c));
        up.on('end', () => {
          const at = now();
          if (up.statusCode === 200) for (const s of stamps) ages.push(at - s);
          res.writeHead(up.statusCode, up.headers);
          res.end(Buffer.concat(parts));
        });
      });
      fwd.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'proxy', reason: String(err) } }));
      });
      fwd.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    ages,
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); agent.destroy(); }),
  };
}

/** Appends `rate` lines a second for `seconds`, each stamped with the time it is written; returns how many. */
async function append(file, rate, seconds) {
  const fd = openSync(file, 'a');
  const pad = 'x'.repeat(80);
  const started = now();
  let written = 0;
  while (now() - started < seconds * 1000) {
    const due = Math.floor(((now() - started) / 1000) * rate);
    if (due > written) {
      let text = '';
      const stamp = now().toFixed(3);
      for (; written < due; written++) text += `lat ${stamp} ${written} ${pad}\n`;
      writeSync(fd, text);
    }
    await sleep(1);
  }
  closeSync(fd);
  return written;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

let engine;
let esUrl = process.env.SIDEKICK_ES_URL;
if (!esUrl) {
  const { startEngine } = require(join(root, 'test/engine/engine.js'));
  engine = await startEngine({ jvm: 'server', heap: '1g', log: (l) => process.stderr.write(`engine: ${l}\n`) });
  esUrl = engine.url;
}
/** Ships `rate` lines a second for `seconds` through the recording proxy; resolves to { written, ages }. */
async function measure(rate, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'ship-latency-'));
  const file = join(dir, 'app.log');
  closeSync(openSync(file, 'w'));
  const proxy = await recordingProxy(esUrl);
  const index = `bench-latency-${rate}-${Date.now()}`;
  // Created beforehand: creating an index on the first write takes seconds, and would be counted as latency. With the
  // mappings `sidekick-ship setup` puts in its index template, as a deployment has them: dynamic mapping would index
  // every string twice (text and keyword), and at 10,000 lines/s the engine's CPU is what the latency depends on.
  const created = await fetch(`${esUrl}/${index}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings: MAPPINGS }) });
  if (!created.ok) throw new Error(`creating index ${index}: HTTP ${created.status} ${(await created.text()).slice(0, 300)}`);
  await fetch(`${esUrl}/_cluster/health/${index}?wait_for_status=green&timeout=60s`);
  const child = spawn(process.execPath, [cli, '--es', proxy.url, '--index', index, '--state-dir', join(dir, 'state'), '--log-level', 'warn', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  await sleep(1500);
  const written = await append(file, rate, seconds);
  // Let the last lines arrive, then stop.
  for (let i = 0; i < 100 && proxy.ages.length < written; i++) await sleep(100);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await proxy.close();
  await fetch(`${esUrl}/${index}`, { method: 'DELETE' }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  return { written, ages: proxy.ages };
}

const results = {};
try {
  if (ENGINE_WARMUP_S > 0) {
    const rate = Math.max(...RATES);
    process.stderr.write(`warming up: ${ENGINE_WARMUP_S} s at ${rate} lines/s (not counted)\n`);
    await measure(rate, ENGINE_WARMUP_S);
  }
  for (const rate of RATES) {
    const { written, ages: all } = await measure(rate, SECONDS);
    // The first seconds warm the JIT and the engine: left out.
    const skip = Math.min(Math.floor(rate * WARMUP_S), Math.floor(all.length / 2));
    if (all.length === 0) throw new Error(`no line of ${written} was acknowledged at ${rate} lines/s`);
    const ages = all.slice(skip).sort((a, b) => a - b);
    results[rate] = {
      lines: written,
      acknowledged: all.length,
      p50_ms: +percentile(ages, 50).toFixed(1),
      p99_ms: +percentile(ages, 99).toFixed(1),
      max_ms: +ages[ages.length - 1].toFixed(1),
      target_p99_ms: TARGETS[rate],
    };
  }
} finally {
  await engine?.stop();
}

console.log(`\nsidekick-ship latency: line appended -> _bulk item acknowledged by the engine (${SECONDS} s per rate, first ${WARMUP_S} s left out)\n`);
console.log('lines/s   lines  acknowledged  p50 ms  p99 ms  max ms  target p99 ms');
for (const rate of RATES) {
  const r = results[rate];
  console.log(`${String(rate).padStart(7)}  ${String(r.lines).padStart(6)}  ${String(r.acknowledged).padStart(12)}  ${String(r.p50_ms).padStart(6)}  ${String(r.p99_ms).padStart(6)}  ${String(r.max_ms).padStart(6)}  ${String(r.target_p99_ms).padStart(13)}`);
}
console.log(JSON.stringify({ bench: 'ship-latency', ...Object.fromEntries(RATES.map((r) => [`rate_${r}`, results[r]])) }));
