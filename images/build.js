#!/usr/bin/env node
'use strict';
/**
 * Builds sidekick's images from images/Dockerfile with the classic builder: `npm run images [-- options]`.
 *
 *   npm run images                          # every target, tagged :dev (sidekick-ship:dev, ...)
 *   npm run images -- probe ship            # only these targets
 *   npm run images -- --standin             # on the offline stand-in base (images/node-standin.sh), no pull
 *   npm run images -- --tag 0.1.0
 *
 * The base is NODE_IMAGE (node:24-bookworm-slim): used when present, else pulled with a time limit, else the
 * offline stand-in is built and used. SIDEKICK_NODE_IMAGE=ref forces a base; SIDEKICK_NODE_STANDIN=1 the stand-in.
 * Every image also gets the tag build-<hash>, a hash of the base image and of every file the Dockerfile copies, so
 * the tests (test/support/docker.ts) reuse what is already built and build what changed, once.
 *
 * Plain CommonJS: the CLI runs without a build step and ts-jest requires it (types in build.d.ts).
 */
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DOCKERFILE = path.join(__dirname, 'Dockerfile');

/** Dockerfile target -> image repository. `npm run images` builds them in this order; add a program here. */
const IMAGES = {
  ship: 'sidekick-ship',
  probe: 'sidekick-probe',
  haproxy: 'sidekick-haproxy',
  heal: 'sidekick-heal',
  sidekick: 'sidekick',
};

/** The official base the Dockerfile names (its ARG NODE_IMAGE default). */
const NODE_IMAGE = /^ARG NODE_IMAGE=(\S+)$/m.exec(fs.readFileSync(DOCKERFILE, 'utf8'))[1];
const PULL_TIMEOUT_MS = 60_000;

function docker(args, options = {}) {
  return spawnSync('docker', args, { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why no Docker engine can be used from here, or null when `docker info` answers. */
function dockerUnavailableReason() {
  const r = docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  if (r.error && r.error.code === 'ENOENT') return 'the docker command is not installed (apt-get install -y docker.io)';
  if (r.error) return `docker info did not answer: ${r.error.code || r.error.message}`;
  if (r.status !== 0) return `docker info failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return null;
}

function imageId(ref) {
  const r = docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Runs a command, passing its output to log line by line; rejects with the tail of its output when it fails. */
function run(cmd, args, log, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    let tail = '';
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    const onData = (chunk, keep) => {
      tail = (tail + chunk).slice(-6000);
      if (keep) out += chunk;
      for (const line of String(chunk).split('\n')) if (line.trim()) log(line);
    };
    child.stdout.on('data', (c) => onData(c, true));
    child.stderr.on('data', (c) => onData(c, false));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ? `killed by ${signal}` : `exit ${code}`})\n${tail}`));
    });
  });
}

let chosenBase;
/**
 * The base image reference to build on, resolved once per process: SIDEKICK_NODE_IMAGE, else NODE_IMAGE when
 * present or pullable within a minute (unless standin or SIDEKICK_NODE_STANDIN=1), else the offline stand-in.
 */
async function nodeImage(options = {}) {
  const log = options.log || (() => {});
  if (chosenBase) return chosenBase;
  const forced = process.env.SIDEKICK_NODE_IMAGE;
  if (forced) return (chosenBase = forced);
  const standin = options.standin || process.env.SIDEKICK_NODE_STANDIN === '1';
  if (!standin) {
    if (imageId(NODE_IMAGE)) return (chosenBase = NODE_IMAGE);
    log(`pulling ${NODE_IMAGE} ...`);
    const pulled = await run('docker', ['pull', '--quiet', NODE_IMAGE], () => {}, { timeoutMs: PULL_TIMEOUT_MS }).then(
      () => true,
      (err) => (log(`cannot pull ${NODE_IMAGE}: ${err.message.split('\n').filter(Boolean).pop()}`), false),
    );
    if (pulled) return (chosenBase = NODE_IMAGE);
  }
  log('using the offline stand-in base (images/node-standin.sh)');
  const tag = (await run('bash', [path.join(__dirname, 'node-standin.sh')], log)).trim().split('\n').pop();
  return (chosenBase = tag);
}

function filesUnder(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p).sort().flatMap((e) => filesUnder(path.join(p, e)));
}

/** A hash of the base image's ID and of the Dockerfile and every file its COPY instructions take from the context. */
function buildHash(baseId) {
  const text = fs.readFileSync(DOCKERFILE, 'utf8');
  const sources = [];
  for (const line of text.split('\n')) {
    const m = /^COPY\s+(?!--from)(.+)$/.exec(line.trim());
    if (m) sources.push(...m[1].split(/\s+/).slice(0, -1));
  }
  const h = crypto.createHash('sha256').update(baseId).update(text);
  for (const file of sources.flatMap((s) => filesUnder(path.join(ROOT, s)))) {
    h.update(path.relative(ROOT, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Runs fn while holding a machine-wide lock file, so parallel test workers build each image once. */
async function withLock(name, fn) {
  const file = path.join(os.tmpdir(), `${name}.lock`);
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(file, 'utf8'));
      if (holder && !alive(holder)) fs.rmSync(file, { force: true });
      else await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * Builds the targets (default: all of IMAGES) and resolves to { base, hash, images: { target: ref } } where ref is
 * `<repo>:build-<hash>`; with tag, each image is also tagged `<repo>:<tag>`. A target whose build-<hash> image
 * exists is not built again. The builder's RUN steps use the host's network (`--network host`): they reach the
 * Debian and npm registries as the host does, whether or not the engine's bridge network gives them a route.
 * Rejects with the builder's output when a build fails.
 */
async function buildImages(options = {}) {
  const log = options.log || (() => {});
  const targets = options.targets && options.targets.length ? options.targets : Object.keys(IMAGES);
  for (const t of targets) if (!IMAGES[t]) throw new Error(`unknown image target "${t}": expected one of ${Object.keys(IMAGES).join(', ')}`);
  const base = await nodeImage(options);
  return withLock('sidekick-images', async () => {
    const baseId = imageId(base) || base;
    const hash = buildHash(baseId);
    const images = {};
    for (const target of targets) {
      const ref = `${IMAGES[target]}:build-${hash}`;
      images[target] = ref;
      const tags = ['-t', ref, ...(options.tag ? ['-t', `${IMAGES[target]}:${options.tag}`] : [])];
      if (imageId(ref)) {
        if (options.tag) docker(['tag', ref, `${IMAGES[target]}:${options.tag}`]);
        log(`${ref} is up to date`);
        continue;
      }
      const started = Date.now();
      log(`building ${ref} (target ${target}, base ${base}) ...`);
      await run('docker', ['build', '--network', 'host', '-f', DOCKERFILE, '--target', target, '--build-arg', `NODE_IMAGE=${base}`, ...tags, ROOT], options.verbose ? log : () => {});
      log(`built ${ref} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    return { base, hash, images };
  });
}

module.exports = { IMAGES, NODE_IMAGE, ROOT, dockerUnavailableReason, nodeImage, buildImages, run };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const usage = (msg) => {
    if (msg) console.error(`images: ${msg}`);
    console.error(`usage: npm run images -- [--standin] [--tag TAG] [--quiet] [TARGET ...]   (targets: ${Object.keys(IMAGES).join(' ')})`);
    process.exit(msg ? 2 : 0);
  };
  const opts = { targets: [], tag: 'dev', standin: false, verbose: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--standin') opts.standin = true;
    else if (a === '--quiet') opts.verbose = false;
    else if (a === '--tag') {
      opts.tag = argv[++i];
      if (!opts.tag || !/^[\w][\w.-]{0,127}$/.test(opts.tag)) usage(`--tag needs a Docker tag, got "${opts.tag ?? ''}"`);
    } else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (!IMAGES[a]) usage(`unknown target "${a}"`);
    else opts.targets.push(a);
  }
  const reason = dockerUnavailableReason();
  if (reason) {
    console.error(`images: no Docker engine: ${reason}`);
    process.exit(1);
  }
  const started = Date.now();
  buildImages({ ...opts, log: (l) => console.error(`images: ${l}`) })
    .then(({ images }) => {
      const rows = Object.keys(images).map((t) => {
        const ref = `${IMAGES[t]}:${opts.tag}`;
        const size = docker(['image', 'inspect', '--format', '{{.Size}}', ref]).stdout.trim();
        return `${ref.padEnd(28)} ${(Number(size) / 1e6).toFixed(0).padStart(5)} MB`;
      });
      console.log(rows.join('\n'));
      console.error(`images: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    })
    .catch((err) => {
      console.error(`images: ${err.message}`);
      process.exit(1);
    });
}
