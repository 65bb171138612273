// Builds native/gzip-libdeflate.c (the libdeflate gzip binding that src/ship/output/gzip.ts prefers to node:zlib)
// into native/build/gzip-libdeflate.node with the C compiler (CC, default cc), Node-API's headers (the
// node-api-headers package) and libdeflate (Debian: libdeflate-dev), linked statically when its archive is there so
// that the built file needs nothing at run time.
// Without a compiler or libdeflate it says so and exits 0: the shipper then gzips with node:zlib. SIDEKICK_NATIVE=required
// (CI, the images) makes that an error (exit 1), so a machine that should have the fast path cannot lose it unnoticed;
// it also takes only the static archive (the images' runtime stage has no libdeflate), and checks that the result loads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// import.meta.dirname came with Node 20.11.
const root = resolve(import.meta.dirname ?? dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native/gzip-libdeflate.c');
const target = join(root, 'native/build/gzip-libdeflate.node');
const required = process.env.SIDEKICK_NATIVE === 'required';
// Built here first, then renamed: require() loads a file as an addon only by its .node extension.
const building = target.replace(/\.node$/, '.tmp.node');
// CC may carry flags (`gcc -g`), as make's does.
const [cc, ...ccFlags] = (process.env.CC || 'cc').trim().split(/\s+/);

function giveUp(reason) {
  const msg = `native: ${target.slice(root.length + 1)} not built: ${reason}; gzip falls back to node:zlib`;
  if (required) {
    console.error(`${msg} (SIDEKICK_NATIVE=required: failing)`);
    process.exit(1);
  }
  console.warn(`${msg} (Debian: apt-get install gcc libdeflate-dev, then npm run build)`);
  process.exit(0);
}

/** Loads the built file in a child Node (a failed dlopen must not take this script down); the reason, or undefined. */
function loadError(file) {
  try {
    execFileSync(process.execPath, ['-e', `const b = require(${JSON.stringify(file)}); b.open(1); if (typeof b.gzip !== 'function') throw new Error('no gzip()')`], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    return String(err.stderr || err.message).trim().split('\n').find((l) => /Error/.test(l)) ?? 'it does not load';
  }
}

if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
  if (!required) process.exit(0);
  // Under `required`, a file left from before must still load.
  const why = loadError(target);
  if (why === undefined) process.exit(0);
  rmSync(target);
}
let headers;
try {
  headers = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
} catch {
  giveUp('the node-api-headers package is not installed (npm ci installs it)');
}
mkdirSync(dirname(target), { recursive: true });
const base = [...ccFlags, '-shared', '-fPIC', '-O2', '-Wall', '-DNAPI_VERSION=8', '-I', headers, '-o', building, source];
let lastError = '';
// The static archive first (no run-time dependency), then, unless required, the shared library.
for (const lib of required ? ['-l:libdeflate.a'] : ['-l:libdeflate.a', '-ldeflate']) {
  try {
    execFileSync(cc, [...base, lib], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    lastError = err.code === 'ENOENT' ? `no C compiler (${cc})` : String(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ');
    continue;
  }
  const why = loadError(building);
  if (why === undefined) {
    renameSync(building, target);
    process.exit(0);
  }
  rmSync(building, { force: true });
  lastError = `built with ${lib} but it does not load: ${why}`;
}
giveUp(lastError);
