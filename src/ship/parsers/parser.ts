// The one shape every parser has: a step that takes an event and passes on zero or more, holding some back
// when it must see more lines first (multiline, container partial lines). Adding a parser is adding a file.
import type { Line } from '../types';

export type JsonObject = Record<string, unknown>;

/**
 * One document's worth of a byte range of one file, as parsers see it. It starts as one line (offset and next
 * of that line, message = text) and may become several lines joined (offset of the first, next after the last).
 * `text` stays the raw text of the range (lines joined by \n): it is what the dead-letter file keeps.
 */
export interface Event extends Line {
  /** The document's `message`; undefined leaves it out (e.g. JSON decoded at the root without one). */
  message: string | undefined;
  /**
   * Fields parsers extracted, as nested objects, merged at the document's root. Read them with fieldsIn and
   * change them through fieldsOf: while `spliced` holds them as text, this is undefined or a read-only copy.
   */
  fields: JsonObject | undefined;
  /** The fields still as JSON text copied from the line (ndjson), written into the document as they are. */
  spliced: Spliced | undefined;
  /** `@timestamp` from the event itself (ISO 8601, UTC, milliseconds); undefined keeps the read time. */
  timestamp: string | undefined;
  /** `log.flags` besides `truncated` (which `truncated` sets): multiline, dissect_parsing_error, ... */
  flags: string[] | undefined;
}

/**
 * Fields as document members (`,"k":v` each, with its leading comma): `root` at the document's root, `log`
 * inside its `log` object. Their keys are expanded and none is one the shipper sets itself (see ndjson).
 */
export interface Spliced {
  readonly root: string;
  readonly log: string;
  /** The same members as ranges of the text they were copied from, when the parser kept them so: the encoder
   * then copies their bytes into the _bulk body, and root and log are built only if something reads them. */
  readonly members?: MemberRanges;
}

/**
 * Members copied from `text`: member i is `shapes[i].open` + text[ranges[2i], ranges[2i+1]) + `shapes[i].close`,
 * at the document's root or, for shapes marked `log`, inside its `log` object; in order.
 */
export interface MemberRanges {
  readonly text: string;
  readonly shapes: readonly MemberShape[];
  readonly ranges: readonly number[];
}

/** How one copied member is written around its value: `,"a":{"b":` before it (with its leading comma), `}` after. */
export interface MemberShape {
  /** Inside the document's `log` object rather than at its root. */
  readonly log: boolean;
  readonly open: string;
  /** `open` as UTF-8. */
  readonly openBytes: Buffer;
  /** Closing braces after the value (`}` for each level below the first name). */
  readonly close: string;
}

export type Emit = (ev: Event) => void;

/**
 * One parser's work on one file. A stateless parser calls emit at most once per push and holds nothing;
 * a stateful one holds events back and implements held/due/flush. Events must be passed on in the order of
 * their first offsets: acknowledgements settle a file's bytes front to back.
 */
export interface Step {
  push(ev: Event, emit: Emit): void;
  /** Offset of the first byte held back (not yet passed on), or undefined when nothing is held. */
  held?(): number | undefined;
  /** When what is held must be passed on anyway (ms since the epoch), or undefined. */
  due?(): number | undefined;
  /** Passes on everything held (timeout, end of file, a cut replayed after a restart). */
  flush?(emit: Emit): void;
}

/** Makes one file's step (a stateless parser may hand out the same one to every file). */
export type StepFactory = () => Step;

/** What parsers may need to know about the input they run in. */
export interface ParserContext {
  /** The fields the shipper adds to every document of the input (host, agent, configured fields). */
  constant: JsonObject;
}

/** Sets `error.message` (ECS) on the event, keeping an earlier one. */
export function setError(ev: Event, message: string): void {
  const fields = fieldsOf(ev);
  const error = isObject(fields.error) ? fields.error : (fields.error = {});
  (error as JsonObject).message = (error as JsonObject).message === undefined ? message : `${String((error as JsonObject).message)}; ${message}`;
}

/** Makes the event for one framed line: its message is its text, nothing else set yet. */
export function eventOf(line: Line): Event {
  // Spelled out: an object spread here cost ~9 us a line in V8 (a literal of the same shape: 0.03 us).
  return { file: line.file, path: line.path, offset: line.offset, next: line.next, text: line.text, truncated: line.truncated, message: line.text, fields: undefined, spliced: undefined, timestamp: undefined, flags: undefined };
}

/** A copy of `ev` spanning up to `last`'s end (several lines joined into one event). */
export function spanning(ev: Event, last: Event, text: string, message: string | undefined, truncated: boolean): Event {
  return { file: ev.file, path: ev.path, offset: ev.offset, next: last.next, text, truncated, message, fields: ev.fields, spliced: ev.spliced, timestamp: ev.timestamp, flags: ev.flags };
}

/** Adds a flag once. */
export function flag(ev: Event, name: string): void {
  if (!ev.flags) ev.flags = [name];
  else if (!ev.flags.includes(name)) ev.flags.push(name);
}

/** The event's fields to change, created on first use (fields held as text are decoded, and written as objects). */
export function fieldsOf(ev: Event): JsonObject {
  const fields = fieldsIn(ev);
  ev.spliced = undefined;
  return fields ?? (ev.fields = {});
}

/** The event's fields to read, or undefined when it has none. Change them only through fieldsOf. */
export function fieldsIn(ev: Event): JsonObject | undefined {
  const s = ev.spliced;
  if (s !== undefined && ev.fields === undefined) {
    const log = s.log === '' ? '' : `"log":{${s.log.slice(1)}}`;
    ev.fields = JSON.parse(`{${log}${log === '' ? s.root.slice(1) : s.root}}`) as JsonObject;
  }
  return ev.fields;
}

/** Whether a JSON value is an object (not null, not an array). */
function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An own member of `obj`: inherited ones (toString, __proto__) are no fields of a line's. */
function own(obj: JsonObject, k: string): unknown {
  return Object.hasOwn(obj, k) ? obj[k] : undefined;
}

/**
 * Sets an own member, also one named __proto__: assigning that would set the object's prototype, and a line's
 * `{"__proto__.x": 1}` would reach Object.prototype through the paths below (and the encoder's merges).
 */
export function setOwn(obj: JsonObject, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[k] = v;
}

/** Reads a dotted path (`http.response.status_code`) from nested objects; a literal dotted key wins. */
export function getPath(obj: JsonObject | undefined, path: string): unknown {
  if (!obj) return undefined;
  if (Object.hasOwn(obj, path)) return obj[path];
  let node: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(node)) return undefined;
    node = own(node, part);
  }
  return node;
}

/** Sets a dotted path, creating objects on the way (a non-object in the way is replaced). */
export function setPath(obj: JsonObject, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const cur = own(node, parts[i]);
    const next: JsonObject = isObject(cur) ? cur : {};
    if (next !== cur) setOwn(node, parts[i], next);
    node = next;
  }
  setOwn(node, parts[parts.length - 1], value);
}

/** Removes a dotted path; returns whether something was there. Emptied parent objects are removed too. */
export function deletePath(obj: JsonObject, path: string): boolean {
  if (Object.hasOwn(obj, path)) return delete obj[path];
  const parts = path.split('.');
  const trail: JsonObject[] = [obj];
  let node = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = own(node, parts[i]);
    if (!isObject(next)) return false;
    node = next;
    trail.push(node);
  }
  const last = parts[parts.length - 1];
  if (!Object.hasOwn(node, last)) return false;
  delete node[last];
  for (let i = trail.length - 1; i > 0 && Object.keys(trail[i]).length === 0; i--) delete trail[i - 1][parts[i - 1]];
  return true;
}

/**
 * Expands dotted keys into nested objects ({"log.level": "info"} -> {log: {level: "info"}}), recursively; where
 * a dotted key and an object meet, their members are merged. Returns the same object when no key has a dot.
 */
export function expandKeys(obj: JsonObject): JsonObject {
  let changed = false;
  for (const k in obj) {
    const v = obj[k];
    if (isDotted(k) || (isObject(v) && expandKeys(v) !== v)) {
      changed = true;
      break;
    }
  }
  if (!changed) return obj;
  const out: JsonObject = {};
  for (const k in obj) {
    const raw = obj[k];
    const v = isObject(raw) ? expandKeys(raw) : raw;
    let node = out;
    let last = k;
    if (isDotted(k)) {
      const parts = k.split('.');
      for (let i = 0; i < parts.length - 1; i++) {
        const cur = own(node, parts[i]);
        const next: JsonObject = isObject(cur) ? cur : {};
        if (next !== cur) setOwn(node, parts[i], next);
        node = next;
      }
      last = parts[parts.length - 1];
    }
    const cur = own(node, last);
    setOwn(node, last, isObject(cur) && isObject(v) ? mergeInto(cur, v, true) : v);
  }
  return out;
}

/** Whether expandKeys splits this key at its dots (`a.b`; not `.a` or `a.`). */
export function isDotted(k: string): boolean {
  return k.includes('.') && k[0] !== '.' && k[k.length - 1] !== '.';
}

/** Deep-merges `from` into `into`; at a conflict `overwrite` decides. Returns `into`. */
export function mergeInto(into: JsonObject, from: JsonObject, overwrite: boolean): JsonObject {
  for (const k in from) {
    const v = from[k];
    const cur = own(into, k);
    if (isObject(cur) && isObject(v)) mergeInto(cur, v, overwrite);
    else if (cur === undefined || overwrite) setOwn(into, k, v);
  }
  return into;
}

export { isObject };
