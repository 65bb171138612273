// container: reads the log files container runtimes write. Docker's json-file lines ({"log":"...\n",
// "stream":"stdout","time":"..."}) and CRI lines (`<time> <stream> <P|F> <text>`, containerd and CRI-O). A
// runtime splits long lines (Docker at 16 KiB: a piece without its trailing newline; CRI: tag P) and the
// pieces are joined again, per stream. `stream` and the runtime's time (as @timestamp) are kept.
import { z } from 'zod';
import { parseIsoTimestamp } from './timestamp';
import { fieldsOf, flag, isObject, setError, setPath, spanning, type Emit, type Event, type Step, type StepFactory } from './parser';

export const containerSchema = z.strictObject({
  format: z.enum(['auto', 'docker', 'cri']).default('auto'),
  stream: z.enum(['all', 'stdout', 'stderr']).default('all'),
});

export type ContainerConfig = z.output<typeof containerSchema>;

/** A runtime writes the pieces of one line together; a piece left alone this long is passed on as it is. */
const PARTIAL_TIMEOUT_MS = 5000;

const CRI = /^(\S+) (stdout|stderr) ([^ ]+) ?(.*)$/s;

interface Piece {
  ev: Event;
  stream: string;
  time: string | undefined;
  text: string;
  partial: boolean;
  attrs?: unknown;
}

function parseDocker(text: string): Omit<Piece, 'ev'> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v.log !== 'string') return undefined;
  const log = v.log;
  const partial = !log.endsWith('\n');
  return {
    stream: typeof v.stream === 'string' ? v.stream : 'stdout',
    time: typeof v.time === 'string' ? v.time : undefined,
    text: partial ? log : log.slice(0, log.endsWith('\r\n') ? -2 : -1),
    partial,
    attrs: v.attrs,
  };
}

function parseCri(text: string): Omit<Piece, 'ev'> | undefined {
  const m = CRI.exec(text);
  if (!m) return undefined;
  // The tag is P (partial) or F (full), possibly followed by more ':'-separated fields.
  return { time: m[1], stream: m[2], partial: m[3].split(':')[0] === 'P', text: m[4] };
}

class Container implements Step {
  /** Pieces of a line still waiting for their last piece, per stream. */
  private readonly pending = new Map<string, Piece[]>();
  /** Whole events waiting behind a line that started earlier (events leave in the order of their first bytes). */
  private ready: Event[] = [];
  private lastAt = 0;

  constructor(private readonly cfg: ContainerConfig) {}

  push(ev: Event, emit: Emit): void {
    const text = ev.message ?? '';
    const fmt = this.cfg.format === 'auto' ? (text.startsWith('{') ? 'docker' : 'cri') : this.cfg.format;
    const parsed = fmt === 'docker' ? parseDocker(text) : parseCri(text);
    if (!parsed) {
      setError(ev, `container: not a ${fmt === 'docker' ? 'Docker json-file' : 'CRI'} log line; kept as it is`);
      this.ready.push(ev);
      return this.release(emit);
    }
    if (this.cfg.stream !== 'all' && parsed.stream !== this.cfg.stream) return this.release(emit);
    this.lastAt = Date.now();
    const pieces = this.pending.get(parsed.stream) ?? [];
    pieces.push({ ev, ...parsed });
    if (parsed.partial) this.pending.set(parsed.stream, pieces);
    else {
      this.pending.delete(parsed.stream);
      this.ready.push(join(pieces, false));
    }
    this.release(emit);
  }

  held(): number | undefined {
    let min = this.ready.length > 0 ? this.ready[0].offset : undefined;
    for (const pieces of this.pending.values()) if (min === undefined || pieces[0].ev.offset < min) min = pieces[0].ev.offset;
    return min;
  }

  due(): number | undefined {
    return this.pending.size > 0 ? this.lastAt + PARTIAL_TIMEOUT_MS : undefined;
  }

  flush(emit: Emit): void {
    for (const pieces of this.pending.values()) this.ready.push(join(pieces, true));
    this.pending.clear();
    this.ready.sort((a, b) => a.offset - b.offset);
    this.release(emit);
  }

  private release(emit: Emit): void {
    if (this.ready.length === 0) return;
    let firstPending = Infinity;
    for (const pieces of this.pending.values()) firstPending = Math.min(firstPending, pieces[0].ev.offset);
    this.ready.sort((a, b) => a.offset - b.offset);
    let n = 0;
    while (n < this.ready.length && this.ready[n].offset < firstPending) n++;
    if (n === 0) return;
    const out = this.ready.slice(0, n);
    this.ready = this.ready.slice(n);
    for (const ev of out) emit(ev);
  }
}

/** One event from the pieces of one line: their texts joined, the first piece's offset and time. */
function join(pieces: Piece[], incomplete: boolean): Event {
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  const ev: Event =
    pieces.length === 1
      ? first.ev
      : spanning(
          first.ev,
          last.ev,
          pieces.map((p) => p.ev.text).join('\n'),
          undefined,
          pieces.some((p) => p.ev.truncated),
        );
  ev.message = pieces.length === 1 ? first.text : pieces.map((p) => p.text).join('');
  const iso = first.time !== undefined ? parseIsoTimestamp(first.time) : undefined;
  if (iso) ev.timestamp = iso;
  setPath(fieldsOf(ev), 'stream', first.stream);
  if (first.attrs !== undefined) setPath(fieldsOf(ev), 'docker.attrs', first.attrs);
  if (incomplete) flag(ev, 'partial');
  return ev;
}

export function container(cfg: ContainerConfig): StepFactory {
  return () => new Container(cfg);
}
