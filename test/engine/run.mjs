#!/usr/bin/env node
// Runs the embedded OpenSearch test engine in the foreground:
//   npm run engine -- [--port 9200] [--heap 768m] [--jvm test|server] [--rebuild]
//   npm run engine -- --nodes 3 [--port 9200]     (a 3-node cluster on loopback, HTTP on 9200, 9201, 9202)
// Builds test/engine with Maven first when target/ is missing or older than pom.xml/src.
// Ctrl-C / SIGTERM stop the engine cleanly (its data lives in a temp dir that is removed).
import engine from './engine.js';

const { OPENSEARCH_VERSION, EngineToolMissingError, buildEngine, startCluster, startEngine } = engine;

function usage(msg) {
  if (msg) console.error(`engine: ${msg}`);
  console.error('usage: npm run engine -- [--nodes N] [--port N] [--heap SIZE] [--jvm test|server] [--rebuild] [--build-only]');
  process.exit(msg ? 2 : 0);
}

const opts = { port: 9200, nodes: 1, heap: undefined, jvm: undefined, rebuild: false, buildOnly: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    const eq = a.indexOf('=');
    if (eq >= 0) return a.slice(eq + 1);
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--port' || a.startsWith('--port=')) {
    const p = Number(value());
    if (!Number.isInteger(p) || p < 0 || p > 65535) usage('--port must be 0..65535');
    opts.port = p;
  } else if (a === '--nodes' || a.startsWith('--nodes=')) {
    const n = Number(value());
    if (!Number.isInteger(n) || n < 1 || n > 9) usage('--nodes must be 1..9');
    opts.nodes = n;
  } else if (a === '--heap' || a.startsWith('--heap=')) opts.heap = value();
  else if (a === '--jvm' || a.startsWith('--jvm=')) {
    opts.jvm = value();
    if (opts.jvm !== 'test' && opts.jvm !== 'server') usage('--jvm must be test or server');
  }
  else if (a === '--rebuild') opts.rebuild = true;
  else if (a === '--build-only') opts.buildOnly = true;
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}

const log = (line) => console.error(`engine: ${line}`);

try {
  if (opts.rebuild || opts.buildOnly) {
    const b = await buildEngine({ force: opts.rebuild, log });
    log(b.built ? `built in ${(b.ms / 1000).toFixed(1)} s` : 'already built');
    if (opts.buildOnly) process.exit(0);
  }
  const handle = opts.nodes === 1 ? await single() : await cluster();
  let stopping;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (stopping) return;
      log(`${sig}: stopping ...`);
      stopping = handle.stop().catch(() => {});
    });
  }
  // Under `npm run engine`, a SIGTERM to npm may not reach us: stop when we are orphaned.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid !== parent && !stopping) {
      log('parent process went away: stopping ...');
      stopping = handle.stop().catch(() => {});
    }
  }, 1000);
  orphanWatch.unref();
  const { code, signal } = await handle.exited;
  if (stopping) {
    await stopping;
    log('stopped');
    process.exit(0);
  }
  log(`the engine exited on its own (code ${code}, signal ${signal})`);
  process.exit(code === null ? 1 : code || 1);
} catch (err) {
  if (err instanceof EngineToolMissingError) {
    console.error(`engine: ${err.message}`);
    process.exit(2);
  }
  console.error(`engine: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

async function single() {
  const handle = await startEngine({ port: opts.port, heap: opts.heap, jvm: opts.jvm, log, exitWithParent: false });
  handle.child.ref();
  console.log(`OpenSearch ${OPENSEARCH_VERSION} ready at ${handle.url} (started in ${(handle.startMs / 1000).toFixed(1)} s, pid ${handle.pid})`);
  return handle;
}

/** Nodes on consecutive HTTP ports from --port (0: free ports); the first node to exit ends the run. */
async function cluster() {
  const basePorts = opts.port === 0 ? undefined : { http: opts.port, transport: opts.port + 100 };
  const handle = await startCluster({ nodes: opts.nodes, heap: opts.heap, jvm: opts.jvm, basePorts, log, exitWithParent: false });
  console.log(`OpenSearch ${OPENSEARCH_VERSION} cluster of ${opts.nodes} nodes ready (started in ${(handle.startMs / 1000).toFixed(1)} s):`);
  for (const n of handle.nodes) console.log(`  ${n.name}  ${n.url}  (transport 127.0.0.1:${n.transportPort}, pid ${n.pid})`);
  console.log(`es.urls: ${handle.urls.join(',')}`);
  for (const n of handle.nodes) n.ref();
  return {
    stop: handle.stop,
    exited: Promise.race(handle.nodes.map((n) => n.exited())),
  };
}
