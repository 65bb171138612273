// Benchmark: rendering the probe's status page for 1,000 checks with a history of 10 (what one refresh costs the
// probe's event loop), against JSON.stringify of the same /checks body, plus the page's size plain and gzipped.
// Run after `npm run build`.
import { createRequire } from 'node:module';
import { measure } from './lib/timing.mjs';
import { gzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const { renderProbePage } = require('../dist/src/probe/page.js');

const checks = Number(process.env.CHECKS ?? 1000);
const runs = Number(process.env.RUNS ?? 25);
const now = Date.now();
const history = (i) =>
  Array.from({ length: 10 }, (_v, k) => ({ at: new Date(now - (10 - k) * 1000).toISOString(), ok: (i + k) % 7 !== 0, duration_ms: 0.3 + (k % 5), message: (i + k) % 7 ? 'connected' : 'connection refused', detail: { connect_ms: 0.3 } }));
const body = {
  live: true,
  ready: false,
  checks: Array.from({ length: checks }, (_v, i) => {
    const h = history(i);
    return {
      check: `svc-${i}`, kind: 'tcp', target: `10.0.${i >> 8}.${i & 255}:5432`, role: 'both', interval_ms: 1000, timeout_ms: 1000, rise: 1, fall: 3, start_period_ms: 0,
      state: i % 50 ? 'healthy' : 'unhealthy', since: new Date(now - 60_000).toISOString(), consecutive: { successes: 3, failures: 0 },
      counters: { runs: 100, successes: 90, failures: 10, state_changes: 1 }, last: h[9], history: h,
    };
  }),
  webhooks: { delivered: 0, failed: 0, dropped: 0, retries: 0, queued: 0 },
};
const opts = { historySize: 10, webhooks: 0, startedAt: now };

const page = measure(() => renderProbePage(body, opts), runs);
const json = measure(() => JSON.stringify(body, null, 2), runs);
const html = renderProbePage(body, opts);
const gz = measure(() => gzipSync(html, { level: 1 }), runs);
const bytes = Buffer.byteLength(html);
const gzipped = gzipSync(html, { level: 1 }).length;

console.log(`probe page: ${checks} checks, history 10, ${runs} runs (node ${process.version})`);
console.log('case                         median ms  p90 ms');
for (const [name, r] of [['render the page', page], ['JSON.stringify /checks', json], ['gzip the page (level 1)', gz]]) {
  console.log(`${name.padEnd(28)} ${String(r.median_ms).padStart(9)}  ${String(r.p90_ms).padStart(6)}`);
}
console.log(`page ${(bytes / 1048576).toFixed(2)} MiB, gzipped ${(gzipped / 1024).toFixed(0)} KiB`);
console.log(JSON.stringify({ bench: 'probe-page', checks, runs, render: page, json_stringify: json, gzip: gz, bytes, gzipped }));
