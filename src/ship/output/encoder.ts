// Turns a Line into an ECS document: a deterministic _id and the JSON source, built by string concatenation
// around a constant fragment computed once, so that only the message and the path are escaped per line.
import { UsageError } from '../../common/errors';
import { isObject, setOwn, type Event, type JsonObject, type MemberRanges } from '../parsers/parser';
import type { Doc, FileIdentity, Line } from '../types';
import { loadBulkLines } from './bulk-lines';

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

/** ASCII bytes JSON needs escaped in a string: the control characters, `"` and `\\` (1 = escape). */
const ESCAPED_ASCII = new Uint8Array(128);
for (let b = 0; b < 0x20; b++) ESCAPED_ASCII[b] = 1;
ESCAPED_ASCII[0x22] = 1;
ESCAPED_ASCII[0x5c] = 1;

/** Bytes a plain line cannot be copied with as they are: those ESCAPED_ASCII names and every non-ASCII byte (its
 * text must be decoded, invalid UTF-8 replaced as Buffer's toString replaces it). */
const NOT_COPIED = new Uint8Array(256);
NOT_COPIED.set(ESCAPED_ASCII);
NOT_COPIED.fill(1, 0x80);

/** What every document of one encoder shares: where it goes (the action line's text up to the _id, the index). */
interface OpShape {
  actionText: string | undefined;
  index: string | undefined;
}

/** The constant byte fragments of one plain-line encoder's documents (built once; shared by every LineDoc). */
interface LineShape extends OpShape {
  /** `}` + `,` + the constant fragment + `}`: the end of every document that is not cut. */
  tail: Buffer;
  /** The same after `,"flags":["truncated"]`. */
  truncatedTail: Buffer;
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CLOSE_BRACE = 0x7d;
/** `"}}\n{"@timestamp":"`: the end of the action line and the start of a document with the event's own time. */
const STAMP_OPEN = Buffer.from('"}}\n{"@timestamp":"');
const MESSAGE_KEY = Buffer.from(',"message":');
/** Copied values at most this long are copied by a loop rather than by a call into C++ (copyWithin). */
const SHORT_COPY = 16;

/** Copies `bytes` into buf at `at`; very short fragments by a loop (cheaper than a call into C++ for them). */
function put(buf: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length;
  if (n > SHORT_COPY) {
    // TypedArray's set: Buffer's copy() spends longer checking its arguments than copying a short fragment.
    buf.set(bytes, at);
    return at + n;
  }
  for (let i = 0; i < n; i++) buf[at + i] = bytes[i];
  return at + n;
}

/** Writes the digits of a non-negative integer in `radix` (10 or 36), without making a string. */
function putDigits(buf: Buffer, at: number, value: number, radix: number): number {
  let digits = 1;
  for (let p = radix; p <= value; p *= radix) digits++;
  let v = value;
  for (let i = at + digits - 1; i >= at; i--) {
    // Integer division while it fits 31 bits (offsets past 2 GiB take the floating-point one).
    const q = v < 0x7fffffff ? ((v / radix) | 0) : Math.floor(v / radix);
    const d = v - q * radix;
    buf[i] = d < 10 ? 48 + d : 87 + d;
    v = q;
  }
  return at + digits;
}

/**
 * Writes a parsed event's message as a JSON string, escaped as JSON.stringify escapes it (RFC 8259 section 7; lone
 * surrogates as \\uXXXX): tested first, since many need escaping (a multiline event's lines are joined by \\n).
 * Needs room for `text.length * 6 + 2` bytes at `at`; returns where the string ends.
 */
function writeMessage(buf: Buffer, at: number, text: string): number {
  if (NEEDS_ESCAPE.test(text)) return at + buf.write(JSON.stringify(text), at);
  buf[at] = QUOTE;
  at += 1 + buf.write(text, at + 1);
  buf[at] = QUOTE;
  return at + 1;
}

/**
 * Writes a plain line's text as writeMessage does (same bytes, same room needed). A line never holds a newline and
 * is mostly ASCII with nothing to escape: it is written as it is and its bytes checked there, which is cheaper than
 * testing the string first. As many bytes as UTF-16 units means every unit was ASCII (any other, a lone surrogate
 * included, takes 2 or 3 bytes).
 */
function writeLineText(buf: Buffer, at: number, text: string): number {
  const start = at + 1;
  const n = buf.write(text, start);
  if (n === text.length) {
    const end = start + n;
    let escaped = 0;
    for (let i = start; i < end; i++) escaped |= ESCAPED_ASCII[buf[i]];
    if (escaped === 0) {
      buf[at] = QUOTE;
      buf[end] = QUOTE;
      return end + 1;
    }
  }
  return at + buf.write(JSON.stringify(text), at);
}

/** Whether src[start, end) holds a byte NOT_COPIED names (a loop of its own: V8 keeps it tight). */
function refusesCopy(src: Buffer, start: number, end: number): boolean {
  let refused = 0;
  for (let i = start; i < end; i++) refused |= NOT_COPIED[src[i]];
  return refused !== 0;
}

/**
 * Writes a plain line given as bytes, src[start, end), as writeLineText writes its decoded text (same bytes): copied
 * as they are when all ASCII with nothing to escape; else decoded (invalid UTF-8 replaced, as the framer's text is)
 * and written through JSON.stringify. Needs room for `(end - start) * 6 + 2` bytes at `at` (an invalid byte decodes
 * to U+FFFD, 3 bytes; a control byte escapes to 6); returns where it ends.
 */
function writeLineBytes(buf: Buffer, at: number, src: Buffer, start: number, end: number): number {
  if (refusesCopy(src, start, end)) return at + buf.write(JSON.stringify(src.toString('utf8', start, end)), at);
  buf[at] = QUOTE;
  const n = end - start;
  if (n > SHORT_COPY) src.copy(buf, at + 1, start, end);
  else for (let i = 0; i < n; i++) buf[at + 1 + i] = src[start + i];
  const close = at + 1 + n;
  buf[close] = QUOTE;
  return close + 1;
}

/** The action line up to the _id's digits for documents of file `key` (`{"create":{"_id":"KEY-`), or undefined
 * when the key needs escaping (then the whole _id is escaped per document). */
function opHeadOf(actionText: string | undefined, key: string): Buffer | undefined {
  return PLAIN_ID.test(key) ? Buffer.from((actionText ?? ACTION_HEAD) + '"' + key + '-') : undefined;
}

/** The source of the _bulk operation in buf[start, end): its second line, without the action line or the final \n. */
function sourceOfOp(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', buf.indexOf(NEWLINE, start) + 1, end - 1);
}

/**
 * A document kept as its parts rather than as one JSON string: writeOp() puts the _bulk operation's bytes straight
 * into a request body, so no source string is built, flattened and encoded again for each document. `source` and
 * `id` are made only when asked for (dead letters, tests, previews), decoded from the same bytes.
 */
abstract class OpDoc<L extends Line, S extends OpShape> implements Doc {
  constructor(
    readonly line: L,
    protected readonly shape: S,
    /** The action line up to the _id's digits: `{"create":{"_id":"KEY-`; undefined when the key needs escaping. */
    protected readonly opHead: Buffer | undefined,
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
    const end = this.writeOp(buf, 0);
    return sourceOfOp(buf, 0, end);
  }

  /** Near the length of the operation (batch sizes). */
  abstract readonly opLength: number;

  /** At most how many bytes writeOp() writes (or uses as scratch room after what it writes). */
  abstract opBound(): number;

  /** Writes the action line and the source line (each ending in \n) at `at`; returns where they end. */
  abstract writeOp(buf: Buffer, at: number): number;

  /** At most how many bytes writeAction() writes. */
  protected actionBound(): number {
    return actionBound(this.opHead, this.shape.actionText, this.line.file.key);
  }

  /** Writes the action line up to the _id's closing quote, which the document's head (`"}}\n{...`) writes. */
  protected writeAction(buf: Buffer, at: number): number {
    return writeAction(buf, at, this.opHead, this.shape.actionText, this.line.file.key, this.line.offset);
  }
}

/** At most how many bytes writeAction() writes for a document of file `key`. */
function actionBound(opHead: Buffer | undefined, actionText: string | undefined, key: string): number {
  // An escaped _id takes at most 6 bytes a character.
  return opHead?.length ?? 18 + (actionText?.length ?? 0) * 3 + key.length * 6 + 24;
}

/**
 * Writes the action line of the document of the line at `offset` in file `key` up to the _id's closing quote:
 * `opHead` and the offset's digits, or (opHead undefined: the key needs escaping) the whole _id escaped.
 */
function writeAction(buf: Buffer, at: number, opHead: Buffer | undefined, actionText: string | undefined, key: string, offset: number): number {
  if (opHead) return putDigits(buf, put(buf, at, opHead), offset, 36);
  return at + buf.write((actionText ?? ACTION_HEAD) + JSON.stringify(docId(key, offset)).slice(0, -1), at);
}

/**
 * The document of one plain line: four constant fragments copied as bytes, the _id's and the offset's digits
 * computed in place, the message encoded into the body, escaped only when it must be.
 */
class LineDoc extends OpDoc<Line, LineShape> {
  constructor(
    line: Line,
    shape: LineShape,
    opHead: Buffer | undefined,
    /** `"}}\n{"@timestamp":"...","message":` for the millisecond the line was encoded in. */
    private readonly head: Buffer,
    /** `,"log":{"file":{"path":"..."},"offset":`. */
    private readonly mid: Buffer,
  ) {
    super(line, shape, opHead);
  }

  get opLength(): number {
    return (this.opHead?.length ?? 48) + this.head.length + this.line.text.length + this.mid.length + this.shape.tail.length + 24;
  }

  opBound(): number {
    // A UTF-16 unit takes at most 3 bytes as UTF-8 and 6 escaped (\uXXXX).
    return this.actionBound() + this.head.length + this.line.text.length * 6 + 2 + this.mid.length + 16 + this.shape.truncatedTail.length + 1;
  }

  writeOp(buf: Buffer, at: number): number {
    at = put(buf, this.writeAction(buf, at), this.head);
    at = writeLineText(buf, at, this.line.text);
    at = put(buf, at, this.mid);
    at = putDigits(buf, at, this.line.offset, 10);
    return put(buf, at, this.line.truncated ? this.shape.truncatedTail : this.shape.tail);
  }
}

/**
 * The fragments of plain-line documents, built once (shape) or cached while they stay the same: the head for the
 * current millisecond, the path's fragment and the file key's action head.
 */
class LineParts {
  readonly shape: LineShape;
  /** `"}}\n{"@timestamp":"...","message":` for the millisecond of the last update(). */
  head = Buffer.alloc(0);
  /** `,"log":{"file":{"path":"..."},"offset":` for the last update()'s path. */
  mid = Buffer.alloc(0);
  /** The action line up to the _id's digits for the last update()'s key (undefined: the key needs escaping). */
  opHead: Buffer | undefined;
  private lastMs = -1;
  private lastPath: string | undefined;
  private lastKey: string | undefined;

  constructor(opts: EncodeOptions) {
    const actionText = actionHead(opts);
    const constant = ',' + constantFragment(opts) + '}\n';
    this.shape = {
      actionText,
      index: actionText ? opts.index : undefined,
      tail: Buffer.from('}' + constant),
      truncatedTail: Buffer.from(',"flags":["truncated"]}' + constant),
    };
  }

  /** Brings head, mid and opHead up to date for a line of `path` in the file known by `key`, read now. */
  update(path: string, key: string): void {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.head = Buffer.from('"}}\n{"@timestamp":"' + new Date(now).toISOString() + '","message":');
    }
    if (path !== this.lastPath) {
      this.lastPath = path;
      this.mid = Buffer.from(',"log":{"file":{"path":' + JSON.stringify(path) + '},"offset":');
    }
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.opHead = opHeadOf(this.shape.actionText, key);
    }
  }
}

/**
 * Returns a function that encodes one line (see LineDoc); it keeps small caches (timestamp per millisecond, last
 * path, last file key).
 */
export function makeEncoder(opts: EncodeOptions): (line: Line) => Doc {
  const parts = new LineParts(opts);
  return (line: Line): Doc => {
    parts.update(line.path, line.file.key);
    return new LineDoc(line, parts.shape, parts.opHead, parts.head, parts.mid);
  };
}

/**
 * A batch's _bulk body written as its lines come (makeBytesEncoder): operations back to back in one buffer, sent as
 * it is. Reused for a later batch once its own is settled (reset()); a document written into it then refuses to be
 * read (it would read another batch's bytes).
 */
export class Arena {
  buf: Buffer;
  /** Bytes written: the body is buf[0, length). */
  length = 0;
  /** How many times the arena was reset: a document remembers the one it was written in. */
  generation = 0;

  /** `capacity`: bytes allocated at first (it grows when an operation needs more room). */
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes room for `n` more bytes: a bigger copy of what was written when they do not fit. */
  reserve(n: number): void {
    if (this.buf.length - this.length >= n) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  /** The body: a view of the bytes written (valid until the next reset or growth). */
  get body(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Empties the arena for another batch; the documents written into it before can no longer be read. */
  reset(): void {
    this.length = 0;
    this.generation++;
  }
}

/**
 * The document of one plain line written into an arena (makeBytesEncoder): it is its own Line, holds no text and no
 * parts, only where its operation lies in the arena. `text`, `source` and `id` are decoded from those bytes when
 * asked for (dead letters, tests).
 */
class ArenaLineDoc implements Doc, Line {
  private readonly generation: number;
  constructor(
    readonly file: FileIdentity,
    readonly path: string,
    readonly offset: number,
    readonly next: number,
    readonly truncated: boolean,
    private readonly arena: Arena,
    /** The operation is arena.buf[start, end): its action line and its source line, each ending in \n. */
    private readonly start: number,
    private readonly end: number,
    private readonly shape: OpShape,
  ) {
    this.generation = arena.generation;
  }

  get line(): Line {
    return this;
  }

  /** The line's text, from the document's message (invalid UTF-8 replaced, as the framer's text is). */
  get text(): string {
    return (JSON.parse(this.source) as { message: string }).message;
  }

  get id(): string {
    return docId(this.file.key, this.offset);
  }

  get action(): string | undefined {
    return this.shape.actionText;
  }

  get index(): string | undefined {
    return this.shape.index;
  }

  get opLength(): number {
    return this.end - this.start;
  }

  get source(): string {
    const buf = this.bytes();
    return sourceOfOp(buf, this.start, this.end);
  }

  opBound(): number {
    return this.end - this.start;
  }

  writeOp(buf: Buffer, at: number): number {
    buf.set(this.bytes().subarray(this.start, this.end), at);
    return at + (this.end - this.start);
  }

  /** The arena's buffer; throws once the arena serves another batch. */
  private bytes(): Buffer {
    if (this.arena.generation !== this.generation) throw new Error(`the document of ${this.path} at offset ${this.offset} was read after its batch was settled`);
    return this.arena.buf;
  }
}

/**
 * Writes the _bulk operation of one plain line, given as bytes src[start, end) of a buffer the caller reuses, into
 * `arena` at once, and returns its document. Same bytes as makeEncoder's document of the same line read in the same
 * millisecond (see LineDoc); see LineBytesSink for the other arguments.
 */
export type BytesEncoder = (arena: Arena, file: FileIdentity, path: string, offset: number, next: number, src: Buffer, start: number, end: number, truncated: boolean) => Doc;

/** Returns a BytesEncoder; it keeps the same small caches as makeEncoder's. */
export function makeBytesEncoder(opts: EncodeOptions): BytesEncoder {
  const parts = new LineParts(opts);
  const { shape } = parts;
  return (arena, file, path, offset, next, src, start, end, truncated) => {
    parts.update(path, file.key);
    const { head, mid, opHead } = parts;
    arena.reserve(actionBound(opHead, shape.actionText, file.key) + head.length + (end - start) * 6 + 2 + mid.length + 16 + shape.truncatedTail.length);
    const buf = arena.buf;
    const from = arena.length;
    let at = writeAction(buf, from, opHead, shape.actionText, file.key, offset);
    at = put(buf, at, head);
    at = writeLineBytes(buf, at, src, start, end);
    at = put(buf, at, mid);
    at = putDigits(buf, at, offset, 10);
    at = put(buf, at, truncated ? shape.truncatedTail : shape.tail);
    arena.length = at;
    return new ArenaLineDoc(file, path, offset, next, truncated, arena, from, at, shape);
  };
}

/** What a RunEncoder took of its buffer: `count` lines, the first at file offset `offset`, the last ending before
 * `next`; their operations take `bytes` bytes; `index` is where in the buffer the lines it did not take begin. */
export interface LineRun {
  index: number;
  count: number;
  bytes: number;
  offset: number;
  next: number;
}

/**
 * Writes the _bulk operations of as many whole plain lines of src[start, end) as it takes (pos: the file offset of
 * src[start]) into `arena` at once, and pushes their documents onto `docs`: the same bytes and documents as a
 * BytesEncoder's for the same lines read in the same millisecond. Stops before the first line it leaves to the
 * per-line path (see BulkLinesBinding.writeLines), and after maxDocs lines or maxBytes bytes of operations.
 */
export type RunEncoder = (
  arena: Arena,
  file: FileIdentity,
  path: string,
  src: Buffer,
  start: number,
  end: number,
  pos: number,
  maxLine: number,
  maxDocs: number,
  maxBytes: number,
  docs: Doc[],
) => LineRun;

/** The LineRun of a call that took no line of src from `start` (file offset `pos`). */
function noRun(start: number, pos: number): LineRun {
  return { index: start, count: 0, bytes: 0, offset: pos, next: pos };
}

/** Lines one writeLines call takes at most (its records: 3 numbers each). */
const RUN_LINES = 2048;

/**
 * Returns a RunEncoder on the bulk-lines binding, or undefined without it (not built, or `env.SIDEKICK_NATIVE` is
 * `off`): then plain lines take makeBytesEncoder's path only. Keeps the same small caches as makeEncoder's; the lines
 * of one run share one read time. A file key that needs escaping takes no run (its lines go the per-line way).
 */
export function makeRunEncoder(opts: EncodeOptions, env: NodeJS.ProcessEnv = process.env): RunEncoder | undefined {
  const binding = loadBulkLines(env);
  if (binding === undefined) return undefined;
  const parts = new LineParts(opts);
  const { shape } = parts;
  const out = new Float64Array(2 + 3 * RUN_LINES);
  return (arena, file, path, src, start, end, pos, maxLine, maxDocs, maxBytes, docs) => {
    parts.update(path, file.key);
    const { opHead } = parts;
    if (opHead === undefined) return noRun(start, pos);
    const from = arena.length;
    const count = binding.writeLines(src, start, end, pos, arena.buf, from, opHead, parts.head, parts.mid, shape.tail, maxLine, maxDocs, maxBytes, out);
    if (count === 0) return noRun(start, pos);
    let at = from;
    for (let k = 2; k < 2 + 3 * count; k += 3) {
      const opEnd = out[k + 2];
      docs.push(new ArenaLineDoc(file, path, out[k], out[k + 1], false, arena, at, opEnd, shape));
      at = opEnd;
    }
    arena.length = at;
    return { index: out[0], count, bytes: at - from, offset: out[2], next: out[3 * count] };
  };
}

/** Fields under `log` the shipper always sets itself: parsers may add to `log`, never replace these. */
const OWN_LOG_FIELDS = ['file', 'offset', 'flags'];

/**
 * The document of one parsed event, in its parts: the head with its @timestamp, the message, log's own members,
 * the parsers' members (copied as bytes from the line when a parser kept them as ranges of it, MemberRanges;
 * else as text) and the constant tail.
 */
class EventDoc extends OpDoc<Event, OpShape> {
  constructor(
    ev: Event,
    shape: OpShape,
    opHead: Buffer | undefined,
    /** `"}}\n{"@timestamp":"...Z"` with the read time, for events without their own. */
    private readonly head: Buffer,
    /** `,"log":{"file":{"path":"..."},"offset":`. */
    private readonly logHead: Buffer,
    private readonly message: unknown,
    /** log's members after the offset, as text (`,"flags":[...]` and parsers' members held as text). */
    private readonly log: string,
    /** The parsers' members at the root, as text (`,"k":v` each). */
    private readonly rest: string,
    /** The parsers' members as ranges of a text, written after `log` (inside log) and `rest` (at the root). */
    private readonly members: MemberRanges | undefined,
    /** The constant members and the document's end (`,"host":...}\n`), as bytes or, merged with parsers' fields, text. */
    private readonly tail: Buffer | string,
  ) {
    super(ev, shape, opHead);
  }

  get opLength(): number {
    const m = this.message;
    return (
      (this.opHead?.length ?? 48) +
      this.head.length +
      (typeof m === 'string' ? m.length + 13 : 0) +
      this.logHead.length +
      this.log.length +
      this.rest.length +
      (this.members ? this.members.text.length + this.members.shapes.length * 8 : 0) +
      this.tail.length +
      24
    );
  }

  get heldLength(): number {
    const m = this.message;
    return (typeof m === 'string' && m !== this.line.text ? m.length : 0) + this.log.length + this.rest.length + (typeof this.tail === 'string' ? this.tail.length : 0);
  }

  opBound(): number {
    const ev = this.line;
    const m = this.message;
    let n = this.actionBound() + (ev.timestamp === undefined ? this.head.length : STAMP_OPEN.length + ev.timestamp.length + 1);
    if (m !== undefined) n += MESSAGE_KEY.length + (typeof m === 'string' ? m.length * 6 + 2 : JSON.stringify(m).length * 3);
    n += this.logHead.length + 16 + this.log.length * 3 + 1 + this.rest.length * 3 + (typeof this.tail === 'string' ? this.tail.length * 3 + 1 : this.tail.length);
    const members = this.members;
    if (members) {
      for (const s of members.shapes) n += s.openBytes.length + s.close.length;
      // The values (at most 3 bytes a UTF-16 unit), and the room writeOp uses to encode the text once.
      n += members.text.length * 6;
    }
    return n;
  }

  writeOp(buf: Buffer, at: number): number {
    const ev = this.line;
    at = this.writeAction(buf, at);
    if (ev.timestamp === undefined) at = put(buf, at, this.head);
    else {
      // ISO 8601 (parsers make it): ASCII, nothing to escape.
      at = put(buf, at, STAMP_OPEN);
      at += buf.write(ev.timestamp, at, 'latin1');
      buf[at++] = QUOTE;
    }
    const m = this.message;
    if (m !== undefined) {
      at = put(buf, at, MESSAGE_KEY);
      at = typeof m === 'string' ? writeMessage(buf, at, m) : at + buf.write(JSON.stringify(m), at);
    }
    at = putDigits(buf, put(buf, at, this.logHead), ev.offset, 10);
    if (this.log !== '') at += buf.write(this.log, at);
    const members = this.members;
    // Where the members' text is as bytes: encoded once at the end of the room opBound() promised (past anything
    // this writes), when its UTF-8 is as long as it is (ASCII): then a value's bytes are at its character offsets.
    let textAt = -1;
    if (members) {
      const len = members.text.length;
      const room = buf.length - 3 * len;
      if (buf.write(members.text, room) === len) textAt = room;
      at = writeCopied(buf, at, members, true, textAt);
    }
    buf[at++] = CLOSE_BRACE;
    if (this.rest !== '') at += buf.write(this.rest, at);
    if (members) at = writeCopied(buf, at, members, false, textAt);
    const tail = this.tail;
    if (typeof tail !== 'string') return put(buf, at, tail);
    at += buf.write(tail, at);
    buf[at] = NEWLINE;
    return at + 1;
  }
}

/**
 * Writes the copied members of `members` inside log (`log`) or at the root at `at`; returns where they end. With `textAt`
 * >= 0 the text's bytes are in buf from there, one a character, and values are copied from them; else each value is
 * encoded from the text.
 */
function writeCopied(buf: Buffer, at: number, members: MemberRanges, log: boolean, textAt: number): number {
  const { shapes, ranges, text } = members;
  for (let i = 0; i < shapes.length; i++) {
    const s = shapes[i];
    if (s.log !== log) continue;
    at = put(buf, at, s.openBytes);
    const start = ranges[2 * i];
    const end = ranges[2 * i + 1];
    if (textAt < 0) at += buf.write(text.slice(start, end), at);
    else if (end - start > SHORT_COPY) {
      buf.copyWithin(at, textAt + start, textAt + end);
      at += end - start;
    } else for (let j = textAt + start, e = textAt + end; j < e; j++) buf[at++] = buf[j];
    for (let j = 0; j < s.close.length; j++) buf[at++] = CLOSE_BRACE;
  }
  return at;
}

/**
 * Returns a function that encodes one parsed event (see EventDoc): `@timestamp` (the event's own, else the read
 * time), `message` (when the event has one), `log` (file path, offset of its first line, flags; fields parsers
 * put under log are added), the parsers' fields (copied as they are when a parser holds them as text, see
 * Spliced), then host, agent and configured fields. A parser's field wins over a configured one of the same
 * name; agent.type and the shipper's log fields always stay. The event's timestamp is ISO 8601 (no escaping).
 */
export function makeEventEncoder(opts: EncodeOptions): (ev: Event) => Doc {
  const constant = constantObject(opts);
  const tail = Buffer.from(',' + JSON.stringify(constant).slice(1, -1) + '}\n');
  const constantRoots = new Set(Object.keys(constant));
  const actionText = actionHead(opts);
  const shape: OpShape = { actionText, index: actionText ? opts.index : undefined };
  let lastMs = -1;
  // The document's start with the read time (`"}}\n{"@timestamp":"...Z"`), made once a millisecond.
  let head = Buffer.alloc(0);
  let lastPath: string | undefined;
  // `,"log":` and log's members up to the offset's value, made once a path.
  let logHead = Buffer.alloc(0);
  let lastKey: string | undefined;
  let opHead: Buffer | undefined;
  return (ev: Event): Doc => {
    if (ev.timestamp === undefined) {
      const now = Date.now();
      if (now !== lastMs) {
        lastMs = now;
        head = Buffer.from('"}}\n{"@timestamp":"' + new Date(now).toISOString() + '"');
      }
    }
    if (ev.path !== lastPath) {
      lastPath = ev.path;
      logHead = Buffer.from(',"log":{"file":{"path":' + JSON.stringify(ev.path) + '},"offset":');
    }
    if (ev.file.key !== lastKey) {
      lastKey = ev.file.key;
      opHead = opHeadOf(actionText, lastKey);
    }
    const flags = ev.truncated ? ['truncated', ...(ev.flags ?? [])] : ev.flags;
    // log's own members after the offset, without its closing brace: parsers' members under log follow them.
    let log = flags && flags.length > 0 ? ',"flags":' + JSON.stringify(flags) : '';
    let message: unknown = ev.message;
    let rest = '';
    let members: MemberRanges | undefined;
    let merged: JsonObject | undefined;
    const spliced = ev.spliced;
    const fields = ev.fields;
    if (spliced !== undefined) {
      members = spliced.members;
      if (members === undefined) {
        log += spliced.log;
        rest = spliced.root;
      }
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
    return new EventDoc(ev, shape, opHead, head, logHead, message, log, rest, members, merged ? ',' + JSON.stringify(merged).slice(1) : tail);
  };
}
