// Builds native/gzip-libdeflate.c (the libdeflate gzip binding that src/ship/output/gzip.ts prefers to node:zlib)
// into native/build/gzip-libdeflate.node with the C compiler (CC, default cc), Node-API's headers (the
// node-api-headers package) and libdeflate (Debian: libdeflate-dev), linked statically when its archive is there so
// that the built file needs nothing at run time.
// Without a compiler or libdeflate it says so and exits 0: the shipper then gzips with node:zlib. SIDEKICK_NATIVE=required
// (CI, the images) makes that an error (exit 1), so a machine that should have the fast path cannot lose it unnoticed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const source = join(root, 'native/gzip-libdeflate.c');
const target = join(root, 'native/build/gzip-libdeflate.node');
const required = process.env.SIDEKICK_NATIVE === 'required';
const cc = process.env.CC || 'cc';

function giveUp(reason) {
  const msg = `native: ${target.slice(root.length + 1)} not built: ${reason}; gzip falls back to node:zlib`;
  if (required) {
    console.error(`${msg} (SIDEKICK_NATIVE=required: failing)`);
    process.exit(1);
  }
  console.warn(`${msg} (Debian: apt-get install gcc libdeflate-dev, then npm run build)`);
  process.exit(0);
}

if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
let headers;
try {
  headers = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
} catch {
  giveUp('the node-api-headers package is not installed (npm ci installs it)');
}
mkdirSync(dirname(target), { recursive: true });
const base = ['-shared', '-fPIC', '-O2', '-Wall', '-DNAPI_VERSION=8', '-I', headers, '-o', target + '.tmp', source];
let lastError = '';
// The static archive first (no run-time dependency), then the shared library.
for (const lib of ['-l:libdeflate.a', '-ldeflate']) {
  try {
    execFileSync(cc, [...base, lib], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(target + '.tmp', target);
    process.exit(0);
  } catch (err) {
    lastError = err.code === 'ENOENT' ? `no C compiler (${cc})` : String(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ');
  }
}
giveUp(lastError);
