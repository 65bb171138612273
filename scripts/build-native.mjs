// Builds the shipper's Node-API bindings with the C compiler (CC, default cc) and Node-API's headers (the
// node-api-headers package), each into native/build/<name>.node:
// - native/gzip-libdeflate.c: libdeflate's gzip, which src/ship/output/gzip.ts prefers to node:zlib; needs libdeflate
//   (Debian: libdeflate-dev), linked statically when its archive is there so that the built file needs nothing at run
//   time;
// - native/bulk-lines.c: frames plain lines and writes their _bulk operations (src/ship/output/encoder.ts,
//   makeRunEncoder), a run of lines per call; needs nothing but libc.
// A binding that cannot be built (no compiler, no libdeflate) is said and skipped, exit 0: the shipper then does that
// part in JS (node:zlib; the per-line encoder). SIDEKICK_NATIVE=required (CI, the images) makes it an error (exit 1),
// so a machine that should have the fast paths cannot lose them unnoticed; it also takes only libdeflate's static
// archive (the images' runtime stage has no libdeflate), and checks that each result loads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// import.meta.dirname came with Node 20.11.
const root = resolve(import.meta.dirname ?? dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.SIDEKICK_NATIVE === 'required';
// CC may carry flags (`gcc -g`), as make's does.
const [cc, ...ccFlags] = (process.env.CC || 'cc').trim().split(/\s+/);

/** The bindings: the libraries each links (tried in turn), what proves it loads, what the shipper does without it. */
const ADDONS = [
  {
    name: 'gzip-libdeflate',
    // The static archive first (no run-time dependency), then, unless required, the shared library.
    libs: required ? [['-l:libdeflate.a']] : [['-l:libdeflate.a'], ['-ldeflate']],
    check: "b.open(1); if (typeof b.gzip !== 'function') throw new Error('no gzip()')",
    without: 'gzip falls back to node:zlib',
    hint: 'apt-get install gcc libdeflate-dev',
  },
  {
    name: 'bulk-lines',
    libs: [[]],
    check: "if (typeof b.writeLines !== 'function') throw new Error('no writeLines()')",
    without: 'plain lines are encoded one by one in JS',
    hint: 'apt-get install gcc',
  },
];

/** Loads a built file in a child Node (a failed dlopen must not take this script down); the reason, or undefined. */
function loadError(file, check) {
  try {
    execFileSync(process.execPath, ['-e', `const b = require(${JSON.stringify(file)}); ${check}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    return String(err.stderr || err.message).trim().split('\n').find((l) => /Error/.test(l)) ?? 'it does not load';
  }
}

/** Builds one binding when its file is missing or older than its source; the reason it could not, or undefined. */
function build(addon, headers) {
  const source = join(root, `native/${addon.name}.c`);
  const target = join(root, `native/build/${addon.name}.node`);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
    if (!required) return undefined;
    // Under `required`, a file left from before must still load.
    if (loadError(target, addon.check) === undefined) return undefined;
    rmSync(target);
  }
  if (headers === undefined) return 'the node-api-headers package is not installed (npm ci installs it)';
  // Built here first, then renamed: require() loads a file as an addon only by its .node extension.
  const building = target.replace(/\.node$/, '.tmp.node');
  mkdirSync(dirname(target), { recursive: true });
  const base = [...ccFlags, '-shared', '-fPIC', '-O2', '-Wall', '-DNAPI_VERSION=8', '-I', headers, '-o', building, source];
  let lastError = '';
  for (const libs of addon.libs) {
    try {
      execFileSync(cc, [...base, ...libs], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      lastError = err.code === 'ENOENT' ? `no C compiler (${cc})` : String(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ');
      continue;
    }
    const why = loadError(building, addon.check);
    if (why === undefined) {
      renameSync(building, target);
      return undefined;
    }
    rmSync(building, { force: true });
    lastError = `built${libs.length ? ` with ${libs.join(' ')}` : ''} but it does not load: ${why}`;
  }
  return lastError;
}

let headers;
try {
  headers = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
} catch {
  headers = undefined;
}
let failed = false;
for (const addon of ADDONS) {
  const why = build(addon, headers);
  if (why === undefined) continue;
  const msg = `native: native/build/${addon.name}.node not built: ${why}; ${addon.without}`;
  if (required) {
    console.error(`${msg} (SIDEKICK_NATIVE=required: failing)`);
    failed = true;
  } else console.warn(`${msg} (Debian: ${addon.hint}, then npm run build)`);
}
process.exit(failed ? 1 : 0);
