// `sidekick-ship test parse`: the documents an input's parsers make from some text, without an engine or a
// registry: the real framing, chain and encoder over the bytes, as if they were a whole file read at once.
import { Framer } from '../input/framing';
import type { Doc } from '../types';
import { Chain, type Cut } from './chain';
import { eventOf, type Event, type StepFactory } from './parser';

export interface PreviewOptions {
  steps: StepFactory[] | undefined;
  encodeLine: (l: Event) => Doc;
  encodeEvent: (e: Event) => Doc;
  path: string;
  maxLine: number;
}

/** The documents made from `bytes` (a whole file), in order; the last line needs no newline. */
export async function preview(bytes: Buffer, opts: PreviewOptions): Promise<Doc[]> {
  const docs: Doc[] = [];
  const file = { key: 'preview', dev: 0, ino: 0 };
  const pending: Promise<void>[] = [];
  const cuts: Cut[] = [];
  const chain = opts.steps
    ? new Chain(opts.steps, { event: (ev) => docs.push(opts.encodeEvent(ev)), consumed: () => undefined }, { cuts: () => [], add: (_k, c) => (cuts.push(c), Promise.resolve()) }, (p) => pending.push(p), (err) => {
        throw err;
      })
    : undefined;
  const framer = new Framer(file, opts.path, 0, opts.maxLine, (line) => {
    if (chain) chain.line(line);
    else docs.push(opts.encodeLine(eventOf(line)));
  });
  framer.push(bytes, 0, bytes.length, 0);
  framer.flush(bytes.length);
  if (chain) {
    chain.consumed(file.key, bytes.length);
    chain.closed(true);
    await Promise.all(pending);
  }
  return docs;
}
