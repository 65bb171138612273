// sidekick-ship configuration: the YAML schema, its environment variables and flags, merged by
// loadConfig (file < env < flags) into one typed value. Secrets may be given as *_FILE paths.
import { z } from 'zod';
import { duration, loadConfig, size, type EnvBinding, type FlagValue } from '../common/config';
import { UsageError } from '../common/errors';
import { readSecret } from '../common/secrets';
import { parserSchema } from './parsers';
import { regexSource } from './parsers/options';

/** A size of at least `min` bytes: zero would read nothing (budget, buffer) or spin. */
const sizeAtLeast = (min: number, label: string) => size().refine((v) => v >= min, `expected at least ${label}`);
/** A duration of at least `min` ms: zero would turn a timer into a busy loop. */
const durationAtLeast = (min: number, label: string) => duration().refine((v) => v >= min, `expected at least ${label}`);

const urlList = z
  .array(
    z.string().refine((u) => {
      try {
        const p = new URL(u).protocol;
        return p === 'http:' || p === 'https:';
      } catch {
        return false;
      }
    }, 'expected an http:// or https:// URL'),
  )
  .min(1, 'expected at least one URL');

const fieldsSchema = z.record(z.string(), z.unknown());
const indexName = z.string().min(1);
const pipelineName = z.string().min(1, 'expected the name of an ingest pipeline');
const parsersSchema = z.array(parserSchema);
const lineRegexes = z.array(regexSource());

/** One input: files, how their lines become documents, and where those go. */
const inputSchema = z.strictObject({
  /** A name for logs and errors (default: inputs[N]). */
  id: z.string().min(1).optional(),
  paths: z.array(z.string().min(1)).min(1, 'expected at least one glob'),
  index: indexName.optional(),
  pipeline: pipelineName.optional(),
  fields: fieldsSchema.default({}),
  parsers: parsersSchema.default([]),
  include_lines: lineRegexes.default([]),
  exclude_lines: lineRegexes.default([]),
});

export const shipSchema = z.strictObject({
  /** The single-input shorthand: `paths` with the top-level parsers, pipeline, include/exclude_lines. */
  paths: z.array(z.string().min(1)).default([]),
  parsers: parsersSchema.default([]),
  pipeline: pipelineName.optional(),
  include_lines: lineRegexes.default([]),
  exclude_lines: lineRegexes.default([]),
  inputs: z.array(inputSchema).min(1, 'expected at least one input').optional(),
  es: z
    .strictObject({
      urls: urlList.default(['http://127.0.0.1:9200']),
      flavor: z.enum(['auto', 'elasticsearch', 'opensearch']).default('auto'),
      compression: z.enum(['gzip', 'none']).default('gzip'),
      request_timeout: duration().default(30_000),
      backoff_initial: duration().default(500),
      backoff_max: duration().default(30_000),
      sniff: z.boolean().default(false),
      sniff_interval: durationAtLeast(1000, '1s').default(30_000),
      username: z.string().optional(),
      password: z.string().optional(),
      password_file: z.string().optional(),
      api_key: z.string().optional(),
      api_key_file: z.string().optional(),
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      tls_insecure: z.boolean().default(false),
    })
    .prefault({}),
  index: z.string().min(1).default('logs-sidekick-default'),
  state_dir: z.string().min(1).default('./data/ship'),
  from: z.enum(['beginning', 'end']).default('beginning'),
  once: z.boolean().default(false),
  http: z.string().optional(),
  fields: fieldsSchema.default({}),
  read: z
    .strictObject({
      max_line: sizeAtLeast(1, '1B').default(1024 * 1024),
      scan_interval: durationAtLeast(100, '100ms').default(5000),
      poll_interval: durationAtLeast(10, '10ms').default(1000),
      close_inactive: duration().default(5000),
      buffer_size: sizeAtLeast(1024, '1KiB').default(128 * 1024),
      forget_after: duration().default(7 * 24 * 3600 * 1000),
    })
    .prefault({}),
  batch: z
    .strictObject({
      max_docs: z.number().int().positive().default(5000),
      max_bytes: size().default(512 * 1024),
      // No effect since batches leave as soon as a request slot is free; accepted so existing files still load.
      max_latency: duration().default(1000),
      concurrency: z.number().int().positive().max(64).default(2),
    })
    .prefault({}),
  dead_letter: z
    .strictObject({
      max_size: sizeAtLeast(4096, '4KiB').default(64 * 1024 * 1024),
      max_files: z.number().int().min(1).max(100).default(4),
    })
    .prefault({}),
  memory_budget: sizeAtLeast(64 * 1024, '64KiB').default(2 * 1024 * 1024),
  registry_flush: durationAtLeast(100, '100ms').default(1000),
  shutdown_grace: duration().default(10_000),
  unhealthy_after: duration().default(60_000),
  policy: z
    .strictObject({
      rollover_max_size: z.string().optional(),
      delete_after: z.string().optional(),
    })
    .prefault({}),
});

export type ShipConfig = z.output<typeof shipSchema>;

/** One input with the defaults of the top level applied. */
export interface InputConfig {
  /** inputs[N] or its id. */
  name: string;
  paths: string[];
  index: string;
  pipeline?: string;
  /** Top-level fields with the input's own merged over them. */
  fields: Record<string, unknown>;
  parsers: z.output<typeof parsersSchema>;
  include_lines: string[];
  exclude_lines: string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeFields(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(out[k]) && isPlainObject(v) ? mergeFields(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/**
 * The inputs to run: `inputs`, or the one input the top-level `paths` (GLOB arguments, SIDEKICK_SHIP_PATHS)
 * make. Both at once, or top-level parser settings beside `inputs`, is a UsageError naming the keys.
 */
export function inputsOf(cfg: ShipConfig): InputConfig[] {
  const topLevel: string[] = (['parsers', 'include_lines', 'exclude_lines'] as const).filter((k) => cfg[k].length > 0);
  if (cfg.pipeline) topLevel.push('pipeline');
  if (cfg.inputs) {
    if (cfg.paths.length > 0) throw new UsageError('paths (or GLOB arguments, SIDEKICK_SHIP_PATHS) and inputs are both given: expected paths for one input, or inputs, not both');
    if (topLevel.length > 0) throw new UsageError(`${topLevel.join(', ')}: with inputs, expected these in each input, not at the top level`);
    return cfg.inputs.map((i, n) => ({
      name: i.id ?? `inputs[${n}]`,
      paths: i.paths,
      index: i.index ?? cfg.index,
      pipeline: i.pipeline,
      fields: mergeFields(cfg.fields, i.fields),
      parsers: i.parsers,
      include_lines: i.include_lines,
      exclude_lines: i.exclude_lines,
    }));
  }
  if (cfg.paths.length === 0) return [];
  return [
    {
      name: 'paths',
      paths: cfg.paths,
      index: cfg.index,
      pipeline: cfg.pipeline,
      fields: cfg.fields,
      parsers: cfg.parsers,
      include_lines: cfg.include_lines,
      exclude_lines: cfg.exclude_lines,
    },
  ];
}

export const ENV_BINDINGS: Record<string, EnvBinding> = {
  SIDEKICK_ES_URL: { key: 'es.urls', kind: 'list' },
  SIDEKICK_ES_FLAVOR: { key: 'es.flavor' },
  SIDEKICK_ES_COMPRESSION: { key: 'es.compression' },
  SIDEKICK_ES_USERNAME: { key: 'es.username' },
  SIDEKICK_ES_PASSWORD: { key: 'es.password' },
  SIDEKICK_ES_PASSWORD_FILE: { key: 'es.password_file' },
  SIDEKICK_ES_API_KEY: { key: 'es.api_key' },
  SIDEKICK_ES_API_KEY_FILE: { key: 'es.api_key_file' },
  SIDEKICK_ES_CA_FILE: { key: 'es.ca_file' },
  SIDEKICK_ES_CERT_FILE: { key: 'es.cert_file' },
  SIDEKICK_ES_KEY_FILE: { key: 'es.key_file' },
  SIDEKICK_ES_TLS_INSECURE: { key: 'es.tls_insecure', kind: 'bool' },
  SIDEKICK_ES_SNIFF: { key: 'es.sniff', kind: 'bool' },
  SIDEKICK_INDEX: { key: 'index' },
  SIDEKICK_STATE_DIR: { key: 'state_dir' },
  SIDEKICK_SHIP_HTTP: { key: 'http' },
  SIDEKICK_SHIP_PATHS: { key: 'paths', kind: 'list' },
};

export interface ShipFlags {
  config?: string;
  es?: string[];
  index?: string;
  stateDir?: string;
  from?: string;
  once?: boolean;
  http?: string;
  /** Old name of --http, as in the other programs. */
  listen?: string;
  flavor?: string;
  compression?: string;
  maxLine?: string | number;
  fields?: Record<string, string>;
}

export function loadShipConfig(flags: ShipFlags, globs: string[], env: NodeJS.ProcessEnv = process.env): ShipConfig {
  const values: FlagValue[] = [
    { flag: '--es', key: 'es.urls', value: flags.es },
    { flag: '--index', key: 'index', value: flags.index },
    { flag: '--state-dir', key: 'state_dir', value: flags.stateDir },
    { flag: '--from', key: 'from', value: flags.from },
    { flag: '--once', key: 'once', value: flags.once || undefined },
    { flag: '--http', key: 'http', value: flags.http },
    { flag: '--listen', key: 'http', value: flags.listen },
    { flag: '--flavor', key: 'es.flavor', value: flags.flavor },
    { flag: '--compression', key: 'es.compression', value: flags.compression },
    { flag: '--max-line', key: 'read.max_line', value: flags.maxLine },
    { flag: 'GLOB', key: 'paths', value: globs.length > 0 ? globs : undefined },
    ...Object.entries(flags.fields ?? {}).map(([k, v]) => ({ flag: '--fields', key: `fields.${k}`, value: v })),
  ];
  return loadConfig(shipSchema, { file: flags.config, env, envBindings: ENV_BINDINGS, flags: values, aliases: { listen: 'http' } });
}

export type Auth = { username: string; password: string } | { apiKey: string };

/** Authentication from the configuration, secrets read from their files; never logged. */
export function authFrom(cfg: ShipConfig): Auth | undefined {
  const apiKey = readSecret('es.api_key_file', cfg.es.api_key, cfg.es.api_key_file);
  if (apiKey) return { apiKey };
  const password = readSecret('es.password_file', cfg.es.password, cfg.es.password_file);
  if (cfg.es.username) {
    if (!password) throw new UsageError('es.username is set but no password: expected es.password, SIDEKICK_ES_PASSWORD or SIDEKICK_ES_PASSWORD_FILE');
    return { username: cfg.es.username, password };
  }
  if (password) throw new UsageError('a password is set but no es.username (or SIDEKICK_ES_USERNAME)');
  return undefined;
}

/** Parses `--fields k=v` repeated into an object; the key may be dotted. */
export function collectField(text: string, prev: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`flag --fields: ${JSON.stringify(text)} is not valid; expected KEY=VALUE, such as env=prod`);
  return { ...prev, [text.slice(0, eq)]: text.slice(eq + 1) };
}
