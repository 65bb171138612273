// multiline: joins the lines of one event (a stack trace, a traceback, a panic) into one document, with
// Filebeat's vocabulary: a line "matches" when `pattern` finds it (inverted by `negate`); with `match: after`
// a matching line is appended to the event before it, with `match: before` a matching line goes on into the
// next one. An event ends at max_lines lines or max_bytes bytes (flagged truncated; the rest of it goes on as
// the next event), or `timeout` after its last line when no further line comes.
import { z } from 'zod';
import { duration, size } from '../../common/config';
import { flag, spanning, type Emit, type Event, type Step, type StepFactory } from './parser';
import { regexSource } from './options';

/**
 * Presets: which lines continue the event before them (`match: after`). Each is tested on real samples
 * (test/ship/parsers/samples).
 */
export const PRESETS = {
  /**
   * Java stack traces: indented frames (`\tat ...`, `\t... 12 more`, `\tSuppressed: ...`), `Caused by: ...`, and
   * the exception line itself (`java.lang.IllegalStateException: boom`) after the log line that reported it.
   */
  java: String.raw`^(?:\s|Caused by: |Suppressed: |\.\.\. \d+ (?:more|common frames omitted)|(?:[A-Za-z_$][\w$]*\.)+[\w$]*(?:Exception|Error|Throwable)(?::|$))`,
  /**
   * Python tracebacks: `Traceback (most recent call last):`, indented `File ...` lines and source, the chaining
   * sentences, and the final `SomeError: message` line (exception names end in Error, Exception, Warning, ...).
   */
  python: String.raw`^(?:\s|Traceback \(most recent call last\):|During handling of the above exception|The above exception was the direct cause|[A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Iteration)(?::|$))`,
  /**
   * Go panics and goroutine dumps: `goroutine 1 [running]:`, function lines (`main.main()`,
   * `net/http.(*conn).serve(0xc000...)`), tab-indented file:line lines, `created by ...`, `[signal ...]`,
   * `exit status 2`; an event starts at `panic:`, `fatal error:` or any other line.
   */
  go: String.raw`^(?:\s|goroutine \d+ \[|created by |\[signal |exit status \d+$|[\w./*()-]+\(.*\)(?: \+0x[0-9a-f]+)?$)`,
  /** A line starting with a space or a tab continues the one before. */
  whitespace: String.raw`^[ \t]`,
} as const;

export const multilineSchema = z
  .strictObject({
    preset: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS, ...(keyof typeof PRESETS)[]]).optional(),
    pattern: regexSource().optional(),
    negate: z.boolean().default(false),
    match: z.enum(['after', 'before']).optional(),
    max_lines: z.number().int().positive().default(500),
    max_bytes: size()
      .refine((v) => v >= 1, 'expected at least 1B')
      .default(1024 * 1024),
    timeout: duration()
      .refine((v) => v >= 10, 'expected at least 10ms')
      .default(1000),
  })
  .superRefine((v, ctx) => {
    if (v.preset && v.pattern) ctx.addIssue({ code: 'custom', message: 'expected either preset or pattern, not both' });
    if (!v.preset && !v.pattern) ctx.addIssue({ code: 'custom', message: `expected preset (${Object.keys(PRESETS).join(', ')}) or pattern with match: after|before` });
    if (v.pattern && !v.match) ctx.addIssue({ code: 'custom', path: ['match'], message: 'expected after or before (with pattern)' });
    if (v.preset && (v.match || v.negate)) ctx.addIssue({ code: 'custom', message: 'a preset sets pattern, negate and match itself: leave them out' });
  });

export type MultilineConfig = z.output<typeof multilineSchema>;

class Multiline implements Step {
  private pending: Event[] = [];
  private bytes = 0;
  private lastAt = 0;

  constructor(
    private readonly re: RegExp,
    private readonly negate: boolean,
    private readonly after: boolean,
    private readonly maxLines: number,
    private readonly maxBytes: number,
    private readonly timeoutMs: number,
  ) {}

  push(ev: Event, emit: Emit): void {
    const matches = this.re.test(ev.message ?? '') !== this.negate;
    this.lastAt = Date.now();
    if (this.after) {
      if (!matches || this.pending.length === 0) this.flush(emit);
      this.add(ev, emit);
    } else {
      this.add(ev, emit);
      if (!matches) this.flush(emit);
    }
  }

  private add(ev: Event, emit: Emit): void {
    const len = ev.next - ev.offset;
    if (this.pending.length > 0 && (this.pending.length >= this.maxLines || this.bytes + len > this.maxBytes)) {
      // The event is cut here; the lines after go on as the next event, never dropped.
      emit(this.take(true));
    }
    this.pending.push(ev);
    this.bytes += len;
  }

  held(): number | undefined {
    return this.pending.length > 0 ? this.pending[0].offset : undefined;
  }

  due(): number | undefined {
    return this.pending.length > 0 ? this.lastAt + this.timeoutMs : undefined;
  }

  flush(emit: Emit): void {
    if (this.pending.length > 0) emit(this.take(false));
  }

  private take(cut: boolean): Event {
    const lines = this.pending;
    this.pending = [];
    this.bytes = 0;
    const first = lines[0];
    if (lines.length === 1 && !cut) return first;
    const last = lines[lines.length - 1];
    const texts = new Array<string>(lines.length);
    const messages: string[] = [];
    let truncated = cut;
    for (let i = 0; i < lines.length; i++) {
      texts[i] = lines[i].text;
      if (lines[i].message !== undefined) messages.push(lines[i].message!);
      if (lines[i].truncated) truncated = true;
      if (i > 0) for (const f of lines[i].flags ?? []) flag(first, f);
    }
    const ev = spanning(first, last, texts.join('\n'), messages.length > 0 ? messages.join('\n') : undefined, truncated);
    if (lines.length > 1) flag(ev, 'multiline');
    return ev;
  }
}

export function multiline(cfg: MultilineConfig): StepFactory {
  const source = cfg.preset ? PRESETS[cfg.preset] : cfg.pattern!;
  const re = new RegExp(source);
  const after = cfg.preset ? true : cfg.match === 'after';
  const negate = cfg.preset ? false : cfg.negate;
  return () => new Multiline(re, negate, after, cfg.max_lines, cfg.max_bytes, cfg.timeout);
}
