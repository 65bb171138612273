'use strict';
/**
 * Build and start the embedded OpenSearch test engine (test/engine, a small Maven project).
 *
 * Plain CommonJS on purpose: run.mjs imports it without a build step, and jest's globalSetup
 * (TypeScript compiled to CommonJS by ts-jest) requires it. Types are in engine.d.ts.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
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

/** Polls GET /_cluster/health?wait_for_status=yellow until it answers 200 or the deadline passes. */
async function waitForHealth(url, deadline, isDead) {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (isDead && isDead()) throw new Error('the engine exited while waiting for cluster health');
    try {
      const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: globalThis.AbortSignal.timeout(5000) });
      const body = await res.text();
      if (res.status === 200) return JSON.parse(body);
      last = `HTTP ${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = err && err.message ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`the engine at ${url} did not become healthy (yellow) in time: ${last}`);
}

/**
 * Starts the engine (building it first if needed) and resolves once it serves REST and the cluster
 * is yellow or better. Options: port (0 = any free port, the default), heap ('768m'),
 * logLevel (log4j level, default env SIDEKICK_ENGINE_LOG or WARN), timeoutMs (120000),
 * log (line logger for build/progress messages), onStderr (gets the JVM's stderr chunks; default:
 * forwarded to process.stderr), exitWithParent (true: the JVM stops when this process's pipe closes).
 * Resolves to { url, port, pid, startMs, child, exited, stop() }.
 */
async function startEngine(options = {}) {
  const log = options.log || (() => {});
  await buildEngine({ log });
  const port = options.port === undefined ? 0 : Number(options.port);
  const heap = options.heap || '768m';
  const logLevel = options.logLevel || process.env.SIDEKICK_ENGINE_LOG || 'WARN';
  const timeoutMs = options.timeoutMs || 120000;
  const exitWithParent = options.exitWithParent !== false;
  const onStderr = options.onStderr || ((chunk) => process.stderr.write(chunk));

  const classpath = [path.join(TARGET_DIR, 'classes'), ...readClasspath()].join(path.delimiter);
  const extra = (process.env.SIDEKICK_ENGINE_JAVA_OPTS || '').split(/\s+/).filter(Boolean);
  const args = [
    '-Xms512m', `-Xmx${heap}`,
    '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8',
    '-Dopensearch.set.netty.runtime.available.processors=false',
    `-Dsidekick.engine.log=${logLevel}`,
    ...extra,
    '-cp', classpath, MAIN_CLASS, '--port', String(port),
    ...(exitWithParent ? ['--exit-on-stdin-eof'] : []),
  ];
  const started = Date.now();
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
    await waitForHealth(url, started + timeoutMs, () => exitInfo !== null);
  } catch (err) {
    await stop(5000);
    throw err;
  }
  child.stdout.resume();
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    if (typeof stream.unref === 'function') stream.unref();
  }
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid,
    startMs: Date.now() - started,
    child,
    exited,
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
  startEngine,
  waitForHealth,
};
