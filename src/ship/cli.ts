// Command-line interface of sidekick-ship: flags and subcommands, wiring input -> pipeline -> sink.
import { Option, type Command } from 'commander';
import { accessSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import { exitWith, newCommand, parseWith, withLogOptions } from '../common/cli';
import { UsageError, errorMessage } from '../common/errors';
import { createLogger, redactUrl } from '../common/log';
import { newRegistry } from '../common/metrics';
import { startHttp, type HttpListener } from '../common/http';
import { onShutdown } from '../common/shutdown';
import { formatSize, parseSize, SIZE_EXPECTED } from '../common/units';
import { VERSION } from '../common/version';
import { authFrom, collectField, inputsOf, loadShipConfig, type ShipConfig, type ShipFlags } from './config';
import { Input } from './input/input';
import { claimStateDir } from './input/owner';
import { FileRegistry } from './input/registry';
import { bulkLinesError, loadBulkLines } from './output/bulk-lines';
import { makeEncoder } from './output/encoder';
import { createSink, type SinkOptions } from './output/sink';
import { tuneHeap } from './heap';
import { sizeYoungGeneration } from './young-generation';
import { registerWaitingMetric, shipHealth } from './health';
import { testCommand } from './cli-test';
import { wireInputs } from './parsers/inputs';
import { Pipeline } from './pipeline';
import { Progress } from './progress';
import { statusRoutes } from './page';
import { StatusTracker } from './status';

const EXAMPLES = [
  "sidekick-ship --es http://elasticsearch:9200 '/var/log/app/*.log'",
  "sidekick-ship --once --es http://127.0.0.1:9200 --index logs-app-default ./logs/*.log",
  'sidekick-ship -c /etc/sidekick/ship.yml --http 0.0.0.0:5066',
  "SIDEKICK_ES_URL=https://es:9200 SIDEKICK_ES_API_KEY_FILE=/run/secrets/es-key sidekick-ship '/var/log/app/**/*.log'",
  'sidekick-ship setup --es http://127.0.0.1:9200 --index logs-app-default',
  'sidekick-ship test parse -c /etc/sidekick/ship.yml /var/log/app/app.log',
];

interface CliOptions extends ShipFlags {
  logLevel: string;
  logFormat: 'auto' | 'json' | 'text';
}

function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML configuration (every setting below can also be set there)')
    .option('--es <url[,url...]>', 'Elasticsearch/OpenSearch endpoints (env SIDEKICK_ES_URL; default http://127.0.0.1:9200)', (v: string) =>
      v.split(',').map((s) => s.trim()).filter(Boolean),
    )
    .option('--index <name>', 'target data stream or index (env SIDEKICK_INDEX; default logs-sidekick-default)')
    .addOption(new Option('--flavor <flavor>', 'engine flavor (default auto: detected with GET /)').choices(['auto', 'elasticsearch', 'opensearch']));
}

export function shipCommand(name = 'sidekick-ship'): Command {
  const cmd = newCommand(
    name,
    'Follow log files and deliver every line to Elasticsearch or OpenSearch exactly once (_bulk create, deterministic _id).',
    EXAMPLES,
  );
  addConnectionOptions(cmd)
    .argument('[glob...]', 'files to follow (quote globs so the shell does not expand them); or `paths` in the configuration')
    .option('--state-dir <dir>', 'where positions and dead letters are kept (env SIDEKICK_STATE_DIR; default ./data/ship)')
    .addOption(new Option('--from <where>', 'where to start in a file seen for the first time (default beginning)').choices(['beginning', 'end']))
    .option('--once', 'ship what the files hold now, wait for every acknowledgement, save positions and exit 0')
    .option('--http <addr>', 'serve the status page at /, /status, /healthz and /metrics on HOST:PORT, e.g. 127.0.0.1:5066 (env SIDEKICK_SHIP_HTTP)')
    .addOption(new Option('--listen <addr>', 'old name of --http').hideHelp())
    .addOption(new Option('--compression <kind>', 'request body compression (default gzip)').choices(['gzip', 'none']))
    .option('--max-line <size>', 'longer lines are cut and flagged truncated (default 1MiB)', parseWith('--max-line', parseSize, SIZE_EXPECTED))
    .option('--fields <key=value>', 'add a field to every document (repeatable; dotted keys nest)', collectField);
  withLogOptions(cmd);
  cmd.action(async (globs: string[], opts: CliOptions) => exitWith(await run(globs, opts)));

  const setupCmd = newCommand('setup', 'Create the index template, lifecycle policy and data stream (idempotent), then exit.', [
    `${name} setup --es http://127.0.0.1:9200 --index logs-app-default`,
  ]);
  addConnectionOptions(setupCmd);
  withLogOptions(setupCmd);
  // Options written before `setup` belong to the parent command: take both.
  setupCmd.action(async (_opts: CliOptions, self: Command) => exitWith(await runSetup(self.optsWithGlobals<CliOptions>())));
  cmd.addCommand(setupCmd);
  cmd.addCommand(testCommand(name, { addConnectionOptions, tlsFrom, checkReadable }));
  return cmd;
}

async function runSetup(opts: CliOptions): Promise<number> {
  const cfg = loadShipConfig(opts, []);
  // Loaded here: setup brings the official Elasticsearch client, which the shipping path does without.
  const { setup } = await import('./output/setup');
  // Every input's target (the top-level index when there are none configured).
  const targets = new Set(inputsOf(cfg).map((i) => i.index));
  if (targets.size === 0) targets.add(cfg.index);
  for (const index of targets) {
    const done = await setup({
      urls: cfg.es.urls,
      index,
      flavor: cfg.es.flavor,
      auth: authFrom(cfg),
      tls: tlsFrom(cfg),
      requestTimeoutMs: cfg.es.request_timeout,
      policy: { rolloverMaxSize: cfg.policy.rollover_max_size, deleteAfter: cfg.policy.delete_after },
    });
    for (const line of done) process.stdout.write(`${line}\n`);
  }
  return 0;
}

/** TLS files are read when the sink starts; a missing one is a configuration mistake (exit 2), named here. */
function checkReadable(cfg: ShipConfig): void {
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    const file = cfg.es[key];
    if (!file) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      throw new UsageError(`es.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); expected a readable PEM file`);
    }
  }
}

function tlsFrom(cfg: ShipConfig): SinkOptions['tls'] {
  const { ca_file, cert_file, key_file, tls_insecure } = cfg.es;
  if (!ca_file && !cert_file && !key_file && !tls_insecure) return undefined;
  return { caFile: ca_file, certFile: cert_file, keyFile: key_file, insecure: tls_insecure };
}

async function run(globs: string[], opts: CliOptions): Promise<number> {
  tuneHeap();
  const cfg = loadShipConfig(opts, globs);
  const inputs = inputsOf(cfg);
  if (inputs.length === 0) throw new UsageError('no files to follow: give GLOB arguments, `paths` or `inputs` in the configuration, or SIDEKICK_SHIP_PATHS');
  const logger = createLogger({ name: 'sidekick-ship', level: opts.logLevel, format: opts.logFormat });
  const metrics = newRegistry('sidekick-ship');
  // Before anything in the state directory is read or written: another shipper there is refused (exit 2).
  const owner = await claimStateDir(cfg.state_dir, { program: 'sidekick-ship', version: VERSION, pid: process.pid, hostname: hostname(), started: new Date().toISOString() });
  const registry = FileRegistry.load(cfg.state_dir, logger);
  let encode: ReturnType<typeof makeEncoder>;
  try {
    encode = makeEncoder({ hostName: hostname(), agentVersion: VERSION, fields: cfg.fields });
  } catch (err) {
    throw new UsageError(`fields: ${errorMessage(err)}`);
  }
  checkReadable(cfg);
  const sink = await createSink({
    urls: cfg.es.urls,
    index: cfg.index,
    flavor: cfg.es.flavor,
    auth: authFrom(cfg),
    tls: tlsFrom(cfg),
    compression: cfg.es.compression,
    requestTimeoutMs: cfg.es.request_timeout,
    backoff: { initialMs: cfg.es.backoff_initial, maxMs: cfg.es.backoff_max },
    sniff: cfg.es.sniff ? { intervalMs: cfg.es.sniff_interval } : undefined,
    deadLetterFile: join(cfg.state_dir, 'dead-letter.ndjson'),
    deadLetter: { maxBytes: cfg.dead_letter.max_size, maxFiles: cfg.dead_letter.max_files },
    logger,
    registry: metrics,
  });
  let stopping = false;
  const pipeline = new Pipeline({
    send: (docs, body) => sink.send(docs, body),
    encode,
    maxDocs: cfg.batch.max_docs,
    maxBytes: cfg.batch.max_bytes,
    concurrency: cfg.batch.concurrency,
    budgetBytes: cfg.memory_budget,
    registry,
    logger,
    stopping: () => stopping,
  });
  const wired = wireInputs(inputs, { pipeline, registry, logger, base: { hostName: hostname(), agentVersion: VERSION }, sinkIndex: cfg.index });
  sizeYoungGeneration(wired.plain);
  const input = new Input(
    {
      globs: inputs.flatMap((i) => i.paths),
      sources: wired.sources,
      from: cfg.from,
      once: cfg.once,
      scanMs: cfg.read.scan_interval,
      pollMs: cfg.read.poll_interval,
      closeInactiveMs: cfg.read.close_inactive,
      maxLine: cfg.read.max_line,
      bufferSize: cfg.read.buffer_size,
      deferMs: Math.max(3 * cfg.read.scan_interval, 10_000),
      forgetAfterMs: cfg.read.forget_after,
    },
    registry,
    pipeline,
    logger,
  );
  // Positions that cannot be saved must not run ahead: reading waits until the registry is written again.
  registry.onSaveState = (failure) => (failure ? pipeline.pause() : pipeline.resume());
  registerInputMetrics(metrics, pipeline, input);
  const health = (): ReturnType<typeof shipHealth> => shipHealth(sink, registry, pipeline.pendingBytes, cfg.unhealthy_after);
  registerWaitingMetric(metrics, () => health().detail.waiting);
  const status = cfg.http
    ? new StatusTracker({ input, pipeline, sink, metrics, urls: cfg.es.urls, index: cfg.index, concurrency: cfg.batch.concurrency, memoryBudget: cfg.memory_budget })
    : undefined;
  let http: HttpListener | undefined;
  registry.autoSave(cfg.registry_flush);

  let finishing: Promise<void> | undefined;
  let unsavedAtExit = false;
  const finish = (): Promise<void> =>
    (finishing ??= (async () => {
      registry.stopAutoSave();
      await registry.save().catch((err: unknown) => {
        unsavedAtExit = true;
        logger.error({ err: errorMessage(err) }, 'positions could not be saved at exit; the next run re-sends lines since the last save (stored once: 409)');
      });
      await sink.close();
      status?.stop();
      await http?.close();
      await owner.release();
    })());
  let signalled = false;
  onShutdown({
    logger,
    graceMs: cfg.shutdown_grace,
    // --once stopped by a signal did not ship everything: not a success.
    exitCode: () => (cfg.once ? 1 : 0),
    stop: async () => {
      signalled = true;
      await input.stop();
      await wired.idle();
      // Give in-flight batches most of the grace period; then stop the sink's retries so we exit in time.
      const flushed = await Promise.race([pipeline.drain().then(() => true), sleep(Math.max(cfg.shutdown_grace - 2000, 500)).then(() => false)]);
      if (!flushed) {
        stopping = true;
        logger.warn({ bytes_pending: pipeline.pendingBytes }, 'engine did not acknowledge everything in time; positions stay before the unacknowledged lines');
        sink.stop();
        await pipeline.drain();
      }
      await finish();
      if (cfg.once) logger.warn('stopped by a signal before every file was shipped; positions saved up to what was acknowledged');
    },
  });

  // Listening and announced only once the signal handlers are installed: a SIGTERM sent on seeing either is a clean stop.
  if (cfg.http) http = await startHttp({ listen: cfg.http, logger, registry: metrics, health, routes: statusRoutes(status!, Date.now()) });
  logger.info(
    { inputs: inputs.map((i) => ({ name: i.name, paths: i.paths, index: i.index, parsers: i.parsers.map((p) => Object.keys(p)[0]) })), es: cfg.es.urls.map(redactUrl), compression: sink.compression, plain_lines: plainLinesEncoder(), state_dir: cfg.state_dir, once: cfg.once },
    'sidekick-ship starting',
  );
  await input.start();
  if (!cfg.once) return new Promise<number>(() => undefined); // runs until a signal
  const progress = process.stderr.isTTY ? new Progress(input, pipeline) : undefined;
  await input.finished();
  await wired.idle();
  await pipeline.drain();
  progress?.stop();
  await finish();
  if (signalled) return new Promise<number>(() => undefined); // the stop handler exits (status 1)
  if (unsavedAtExit) return 1;
  if (input.failures > 0) {
    logger.error({ files: input.failures }, 'some files could not be read to their end; positions saved up to what was acknowledged');
    return 1;
  }
  // A last line without its newline is not shipped (it may still be being written): say so rather than "all".
  for (const p of input.partials) logger.warn(p, 'a partial last line is not shipped: it waits for its newline');
  const partials = input.partials.length;
  const done = partials === 0 ? 'all lines acknowledged' : `all complete lines acknowledged; ${partials} file${partials === 1 ? ' ends' : 's end'} in a partial line`;
  logger.info({ lines: pipeline.linesRead, bytes: formatSize(pipeline.bytesReadTotal) }, done);
  return 0;
}

function registerInputMetrics(metrics: Registry, pipeline: Pipeline, input: Input): void {
  let lastLines = 0;
  let lastBytes = 0;
  new Counter({
    name: 'sidekick_ship_lines_read_total',
    help: 'Lines read from files and handed to the pipeline',
    registers: [metrics],
    collect() {
      this.inc(pipeline.linesRead - lastLines);
      lastLines = pipeline.linesRead;
    },
  });
  new Counter({
    name: 'sidekick_ship_bytes_read_total',
    help: 'Bytes read from files',
    registers: [metrics],
    collect() {
      this.inc(pipeline.bytesReadTotal - lastBytes);
      lastBytes = pipeline.bytesReadTotal;
    },
  });
  new Gauge({
    name: 'sidekick_ship_bytes_pending',
    help: 'Memory held by lines read and not yet acknowledged (reading pauses above memory_budget)',
    registers: [metrics],
    collect() {
      this.set(pipeline.pendingBytes);
    },
  });
  new Gauge({
    name: 'sidekick_ship_bytes_behind',
    help: 'Bytes of a file not yet acknowledged (file size minus settled position)',
    labelNames: ['path'],
    registers: [metrics],
    collect() {
      this.reset();
      for (const t of input.open()) this.set({ path: t.path }, Math.max(0, t.size - (pipeline.settled(t.key) ?? t.pos)));
    },
  });
}

/** What writes plain lines' _bulk operations, for the start-up log: `bulk-lines binding` (runs of lines in C), or
 * `JS encoder` when SIDEKICK_NATIVE is `off` or the binding is not built (then with the reason it did not load). */
function plainLinesEncoder(): string {
  if (loadBulkLines()) return 'bulk-lines binding';
  const why = bulkLinesError();
  return why === undefined ? 'JS encoder' : `JS encoder (${why})`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

