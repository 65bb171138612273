// drop_fields: removes fields from the document (message included). @timestamp and the shipper's log.file,
// log.offset and log.flags stay: they say where the document came from. Host, agent and configured fields are
// added after the parsers and cannot be dropped here (leave them out of `fields` instead).
import { z } from 'zod';
import { fieldPath } from './options';
import { deletePath, fieldsIn, fieldsOf, type Emit, type Event, type Step, type StepFactory } from './parser';

const KEPT = /^(@timestamp|log\.file|log\.offset|log\.flags)(\.|$)/;

export const dropFieldsSchema = z.strictObject({
  fields: z
    .array(fieldPath().refine((v) => !KEPT.test(v) && v !== 'log', 'expected a field other than @timestamp, log.file, log.offset and log.flags'))
    .min(1),
});

export type DropFieldsConfig = z.output<typeof dropFieldsSchema>;

class DropFields implements Step {
  constructor(private readonly fields: string[]) {}

  push(ev: Event, emit: Emit): void {
    for (const f of this.fields) {
      if (f === 'message') ev.message = undefined;
      else if (fieldsIn(ev)) deletePath(fieldsOf(ev), f);
    }
    emit(ev);
  }
}

export function dropFields(cfg: DropFieldsConfig): StepFactory {
  const step = new DropFields(cfg.fields);
  return () => step;
}
