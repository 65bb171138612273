// Turns a Line into an ECS document: a deterministic _id and the JSON source, built by string concatenation
// around a constant fragment computed once, so that only the message and the path are escaped per line.
import { UsageError } from '../../common/errors';
import type { Doc, Line } from '../types';

/** The _id of the line at `offset` in the file known by `fileKey`: the same line always gets the same _id. */
export function docId(fileKey: string, offset: number): string {
  return `${fileKey}-${offset.toString(36)}`;
}

export interface EncodeOptions {
  hostName: string;
  agentVersion: string;
  /** Extra fields merged at the top level of every document (objects are merged into host/agent). */
  fields?: Record<string, unknown>;
}

/** Field paths the encoder fills per line; configured fields may not replace them. */
const PER_LINE_FIELDS = ['@timestamp', 'message', 'log'];

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function merge(into: JsonObject, from: JsonObject): JsonObject {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    into[k] = isObject(cur) && isObject(v) ? merge({ ...cur }, v) : v;
  }
  return into;
}

/**
 * The constant part of every document: host, agent and configured fields, as JSON members without braces
 * (`"host":{...},"agent":{...},...`). Throws a UsageError (exit 2) when a configured field would collide with a per-line field.
 */
export function constantFragment(opts: EncodeOptions): string {
  const fields = opts.fields ?? {};
  for (const key of Object.keys(fields)) {
    const root = key.split('.')[0];
    if (PER_LINE_FIELDS.includes(key) || PER_LINE_FIELDS.includes(root)) {
      throw new UsageError(`field "${key}" cannot be set: @timestamp, message and log.* are filled from each line`);
    }
  }
  const base: JsonObject = { host: { name: opts.hostName }, agent: { type: 'sidekick-ship', version: opts.agentVersion } };
  const merged = merge(base, fields);
  // agent.type identifies our documents in Kibana; configured fields may add to agent but not rename it.
  (merged.agent as JsonObject).type = 'sidekick-ship';
  const json = JSON.stringify(merged);
  return json.slice(1, -1);
}

/** Characters JSON needs escaped (and lone surrogates, which JSON.stringify escapes). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Returns a function that encodes one line; it keeps small caches (timestamp per millisecond, last path). */
export function makeEncoder(opts: EncodeOptions): (line: Line) => Doc {
  const tail = ',' + constantFragment(opts) + '}';
  let lastMs = -1;
  let head = '';
  let lastPath = '';
  let lastPathJson = '""';
  return (line: Line): Doc => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      head = '{"@timestamp":"' + new Date(now).toISOString() + '","message":';
    }
    if (line.path !== lastPath) {
      lastPath = line.path;
      lastPathJson = JSON.stringify(line.path);
    }
    const source =
      head +
      // Most log lines need no escaping; testing is cheaper than building an escaped copy.
      (NEEDS_ESCAPE.test(line.text) ? JSON.stringify(line.text) : '"' + line.text + '"') +
      ',"log":{"file":{"path":' +
      lastPathJson +
      '},"offset":' +
      line.offset +
      (line.truncated ? ',"flags":["truncated"]}' : '}') +
      tail;
    return { id: docId(line.file.key, line.offset), source, line };
  };
}
