// timestamp: takes the event's own time as @timestamp, from a field or from a regex group of the message, with
// layouts tried in order: ISO8601 (RFC 3339 included), CLF (the common log format, 10/Oct/2000:13:55:36 -0700),
// UNIX and UNIX_MS (epoch seconds, milliseconds), or a custom layout in Luxon's tokens (yyyy-MM-dd HH:mm:ss,SSS,
// the same letters as Java's DateTimeFormatter for the usual fields). A stamp without a zone is read in
// `timezone`. A stamp that does not parse keeps the read time and flags the document timestamp_parsing_error.
import { z } from 'zod';
import { fieldPath, regexSource } from './options';
import { fieldsIn, flag, getPath, setError, type Emit, type Event, type Step, type StepFactory } from './parser';

let luxonModule: typeof import('luxon') | undefined;
/** Luxon, loaded on first use: a shipper with no timestamp parser never needs it (~2 MiB less resident). */
function luxon(): typeof import('luxon') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (luxonModule ??= require('luxon') as typeof import('luxon'));
}

/** Named layouts; anything else is a Luxon format string. */
const NAMED: Record<string, string> = {
  CLF: 'dd/MMM/yyyy:HH:mm:ss ZZZ',
};

export const timestampSchema = z
  .strictObject({
    field: fieldPath().optional(),
    pattern: regexSource().optional(),
    layouts: z.array(z.string().min(1)).min(1).optional(),
    layout: z.string().min(1).optional(),
    timezone: z
      .string()
      .refine((v) => luxon().DateTime.now().setZone(v).isValid, 'expected a time zone such as UTC, Europe/Berlin or UTC+2')
      .default('UTC'),
  })
  .superRefine((v, ctx) => {
    if (!v.field === !v.pattern) ctx.addIssue({ code: 'custom', message: 'expected field (a field holding the stamp) or pattern (a regex whose first group, or group named timestamp, is the stamp)' });
    if (v.layout && v.layouts) ctx.addIssue({ code: 'custom', message: 'expected layout or layouts, not both' });
    for (const l of v.layouts ?? (v.layout ? [v.layout] : [])) {
      if (['ISO8601', 'RFC3339', 'UNIX', 'UNIX_MS'].includes(l) || l in NAMED) continue;
      if (!/[yMdHhms]/.test(l)) ctx.addIssue({ code: 'custom', message: `layout ${JSON.stringify(l)}: expected ISO8601, RFC3339, CLF, UNIX, UNIX_MS or a Luxon format such as yyyy-MM-dd HH:mm:ss,SSS` });
    }
  });

export type TimestampConfig = z.output<typeof timestampSchema>;

/** RFC 3339 with its zone: the platform's own ISO parser reads exactly this form (ECMA-262 Date Time String Format). */
const RFC3339_ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

function toIso(ms: number): string | undefined {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** Parses an ISO 8601 / RFC 3339 time (a space for the T is accepted); zone-less stamps are read in `zone`. */
export function parseIsoTimestamp(text: string, zone = 'UTC'): string | undefined {
  if (RFC3339_ZONED.test(text)) {
    // Date.parse keeps milliseconds; more fraction digits than three are cut by the regex-approved form.
    const frac = /\.(\d+)/.exec(text);
    const trimmed = frac && frac[1].length > 3 ? text.replace(/\.(\d{3})\d+/, '.$1') : text;
    return toIso(Date.parse(trimmed));
  }
  const m = ISO_LOCAL.exec(text);
  if (m) {
    const frac = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
    const iso = clockOf(zone)(+m[1], +m[2], +m[3], +m[4], +m[5], m[6] === undefined ? 0 : +m[6], frac);
    if (iso !== undefined) return iso;
  }
  let dt = luxon().DateTime.fromISO(text, { zone });
  if (!dt.isValid) dt = luxon().DateTime.fromSQL(text, { zone });
  return dt.isValid ? toIso(dt.toMillis()) : undefined;
}

/** A zone-less ISO 8601 / SQL time, the common form of a local stamp (others go to Luxon whole). */
const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

/** The instant of a wall-clock time in some zone, or undefined when Luxon should decide (see clockOf). */
type WallClock = (year: number, month: number, day: number, hour: number, minute: number, second: number, millisecond: number) => string | undefined;

const clocks = new Map<string, WallClock>();

/**
 * Wall-clock times of one zone to instants. Luxon spends some 20-50 us resolving a zone (Intl) for each stamp;
 * zones change their offset on whole minutes, so Luxon resolves each minute of wall time once here. Undefined
 * (ask Luxon itself) for a time Luxon finds invalid (30 February, hour 24) and for years before 100.
 */
function clockOf(zone: string): WallClock {
  let clock = clocks.get(zone);
  if (clock !== undefined) return clock;
  const offsets = new Map<number, number>();
  clock = (year, month, day, hour, minute, second, millisecond) => {
    if (year < 100 || second > 59 || millisecond > 999) return undefined;
    const wall = Date.UTC(year, month - 1, day, hour, minute);
    const key = (((year * 13 + month) * 32 + day) * 25 + hour) * 61 + minute;
    let delta = offsets.get(key);
    if (delta === undefined) {
      if (offsets.size >= 10_000) offsets.clear();
      const dt = luxon().DateTime.fromObject({ year, month, day, hour, minute }, { zone });
      delta = dt.isValid ? dt.toMillis() - wall : NaN;
      offsets.set(key, delta);
    }
    return Number.isNaN(delta) ? undefined : toIso(wall + delta + second * 1000 + millisecond);
  };
  clocks.set(zone, clock);
  return clock;
}

type LayoutParser = (text: string) => string | undefined;

function layoutParser(layout: string, zone: string): LayoutParser {
  if (layout === 'ISO8601' || layout === 'RFC3339') return (t) => parseIsoTimestamp(t, zone);
  if (layout === 'UNIX' || layout === 'UNIX_MS') {
    const scale = layout === 'UNIX' ? 1000 : 1;
    return (t) => (/^\d+(?:\.\d+)?$/.test(t) ? toIso(Math.round(Number(t) * scale)) : undefined);
  }
  const parser = luxon().DateTime.buildFormatParser(NAMED[layout] ?? layout, { locale: 'en-US' });
  const full = (t: string): string | undefined => {
    const dt = luxon().DateTime.fromFormatParser(t, parser, { zone, locale: 'en-US' });
    return dt.isValid ? toIso(dt.toMillis()) : undefined;
  };
  const explain = (parser as unknown as Partial<Explaining>).explainFromTokens?.bind(parser);
  if (explain === undefined) return full;
  // Luxon reads the fields (4 us); the zone's offset comes from clockOf. Stamps with fields besides these (a
  // zone, a weekday, a 12-hour clock) take Luxon's whole path.
  const clock = clockOf(zone);
  return (t) => {
    const { result: r, zone: own } = explain(t);
    if (r === undefined || own || !hasOnly(r)) return full(t);
    const { year, month, day, hour = 0, minute = 0, second = 0, millisecond = 0 } = r;
    if (year === undefined || month === undefined || day === undefined) return full(t);
    return clock(year, month, day, hour, minute, second, millisecond) ?? full(t);
  };
}

/** What Luxon's format parser reads from a text (TokenParser.explainFromTokens, as Luxon's DateTime.fromFormatExplain). */
interface Explaining {
  explainFromTokens(text: string): { result?: Partial<Record<string, number>>; zone?: unknown };
}

const WALL_FIELDS = new Set(['year', 'month', 'day', 'hour', 'minute', 'second', 'millisecond']);

function hasOnly(r: Partial<Record<string, number>>): boolean {
  for (const k in r) if (!WALL_FIELDS.has(k) || !Number.isInteger(r[k])) return false;
  return true;
}

class Timestamp implements Step {
  private lastText: string | undefined;
  private lastIso: string | undefined;

  constructor(
    private readonly cfg: TimestampConfig,
    private readonly re: RegExp | undefined,
    private readonly parsers: LayoutParser[],
    private readonly layouts: string[],
  ) {}

  push(ev: Event, emit: Emit): void {
    const raw = this.stamp(ev);
    let iso: string | undefined;
    if (raw !== undefined) {
      // Lines in a burst often carry the same stamp: parse it once.
      if (raw === this.lastText) iso = this.lastIso;
      else {
        for (const parse of this.parsers) if ((iso = parse(raw)) !== undefined) break;
        this.lastText = raw;
        this.lastIso = iso;
      }
    }
    if (iso !== undefined) ev.timestamp = iso;
    else {
      flag(ev, 'timestamp_parsing_error');
      const where = this.cfg.field ? `field ${this.cfg.field}` : 'pattern';
      setError(ev, raw === undefined ? `timestamp: no stamp found (${where})` : `timestamp: ${JSON.stringify(raw.slice(0, 64))} matches none of the layouts ${this.layouts.join(', ')}`);
    }
    emit(ev);
  }

  private stamp(ev: Event): string | undefined {
    if (this.re) {
      const m = this.re.exec(ev.message ?? '');
      if (!m) return undefined;
      return m.groups?.timestamp ?? m[1] ?? m[0];
    }
    const field = this.cfg.field!;
    const v = field === 'message' ? ev.message : getPath(fieldsIn(ev), field);
    if (typeof v === 'number') return String(v);
    return typeof v === 'string' ? v.trim() : undefined;
  }
}

export function timestamp(cfg: TimestampConfig): StepFactory {
  const layouts = cfg.layouts ?? (cfg.layout ? [cfg.layout] : ['ISO8601']);
  const zone = luxon().Info.normalizeZone(cfg.timezone).name;
  const parsers = layouts.map((l) => layoutParser(l, zone));
  const re = cfg.pattern ? new RegExp(cfg.pattern) : undefined;
  return () => new Timestamp(cfg, re, parsers, layouts);
}
