// Writes a JSON line's members into the document by copying their text from the line, keys expanded, instead of
// decoding and re-serialising every value. scanObject validates the line in one pass without building objects
// and finds its top-level members; whatever it cannot vouch for (invalid text, a repeated or escaped key, a
// number with an exponent, a dotted key below the top, deep nesting) makes it decline, and the caller takes the
// general path over JSON.parse's objects, which also reports invalid lines.
/** Top-level members at most; a wider object takes the general path (the grouping below is quadratic). */
const MAX_MEMBERS = 128;
/** Keys held open at once, at all depths (each object's are compared with each other for repeats). */
const MAX_KEYS = 512;
/** Objects and arrays nested deeper take the general path (this scanner recurses). */
const MAX_DEPTH = 64;

const keyStart = new Int32Array(MAX_KEYS);
const keyEnd = new Int32Array(MAX_KEYS);
const valueStart = new Int32Array(MAX_MEMBERS);
const valueEnd = new Int32Array(MAX_MEMBERS);

/** The scan's state (module-wide: a scan runs to its end synchronously). */
let t = '';
let p = 0;
let keys = 0;
let members = 0;
let arrays = 0;
let depth = 0;
let expandNested = true;

/** One top-level member as the line writes it: its key (without quotes, never escaped) and its value's text. */
export interface Member {
  key: string;
  value: string;
}

function skipSpace(): void {
  let c: number;
  while ((c = t.charCodeAt(p)) === 32 || c === 9 || c === 10 || c === 13) p++;
}

/** A JSON string (RFC 8259 section 7), matched by the regex engine's compiled code: faster than a loop here. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what a JSON string may not hold raw
const STRING = /"[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*"/y;
/** A string without escapes, as keys must be to be copied. */
// eslint-disable-next-line no-control-regex -- as above
const PLAIN_STRING = /"[^"\\\u0000-\u001f]*"/y;

/** A string at p (its opening quote); `re` is STRING or PLAIN_STRING. */
function scanString(re: RegExp): boolean {
  re.lastIndex = p;
  try {
    if (!re.test(t)) return false;
  } catch {
    return false; // the regex engine's backtrack stack ran out (a string of some 10^6 escapes): decode it
  }
  p = re.lastIndex;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * A number at p (RFC 8259 section 6). One with an exponent is declined: 1e400 decodes to Infinity (written
 * null), which the engine would refuse as written.
 */
function scanNumber(): boolean {
  let i = p;
  if (t.charCodeAt(i) === 45) i++;
  const c = t.charCodeAt(i);
  if (c === 48) i++;
  else if (c >= 49 && c <= 57) while (isDigit(t.charCodeAt(++i)));
  else return false;
  if (t.charCodeAt(i) === 46) {
    if (!isDigit(t.charCodeAt(++i))) return false;
    while (isDigit(t.charCodeAt(++i)));
  }
  const e = t.charCodeAt(i);
  if (e === 101 || e === 69) return false;
  p = i;
  return true;
}

function scanValue(): boolean {
  const c = t.charCodeAt(p);
  if (c === 34) return scanString(STRING);
  if (c === 123) return scanObjectAt(false);
  if (c === 91) return scanArray();
  const word = c === 116 ? 'true' : c === 102 ? 'false' : c === 110 ? 'null' : undefined;
  if (word === undefined) return scanNumber();
  if (!t.startsWith(word, p)) return false;
  p += word.length;
  return true;
}

function scanArray(): boolean {
  if (++depth > MAX_DEPTH) return false;
  arrays++;
  p++;
  skipSpace();
  if (t.charCodeAt(p) === 93) {
    p++;
  } else {
    for (;;) {
      if (!scanValue()) return false;
      skipSpace();
      const c = t.charCodeAt(p++);
      if (c === 93) break;
      if (c !== 44) return false;
      skipSpace();
    }
  }
  arrays--;
  depth--;
  return true;
}

/** Whether the key at [s, e) has a dot expandKeys splits at (see isDotted). */
function isDottedAt(s: number, e: number): boolean {
  if (t.charCodeAt(s) === 46 || t.charCodeAt(e - 1) === 46) return false;
  for (let i = s + 1; i < e - 1; i++) if (t.charCodeAt(i) === 46) return true;
  return false;
}

/** Whether the key at [s, e) equals the one at [s2, e2). */
function sameKey(s: number, e: number, s2: number, e2: number): boolean {
  if (e - s !== e2 - s2) return false;
  for (let i = 0; i < e - s; i++) if (t.charCodeAt(s + i) !== t.charCodeAt(s2 + i)) return false;
  return true;
}

/**
 * An object at p. Its keys must be unescaped (raw text compares as the decoded key), distinct (JSON.parse keeps
 * the last of repeated keys; the engine refuses a document with both), not __proto__ (which objects treat
 * apart), and below the top, outside arrays (where expandKeys looks), undotted when keys are expanded.
 */
function scanObjectAt(top: boolean): boolean {
  if (++depth > MAX_DEPTH) return false;
  p++;
  skipSpace();
  const first = keys;
  if (t.charCodeAt(p) === 125) {
    p++;
    depth--;
    return true;
  }
  for (;;) {
    if (t.charCodeAt(p) !== 34) return false;
    const ks = p + 1;
    if (!scanString(PLAIN_STRING)) return false;
    const ke = p - 1;
    if (keys === MAX_KEYS) return false;
    for (let j = first; j < keys; j++) if (sameKey(keyStart[j], keyEnd[j], ks, ke)) return false;
    if (ke - ks === 9 && t.startsWith('__proto__', ks)) return false;
    if (!top && expandNested && arrays === 0 && isDottedAt(ks, ke)) return false;
    keyStart[keys] = ks;
    keyEnd[keys++] = ke;
    skipSpace();
    if (t.charCodeAt(p) !== 58) return false;
    p++;
    skipSpace();
    if (top) {
      if (members === MAX_MEMBERS) return false;
      valueStart[members] = p;
    }
    if (!scanValue()) return false;
    if (top) valueEnd[members++] = p;
    skipSpace();
    const c = t.charCodeAt(p++);
    if (c === 125) break;
    if (c !== 44) return false;
    skipSpace();
  }
  if (!top) keys = first;
  depth--;
  return true;
}

/**
 * The top-level members of `text` when it is a JSON object whose members can be copied as written (see
 * scanObjectAt; `expand` as ndjson's expand_keys), else undefined: then decode it with JSON.parse, which also
 * tells what is wrong with it. Text that JSON.parse refuses always gives undefined.
 */
export function scanObject(text: string, expand: boolean): Member[] | undefined {
  t = text;
  p = 0;
  keys = 0;
  members = 0;
  arrays = 0;
  depth = 0;
  expandNested = expand;
  skipSpace();
  let ok = t.charCodeAt(p) === 123 && scanObjectAt(true);
  if (ok) {
    skipSpace();
    ok = p === t.length;
  }
  let out: Member[] | undefined;
  if (ok) {
    out = new Array<Member>(members);
    for (let i = 0; i < members; i++) out[i] = { key: t.slice(keyStart[i], keyEnd[i]), value: t.slice(valueStart[i], valueEnd[i]) };
  }
  t = '';
  return out;
}

/** The string a member's value text holds, or undefined when it is not a string. */
export function stringValue(value: string): string | undefined {
  if (value.charCodeAt(0) !== 34) return undefined;
  return value.includes('\\') ? (JSON.parse(value) as string) : value.slice(1, -1);
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
