// The parser kinds the configuration knows, by name: each entry of an input's `parsers` list names one kind
// and its options. Adding a parser is adding a file and a line here.
import { z } from 'zod';
import { container, containerSchema } from './container';
import { dissect, dissectSchema } from './dissect';
import { dropFields, dropFieldsSchema } from './drop-fields';
import { multiline, multilineSchema } from './multiline';
import { ndjson, ndjsonSchema } from './ndjson';
import type { ParserContext, StepFactory } from './parser';
import { regex, regexSchema } from './regex';
import { timestamp, timestampSchema } from './timestamp';

const KINDS = ['multiline', 'ndjson', 'container', 'timestamp', 'dissect', 'regex', 'drop_fields'] as const;

/** One entry of a `parsers` list: exactly one kind and its options. */
export const parserSchema = z
  .strictObject({
    multiline: multilineSchema.optional(),
    ndjson: ndjsonSchema.optional(),
    container: containerSchema.optional(),
    timestamp: timestampSchema.optional(),
    dissect: dissectSchema.optional(),
    regex: regexSchema.optional(),
    drop_fields: dropFieldsSchema.optional(),
  })
  .refine((v) => Object.values(v).filter((o) => o !== undefined).length === 1, `expected one parser per entry, one of ${KINDS.join(', ')}, such as - multiline: { preset: java }`);

export type ParserConfig = z.output<typeof parserSchema>;

/** Makes the step factories of a parsers list, in order. */
export function buildParsers(list: readonly ParserConfig[], ctx: ParserContext): StepFactory[] {
  return list.map((p) => {
    if (p.multiline) return multiline(p.multiline);
    if (p.ndjson) return ndjson(p.ndjson, ctx);
    if (p.container) return container(p.container);
    if (p.timestamp) return timestamp(p.timestamp);
    if (p.dissect) return dissect(p.dissect);
    if (p.regex) return regex(p.regex);
    return dropFields(p.drop_fields!);
  });
}
