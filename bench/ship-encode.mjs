// Micro-benchmark of the shipper's output hot path, from the built dist/: makeEncoder (line → ECS document),
// bulkBody (NDJSON of create actions), Buffer + gzip level 1, reading a filter_path _bulk answer; then the whole
// send() path over HTTP (undici, as the sink does it) against the official client's transport doing the same
// _bulk, both to a counting endpoint in a child process so only the sender's CPU is measured.
// Usage: npm run build && node bench/ship-encode.mjs [--lines N] [--http-docs N]
import { fork } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(import.meta.url);
const { makeEncoder } = require(join(root, 'dist/src/ship/output/encoder.js'));
const { bulkBody, readBulkResponse } = require(join(root, 'dist/src/ship/output/bulk.js'));
const { createSink } = require(join(root, 'dist/src/ship/output/sink.js'));
const { Client } = require('@elastic/elasticsearch');
const { Registry } = require('prom-client');
const pino = require('pino');

// Child mode: run the counting endpoint (bench/lib/ship-endpoint.mjs) and report its URL to the parent.
if (process.argv.includes('--endpoint')) {
  const { startCountingEndpoint } = await import('./lib/ship-endpoint.mjs');
  const ep = await startCountingEndpoint();
  process.send(ep.url);
  process.on('disconnect', () => process.exit(0));
  await new Promise(() => {});
}

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const LINES = arg('--lines', 1_000_000);
const HTTP_DOCS = arg('--http-docs', 300_000);
const BATCH = 5_000; // ~5 MB of NDJSON per bulk, like the shipper's default batch

// ~150-byte lines like a Java service log, generated in batches so memory stays small.
const levels = ['INFO', 'WARN', 'DEBUG', 'ERROR'];
function linesBatch(start, n) {
  const out = new Array(n);
  for (let j = 0; j < n; j++) {
    const i = start + j;
    const text = `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.123Z ${levels[i % 4].padEnd(5)} [worker-${i % 16}] c.e.orders.OrderService - order ${i} processed in ${i % 997}ms customer=${(i * 7919) % 100000} status=OK`;
    out[j] = { file: { key: 'a1b2c3d4e5f60718', dev: 64769, ino: 1234567 }, path: '/var/log/app/orders.log', offset: i * 151, next: i * 151 + 151, text, truncated: false };
  }
  return out;
}

function cpuMs(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
}

const encode = makeEncoder({ hostName: 'bench-host', agentVersion: '0.1.0', fields: { service: { name: 'orders' }, env: 'prod' } });

// Stage timings accumulate per stage over LINES lines (line generation itself is not timed).
const t = { encode: 0, body: 0, gzip: 0, parse: 0 };
let rawBytes = 0;
let gzBytes = 0;
const okAnswer = (n) => `{"errors":false,"items":[${new Array(n).fill('{"create":{"status":201}}').join(',')}]}`;
for (let start = 0; start < LINES; start += BATCH) {
  const n = Math.min(BATCH, LINES - start);
  const lines = linesBatch(start, n);
  const answer = okAnswer(n);
  let c = process.cpuUsage();
  const docs = new Array(n);
  for (let j = 0; j < n; j++) docs[j] = encode(lines[j]);
  t.encode += cpuMs(c);
  c = process.cpuUsage();
  const body = bulkBody(docs);
  t.body += cpuMs(c);
  const buf = body;
  c = process.cpuUsage();
  const gz = gzipSync(buf, { level: 1 });
  t.gzip += cpuMs(c);
  c = process.cpuUsage();
  readBulkResponse(answer, n);
  t.parse += cpuMs(c);
  rawBytes += buf.length;
  gzBytes += gz.length;
}

// For comparison: the same documents as objects through JSON.stringify into one string, then a Buffer
// (what a naive encoder would do).
let naive = 0;
for (let start = 0; start < Math.min(LINES, 200_000); start += BATCH) {
  const lines = linesBatch(start, BATCH);
  const c = process.cpuUsage();
  let body = '';
  for (const l of lines) {
    body += JSON.stringify({ create: { _id: `${l.file.key}-${l.offset.toString(36)}` } }) + '\n';
    body += JSON.stringify({ '@timestamp': new Date().toISOString(), message: l.text, log: { file: { path: l.path }, offset: l.offset }, host: { name: 'bench-host' }, agent: { type: 'sidekick-ship', version: '0.1.0' }, service: { name: 'orders' }, env: 'prod' }) + '\n';
  }
  Buffer.from(body, 'utf8');
  naive += cpuMs(c);
}
const naivePerM = (naive / Math.min(LINES, 200_000)) * 1e6 / 1000;

const perM = (ms) => ((ms / LINES) * 1e6) / 1000; // CPU-seconds per million lines
const rate = (ms) => Math.round(LINES / (ms / 1000));
const rows = [
  ['makeEncoder (line → doc)', t.encode],
  ['bulkBody (docs → NDJSON Buffer)', t.body],
  ['encode + body', t.encode + t.body],
  ['gzip level 1', t.gzip],
  ['readBulkResponse (errors:false)', t.parse],
  ['all of the above', t.encode + t.body + t.gzip + t.parse],
];
console.log(`${LINES.toLocaleString()} lines of ~150 bytes, batches of ${BATCH}; NDJSON ${(rawBytes / 1e6).toFixed(0)} MB, gzip-1 ${(gzBytes / 1e6).toFixed(0)} MB (${((gzBytes / rawBytes) * 100).toFixed(1)}%)`);
console.log('stage'.padEnd(34) + 'CPU s/M lines'.padStart(14) + 'lines/s'.padStart(14));
for (const [name, ms] of rows) console.log(name.padEnd(34) + perM(ms).toFixed(3).padStart(14) + rate(ms).toLocaleString().padStart(14));
console.log('naive JSON.stringify docs + actions'.padEnd(34) + naivePerM.toFixed(3).padStart(14));

if (process.argv.includes('--no-http')) process.exit(0);
// HTTP: the sink (undici pool, async gzip level 1, filter_path) vs the official client's transport.
const endpoint = fork(fileURLToPath(import.meta.url), ['--endpoint'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const url = await new Promise((r) => endpoint.once('message', r));
const silent = pino({ level: 'silent' });

const httpLines = [];
for (let start = 0; start < HTTP_DOCS; start += BATCH) httpLines.push(linesBatch(start, BATCH));
async function timeHttp(name, sendBatch) {
  const c = process.cpuUsage();
  const w = process.hrtime.bigint();
  let inFlight = [];
  for (const lines of httpLines) {
    const docs = lines.map(encode);
    inFlight.push(sendBatch(docs));
    if (inFlight.length >= 4) {
      await inFlight.shift();
    }
  }
  await Promise.all(inFlight);
  const cpu = cpuMs(c);
  const wall = Number(process.hrtime.bigint() - w) / 1e6;
  return { name, cpuPerM: ((cpu / HTTP_DOCS) * 1e6) / 1000, linesPerSec: Math.round(HTTP_DOCS / (wall / 1000)) };
}

const sinkGzip = await createSink({ urls: [url], index: 'bench', flavor: 'elasticsearch', compression: 'gzip', requestTimeoutMs: 30000, backoff: { initialMs: 100, maxMs: 1000 }, deadLetterFile: '/tmp/sidekick-bench-dl.ndjson', logger: silent, registry: new Registry() });
const sinkPlain = await createSink({ urls: [url], index: 'bench', flavor: 'elasticsearch', compression: 'none', requestTimeoutMs: 30000, backoff: { initialMs: 100, maxMs: 1000 }, deadLetterFile: '/tmp/sidekick-bench-dl.ndjson', logger: silent, registry: new Registry() });
const client = new Client({ node: url, maxRetries: 0, compression: true });
const clientPlain = new Client({ node: url, maxRetries: 0, compression: false });
const viaClient = (c) => async (docs) => {
  const res = await c.transport.request({ method: 'POST', path: '/bench/_bulk', querystring: { filter_path: 'errors,items.*.status,items.*.error' }, bulkBody: bulkBody(docs).toString('utf8') });
  if (res.errors) throw new Error('unexpected errors');
};
const http = [];
// A warm-up pass so the first measured path does not pay for JIT compilation.
await timeHttp('warm-up', (d) => sinkPlain.send(d));
http.push(await timeHttp('sink send() gzip-1 (undici)', (d) => sinkGzip.send(d)));
http.push(await timeHttp('client transport gzip (level 6)', viaClient(client)));
http.push(await timeHttp('sink send() no compression', (d) => sinkPlain.send(d)));
http.push(await timeHttp('client transport no compression', viaClient(clientPlain)));
console.log(`\nHTTP, ${HTTP_DOCS.toLocaleString()} docs in bulks of ${BATCH}, 4 in flight, encode included (sender CPU only)`);
console.log('path'.padEnd(34) + 'CPU s/M lines'.padStart(14) + 'lines/s'.padStart(14));
for (const r of http) console.log(r.name.padEnd(34) + r.cpuPerM.toFixed(3).padStart(14) + r.linesPerSec.toLocaleString().padStart(14));
for (const s of [sinkGzip, sinkPlain]) await s.close();
await client.close();
await clientPlain.close();
endpoint.kill();

console.log(
  JSON.stringify({
    bench: 'ship-encode',
    lines: LINES,
    encodeBodyLinesPerSec: rate(t.encode + t.body),
    encodeBodyCpuSecPerM: +perM(t.encode + t.body).toFixed(3),
    gzip1CpuSecPerM: +perM(t.gzip).toFixed(3),
    allStagesCpuSecPerM: +perM(t.encode + t.body + t.gzip + t.parse).toFixed(3),
    naiveStringifyCpuSecPerM: +naivePerM.toFixed(3),
    http: Object.fromEntries(http.map((r) => [r.name, { cpuSecPerM: +r.cpuPerM.toFixed(3), linesPerSec: r.linesPerSec }])),
  }),
);
