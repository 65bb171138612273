// Wires each configured input to the pipeline: its encoder (index, ingest pipeline, fields) and, when it has
// parsers or line filters, a chain per open file whose cuts are kept in the registry.
import { UsageError, errorMessage } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { InputConfig } from '../config';
import type { InputSource } from '../input/input';
import type { FileRegistry } from '../input/registry';
import { constantObject, makeBytesEncoder, makeEncoder, makeEventEncoder, makeRunEncoder, type BytesEncoder, type EncodeOptions, type RunEncoder } from '../output/encoder';
import type { Pipeline } from '../pipeline';
import type { Doc, Line } from '../types';
import { Chain, type ChainTarget, type Cut, type CutStore, type FileSink } from './chain';
import { filter } from './filter';
import { buildParsers } from './index';
import type { Event, StepFactory } from './parser';

/** The step factories of an input (its parsers, then include/exclude_lines), or undefined when it has none. */
export function stepsOf(input: InputConfig, base: Omit<EncodeOptions, 'fields'>): StepFactory[] | undefined {
  const steps = buildParsers(input.parsers, { constant: constantObject({ ...base, fields: input.fields }) });
  const f = filter(input.include_lines, input.exclude_lines);
  if (f) steps.push(f);
  return steps.length > 0 ? steps : undefined;
}

/** Encoders of an input; configured fields that would replace per-line fields are a UsageError naming the input. */
export function encodersOf(input: InputConfig, base: Omit<EncodeOptions, 'fields'>, sinkIndex: string): { line: (l: Line) => Doc; event: (e: Event) => Doc; bytes: BytesEncoder; run: RunEncoder | undefined } {
  const opts: EncodeOptions = { ...base, fields: input.fields, index: input.index === sinkIndex ? undefined : input.index, pipeline: input.pipeline };
  try {
    return { line: makeEncoder(opts), event: makeEventEncoder(opts), bytes: makeBytesEncoder(opts), run: makeRunEncoder(opts) };
  } catch (err) {
    throw new UsageError(`${input.name === 'paths' ? 'fields' : `${input.name}.fields`}: ${errorMessage(err)}`);
  }
}

/** Cuts kept in the registry entry of each file key. */
export function registryCuts(registry: FileRegistry): CutStore {
  return {
    cuts(key) {
      const s = registry.get(key);
      return (s?.cuts ?? []).filter((c) => c.at > s!.offset).sort((a, b) => a.at - b.at || a.step - b.step);
    },
    add(key, cut: Cut) {
      const s = registry.get(key);
      if (!s) return Promise.resolve();
      const kept = (s.cuts ?? []).filter((c) => c.at > s.offset && !(c.at === cut.at && c.step === cut.step));
      registry.update(key, { cuts: [...kept, cut] });
      return registry.save();
    },
  };
}

export interface WiredInputs {
  sources: InputSource[];
  /** Resolves once no chain is waiting for a cut to be saved (call before draining the pipeline). */
  idle(): Promise<void>;
  /** Every input ships its lines as they are (no parser, no filter): they go to the pipeline as bytes. */
  plain: boolean;
}

export function wireInputs(inputs: readonly InputConfig[], deps: { pipeline: Pipeline; registry: FileRegistry; logger: Logger; base: Omit<EncodeOptions, 'fields'>; sinkIndex: string }): WiredInputs {
  const saving = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    saving.add(p);
    void p.finally(() => saving.delete(p));
  };
  const store = registryCuts(deps.registry);
  const { pipeline } = deps;
  let plain = true;
  const sources = inputs.map((input): InputSource => {
    const enc = encodersOf(input, deps.base, deps.sinkIndex);
    const { run } = enc;
    const steps = stepsOf(input, deps.base);
    if (steps) plain = false;
    const onError = (err: unknown): void => deps.logger.error({ input: input.name, err: errorMessage(err) }, 'saving the registry failed; retrying with the next save');
    const target: ChainTarget = { event: (ev) => pipeline.line(ev, enc.event), consumed: (k, p) => pipeline.consumed(k, p) };
    const open = (): FileSink =>
      steps
        ? new Chain(steps, target, store, track, onError)
        : {
            line: (l) => pipeline.line(l, enc.line),
            // A plain line is written into its batch's body from the read buffer: no string, no Line, one object.
            lineBytes: (file, path, offset, next, buf, start, end, truncated) => pipeline.lineBytes(enc.bytes, file, path, offset, next, buf, start, end, truncated),
            // Runs of them at once, when the bulk-lines binding is built (one call into C per read, not per line).
            lineRun: run && ((file, path, buf, start, end, pos, maxLine) => pipeline.lineRun(run, file, path, buf, start, end, pos, maxLine)),
            consumed: (k, p) => pipeline.consumed(k, p),
            closed: () => undefined,
          };
    return { globs: input.paths, open };
  });
  return {
    sources,
    plain,
    async idle() {
      while (saving.size > 0) await Promise.all([...saving]);
    },
  };
}
