// dissect: splits the message (or another field) by a tokenizer of %{key} fields and the literal text between
// them, as Elasticsearch's and Filebeat's dissect do: %{key} a field, %{?key} or %{} skipped, %{+key} appended
// to key (%{+key/2} in that order), %{*key} / %{&key} a key named by one field and valued by another, %{key->}
// skips repeats of the delimiter after it. A message that does not fit is flagged dissect_parsing_error.
import { z } from 'zod';
import { fieldPath } from './options';
import { fieldsIn, fieldsOf, flag, getPath, setPath, type Emit, type Event, type Step, type StepFactory } from './parser';

interface Field {
  name: string;
  kind: 'normal' | 'skip' | 'append' | 'key' | 'value';
  order: number;
  pad: boolean;
  /** The literal text after the field, up to the next one ('' for the last field). */
  delimiter: string;
}

interface Tokenizer {
  prefix: string;
  fields: Field[];
}

const FIELD = /%\{([^}]*)\}/g;

/** Parses a tokenizer; throws with what is wrong. */
export function parseTokenizer(text: string): Tokenizer {
  const fields: Field[] = [];
  let prefix = '';
  let last = 0;
  for (const m of text.matchAll(FIELD)) {
    const literal = text.slice(last, m.index);
    if (fields.length === 0) prefix = literal;
    else {
      if (literal === '') throw new Error(`%{${fields[fields.length - 1].name}} and %{${m[1]}} have no text between them`);
      fields[fields.length - 1].delimiter = literal;
    }
    let spec = m[1];
    const pad = spec.endsWith('->');
    if (pad) spec = spec.slice(0, -2);
    let kind: Field['kind'] = 'normal';
    if (spec === '' || spec.startsWith('?')) kind = 'skip';
    else if (spec.startsWith('+')) kind = 'append';
    else if (spec.startsWith('*')) kind = 'key';
    else if (spec.startsWith('&')) kind = 'value';
    let name = kind === 'normal' || spec === '' ? spec : spec.slice(1);
    let order = fields.length;
    const ordered = /^(.*)\/(\d+)$/.exec(name);
    if (kind === 'append' && ordered) {
      name = ordered[1];
      order = Number(ordered[2]);
    }
    if (kind !== 'skip' && !/^[^.\s]+(\.[^.\s]+)*$/.test(name)) throw new Error(`%{${m[1]}}: expected a field name such as log.level`);
    fields.push({ name, kind, order, pad, delimiter: '' });
    last = m.index + m[0].length;
  }
  if (fields.length === 0) throw new Error('expected at least one %{field}');
  fields[fields.length - 1].delimiter = text.slice(last);
  return { prefix, fields };
}

export const dissectSchema = z.strictObject({
  tokenizer: z.string().superRefine((v, ctx) => {
    try {
      parseTokenizer(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `expected a dissect tokenizer such as "%{client.ip} - %{user.name} [%{ts}] %{message}": ${(err as Error).message}` });
    }
  }),
  field: fieldPath().default('message'),
  target_prefix: z.union([z.literal(''), fieldPath()]).default(''),
  append_separator: z.string().default(' '),
});

export type DissectConfig = z.output<typeof dissectSchema>;

/** Matches a message against a tokenizer: the values of its fields in order, or undefined. */
export function dissectValues(tok: Tokenizer, text: string): string[] | undefined {
  if (!text.startsWith(tok.prefix)) return undefined;
  let pos = tok.prefix.length;
  const values = new Array<string>(tok.fields.length);
  for (let i = 0; i < tok.fields.length; i++) {
    const f = tok.fields[i];
    const d = f.delimiter;
    if (d === '') {
      values[i] = text.slice(pos);
      pos = text.length;
      continue;
    }
    const at = text.indexOf(d, pos);
    if (at === -1) return undefined;
    values[i] = text.slice(pos, at);
    pos = at + d.length;
    if (f.pad) while (text.startsWith(d, pos)) pos += d.length;
  }
  return values;
}

class Dissect implements Step {
  constructor(
    private readonly cfg: DissectConfig,
    private readonly tok: Tokenizer,
  ) {}

  push(ev: Event, emit: Emit): void {
    const source = this.cfg.field === 'message' ? ev.message : getPath(fieldsIn(ev), this.cfg.field);
    const values = typeof source === 'string' ? dissectValues(this.tok, source) : undefined;
    if (!values) {
      flag(ev, 'dissect_parsing_error');
      return emit(ev);
    }
    const out = new Map<string, string>();
    const appends = new Map<string, { order: number; value: string }[]>();
    const keys = new Map<string, string>();
    const vals = new Map<string, string>();
    this.tok.fields.forEach((f, i) => {
      const v = values[i];
      if (f.kind === 'normal') out.set(f.name, v);
      else if (f.kind === 'append') appends.set(f.name, [...(appends.get(f.name) ?? []), { order: f.order, value: v }]);
      else if (f.kind === 'key') keys.set(f.name, v);
      else if (f.kind === 'value') vals.set(f.name, v);
    });
    for (const [name, parts] of appends) {
      if (out.has(name)) parts.unshift({ order: -1, value: out.get(name)! });
      out.set(name, parts.sort((a, b) => a.order - b.order).map((p) => p.value).join(this.cfg.append_separator));
    }
    for (const [ref, key] of keys) if (vals.has(ref) && key !== '') out.set(key, vals.get(ref)!);
    const prefix = this.cfg.target_prefix ? this.cfg.target_prefix + '.' : '';
    for (const [name, value] of out) {
      if (!prefix && name === 'message') ev.message = value;
      else setPath(fieldsOf(ev), prefix + name, value);
    }
    emit(ev);
  }
}

export function dissect(cfg: DissectConfig): StepFactory {
  const step = new Dissect(cfg, parseTokenizer(cfg.tokenizer));
  return () => step;
}
