'use strict';
/**
 * Build and start the embedded OpenSearch test engine (test/engine, a small Maven project).
 *
 * Plain CommonJS on purpose: run.mjs imports it without a build step, and jest's globalSetup
 * (TypeScript compiled to CommonJS by ts-jest) requires it. Types are in engine.d.ts.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const OPENSEARCH_VERSION = '2.19.6';
const ENGINE_DIR = __dirname;
const TARGET_DIR = path.join(ENGINE_DIR, 'target');
const CLASSPATH_FILE = path.join(TARGET_DIR, 'classpath.txt');
const MAIN_CLASS = 'sidekick.engine.EmbeddedOpenSearch';
const MAIN_CLASS_FILE = path.join(TARGET_DIR, 'classes', 'sidekick', 'engine', 'EmbeddedOpenSearch.class');
const READY_PREFIX = 'OPENSEARCH_READY ';

/** A tool the engine needs (java or mvn) is missing or unusable. */
class EngineToolMissingError extends Error {
  constructor(tool, detail) {
    super(`${tool} is required for the embedded test engine (OpenSearch ${OPENSEARCH_VERSION}) but ${detail}. ` +
      (tool === 'java'
        ? 'Install a JDK 17+ (e.g. apt-get install -y openjdk-17-jdk-headless) or set JAVA_HOME, '
        : 'Install Maven 3.6+ (e.g. apt-get install -y maven), ') +
      'or point the tests at your own engine with SIDEKICK_TEST_ES_URL=http://host:9200.');
    this.name = 'EngineToolMissingError';
    this.code = 'ENGINE_TOOL_MISSING';
    this.tool = tool;
  }
}

function javaCommand() {
  const home = process.env.JAVA_HOME;
  if (home) {
    const candidate = path.join(home, 'bin', 'java');
    if (fs.existsSync(candidate)) return candidate;
  }
  return 'java';
}

/** Checks that java (17+) is usable; returns its major version. Throws EngineToolMissingError. */
function checkJava() {
  const cmd = javaCommand();
  const r = spawnSync(cmd, ['-version'], { encoding: 'utf8' });
  if (r.error) throw new EngineToolMissingError('java', `"${cmd}" could not be run (${r.error.code || r.error.message})`);
  const text = `${r.stderr}${r.stdout}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (r.status !== 0 || !m) throw new EngineToolMissingError('java', `"${cmd} -version" failed: ${text.trim().slice(0, 200)}`);
  let major = Number(m[1]);
  if (major === 1 && m[2]) major = Number(m[2]);
  if (major < 17) throw new EngineToolMissingError('java', `"${cmd}" is Java ${major}; OpenSearch ${OPENSEARCH_VERSION} needs Java 17 or newer`);
  return major;
}

/** Checks that mvn is usable. Throws EngineToolMissingError. */
function checkMaven() {
  const r = spawnSync('mvn', ['-v'], { encoding: 'utf8', env: { ...process.env, MAVEN_OPTS: process.env.MAVEN_OPTS || '' } });
  if (r.error) throw new EngineToolMissingError('mvn', `"mvn" could not be run (${r.error.code || r.error.message})`);
  if (r.status !== 0) throw new EngineToolMissingError('mvn', `"mvn -v" failed: ${`${r.stdout}${r.stderr}`.trim().slice(0, 200)}`);
}

function newestMtime(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

/** Why the engine needs (re)building, or null when target/ is up to date. */
function buildReason() {
  if (!fs.existsSync(CLASSPATH_FILE) || !fs.existsSync(MAIN_CLASS_FILE)) return 'target/ is missing';
  const built = fs.statSync(CLASSPATH_FILE).mtimeMs;
  const sources = Math.max(newestMtime(path.join(ENGINE_DIR, 'pom.xml')), newestMtime(path.join(ENGINE_DIR, 'src')));
  if (sources > built) return 'pom.xml or src/ changed since the last build';
  const missing = readClasspath().find((jar) => !fs.existsSync(jar));
  if (missing) return `dependency ${missing} is gone from the local Maven repository`;
  return null;
}

function readClasspath() {
  return fs.readFileSync(CLASSPATH_FILE, 'utf8').trim().split(path.delimiter).filter(Boolean);
}

/**
 * Builds test/engine with Maven when target/ is missing or stale (or always with force).
 * Resolves to { built, reason, ms }. Throws EngineToolMissingError if mvn/java are missing,
 * or an Error carrying Maven's output if the build fails.
 */
async function buildEngine(options = {}) {
  const log = options.log || (() => {});
  checkJava();
  const reason = options.force ? 'forced' : buildReason();
  if (!reason) return { built: false, reason: 'up to date', ms: 0 };
  checkMaven();
  log(`building the test engine (${reason}) ...`);
  const started = Date.now();
  const args = ['-B', '-q', '-f', path.join(ENGINE_DIR, 'pom.xml'), 'package'];
  const output = await new Promise((resolve, reject) => {
    const child = spawn('mvn', args, { cwd: ENGINE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', (err) => reject(new EngineToolMissingError('mvn', `"mvn" could not be run (${err.message})`)));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`Maven build of the test engine failed (exit ${code}): mvn ${args.join(' ')}\n${out.slice(-6000)}`));
    });
  });
  // Maven -q still prints colour resets; anything else is worth showing.
  const rest = output.split(String.fromCharCode(27)).map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;]*m/, ''))).join('').trim();
  if (rest) log(rest);
  if (!fs.existsSync(CLASSPATH_FILE)) throw new Error(`Maven build finished but ${CLASSPATH_FILE} is missing`);
  // build-classpath leaves an unchanged classpath.txt untouched, and buildReason() dates the build by it.
  const now = new Date();
  fs.utimesSync(CLASSPATH_FILE, now, now);
  return { built: true, reason, ms: Date.now() - started };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls GET /_cluster/health?<query> until it answers 200 or the deadline passes; `what` names the wait in errors. */
async function pollHealth(url, query, what, deadline, isDead) {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (isDead && isDead()) throw new Error(`a node exited while waiting for ${what}`);
    try {
      const res = await fetch(`${url}/_cluster/health?${query}`, { signal: globalThis.AbortSignal.timeout(5000) });
      const body = await res.text();
      if (res.status === 200) return JSON.parse(body);
      last = `HTTP ${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = err && err.message ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`the engine at ${url} did not reach ${what} in time: ${last}`);
}

/** Polls until the cluster at url is yellow or better. */
function waitForHealth(url, deadline, isDead) {
  return pollHealth(url, 'wait_for_status=yellow&timeout=1s', 'health yellow', deadline, isDead);
}

/** Polls until the cluster behind url has `count` nodes and is green (the deadline passing throws). */
function waitForCluster(url, count, deadline, isDead) {
  return pollHealth(url, `wait_for_nodes=${count}&wait_for_status=green&timeout=1s`, `${count} nodes and health green`, deadline, isDead);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The JVM's flags by mode: 'test' (the default) starts fast and small (serial GC, C1 compiler only), which is what
 * a test suite starting many engines wants; 'server' compiles as a deployed OpenSearch does (both JIT tiers) with a
 * fixed heap, for benchmarks that measure the engine's answer times, after a warm-up. It uses the parallel collector
 * (one GC thread a core): on the 2-core build machine, indexing 10,000 lines/s (bench/ship-latency.mjs) it halved
 * the time in young pauses against the serial collector and gave the lowest p99; OpenSearch's own G1 (with
 * MaxGCPauseMillis=50) paused least but cost the most CPU and gave the highest p99 (405-460 ms), and a bounded young
 * generation (-Xmn64m/128m) only paused more often.
 */
const JVM_MODES = {
  test: (heap) => ['-Xms256m', `-Xmx${heap}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'],
  server: (heap) => [`-Xms${heap}`, `-Xmx${heap}`, '-XX:+UseParallelGC'],
};

function javaArgs(heap, logLevel, nodeArgs, jvm = 'test') {
  const classpath = [path.join(TARGET_DIR, 'classes'), ...readClasspath()].join(path.delimiter);
  const extra = (process.env.SIDEKICK_ENGINE_JAVA_OPTS || '').split(/\s+/).filter(Boolean);
  const mode = JVM_MODES[jvm];
  if (!mode) throw new Error(`engine jvm mode must be one of ${Object.keys(JVM_MODES).join(', ')}, not ${JSON.stringify(jvm)}`);
  return [
    ...mode(heap),
    '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8',
    '-Dopensearch.set.netty.runtime.available.processors=false',
    `-Dsidekick.engine.log=${logLevel}`,
    ...extra,
    '-cp', classpath, MAIN_CLASS, ...nodeArgs,
  ];
}

/**
 * Spawns one JVM running EmbeddedOpenSearch with nodeArgs and resolves once it has printed its URL.
 * Resolves to { url, pid, child, exited, stop(graceMs) }; on failure the JVM is stopped and the error thrown.
 */
async function spawnNode(nodeArgs, options) {
  const log = options.log || (() => {});
  const heap = options.heap || '768m';
  const logLevel = options.logLevel || process.env.SIDEKICK_ENGINE_LOG || 'WARN';
  const timeoutMs = options.timeoutMs || 120000;
  const exitWithParent = options.exitWithParent !== false;
  const onStderr = options.onStderr || ((chunk) => process.stderr.write(chunk));
  const jvm = options.jvm || process.env.SIDEKICK_ENGINE_JVM || 'test';
  const args = javaArgs(heap, logLevel, [...nodeArgs, ...(exitWithParent ? ['--exit-on-stdin-eof'] : [])], jvm);
  const child = spawn(javaCommand(), args, { cwd: ENGINE_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderrTail = '';
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  child.stderr.on('data', (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-8000);
    onStderr(chunk);
  });
  // Keep the pipe open but never hold the event loop for it.
  child.stdin.on('error', () => {});
  if (child.stdin._handle && typeof child.stdin._handle.unref === 'function') child.stdin._handle.unref();

  const stop = async (graceMs = 20000) => {
    if (exitInfo) return exitInfo;
    child.kill('SIGTERM');
    const timer = setTimeout(() => { if (!exitInfo) child.kill('SIGKILL'); }, graceMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };

  let url;
  try {
    url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`the engine did not report readiness within ${timeoutMs} ms`)), timeoutMs);
      child.stdout.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line.startsWith(READY_PREFIX)) {
            clearTimeout(timer);
            resolve(line.slice(READY_PREFIX.length).trim());
          } else if (line) {
            log(line);
          }
        }
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err.code === 'ENOENT' ? new EngineToolMissingError('java', `"${javaCommand()}" could not be run`) : err);
      });
      exited.then((info) => {
        clearTimeout(timer);
        reject(new Error(`the engine exited before it was ready (code ${info.code}, signal ${info.signal})\n${stderrTail}`));
      });
    });
  } catch (err) {
    await stop(5000);
    throw err;
  }
  child.stdout.resume();
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    if (typeof stream.unref === 'function') stream.unref();
  }
  return { url, pid: child.pid, child, exited, stop, isDead: () => exitInfo !== null };
}

/**
 * Starts the engine (building it first if needed) and resolves once it serves REST and the cluster
 * is yellow or better. Options: port (0 = any free port, the default), heap ('768m'), jvm ('test', the default:
 * quick to start; 'server': both JIT tiers, a fixed heap and the parallel collector, for benchmarks; env SIDEKICK_ENGINE_JVM),
 * logLevel (log4j level, default env SIDEKICK_ENGINE_LOG or WARN), timeoutMs (120000),
 * log (line logger for build/progress messages), onStderr (gets the JVM's stderr chunks; default:
 * forwarded to process.stderr), exitWithParent (true: the JVM stops when this process's pipe closes).
 * Resolves to { url, port, pid, startMs, child, exited, stop() }.
 */
async function startEngine(options = {}) {
  await buildEngine({ log: options.log });
  const port = options.port === undefined ? 0 : Number(options.port);
  const started = Date.now();
  const node = await spawnNode(['--port', String(port)], options);
  try {
    await waitForHealth(node.url, started + (options.timeoutMs || 120000), node.isDead);
  } catch (err) {
    await node.stop(5000);
    throw err;
  }
  return {
    url: node.url,
    port: Number(new URL(node.url).port),
    pid: node.pid,
    startMs: Date.now() - started,
    child: node.child,
    exited: node.exited,
    stop: node.stop,
  };
}

/**
 * Starts an OpenSearch cluster of `nodes` (2 or 3; default 3) nodes on loopback, each its own JVM with its
 * own data path (under one temp directory) and its own HTTP and transport ports, discovering each other
 * through the transport ports. Resolves once every node has joined and the cluster is green. Options as
 * for startEngine (heap defaults to 512m per node) plus basePorts: { http, transport } (consecutive
 * ports from there; default: free ports). Resolves to { urls, nodes, startMs, health(), stop() };
 * each node is { name, url, port, transportPort, dataDir, pid, running, kill(signal), start(), stop(), exited(), ref() }:
 * kill() ends it abruptly (SIGKILL by default) and resolves once it is gone; start() starts it again on
 * the same ports and data path and resolves once it has rejoined.
 * Two nodes tolerate no node loss (a voting configuration of one); three tolerate one.
 */
async function startCluster(options = {}) {
  const log = options.log || (() => {});
  const count = options.nodes === undefined ? 3 : Number(options.nodes);
  if (!Number.isInteger(count) || count < 2 || count > 9) throw new Error(`a cluster needs 2 to 9 nodes, not ${options.nodes}`);
  await buildEngine({ log });
  const heap = options.heap || '512m';
  // A node lost or joining makes the others log warnings with stack traces: expected here, so ERROR by default.
  const logLevel = options.logLevel || process.env.SIDEKICK_ENGINE_LOG || 'ERROR';
  const timeoutMs = options.timeoutMs || 180000;
  const started = Date.now();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'sidekick-cluster-'));
  const clusterName = `sidekick-cluster-${process.pid}`;
  const names = Array.from({ length: count }, (_v, i) => `node-${i + 1}`);
  const ports = [];
  for (let i = 0; i < count; i++) {
    const http = options.basePorts ? options.basePorts.http + i : await freePort();
    const transport = options.basePorts ? options.basePorts.transport + i : await freePort();
    ports.push({ http, transport });
  }
  const seeds = ports.map((p) => `127.0.0.1:${p.transport}`).join(',');

  const nodes = names.map((name, i) => {
    const dataDir = path.join(base, name);
    const args = [
      '--port', String(ports[i].http), '--transport-port', String(ports[i].transport),
      '--node-name', name, '--cluster-name', clusterName, '--data', dataDir,
      '--seed-hosts', seeds, '--initial-cluster-managers', names.join(','),
    ];
    let proc = null;
    const node = {
      name,
      url: `http://127.0.0.1:${ports[i].http}`,
      port: ports[i].http,
      transportPort: ports[i].transport,
      dataDir,
      get pid() { return proc ? proc.pid : undefined; },
      get running() { return proc !== null && !proc.isDead(); },
      async launch() {
        if (node.running) throw new Error(`${name} is already running`);
        proc = await spawnNode(args, { ...options, heap, timeoutMs, logLevel, log: (l) => log(`${name}: ${l}`) });
      },
      async start() {
        await node.launch();
        await waitForCluster(node.url, count, Date.now() + timeoutMs, proc.isDead);
      },
      async kill(signal = 'SIGKILL') {
        if (!proc || proc.isDead()) return;
        proc.child.kill(signal);
        await proc.exited;
      },
      async stop(graceMs) {
        if (proc) await proc.stop(graceMs);
      },
      /** Resolves when the node's current process exits. */
      exited() {
        return proc ? proc.exited : Promise.resolve(null);
      },
      /** Keeps this process alive while the node runs (npm run engine). */
      ref() {
        if (proc) proc.child.ref();
      },
    };
    return node;
  });

  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    // All at once: the first election waits for a majority of the initial cluster managers anyway.
    await Promise.all(nodes.map((n) => n.launch()));
    await waitForCluster(nodes[0].url, count, started + timeoutMs, () => nodes.some((n) => !n.running));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls: nodes.map((n) => n.url),
    nodes,
    startMs: Date.now() - started,
    /** GET /_cluster/health on the first running node. */
    async health() {
      const n = nodes.find((x) => x.running);
      if (!n) throw new Error('no node of the cluster is running');
      const res = await fetch(`${n.url}/_cluster/health`);
      return res.json();
    },
    stop,
  };
}

module.exports = {
  OPENSEARCH_VERSION,
  ENGINE_DIR,
  EngineToolMissingError,
  buildEngine,
  buildReason,
  checkJava,
  checkMaven,
  startCluster,
  startEngine,
  waitForCluster,
  waitForHealth,
};
