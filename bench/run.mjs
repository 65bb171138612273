// `npm run bench`: runs every benchmark in bench/ one after another (after a build) and prints a summary.
// Each benchmark prints a readable table and, last, one JSON line with its figures: `{"bench": "...", ...}`;
// one that prints none counts as failed. What benchmarks share (fixtures, the counting endpoint, the minimal
// shipper they are compared with) lives in bench/lib/ and is not run on its own.
// `npm run bench -- ship` runs only the benchmarks whose file name contains "ship" (several words: any of them).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));
// A benchmark that reads what another one leaves behind runs after it.
const AFTER = { 'ship-reader.mjs': 'ship.mjs' };
const scripts = readdirSync(here, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.mjs') && e.name !== 'run.mjs')
  .map((e) => e.name)
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
for (const [later, first] of Object.entries(AFTER)) {
  if (!scripts.includes(later) || !scripts.includes(first)) continue;
  scripts.splice(scripts.indexOf(later), 1);
  scripts.splice(scripts.indexOf(first) + 1, 0, later);
}
if (scripts.length === 0) {
  process.stderr.write(`no benchmark in bench/ matches ${filters.join(', ')}\n`);
  process.exit(2);
}

const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: join(here, '..') });
if (build.status !== 0) process.exit(build.status ?? 1);

const summary = [];
let failed = 0;
for (const script of scripts) {
  process.stdout.write(`\n=== ${script} ===\n`);
  const r = spawnSync(process.execPath, [join(here, script), ...passThrough], { cwd: join(here, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  process.stdout.write(r.stdout);
  if (r.status !== 0) {
    failed++;
    summary.push({ bench: script, error: `exit ${r.status}` });
    continue;
  }
  const last = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{"bench"'));
  if (last) summary.push(JSON.parse(last));
  else {
    failed++;
    summary.push({ bench: script, error: 'printed no JSON line of figures' });
  }
}
process.stdout.write('\n=== summary (JSON lines) ===\n');
for (const s of summary) process.stdout.write(JSON.stringify(s) + '\n');
process.exit(failed ? 1 : 0);
