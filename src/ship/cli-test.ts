// `sidekick-ship test config|output|parse`: seeing what the shipper would do before it ships. config validates
// and prints the effective configuration (secrets redacted); output asks the engine whether each target can be
// written; parse prints the documents the configured parsers make from some lines, without an engine.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { exitWith, newCommand, parseWith } from '../common/cli';
import { UsageError, errorMessage } from '../common/errors';
import { redactSecrets, redactUrl } from '../common/redact';
import { parseSize, SIZE_EXPECTED } from '../common/units';
import { VERSION } from '../common/version';
import { authFrom, inputsOf, loadShipConfig, type InputConfig, type ShipConfig, type ShipFlags } from './config';
import { detectEngine } from './output/flavor';
import { Endpoints, readTls, type TlsFiles } from './output/transport';
import { encodersOf, stepsOf } from './parsers/inputs';
import { preview } from './parsers/preview';

export interface TestCommandDeps {
  addConnectionOptions(cmd: Command): Command;
  tlsFrom(cfg: ShipConfig): TlsFiles | undefined;
  checkReadable(cfg: ShipConfig): void;
}

interface TestOptions extends ShipFlags {
  input?: string;
  pretty?: boolean;
}

const base = { hostName: hostname(), agentVersion: VERSION };

/** Loads the configuration and builds every input's parsers and encoders, so that any mistake shows here. */
function loadChecked(opts: TestOptions, globs: string[]): { cfg: ShipConfig; inputs: InputConfig[] } {
  const cfg = loadShipConfig(opts, globs);
  const inputs = inputsOf(cfg);
  if (inputs.length === 0) throw new UsageError('no files to follow: give GLOB arguments, `paths` or `inputs` in the configuration, or SIDEKICK_SHIP_PATHS');
  for (const i of inputs) {
    encodersOf(i, base, cfg.index);
    stepsOf(i, base);
  }
  authFrom(cfg);
  return { cfg, inputs };
}

export function testCommand(name: string, deps: TestCommandDeps): Command {
  const test = newCommand('test', 'Check the configuration, the engine, or what the parsers make of some lines, then exit.');

  const config = newCommand('config', 'Validate the configuration and print it as it takes effect (defaults filled in, secrets redacted); exit 0, or 2 naming the mistake.', [
    `${name} test config -c /etc/sidekick/ship.yml`,
  ]);
  deps.addConnectionOptions(config).argument('[glob...]', 'files to follow, as for the shipper');
  config.action((globs: string[], _o: TestOptions, self: Command) => {
    const { cfg, inputs } = loadChecked(self.optsWithGlobals<TestOptions>(), globs);
    deps.checkReadable(cfg);
    const { paths: _p, parsers: _ps, pipeline: _pl, include_lines: _i, exclude_lines: _e, inputs: _in, ...rest } = cfg;
    const effective = { ...rest, es: { ...cfg.es, urls: cfg.es.urls.map(redactUrl) }, inputs: inputs.map(({ name: id, ...i }) => ({ id, ...i })) };
    // yaml is loaded only here (and for a configuration file): shipping never needs it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { stringify } = require('yaml') as typeof import('yaml');
    process.stdout.write(stringify(redactSecrets(effective)));
    exitWith(0);
  });

  const output = newCommand('output', "Connect and authenticate to the engine, report it and its version, and whether each input's target can be written (and its ingest pipeline exists); exit 0 when all can, 1 otherwise.", [
    `${name} test output -c /etc/sidekick/ship.yml`,
  ]);
  deps.addConnectionOptions(output).argument('[glob...]', 'files to follow, as for the shipper');
  output.action(async (globs: string[], _o: TestOptions, self: Command) => exitWith(await testOutput(self.optsWithGlobals<TestOptions>(), globs, deps)));

  const parse = newCommand('parse', 'Print the documents the configured parsers make from the lines of FILE (or stdin: -), without an engine: one JSON document a line.', [
    `${name} test parse -c ship.yml /var/log/app/app.log`,
    `printf 'ERROR boom\\n\\tat a.B.c(B.java:1)\\n' | ${name} test parse -c ship.yml --input app -`,
  ]);
  parse
    .option('-c, --config <file>', 'YAML configuration')
    .argument('[file]', 'the lines to parse; - or nothing: standard input', '-')
    .option('--input <id|N>', 'which input\'s parsers (by id or index); default: the one whose paths match FILE, or the only one')
    .option('--max-line <size>', 'longer lines are cut and flagged truncated (default read.max_line)', parseWith('--max-line', parseSize, SIZE_EXPECTED))
    .option('--pretty', 'indent each document');
  parse.action(async (file: string, _o: TestOptions, self: Command) => exitWith(await testParse(file, self.optsWithGlobals<TestOptions>())));

  test.addCommand(config);
  test.addCommand(output);
  test.addCommand(parse);
  return test;
}

async function pickInput(inputs: InputConfig[], file: string, which: string | undefined): Promise<InputConfig> {
  if (which !== undefined) {
    const found = inputs.find((i, n) => i.name === which || String(n) === which || `inputs[${n}]` === which);
    if (!found) throw new UsageError(`--input ${JSON.stringify(which)}: no such input; expected one of ${inputs.map((i, n) => `${n} (${i.name})`).join(', ')}`);
    return found;
  }
  if (inputs.length === 1) return inputs[0];
  if (file !== '-') {
    const want = resolve(file);
    for (const i of inputs) {
      const paths = await glob(i.paths, { absolute: true, onlyFiles: true, dot: true, expandDirectories: false });
      if (paths.includes(want)) return i;
    }
  }
  throw new UsageError(`several inputs and ${file === '-' ? 'standard input' : `${file} matches none of their paths`}: choose one with --input (${inputs.map((i, n) => `${n} (${i.name})`).join(', ')})`);
}

async function readAll(file: string): Promise<Buffer> {
  if (file !== '-') {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function testParse(file: string, opts: TestOptions): Promise<number> {
  // Paths need not exist here: a configuration without any still tells the parsers.
  const cfg = loadShipConfig({ config: opts.config }, []);
  const inputs = inputsOf(cfg);
  if (inputs.length === 0) {
    if (!opts.config) inputs.push({ name: 'paths', paths: [], index: cfg.index, fields: cfg.fields, parsers: [], include_lines: [], exclude_lines: [] });
    else throw new UsageError(`${opts.config}: no inputs (expected paths or inputs)`);
  }
  const input = await pickInput(inputs, file, opts.input);
  const enc = encodersOf(input, base, cfg.index);
  const bytes = await readAll(file);
  const maxLine = typeof opts.maxLine === 'number' ? opts.maxLine : cfg.read.max_line;
  const docs = await preview(bytes, { steps: stepsOf(input, base), encodeLine: enc.line, encodeEvent: enc.event, path: file === '-' ? '-' : resolve(file), maxLine });
  for (const d of docs) {
    const source = JSON.parse(d.source) as unknown;
    process.stdout.write((opts.pretty ? JSON.stringify(source, null, 2) : JSON.stringify(source)) + '\n');
  }
  return 0;
}

/** A document no engine stores (an empty field name is refused by the mapper): a write that reaches it was allowed. */
const PROBE_DOC = '{"":"sidekick-ship test output: this document is refused by design"}';

async function testOutput(opts: TestOptions, globs: string[], deps: TestCommandDeps): Promise<number> {
  const { cfg, inputs } = loadChecked(opts, globs);
  deps.checkReadable(cfg);
  const auth = authFrom(cfg);
  const tls = deps.tlsFrom(cfg);
  const say = (line: string): boolean => process.stdout.write(line + '\n');
  let ok = true;
  let flavor;
  try {
    const info = await detectEngine({ urls: cfg.es.urls, auth, tls, requestTimeoutMs: cfg.es.request_timeout }, cfg.es.flavor);
    flavor = info.flavor;
    say(`engine: ${info.flavor} ${info.version}${info.clusterName ? ` (cluster ${info.clusterName})` : ''} at ${cfg.es.urls.map(redactUrl).join(', ')}: connected${auth ? ', authenticated' : ''}`);
  } catch (err) {
    say(`engine: cannot use ${cfg.es.urls.map(redactUrl).join(', ')}: ${errorMessage(err)}`);
    return 1;
  }
  const endpoints = new Endpoints(cfg.es.urls, { auth, tls: readTls(tls), requestTimeoutMs: cfg.es.request_timeout });
  try {
    const seen = new Set<string>();
    for (const input of inputs) {
      if (!seen.has(input.index)) {
        seen.add(input.index);
        const verdict = await probeWrite(endpoints, input.index);
        ok &&= verdict.ok;
        say(`target ${input.index}: ${verdict.text}`);
      }
      if (input.pipeline) {
        const reply = await endpoints.get(`/_ingest/pipeline/${encodeURIComponent(input.pipeline)}`);
        const exists = reply.status === 200;
        ok &&= exists;
        say(`ingest pipeline ${input.pipeline} (${input.name}): ${exists ? 'exists' : reply.status === 404 ? `missing on this ${flavor}: create it before shipping (documents would be refused)` : `cannot tell: HTTP ${reply.status} ${reply.text.slice(0, 200)}`}`);
      }
    }
  } finally {
    await endpoints.close();
  }
  return ok ? 0 : 1;
}

async function probeWrite(endpoints: Endpoints, index: string): Promise<{ ok: boolean; text: string }> {
  const body = Buffer.from(`{"create":{"_id":"sidekick-ship-test-output"}}\n${PROBE_DOC}\n`);
  let reply;
  try {
    reply = await endpoints.post(`/${encodeURIComponent(index)}/_bulk?filter_path=errors,items.*.status,items.*.error`, body, false, new AbortController().signal);
  } catch (err) {
    return { ok: false, text: `cannot tell: ${errorMessage(err)}` };
  }
  if (reply.status === 401 || reply.status === 403) return { ok: false, text: `not writable: the engine refused the credentials (HTTP ${reply.status}): ${reply.text.slice(0, 200)}` };
  if (reply.status < 200 || reply.status >= 300) return { ok: false, text: `cannot tell: HTTP ${reply.status} ${reply.text.slice(0, 200)}` };
  type Item = { status?: number; error?: { type?: string; reason?: string } };
  let item: Item | undefined;
  try {
    const parsed = JSON.parse(reply.text) as { items?: Record<string, Item>[] };
    item = parsed.items?.[0] ? Object.values(parsed.items[0])[0] : undefined;
  } catch {
    // handled below
  }
  const status = item?.status ?? 0;
  const why = `${item?.error?.type ?? ''}${item?.error?.reason ? `: ${item.error.reason}` : ''}`;
  if ((status === 400 && /pars/.test(item?.error?.type ?? '')) || (status >= 200 && status < 300) || status === 409) {
    return { ok: true, text: 'writable (a probe document was accepted up to the mapping, which refuses it by design; nothing is stored)' };
  }
  if (status === 401 || status === 403) return { ok: false, text: `not writable: ${why}` };
  if (status === 404) return { ok: false, text: `not writable: it does not exist and cannot be created (${why})` };
  return { ok: false, text: `cannot tell: item status ${status} ${why}` };
}
