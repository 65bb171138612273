// Turns a Line into an ECS document: a deterministic _id and the JSON source, built by string concatenation
// around a constant fragment computed once, so that only the message and the path are escaped per line.
import { UsageError } from '../../common/errors';
import { isObject, setOwn, type Event, type JsonObject } from '../parsers/parser';
import type { Doc, Line } from '../types';

/** The _id of the line at `offset` in the file known by `fileKey`: the same line always gets the same _id. */
/** The action line up to the _id for documents going to the sink's index (see actionHead for the others). */
export const ACTION_HEAD = '{"create":{"_id":';
/** _ids made by docId() from the keys identity.ts makes need no escaping; anything else goes through JSON.stringify. */
export const PLAIN_ID = /^[\w.:@+-]*$/;

export function docId(fileKey: string, offset: number): string {
  return `${fileKey}-${offset.toString(36)}`;
}

export interface EncodeOptions {
  hostName: string;
  agentVersion: string;
  /** Extra fields merged at the top level of every document (objects are merged into host/agent). */
  fields?: Record<string, unknown>;
  /** The target when it is not the sink's index (an input's own data stream): named in each action line. */
  index?: string;
  /** An ingest pipeline the engine runs each document through. */
  pipeline?: string;
}

/** The action line up to the _id for documents with their own index or pipeline, else undefined. */
export function actionHead(opts: Pick<EncodeOptions, 'index' | 'pipeline'>): string | undefined {
  if (opts.index === undefined && opts.pipeline === undefined) return undefined;
  const meta: Record<string, string> = {};
  if (opts.index !== undefined) meta._index = opts.index;
  if (opts.pipeline !== undefined) meta.pipeline = opts.pipeline;
  return `{"create":${JSON.stringify(meta).slice(0, -1)},"_id":`;
}

/** Field paths the encoder fills per line; configured fields may not replace them. */
const PER_LINE_FIELDS = ['@timestamp', 'message', 'log'];

function merge(into: JsonObject, from: JsonObject): JsonObject {
  for (const [k, v] of Object.entries(from)) {
    const cur = Object.hasOwn(into, k) ? into[k] : undefined;
    const value = isObject(cur) && isObject(v) ? merge({ ...cur }, v) : v;
    setOwn(into, k, value);
  }
  return into;
}

/**
 * The constant part of every document: host, agent and configured fields, as JSON members without braces
 * (`"host":{...},"agent":{...},...`). Throws a UsageError (exit 2) when a configured field would collide with a per-line field.
 */
export function constantFragment(opts: EncodeOptions): string {
  return JSON.stringify(constantObject(opts)).slice(1, -1);
}

/** The constant part of every document as an object (see constantFragment). */
export function constantObject(opts: EncodeOptions): JsonObject {
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
  return merged;
}

/** Characters JSON needs escaped (and lone surrogates, which JSON.stringify escapes). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The constant byte fragments of one encoder's documents (built once; shared by every LineDoc it makes). */
interface LineShape {
  actionText: string | undefined;
  index: string | undefined;
  /** `}` + `,` + the constant fragment + `}`: the end of every document that is not cut. */
  tail: Buffer;
  /** The same after `,"flags":["truncated"]`. */
  truncatedTail: Buffer;
}

const QUOTE = 0x22;

/** Copies `bytes` into buf at `at`; very short fragments by a loop (cheaper than a call into C++ for them). */
function put(buf: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length;
  if (n > 16) return at + bytes.copy(buf, at);
  for (let i = 0; i < n; i++) buf[at + i] = bytes[i];
  return at + n;
}

/** Writes the digits of a non-negative integer in `radix` (10 or 36), without making a string. */
function putDigits(buf: Buffer, at: number, value: number, radix: number): number {
  let digits = 1;
  for (let v = Math.floor(value / radix); v > 0; v = Math.floor(v / radix)) digits++;
  let v = value;
  for (let i = at + digits - 1; i >= at; i--) {
    const d = v % radix;
    buf[i] = d < 10 ? 48 + d : 87 + d;
    v = Math.floor(v / radix);
  }
  return at + digits;
}

/**
 * The document of one plain line, kept as its parts rather than as one JSON string: writeOp() puts the _bulk
 * operation's bytes straight into a request body (four constant fragments copied as bytes, the _id's and the
 * offset's digits computed in place, the message encoded into it, escaped only when it must be), so no source
 * string is built, flattened and encoded again for each line. `source` and `id` are made only when asked for
 * (dead letters, tests), decoded from the same bytes.
 */
class LineDoc implements Doc {
  constructor(
    readonly line: Line,
    private readonly shape: LineShape,
    /** The action line up to the _id's digits: `{"create":{"_id":"KEY-`; undefined when the key needs escaping. */
    private readonly opHead: Buffer | undefined,
    /** `"}}\n{"@timestamp":"...","message":` for the millisecond the line was encoded in. */
    private readonly head: Buffer,
    /** `,"log":{"file":{"path":"..."},"offset":`. */
    private readonly mid: Buffer,
  ) {}

  get id(): string {
    return docId(this.line.file.key, this.line.offset);
  }

  get action(): string | undefined {
    return this.shape.actionText;
  }

  get index(): string | undefined {
    return this.shape.index;
  }

  get source(): string {
    const buf = Buffer.allocUnsafe(this.opBound());
    const start = this.head.indexOf('\n') + 1;
    const end = put(buf, 0, this.head);
    return buf.toString('utf8', start, this.writeSource(buf, end) - 1);
  }

  get opLength(): number {
    return (this.opHead?.length ?? 48) + this.head.length + this.line.text.length + this.mid.length + this.shape.tail.length + 24;
  }

  /** At most how many bytes writeOp() writes. */
  opBound(): number {
    // A UTF-16 unit takes at most 3 bytes as UTF-8 and 6 escaped (\uXXXX); an escaped _id 6 bytes a character.
    const action = this.opHead?.length ?? 18 + (this.shape.actionText?.length ?? 0) * 3 + this.line.file.key.length * 6;
    return action + 24 + this.head.length + this.line.text.length * 6 + 2 + this.mid.length + 16 + this.shape.truncatedTail.length + 1;
  }

  /** Writes the action line and the source line (each ending in \n) at `at`; returns where they end. */
  writeOp(buf: Buffer, at: number): number {
    if (this.opHead) {
      at = put(buf, at, this.opHead);
      at = putDigits(buf, at, this.line.offset, 36);
    } else {
      // The head's first byte closes the escaped _id.
      at += buf.write((this.shape.actionText ?? ACTION_HEAD) + JSON.stringify(this.id).slice(0, -1), at);
    }
    return this.writeSource(buf, put(buf, at, this.head));
  }

  /** Writes the source from its message on, and the \n after it. */
  private writeSource(buf: Buffer, at: number): number {
    at = writeMessage(buf, at, this.line.text);
    at = put(buf, at, this.mid);
    at = putDigits(buf, at, this.line.offset, 10);
    return put(buf, at, this.line.truncated ? this.shape.truncatedTail : this.shape.tail);
  }
}

/** Writes `text` as a JSON string, escaped as JSON.stringify escapes it. */
function writeMessage(buf: Buffer, at: number, text: string): number {
  // Most log lines need no escaping; testing is cheaper than building an escaped copy.
  if (NEEDS_ESCAPE.test(text)) return at + buf.write(JSON.stringify(text), at);
  buf[at] = QUOTE;
  at += 1 + buf.write(text, at + 1);
  buf[at] = QUOTE;
  return at + 1;
}

/**
 * Returns a function that encodes one line (see LineDoc); it keeps small caches (timestamp per millisecond, last
 * path, last file key).
 */
export function makeEncoder(opts: EncodeOptions): (line: Line) => Doc {
  const actionText = actionHead(opts);
  const constant = ',' + constantFragment(opts) + '}\n';
  const shape: LineShape = {
    actionText,
    index: actionText ? opts.index : undefined,
    tail: Buffer.from('}' + constant),
    truncatedTail: Buffer.from(',"flags":["truncated"]}' + constant),
  };
  let lastMs = -1;
  let head = Buffer.alloc(0);
  let lastPath: string | undefined;
  let mid = Buffer.alloc(0);
  let lastKey: string | undefined;
  let opHead: Buffer | undefined;
  return (line: Line): Doc => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      head = Buffer.from('"}}\n{"@timestamp":"' + new Date(now).toISOString() + '","message":');
    }
    if (line.path !== lastPath) {
      lastPath = line.path;
      mid = Buffer.from(',"log":{"file":{"path":' + JSON.stringify(line.path) + '},"offset":');
    }
    if (line.file.key !== lastKey) {
      lastKey = line.file.key;
      opHead = PLAIN_ID.test(lastKey) ? Buffer.from((actionText ?? ACTION_HEAD) + '"' + lastKey + '-') : undefined;
    }
    return new LineDoc(line, shape, opHead, head, mid);
  };
}

/** Fields under `log` the shipper always sets itself: parsers may add to `log`, never replace these. */
const OWN_LOG_FIELDS = ['file', 'offset', 'flags'];

/**
 * Returns a function that encodes one parsed event: `@timestamp` (the event's own, else the read time),
 * `message` (when the event has one), `log` (file path, offset of its first line, flags; fields parsers put
 * under log are added), the parsers' fields (copied as they are when a parser holds them as text, see
 * Spliced), then host, agent and configured fields. A parser's field wins over a configured one of the same
 * name; agent.type and the shipper's log fields always stay. The event's timestamp is ISO 8601 (no escaping).
 */
export function makeEventEncoder(opts: EncodeOptions): (ev: Event) => Doc {
  const constant = constantObject(opts);
  const tail = ',' + JSON.stringify(constant).slice(1, -1) + '}';
  const constantRoots = new Set(Object.keys(constant));
  const action = actionHead(opts);
  const index = opts.index;
  let lastMs = -1;
  // The document's start with the read time (`{"@timestamp":"...Z"`), made once a millisecond.
  let nowHead = '';
  let lastPath = '';
  // log's members up to the offset's value, made once a path.
  let logHead = '{"file":{"path":""},"offset":';
  return (ev: Event): Doc => {
    let head: string;
    if (ev.timestamp === undefined) {
      const now = Date.now();
      if (now !== lastMs) {
        lastMs = now;
        nowHead = '{"@timestamp":"' + new Date(now).toISOString() + '"';
      }
      head = nowHead;
    } else head = '{"@timestamp":"' + ev.timestamp + '"';
    if (ev.path !== lastPath) {
      lastPath = ev.path;
      logHead = '{"file":{"path":' + JSON.stringify(ev.path) + '},"offset":';
    }
    const flags = ev.truncated ? ['truncated', ...(ev.flags ?? [])] : ev.flags;
    // log's own members, without its closing brace: parsers' members under log follow them.
    let log = logHead + ev.offset + (flags && flags.length > 0 ? ',"flags":' + JSON.stringify(flags) : '');
    let message: unknown = ev.message;
    let rest = '';
    let merged: JsonObject | undefined;
    const spliced = ev.spliced;
    const fields = ev.fields;
    if (spliced !== undefined) {
      log += spliced.log;
      rest = spliced.root;
    } else if (fields) {
      let special = false;
      for (const k in fields) {
        if (k === '@timestamp' || k === 'message' || k === 'log' || constantRoots.has(k)) {
          special = true;
          break;
        }
      }
      if (!special) {
        const json = JSON.stringify(fields);
        if (json.length > 2) rest = ',' + json.slice(1, -1);
      } else {
        let others: JsonObject | undefined;
        for (const k in fields) {
          const v = fields[k];
          if (k === '@timestamp') continue;
          if (k === 'message') {
            if (message === undefined) message = v;
            continue;
          }
          if (k === 'log') {
            if (isObject(v)) {
              const own: JsonObject = {};
              for (const lk in v) if (!OWN_LOG_FIELDS.includes(lk)) own[lk] = v[lk];
              const json = JSON.stringify(own);
              if (json.length > 2) log += ',' + json.slice(1, -1);
            }
            continue;
          }
          if (constantRoots.has(k)) merged ??= structuredClone(constant);
          setOwn((others ??= {}), k, v);
        }
        if (others) {
          if (merged) {
            merge(merged, others);
            (merged.agent as JsonObject).type = 'sidekick-ship';
          } else rest = ',' + JSON.stringify(others).slice(1, -1);
        }
      }
    }
    const source =
      head +
      (message === undefined ? '' : ',"message":' + (typeof message === 'string' && !NEEDS_ESCAPE.test(message) ? '"' + message + '"' : JSON.stringify(message))) +
      ',"log":' +
      log +
      '}' +
      rest +
      (merged ? ',' + JSON.stringify(merged).slice(1) : tail);
    const doc: Doc = { id: docId(ev.file.key, ev.offset), source, line: ev };
    if (action) {
      doc.action = action;
      doc.index = index;
    }
    return doc;
  };
}
