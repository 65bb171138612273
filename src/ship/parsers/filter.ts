// include_lines / exclude_lines: keeps only the events whose message matches one of include_lines (when
// given), then drops those matching one of exclude_lines, as Filebeat does: after the parsers, so a joined
// multiline event is kept or dropped whole. Dropped events' bytes count as shipped.
import { type Emit, type Event, type Step, type StepFactory } from './parser';

class Filter implements Step {
  constructor(
    private readonly include: RegExp[],
    private readonly exclude: RegExp[],
  ) {}

  push(ev: Event, emit: Emit): void {
    const text = ev.message ?? '';
    if (this.include.length > 0 && !this.include.some((re) => re.test(text))) return;
    if (this.exclude.some((re) => re.test(text))) return;
    emit(ev);
  }
}

export function filter(include: readonly string[], exclude: readonly string[]): StepFactory | undefined {
  if (include.length === 0 && exclude.length === 0) return undefined;
  const step = new Filter(
    include.map((s) => new RegExp(s)),
    exclude.map((s) => new RegExp(s)),
  );
  return () => step;
}
