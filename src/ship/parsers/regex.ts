// regex: named groups of a regular expression become fields: (?<log.level>\w+) sets log.level (dots are allowed
// in group names here; JavaScript's own syntax does not allow them). A group named message replaces the
// message. A message the pattern does not match is flagged regex_parsing_error.
import { z } from 'zod';
import { fieldPath, translatePosix } from './options';
import { fieldsIn, fieldsOf, flag, getPath, setPath, type Emit, type Event, type Step, type StepFactory } from './parser';

/** A named group's opening, `(?<name>`, where the name may hold dots and @ (not `(?<=` or `(?<!`). */
const NAMED_GROUP = /(\\*)\(\?<([A-Za-z_@][\w.@]*)>/g;

/** Rewrites group names into JavaScript identifiers (g0, g1, ...) and returns the field path of each. */
export function compileNamed(source: string): { re: RegExp; names: Map<string, string> } {
  const names = new Map<string, string>();
  const rewritten = translatePosix(source).replace(NAMED_GROUP, (whole, slashes: string, name: string) => {
    if (slashes.length % 2 === 1) return whole; // an escaped parenthesis
    const id = `g${names.size}`;
    names.set(id, name);
    return `${slashes}(?<${id}>`;
  });
  return { re: new RegExp(rewritten), names };
}

export const regexSchema = z.strictObject({
  pattern: z.string().superRefine((v, ctx) => {
    try {
      const { names } = compileNamed(v);
      if (names.size === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one named group, such as (?<log.level>\\w+)' });
      for (const n of names.values()) if (!/^[^.\s]+(\.[^.\s]+)*$/.test(n)) ctx.addIssue({ code: 'custom', message: `group name ${n}: expected a field name such as log.level` });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `expected a regular expression with named groups (${(err as Error).message})` });
    }
  }),
  field: fieldPath().default('message'),
});

export type RegexConfig = z.output<typeof regexSchema>;

class Regex implements Step {
  constructor(
    private readonly field: string,
    private readonly re: RegExp,
    private readonly names: Map<string, string>,
  ) {}

  push(ev: Event, emit: Emit): void {
    const source = this.field === 'message' ? ev.message : getPath(fieldsIn(ev), this.field);
    const m = typeof source === 'string' ? this.re.exec(source) : null;
    if (!m || !m.groups) {
      flag(ev, 'regex_parsing_error');
      return emit(ev);
    }
    for (const [id, name] of this.names) {
      const v = m.groups[id];
      if (v === undefined) continue;
      if (name === 'message') ev.message = v;
      else setPath(fieldsOf(ev), name, v);
    }
    emit(ev);
  }
}

export function regex(cfg: RegexConfig): StepFactory {
  const { re, names } = compileNamed(cfg.pattern);
  const step = new Regex(cfg.field, re, names);
  return () => step;
}
