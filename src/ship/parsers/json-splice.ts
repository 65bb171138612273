// Writes a JSON line's members into the document by copying their text from the line, keys expanded, instead of
// decoding and re-serialising every value. scanMembers validates the line in one pass without building objects
// and finds its top-level members; whatever it cannot vouch for (invalid text, a repeated or escaped key, a
// number with an exponent, a dotted key below the top, deep nesting) makes it decline, and the caller takes the
// general path over JSON.parse's objects, which also reports invalid lines.
import type { MemberRanges, MemberShape, Spliced } from './parser';

/** Top-level members at most; a wider object takes the general path (the grouping below is quadratic). */
const MAX_MEMBERS = 128;
/** Keys held open at once, at all depths (each object's are compared with each other for repeats). */
const MAX_KEYS = 512;
/** Objects and arrays nested deeper take the general path (frames are held in a fixed array). */
const MAX_DEPTH = 64;

const keyStart = new Int32Array(MAX_KEYS);
const keyEnd = new Int32Array(MAX_KEYS);
/** A hash of each key's text: repeats are found by comparing hashes first, and ndjson finds its key entries by it. */
const keyHash = new Int32Array(MAX_KEYS);
const valueStart = new Int32Array(MAX_MEMBERS);
const valueEnd = new Int32Array(MAX_MEMBERS);
/** Per open object (by depth) the index of its first key in keyStart, -1 for an open array. */
const frame = new Int32Array(MAX_DEPTH + 1);

/** The last scanned text (memberKey and memberValue read it). */
let scanned = '';

/** One top-level member as the line writes it: its key (without quotes, never escaped) and its value's text. */
export interface Member {
  key: string;
  value: string;
}

/**
 * A hash of the key at t[s, e): its length and its first, middle and last characters. Cheap rather than good:
 * equal hashes are always confirmed by comparing the text (sameKey, memberKeyIs), and keys of one log differ early.
 */
export function keyHashOf(t: string, s: number, e: number): number {
  const n = e - s;
  if (n === 0) return 0;
  return (Math.imul(n, 0x9e3779b1) ^ Math.imul(t.charCodeAt(s), 961) ^ Math.imul(t.charCodeAt(e - 1), 31) ^ t.charCodeAt(s + (n >> 1))) | 0;
}

/** A control character: never raw inside a JSON string (RFC 8259 section 7). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const CONTROL = /[\u0000-\u001f]/;

/** Whether c is a hex digit. */
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The end of the JSON string (RFC 8259 section 7) whose opening quote is at p, or -1. A character code past
 * the end is NaN, which no test below accepts.
 */
function stringEnd(t: string, p: number): number {
  for (let i = p + 1; ; i++) {
    const c = t.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      const e = t.charCodeAt(++i);
      if (e === 117) {
        if (!(isHex(t.charCodeAt(i + 1)) && isHex(t.charCodeAt(i + 2)) && isHex(t.charCodeAt(i + 3)) && isHex(t.charCodeAt(i + 4)))) return -1;
        i += 4;
      } else if (!(e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116)) return -1;
    } else if (!(c >= 32)) return -1;
  }
}

/**
 * The end of the number (RFC 8259 section 6) at p, or -1. One with an exponent is declined: 1e400 decodes to
 * Infinity (written null), which the engine would refuse as written.
 */
function numberEnd(t: string, p: number): number {
  let i = p;
  if (t.charCodeAt(i) === 45) i++;
  const c = t.charCodeAt(i);
  if (c === 48) i++;
  else if (c >= 49 && c <= 57) while (isDigit(t.charCodeAt(++i)));
  else return -1;
  if (t.charCodeAt(i) === 46) {
    if (!isDigit(t.charCodeAt(++i))) return -1;
    while (isDigit(t.charCodeAt(++i)));
  }
  const e = t.charCodeAt(i);
  return e === 101 || e === 69 ? -1 : i;
}

/** The end of `word` (true, false, null) when the text has it at p, else -1. */
function wordEnd(t: string, p: number, word: string): number {
  return t.startsWith(word, p) ? p + word.length : -1;
}

/** Whether the key at [s, e) equals the one at [s2, e2). */
function sameKey(t: string, s: number, e: number, s2: number, e2: number): boolean {
  if (e - s !== e2 - s2) return false;
  for (let i = 0; i < e - s; i++) if (t.charCodeAt(s + i) !== t.charCodeAt(s2 + i)) return false;
  return true;
}

/**
 * Scans `text` in one pass without building anything: the number of its top-level members when it is a JSON
 * object whose members can be copied as written, read them with memberKey and memberValue until the next scan;
 * -1 otherwise: then decode it with JSON.parse, which also tells what is wrong with it. Text that JSON.parse
 * refuses always gives -1. Copied means: its keys are unescaped (raw text compares as the decoded key), distinct
 * in each object (JSON.parse keeps the last of repeated keys; the engine refuses a document with both), not
 * __proto__ (which objects treat apart), and, below the top and outside arrays (where expandKeys looks),
 * undotted when keys are expanded (`expand`, as ndjson's expand_keys).
 */
export function scanMembers(t: string, expand: boolean): number {
  scanned = t;
  let p = 0;
  let c = t.charCodeAt(0);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = t.charCodeAt(++p);
  if (c !== 123) return -1;
  // Open objects and arrays (the top object is depth 1), keys held in keyStart, members of the top object,
  // open arrays (no key inside one is expanded). One loop reads every value, objects and arrays are held in
  // `frame` rather than by recursion, and the state lives in locals: this runs on every line.
  // In a line without control characters (nearly all) a string value ends at the next quote unless a backslash
  // comes first: found by indexOf, much faster than reading it a character at a time; `backslash` is the next one.
  const plain = !CONTROL.test(t);
  let backslash = plain ? t.indexOf('\\') : -1;
  let depth = 0;
  let keys = 0;
  let members = 0;
  let arrays = 0;
  let wantKey = false;
  for (;;) {
    if (wantKey) {
      // A key starts at p: unescaped, a new one in its object, not __proto__, undotted where it would expand.
      if (t.charCodeAt(p) !== 34) return -1;
      const ks = p + 1;
      let ke: number;
      let dot = false;
      if (plain) {
        ke = t.indexOf('"', ks);
        if (ke < 0 || (backslash >= 0 && backslash < ke)) return -1;
        if (depth > 1 && expand && arrays === 0) {
          const d = t.indexOf('.', ks + 1);
          dot = d >= 0 && d < ke;
        }
      } else {
        for (ke = ks; ; ke++) {
          const k = t.charCodeAt(ke);
          if (k === 34) break;
          if (k === 92 || !(k >= 32)) return -1;
          if (k === 46 && ke > ks) dot = true;
        }
      }
      const h = keyHashOf(t, ks, ke);
      if (keys === MAX_KEYS) return -1;
      for (let j = frame[depth]; j < keys; j++) if (keyHash[j] === h && sameKey(t, keyStart[j], keyEnd[j], ks, ke)) return -1;
      if (ke - ks === 9 && t.startsWith('__proto__', ks)) return -1;
      if (dot && depth > 1 && expand && arrays === 0 && t.charCodeAt(ke - 1) !== 46 && t.charCodeAt(ks) !== 46) return -1;
      keyStart[keys] = ks;
      keyEnd[keys] = ke;
      keyHash[keys++] = h;
      p = ke + 1;
      while ((c = t.charCodeAt(p)) === 32 || c === 9 || c === 10 || c === 13) p++;
      if (c !== 58) return -1;
      while ((c = t.charCodeAt(++p)) === 32 || c === 9 || c === 10 || c === 13);
      if (depth === 1) {
        if (members === MAX_MEMBERS) return -1;
        valueStart[members] = p;
      }
      wantKey = false;
    }
    // A value starts at p.
    c = t.charCodeAt(p);
    if (c === 123 || c === 91) {
      if (++depth > MAX_DEPTH) return -1;
      const object = c === 123;
      while ((c = t.charCodeAt(++p)) === 32 || c === 9 || c === 10 || c === 13);
      if (object) {
        frame[depth] = keys;
        if (c !== 125) {
          wantKey = true;
          continue;
        }
      } else {
        frame[depth] = -1;
        arrays++;
        if (c !== 93) continue;
        arrays--;
      }
      // Empty: a whole value.
      p++;
      depth--;
    } else {
      if (c === 34 && plain) {
        const q = t.indexOf('"', p + 1);
        if (q >= 0 && (backslash < 0 || backslash > q)) p = q + 1;
        else if ((p = stringEnd(t, p)) >= 0 && backslash >= 0 && backslash < p) backslash = t.indexOf('\\', p);
      } else p = c === 34 ? stringEnd(t, p) : c === 116 ? wordEnd(t, p, 'true') : c === 102 ? wordEnd(t, p, 'false') : c === 110 ? wordEnd(t, p, 'null') : numberEnd(t, p);
      if (p < 0) return -1;
    }
    // A value ended at p: it may be a member of the top object, and end the objects and arrays around it.
    for (;;) {
      if (depth === 1) valueEnd[members++] = p;
      while ((c = t.charCodeAt(p)) === 32 || c === 9 || c === 10 || c === 13) p++;
      if (depth === 0) return p === t.length ? members : -1;
      p++;
      if (frame[depth] >= 0) {
        if (c === 44) {
          wantKey = true;
          break;
        }
        if (c !== 125) return -1;
        keys = frame[depth];
      } else {
        if (c === 44) break;
        if (c !== 93) return -1;
        arrays--;
      }
      depth--;
    }
    while ((c = t.charCodeAt(p)) === 32 || c === 9 || c === 10 || c === 13) p++;
  }
}

/** The key (without quotes, never escaped) of the last scanned text's i-th member. */
export function memberKey(i: number): string {
  return scanned.slice(keyStart[i], keyEnd[i]);
}

/** A hash of the i-th member's key (equal keys, equal hashes): find things kept by key without slicing it. */
export function memberHash(i: number): number {
  return keyHash[i];
}

/** Whether the i-th member's key is `key`. */
export function memberKeyIs(i: number, key: string): boolean {
  return keyEnd[i] - keyStart[i] === key.length && scanned.startsWith(key, keyStart[i]);
}

/** The value of the last scanned text's i-th member, as written. */
export function memberValue(i: number): string {
  return scanned.slice(valueStart[i], valueEnd[i]);
}

/** Where the i-th member's value starts in the last scanned text (see memberValue). */
export function memberStart(i: number): number {
  return valueStart[i];
}

/** Where the i-th member's value ends in the last scanned text. */
export function memberEnd(i: number): number {
  return valueEnd[i];
}

/**
 * Members copied from a line as ranges of its text rather than as joined strings (see MemberRanges): the encoder
 * copies their bytes into the _bulk body; `root` and `log` (Spliced) are joined only when read (decoding the
 * fields for a later parser, a preview).
 */
export class CopiedMembers implements Spliced, MemberRanges {
  readonly shapes: MemberShape[] = [];
  readonly ranges: number[] = [];
  private rootText: string | undefined;
  private logText: string | undefined;

  constructor(readonly text: string) {}

  get members(): MemberRanges {
    return this;
  }

  get root(): string {
    return (this.rootText ??= this.join(false));
  }

  get log(): string {
    return (this.logText ??= this.join(true));
  }

  /** Adds a member: `shape` around text[start, end). */
  add(shape: MemberShape, start: number, end: number): void {
    this.shapes.push(shape);
    this.ranges.push(start, end);
  }

  private join(log: boolean): string {
    let out = '';
    const { shapes, ranges, text } = this;
    for (let i = 0; i < shapes.length; i++) {
      const s = shapes[i];
      if (s.log === log) out += s.open + text.slice(ranges[2 * i], ranges[2 * i + 1]) + s.close;
    }
    return out;
  }
}

/** The members scanMembers finds, as a list (tests and tools; the shipper reads them one by one). */
export function scanObject(text: string, expand: boolean): Member[] | undefined {
  const n = scanMembers(text, expand);
  if (n < 0) return undefined;
  return Array.from({ length: n }, (_, i) => ({ key: memberKey(i), value: memberValue(i) }));
}

/** The string the last scanned text's i-th member's value holds, or undefined when it is not a string. */
export function memberString(i: number): string | undefined {
  const s = valueStart[i];
  if (scanned.charCodeAt(s) !== 34) return undefined;
  const inner = scanned.slice(s + 1, valueEnd[i] - 1);
  return inner.includes('\\') ? (JSON.parse(scanned.slice(s, valueEnd[i])) as string) : inner;
}

/** A member on its way into an object: the key path still to write (from `depth`) and the value text. */
export interface Placed {
  path: string[];
  value: string;
}

function nested(m: Placed, from: number): string {
  let s = m.value;
  for (let i = m.path.length - 1; i > from; i--) s = '{"' + m.path[i] + '":' + s + '}';
  return s;
}

/**
 * Writes members as object members (`,"a":1,"b":{"c":2}`, each with a leading comma), those whose paths
 * share a first name merged into one object, as expandKeys merges them. Undefined when one path ends where
 * another goes on or two paths are the same (the decoded object replaces or merges values there).
 */
export function writeMembers(placed: readonly Placed[], from = 0): string | undefined {
  let out = '';
  const n = placed.length;
  let taken: boolean[] | undefined;
  for (let i = 0; i < n; i++) {
    if (taken?.[i]) continue;
    const m = placed[i];
    const name = m.path[from];
    let group: Placed[] | undefined;
    for (let j = i + 1; j < n; j++) {
      if (placed[j].path[from] !== name || taken?.[j]) continue;
      (group ??= [m]).push(placed[j]);
      (taken ??= [])[j] = true;
    }
    if (group === undefined) {
      out += ',"' + name + '":' + nested(m, from);
      continue;
    }
    for (const g of group) if (g.path.length === from + 1) return undefined;
    const inner = writeMembers(group, from + 1);
    if (inner === undefined) return undefined;
    out += ',"' + name + '":{' + inner.slice(1) + '}';
  }
  return out;
}
