// Runs parsers as configured over real text (the shipper's own framing, chain and encoder, see preview.ts) and
// returns the documents as the engine would store them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { makeEncoder, makeEventEncoder } from '../../../src/ship/output/encoder';
import { buildParsers, parserSchema } from '../../../src/ship/parsers';
import { filter } from '../../../src/ship/parsers/filter';
import { preview } from '../../../src/ship/parsers/preview';

export interface ParsedDoc {
  _id: string;
  '@timestamp': string;
  message?: string;
  log: { offset: number; flags?: string[]; file: { path: string }; [k: string]: unknown };
  [k: string]: unknown;
}

export function sample(name: string): Buffer {
  return readFileSync(join(__dirname, 'samples', name));
}

/** Parses `parsers` (as written in YAML) and runs them over `text`. */
export async function parse(parsers: unknown[], text: string | Buffer, extra: { include?: string[]; exclude?: string[]; fields?: Record<string, unknown> } = {}): Promise<ParsedDoc[]> {
  const list = z.array(parserSchema).parse(parsers);
  const base = { hostName: 'h', agentVersion: 't', fields: extra.fields };
  const eventEncoder = makeEventEncoder(base);
  const steps = buildParsers(list, { constant: { host: { name: 'h' }, agent: { type: 'sidekick-ship', version: 't' }, ...(extra.fields ?? {}) } });
  const f = filter(extra.include ?? [], extra.exclude ?? []);
  if (f) steps.push(f);
  const docs = await preview(Buffer.isBuffer(text) ? text : Buffer.from(text), {
    steps: steps.length > 0 ? steps : undefined,
    encodeLine: makeEncoder(base),
    encodeEvent: eventEncoder,
    path: '/var/log/app/app.log',
    maxLine: 1024 * 1024,
  });
  return docs.map((d) => ({ ...(JSON.parse(d.source) as ParsedDoc), _id: d.id }));
}

/** The messages of the documents. */
export const messages = (docs: ParsedDoc[]): (string | undefined)[] => docs.map((d) => d.message);
