// ndjson: decodes each line (each event's message) as a JSON object into the document, at the root or under
// `target`. Filebeat's options: `message_key` names the decoded key that becomes `message`; `overwrite_keys`
// lets decoded keys replace the fields the shipper sets (and a decoded @timestamp become the event's time);
// dotted keys are expanded (`expand_keys`). A line that is not a JSON object is kept as it is, with error.message.
// Most lines need no merging: their members are then copied from the line's text (json-splice.ts), which costs
// a fraction of decoding them into objects and serialising those again; the decoded objects are the general path.
import { z } from 'zod';
import { CopiedMembers, memberEnd, memberHash, memberKey, memberKeyIs, memberStart, memberString, memberValue, scanMembers, writeMembers, type Placed } from './json-splice';
import { parseIsoTimestamp } from './timestamp';
import { deletePath, expandKeys, fieldsIn, fieldsOf, flag, getPath, isDotted, isObject, mergeInto, setError, setPath, type Emit, type Event, type JsonObject, type MemberShape, type ParserContext, type Spliced, type Step, type StepFactory } from './parser';
import { fieldPath } from './options';

export const ndjsonSchema = z.strictObject({
  target: z.union([z.literal(''), fieldPath()]).default(''),
  message_key: fieldPath().optional(),
  overwrite_keys: z.boolean().default(false),
  expand_keys: z.boolean().default(true),
});

export type NdjsonConfig = z.output<typeof ndjsonSchema>;

/** Removes from `decoded` every leaf the shipper's own fields already hold (overwrite_keys: false). */
function withoutTaken(decoded: JsonObject, taken: JsonObject): void {
  for (const k in taken) {
    if (!Object.hasOwn(decoded, k)) continue;
    const d = decoded[k];
    const t = taken[k];
    if (isObject(d) && isObject(t)) withoutTaken(d, t);
    else delete decoded[k];
  }
}

/** Fields under `log` the shipper sets itself (the encoder keeps its own). */
const OWN_LOG_FIELDS = ['file', 'offset', 'flags'];

class Ndjson implements Step {
  /** Roots a decoded key may not take without merging: those the shipper sets. */
  private readonly taken: Set<string>;
  /** Whether a line may be copied rather than decoded (see json-splice.ts): not with a dotted message_key. */
  private readonly splice: boolean;
  /** `target` as the text around its members (`,"a":{"b":{` and `}}`), when it is copied into. */
  private readonly targetOpen: string;
  private readonly targetClose: string;

  constructor(
    private readonly cfg: NdjsonConfig,
    private readonly ctx: ParserContext,
    splice: boolean,
  ) {
    this.taken = new Set(['@timestamp', 'message', 'log', ...Object.keys(ctx.constant)]);
    const parts = cfg.target === '' ? [] : cfg.target.split('.');
    this.splice = splice && (cfg.message_key === undefined || !cfg.message_key.includes('.')) && (parts.length === 0 || !this.taken.has(parts[0]));
    this.targetOpen = ',' + parts.map((p) => `${JSON.stringify(p)}:{`).join('');
    this.targetClose = '}'.repeat(parts.length);
  }

  push(ev: Event, emit: Emit): void {
    const text = ev.message;
    if (text === undefined) return emit(ev);
    if (this.splice && ev.fields === undefined && ev.spliced === undefined) {
      const n = scanMembers(text, this.cfg.expand_keys);
      if (n >= 0 && this.copy(ev, text, n)) return emit(ev);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      setError(ev, `ndjson: the line is not valid JSON (${(err as Error).message})`);
      return emit(ev);
    }
    if (!isObject(parsed)) {
      setError(ev, `ndjson: expected a JSON object, found ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}`);
      return emit(ev);
    }
    const { target, message_key: messageKey, overwrite_keys: overwrite } = this.cfg;
    const decoded = this.cfg.expand_keys ? expandKeys(parsed) : parsed;
    let message: string | undefined;
    if (messageKey !== undefined) {
      const v = getPath(decoded, messageKey);
      if (typeof v === 'string') {
        message = v;
        deletePath(decoded, messageKey);
      } else setError(ev, `ndjson: message_key ${messageKey} ${v === undefined ? 'is not in the object' : 'is not a string'}`);
    }
    if (target === '') {
      if (messageKey === undefined && typeof decoded.message === 'string') {
        message = decoded.message;
        delete decoded.message;
      }
      const stamp = decoded['@timestamp'];
      delete decoded['@timestamp'];
      if (overwrite) {
        if (stamp !== undefined) {
          const iso = typeof stamp === 'string' ? parseIsoTimestamp(stamp) : undefined;
          if (iso) ev.timestamp = iso;
          else {
            flag(ev, 'timestamp_parsing_error');
            setError(ev, `ndjson: @timestamp ${JSON.stringify(stamp)} is not an ISO 8601 time; kept the read time`);
          }
        }
      } else withoutTaken(decoded, this.ctx.constant);
      if (fieldsIn(ev) === undefined) ev.fields = decoded;
      else mergeInto(fieldsOf(ev), decoded, overwrite);
    } else {
      setPath(fieldsOf(ev), target, decoded);
    }
    ev.message = message;
    emit(ev);
  }

  /** What each key of the lines becomes, by key: lines of one log repeat their keys, and splitting costs. */
  private keys = new Map<string, KeyEntry>();
  /** The same entries by the key's hash (memberHash), found without slicing the key from the line. */
  private byHash: (KeyEntry | undefined)[] = new Array<KeyEntry | undefined>(HASH_SLOTS);
  /** Numbers for the first names members are written under (`a` of a.b, `log.level` inside log). */
  private names = new Map<string, number>();
  /** Per name number, the line that last wrote a member under it: two in one line share an object. */
  private lastLine: number[] = [];
  private line = 0;
  /** Per member of the line being copied: its key's entry (reused from line to line). */
  private entries: KeyEntry[] = [];

  /** The entry of the last scanned line's i-th member's key. */
  private entryAt(i: number): KeyEntry {
    const h = memberHash(i);
    const slot = h & (HASH_SLOTS - 1);
    const cached = this.byHash[slot];
    if (cached !== undefined && cached.hash === h && memberKeyIs(i, cached.key)) return cached;
    const key = memberKey(i);
    let e = this.keys.get(key);
    if (e === undefined) {
      e = this.entryOf(key, h);
      this.keys.set(key, e);
    }
    this.byHash[slot] = e;
    return e;
  }

  /** Forgets every key (between lines: name numbers must stay the same within one). */
  private forget(): void {
    this.keys.clear();
    this.byHash.fill(undefined);
    this.names.clear();
    this.lastLine.length = 0;
  }

  private nameOf(name: string): number {
    let n = this.names.get(name);
    if (n === undefined) {
      n = this.names.size;
      this.names.set(name, n);
      this.lastLine.push(0);
    }
    return n;
  }

  /** What `key` becomes under this step's options (see copy). */
  private entryOf(key: string, hash: number): KeyEntry {
    const { target, message_key: messageKey, expand_keys: expand } = this.cfg;
    const path = expand && isDotted(key) ? key.split('.') : [key];
    const sub = path.slice(1);
    let role: Role;
    if (key === messageKey || (key === 'message' && messageKey === undefined && target === '')) role = Role.Message;
    else if (key === '@timestamp' && target === '') role = Role.Timestamp;
    // A member under the message key's name would merge with it, or replace it, when decoded.
    else if (path[0] === messageKey) role = Role.Decode;
    else if (target === '' && this.taken.has(path[0])) role = path[0] !== 'log' || path.length === 1 || OWN_LOG_FIELDS.includes(path[1]) ? Role.Decode : Role.Log;
    else role = Role.Root;
    // Inside log a member is written without log's own name.
    const written = role === Role.Log ? sub : path;
    const open = openOf(written);
    return {
      key,
      hash,
      role,
      path,
      name: role === Role.Log ? this.nameOf('log.' + path[1]) : this.nameOf(path[0]),
      shape: { log: role === Role.Log, open, openBytes: Buffer.from(open), close: '}'.repeat(Math.max(0, written.length - 1)) },
    };
  }

  /**
   * Sets the event from the line's own text when its members need no merging with each other or with the
   * shipper's fields, and returns true; false leaves the event as it was, for the general path.
   */
  private copy(ev: Event, text: string, n: number): boolean {
    const overwrite = this.cfg.overwrite_keys;
    if (this.keys.size >= 4096) this.forget();
    const { entries, lastLine } = this;
    const line = ++this.line;
    let message: string | undefined;
    let stamp: string | undefined;
    let expanded = false;
    let found = this.cfg.message_key === undefined;
    // The members as ranges of the line, unless two share a first name (then joined by writeMembers, below).
    let members: CopiedMembers | undefined;
    // Whether two members share a first name (the same object: they are merged by writeMembers, below).
    let shared = false;
    for (let i = 0; i < n; i++) {
      const e = (entries[i] = this.entryAt(i));
      switch (e.role) {
        case Role.Message: {
          const v = memberString(i);
          if (v === undefined) return false;
          message = v;
          found = true;
          continue;
        }
        case Role.Timestamp:
          if (overwrite) {
            const v = memberString(i);
            if (v === undefined || (stamp = parseIsoTimestamp(v)) === undefined) return false;
          }
          continue;
        case Role.Decode:
          return false;
      }
      if (e.path.length > 1) expanded = true;
      if (lastLine[e.name] === line) shared = true;
      lastLine[e.name] = line;
      if (!shared) (members ??= new CopiedMembers(text)).add(e.shape, memberStart(i), memberEnd(i));
    }
    if (!found) return false;
    let spliced: Spliced = members ?? NO_MEMBERS;
    if (shared) {
      const rootPlaced: Placed[] = [];
      const logPlaced: Placed[] = [];
      for (let i = 0; i < n; i++) {
        const e = entries[i];
        if (e.role === Role.Root) rootPlaced.push({ path: e.path, value: memberValue(i) });
        else if (e.role === Role.Log) logPlaced.push({ path: e.path.slice(1), value: memberValue(i) });
      }
      const r = writeMembers(rootPlaced);
      const l = writeMembers(logPlaced);
      if (r === undefined || l === undefined) return false;
      spliced = { root: r, log: l };
    }
    if (this.cfg.target !== '') {
      // Members under the target (never inside log): the whole line as it is when no key expands and none is taken out.
      const root = !expanded && message === undefined ? this.targetOpen.slice(0, -1) + text + this.targetClose.slice(1) : this.targetOpen + spliced.root.slice(1) + this.targetClose;
      spliced = { root, log: '' };
    }
    ev.spliced = spliced;
    ev.message = message;
    if (stamp !== undefined) ev.timestamp = stamp;
    return true;
  }
}

/** Slots of the key entries by hash (a power of two). */
const HASH_SLOTS = 1024;

/**
 * What a copied member is: the message, @timestamp (read or dropped), one that makes the line be decoded
 * (it needs merging with the shipper's fields), or a member at the root (or target), or inside log.
 */
const Role = { Message: 0, Timestamp: 1, Decode: 2, Root: 3, Log: 4 } as const;
type Role = (typeof Role)[keyof typeof Role];

/** What a key becomes: its role, path (expanded), and the text around its value at the root and inside log. */
interface KeyEntry {
  key: string;
  /** memberHash of the key. */
  hash: number;
  role: Role;
  path: string[];
  /** The number of the first name it is written under (see Ndjson.nameOf). */
  name: number;
  /** How it is written around its value: `,"a":{"b":` and `}` for a.b at the root; inside log without its first
   * name (log.level: `,"level":`). */
  shape: MemberShape;
}

/** A line with no members to copy (only a message, say). */
const NO_MEMBERS: Spliced = { root: '', log: '' };

/** `,"a":{"b":{"c":` for [a, b, c]. */
function openOf(path: string[]): string {
  return ',' + path.map((p) => `"${p}":`).join('{');
}

/** The ndjson step; `splice: false` always decodes into objects (tests compare the two ways). */
export function ndjson(cfg: NdjsonConfig, ctx: ParserContext, splice = true): StepFactory {
  const step = new Ndjson(cfg, ctx, splice);
  return () => step;
}
