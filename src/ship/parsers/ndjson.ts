// ndjson: decodes each line (each event's message) as a JSON object into the document, at the root or under
// `target`. Filebeat's options: `message_key` names the decoded key that becomes `message`; `overwrite_keys`
// lets decoded keys replace the fields the shipper sets (and a decoded @timestamp become the event's time);
// dotted keys are expanded (`expand_keys`). A line that is not a JSON object is kept as it is, with error.message.
// Most lines need no merging: their members are then copied from the line's text (json-splice.ts), which costs
// a fraction of decoding them into objects and serialising those again; the decoded objects are the general path.
import { z } from 'zod';
import { scanObject, stringValue, writeMembers, type Member, type Placed } from './json-splice';
import { parseIsoTimestamp } from './timestamp';
import { deletePath, expandKeys, fieldsIn, fieldsOf, flag, getPath, isDotted, isObject, mergeInto, setError, setPath, type Emit, type Event, type JsonObject, type ParserContext, type Step, type StepFactory } from './parser';
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
      const members = scanObject(text, this.cfg.expand_keys);
      if (members !== undefined && this.copy(ev, text, members)) return emit(ev);
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

  /** Key paths by key (never changed once made): lines of one log repeat their keys, and split costs. */
  private paths = new Map<string, string[]>();

  private pathOf(key: string, expand: boolean): string[] {
    let path = this.paths.get(key);
    if (path === undefined) {
      if (this.paths.size >= 4096) this.paths.clear();
      path = expand && isDotted(key) ? key.split('.') : [key];
      this.paths.set(key, path);
    }
    return path;
  }

  /**
   * Sets the event from the line's own text when its members need no merging with each other or with the
   * shipper's fields, and returns true; false leaves the event as it was, for the general path.
   */
  private copy(ev: Event, text: string, members: Member[]): boolean {
    const { target, message_key: messageKey, overwrite_keys: overwrite, expand_keys: expand } = this.cfg;
    let message: string | undefined;
    let stamp: string | undefined;
    let expanded = false;
    let found = messageKey === undefined;
    const root: Placed[] = [];
    const log: Placed[] = [];
    for (const m of members) {
      const k = m.key;
      if (k === messageKey || (k === 'message' && messageKey === undefined && target === '')) {
        const v = stringValue(m.value);
        if (v === undefined) return false;
        message = v;
        found = true;
        continue;
      }
      if (k === '@timestamp' && target === '') {
        if (overwrite) {
          const v = stringValue(m.value);
          if (v === undefined || (stamp = parseIsoTimestamp(v)) === undefined) return false;
        }
        continue;
      }
      const path = this.pathOf(k, expand);
      if (path.length > 1) expanded = true;
      // A member under the message key's name would merge with it, or replace it, when decoded.
      if (path[0] === messageKey) return false;
      if (target === '' && this.taken.has(path[0])) {
        if (path[0] !== 'log' || path.length === 1 || OWN_LOG_FIELDS.includes(path[1])) return false;
        log.push({ path: path.slice(1), value: m.value });
      } else root.push({ path, value: m.value });
    }
    if (!found) return false;
    let rootText: string | undefined;
    let logText: string | undefined = '';
    if (target === '') {
      rootText = writeMembers(root);
      logText = log.length > 0 ? writeMembers(log) : '';
    } else if (!expanded && message === undefined) {
      rootText = this.targetOpen.slice(0, -1) + text + this.targetClose.slice(1);
    } else {
      const inner = writeMembers(root);
      rootText = inner === undefined ? undefined : this.targetOpen + inner.slice(1) + this.targetClose;
    }
    if (rootText === undefined || logText === undefined) return false;
    ev.spliced = { root: rootText, log: logText };
    ev.message = message;
    if (stamp !== undefined) ev.timestamp = stamp;
    return true;
  }
}

/** The ndjson step; `splice: false` always decodes into objects (tests compare the two ways). */
export function ndjson(cfg: NdjsonConfig, ctx: ParserContext, splice = true): StepFactory {
  const step = new Ndjson(cfg, ctx, splice);
  return () => step;
}
