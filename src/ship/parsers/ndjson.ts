// ndjson: decodes each line (each event's message) as a JSON object into the document, at the root or under
// `target`. Filebeat's options: `message_key` names the decoded key that becomes `message`; `overwrite_keys`
// lets decoded keys replace the fields the shipper sets (and a decoded @timestamp become the event's time);
// dotted keys are expanded (`expand_keys`). A line that is not a JSON object is kept as it is, with error.message.
import { z } from 'zod';
import { parseIsoTimestamp } from './timestamp';
import { deletePath, expandKeys, fieldsOf, flag, getPath, isObject, mergeInto, setError, setPath, type Emit, type Event, type JsonObject, type ParserContext, type Step, type StepFactory } from './parser';
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
    if (!(k in decoded)) continue;
    const d = decoded[k];
    const t = taken[k];
    if (isObject(d) && isObject(t)) withoutTaken(d, t);
    else delete decoded[k];
  }
}

class Ndjson implements Step {
  constructor(
    private readonly cfg: NdjsonConfig,
    private readonly ctx: ParserContext,
  ) {}

  push(ev: Event, emit: Emit): void {
    const text = ev.message;
    if (text === undefined) return emit(ev);
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
      if (ev.fields === undefined) ev.fields = decoded;
      else mergeInto(ev.fields, decoded, overwrite);
    } else {
      setPath(fieldsOf(ev), target, decoded);
    }
    ev.message = message;
    emit(ev);
  }
}

export function ndjson(cfg: NdjsonConfig, ctx: ParserContext): StepFactory {
  const step = new Ndjson(cfg, ctx);
  return () => step;
}
