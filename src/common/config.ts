// Configuration shared by all programs: a YAML file, then SIDEKICK_* environment variables, then flags,
// merged in that order and validated by a zod schema into typed values.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, UsageError } from './errors';
import { REDACTED, isSecretKey, redactArgs, redactText } from './redact';
import { DURATION_EXPECTED, SIZE_EXPECTED, parseDuration, parseSize } from './units';

export type KeyPath = string; // "es.urls", "checks.0.interval"

/** How an environment variable feeds a configuration key. */
export interface EnvBinding {
  key: KeyPath;
  /** list: comma-separated; int/bool: parsed; string: as is. */
  kind?: 'string' | 'list' | 'int' | 'bool';
}

export interface FlagValue {
  flag: string; // "--es"
  key: KeyPath;
  value: unknown; // undefined means "not given"
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  envBindings?: Record<string, EnvBinding>;
  flags?: FlagValue[];
  /**
   * Old key names the file may still use, mapped to the current ones ({ listen: 'http' }). Old and current
   * names of one key in one source (file, environment or flags) are an error, not a silent choice.
   */
  aliases?: Record<KeyPath, KeyPath>;
}

type Tree = Record<string, unknown>;

/** Loads, merges and validates configuration; throws ConfigError (exit 2) naming the source, key, value and expectation. */
export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources): z.output<S> {
  const merged: Tree = {};
  const origin = new Map<KeyPath, string>(); // most specific key path -> where it came from

  if (sources.file) {
    const fromFile = renameAliases(readYamlFile(sources.file), sources.aliases ?? {}, sources.file);
    deepMerge(merged, fromFile);
    for (const path of leafPaths(fromFile)) origin.set(path, sources.file);
  }
  const env = sources.env ?? process.env;
  const fromEnv = new Map<KeyPath, string>();
  for (const [name, binding] of Object.entries(sources.envBindings ?? {})) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    oneNamePerKey(fromEnv, binding.key, `environment variable ${name}`);
    setPath(merged, binding.key, coerceEnv(name, raw, binding.kind ?? 'string'));
    origin.set(binding.key, `environment variable ${name}`);
  }
  const fromFlags = new Map<KeyPath, string>();
  for (const f of sources.flags ?? []) {
    if (f.value === undefined) continue;
    oneNamePerKey(fromFlags, f.key, `flag ${f.flag}`);
    setPath(merged, f.key, f.value);
    origin.set(f.key, `flag ${f.flag}`);
  }

  const result = schema.safeParse(merged);
  if (result.success) return result.data;

  const byWhere = new Map<string, string[]>();
  for (const issue of result.error.issues) {
    const path = issue.path.map(String);
    const where = findOrigin(origin, path) ?? sources.file ?? 'configuration';
    const line = describeIssue(issue, path, merged);
    byWhere.set(where, [...(byWhere.get(where) ?? []), line]);
  }
  const [first] = byWhere.entries();
  const all = [...byWhere.entries()].flatMap(([w, lines]) => (w === first[0] ? lines : lines.map((l) => `${w}: ${l}`)));
  throw new ConfigError(first[0], all);
}

/** Reads and parses a YAML file into a plain object; syntax errors name the file, line and column. */
export function readYamlFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new UsageError(`${file}: cannot read configuration file: ${why}`);
  }
  // yaml is loaded only when a file is given: a one-shot command without --config does not pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseDocument } = require('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new UsageError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${file}: expected a YAML mapping of keys at the top level, found ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  return value as Tree;
}

// ---- schema helpers: the same duration and size syntax in every program ----

/** A duration ("5s", "500ms", or a number of milliseconds) validated into milliseconds. */
export const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${DURATION_EXPECTED}` });
      return z.NEVER;
    }
    return ms;
  });

/** A size ("512KiB", "5MiB", or a number of bytes) validated into bytes. */
export const size = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${SIZE_EXPECTED}` });
      return z.NEVER;
    }
    return bytes;
  });

/** "host:port" (host may be empty or [v6]) validated into its parts. */
export const hostPort = () =>
  z.string().transform((v, ctx) => {
    const parsed = parseHostPort(v);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: 'expected HOST:PORT, such as 127.0.0.1:8080 or :8080' });
      return z.NEVER;
    }
    return parsed;
  });

/** A webhook: a URL, or `{url, headers, timeout}`; validated into the second form (timeout in milliseconds, default 5 s). */
export const webhookTarget = () =>
  z
    .union([
      z.url(),
      z.strictObject({
        url: z.url(),
        headers: z.record(z.string(), z.string()).default({}),
        timeout: duration().default(5000),
      }),
    ])
    .transform((w) => (typeof w === 'string' ? { url: w, headers: {}, timeout: 5000 } : w));

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultHost = '0.0.0.0'): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

// ---- internals ----

/** Moves values under old key names to the current names; a file that uses both names of one key is an error. */
function renameAliases(tree: Tree, aliases: Record<KeyPath, KeyPath>, file: string): Tree {
  for (const [old, current] of Object.entries(aliases)) {
    const value = getPath(tree, old.split('.'));
    if (value === undefined) continue;
    if (getPath(tree, current.split('.')) !== undefined) {
      throw new ConfigError(file, [`${old}: is the old name of ${current}; set only ${current}`]);
    }
    deletePath(tree, old);
    setPath(tree, current, value);
  }
  return tree;
}

/** Two names (an alias and the current name) setting one key in the same source is a mistake worth naming. */
function oneNamePerKey(seen: Map<KeyPath, string>, key: KeyPath, where: string): void {
  const first = seen.get(key);
  if (first !== undefined && first !== where) throw new ConfigError(where, [`sets ${key}, as ${first} does; set only one of them`]);
  seen.set(key, where);
}

function deletePath(tree: Tree, path: KeyPath): void {
  const parts = path.split('.');
  const parent = getPath(tree, parts.slice(0, -1));
  if (isPlainObject(parent)) delete parent[parts[parts.length - 1]];
}

function coerceEnv(name: string, raw: string, kind: NonNullable<EnvBinding['kind']>): unknown {
  switch (kind) {
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`environment variable ${name}`, [`${JSON.stringify(raw)} is not valid; expected an integer`]);
      return Number(raw);
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(`environment variable ${name}`, [`${JSON.stringify(raw)} is not valid; expected true or false`]);
    }
    default:
      return raw;
  }
}

function describeIssue(issue: z.core.$ZodIssue, path: string[], merged: Tree): string {
  const key = formatPath(path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    return `${key ? key + ': ' : ''}unknown key ${keys}`;
  }
  const value = getPath(merged, path);
  const shown = value === undefined ? 'missing' : `${printable(path, value)} is not valid`;
  const expected = issue.message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
  return `${key || '(top level)'}: ${shown}; ${expected}`;
}

/** A value as an error may show it: a secret key's value never, URLs and command lines with their secrets redacted. */
function printable(path: string[], value: unknown): string {
  if (path.some(isSecretKey)) return REDACTED;
  if (typeof value === 'string') return JSON.stringify(redactText(value));
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return JSON.stringify(redactArgs(value));
  return JSON.stringify(value);
}

function formatPath(path: string[]): string {
  return path.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function findOrigin(origin: Map<KeyPath, string>, path: string[]): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const found = origin.get(path.slice(0, n).join('.'));
    if (found) return found;
  }
  // The issue is about a parent of several keys (e.g. a missing key): any origin below it will do.
  const prefix = path.join('.');
  for (const [k, v] of origin) if (k.startsWith(prefix)) return v;
  return undefined;
}

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(target: Tree, source: Tree): void {
  for (const [k, v] of Object.entries(source)) {
    if (isPlainObject(v) && isPlainObject(target[k])) deepMerge(target[k] as Tree, v);
    else target[k] = v;
  }
}

function leafPaths(tree: unknown, prefix = ''): KeyPath[] {
  if (isPlainObject(tree)) return Object.entries(tree).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  if (Array.isArray(tree)) return [prefix, ...tree.flatMap((v, i) => leafPaths(v, `${prefix}.${i}`))];
  return [prefix];
}

function setPath(tree: Tree, path: KeyPath, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(node[p])) node[p] = {};
    node = node[p] as Tree;
  }
  node[parts[parts.length - 1]] = value;
}

function getPath(tree: unknown, path: string[]): unknown {
  let node = tree;
  for (const p of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Tree)[p];
  }
  return node;
}
