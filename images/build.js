#!/usr/bin/env node
'use strict';
/**
 * Builds sidekick's images from images/Dockerfile with the classic builder: `npm run images [-- options]`.
 *
 *   npm run images                          # every target, tagged :dev (sidekick-ship:dev, ...)
 *   npm run images -- probe ship            # only these targets
 *   npm run images -- --offline-base        # on the offline stand-in base (images/node-standin.sh), no pull
 *   npm run images -- --stand-ins           # also the stand-ins for the compose file's public images (:dev too)
 *   npm run images -- --tag 0.1.0
 *
 * The base is NODE_IMAGE (node:24-bookworm-slim): used when present, else pulled with a time limit, else the
 * offline stand-in is built and used. SIDEKICK_NODE_IMAGE=ref forces a base; SIDEKICK_NODE_STANDIN=1 the stand-in.
 * Every image also gets the tag build-<hash>, one hash of the base image and of every file the Dockerfile copies, the
 * same for all targets, so the tests (test/support/docker.ts) and compose (SIDEKICK_TAG=build-<hash>) reuse what is
 * already built and build what changed, once.
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

/**
 * Local stand-ins for the public images of docker-compose.elk.yml (images/stand-ins.Dockerfile), for the container
 * tests and the Docker demo where Docker Hub is out of reach: target -> image repository.
 */
const STANDINS = {
  app: 'sidekick-standin-app',
  haproxy: 'sidekick-standin-haproxy',
  opensearch: 'sidekick-standin-opensearch',
};
const STANDINS_DOCKERFILE = path.join(__dirname, 'stand-ins.Dockerfile');

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
function nodeImage(options = {}) {
  if (!chosenBase) chosenBase = chooseBase(options);
  return chosenBase;
}

async function chooseBase(options) {
  const log = options.log || (() => {});
  const forced = process.env.SIDEKICK_NODE_IMAGE;
  if (forced) return forced;
  const standin = options.standin || process.env.SIDEKICK_NODE_STANDIN === '1';
  if (!standin) {
    if (imageId(NODE_IMAGE)) return NODE_IMAGE;
    log(`pulling ${NODE_IMAGE} ...`);
    const pulled = await run('docker', ['pull', '--quiet', NODE_IMAGE], () => {}, { timeoutMs: PULL_TIMEOUT_MS }).then(
      () => true,
      (err) => (log(`cannot pull ${NODE_IMAGE}: ${err.message.split('\n').filter(Boolean).pop()}`), false),
    );
    if (pulled) return NODE_IMAGE;
  }
  log('using the offline stand-in base (images/node-standin.sh)');
  return (await run('bash', [path.join(__dirname, 'node-standin.sh')], log)).trim().split('\n').pop();
}

function filesUnder(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p).sort().flatMap((e) => filesUnder(path.join(p, e)));
}

/** The files images/Dockerfile's COPY instructions take from the build context (the repository). */
function copiedFiles() {
  const sources = [];
  for (const line of fs.readFileSync(DOCKERFILE, 'utf8').split('\n')) {
    const m = /^COPY\s+(?!--from)(.+)$/.exec(line.trim());
    if (m) sources.push(...m[1].split(/\s+/).slice(0, -1));
  }
  return sources.flatMap((s) => filesUnder(path.join(ROOT, s))).map((file) => ({ file, name: path.relative(ROOT, file) }));
}

/** The Maven-built test engine (built first if needed) as files of the stand-ins' build context: engine/classes, engine/lib. */
async function engineFiles(log) {
  const engine = require('../test/engine/engine.js');
  await engine.buildEngine({ log });
  const target = path.join(engine.ENGINE_DIR, 'target');
  const classes = filesUnder(path.join(target, 'classes')).map((file) => ({ file, name: path.join('engine', path.relative(target, file)) }));
  const jars = fs.readFileSync(path.join(target, 'classpath.txt'), 'utf8').trim().split(path.delimiter).filter(Boolean);
  return [...classes, ...jars.map((file) => ({ file, name: path.join('engine', 'lib', path.basename(file)) }))];
}

/** A hash of the base image's ID, the Dockerfile and the files of the build context its targets use. */
function buildHash(baseId, dockerfile, files) {
  const h = crypto.createHash('sha256').update(baseId).update(fs.readFileSync(dockerfile));
  for (const { file, name } of files) h.update(name).update('\0').update(fs.readFileSync(file)).update('\0');
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
 * Builds the targets of one Dockerfile that are not built yet and resolves to { base, images: { target: ref } },
 * ref being `<repo>:build-<hash>` (with tag, also `<repo>:<tag>`). The builder's RUN steps use the host's network
 * (`--network host`): they reach the Debian and npm registries as the host does, whether or not the engine's
 * bridge gives containers a route. Rejects with the builder's output when a build fails.
 */
async function buildSet(set, options) {
  const log = options.log || (() => {});
  const targets = options.targets && options.targets.length ? options.targets : Object.keys(set.repos);
  for (const t of targets) if (!set.repos[t]) throw new Error(`unknown image target "${t}": expected one of ${Object.keys(set.repos).join(', ')}`);
  const base = await nodeImage(options);
  return withLock('sidekick-images', async () => {
    const baseId = imageId(base) || base;
    const images = {};
    for (const target of targets) {
      const files = await set.files(target, log);
      const ref = `${set.repos[target]}:build-${buildHash(baseId, set.dockerfile, files)}`;
      images[target] = ref;
      const extra = options.tag ? `${set.repos[target]}:${options.tag}` : undefined;
      if (imageId(ref)) {
        if (extra) docker(['tag', ref, extra]);
        log(`${ref} is up to date`);
        continue;
      }
      const started = Date.now();
      log(`building ${ref} (target ${target}, base ${base}) ...`);
      const context = set.context ? set.context(files) : ROOT;
      try {
        // --force-rm: a failed step's container is removed too (by default only a successful build's are).
        const args = ['build', '--force-rm', '--network', 'host', '-f', set.dockerfile, '--target', target, '--build-arg', `NODE_IMAGE=${base}`, '-t', ref];
        await run('docker', [...args, ...(extra ? ['-t', extra] : []), context], options.verbose ? log : () => {});
      } finally {
        if (context !== ROOT) fs.rmSync(context, { recursive: true, force: true });
      }
      log(`built ${ref} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    return { base, images };
  });
}

/** Builds sidekick's images (targets of images/Dockerfile, default all of IMAGES); see buildSet. */
function buildImages(options = {}) {
  return buildSet({ dockerfile: DOCKERFILE, repos: IMAGES, files: async () => copiedFiles() }, options);
}

/** Builds the stand-ins for public images (targets of images/stand-ins.Dockerfile, default all of STANDINS). */
function buildStandins(options = {}) {
  return buildSet(
    {
      dockerfile: STANDINS_DOCKERFILE,
      repos: STANDINS,
      files: async (target, log) => (target === 'opensearch' ? engineFiles(log) : []),
      context: (files) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidekick-standins-'));
        for (const { file, name } of files) {
          fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
          fs.copyFileSync(file, path.join(dir, name));
        }
        return dir;
      },
    },
    options,
  );
}

module.exports = { IMAGES, STANDINS, NODE_IMAGE, ROOT, dockerUnavailableReason, nodeImage, buildImages, buildStandins, run };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const usage = (msg) => {
    if (msg) console.error(`images: ${msg}`);
    console.error(`usage: npm run images -- [--offline-base] [--stand-ins] [--tag TAG] [--quiet] [TARGET ...]   (targets: ${Object.keys(IMAGES).join(' ')})`);
    process.exit(msg ? 2 : 0);
  };
  const opts = { targets: [], tag: 'dev', standin: false, verbose: true };
  let standins = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--offline-base') opts.standin = true;
    else if (a === '--stand-ins') standins = true;
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
  const log = (l) => console.error(`images: ${l}`);
  (async () => {
    const sets = [[IMAGES, (await buildImages({ ...opts, log })).images]];
    if (standins) sets.push([STANDINS, (await buildStandins({ ...opts, targets: [], log })).images]);
    for (const [repos, images] of sets)
      for (const t of Object.keys(images)) {
        const ref = `${repos[t]}:${opts.tag}`;
        const size = docker(['image', 'inspect', '--format', '{{.Size}}', ref]).stdout.trim();
        console.log(`${ref.padEnd(36)} ${(Number(size) / 1e6).toFixed(0).padStart(5)} MB`);
      }
    log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  })().catch((err) => {
    log(err.message);
    process.exit(1);
  });
}
