// Parser for `show stat` CSV: columns mapped by header name, typed values, quoted fields, module columns after "-".
import { parseStatus, type ServerState } from './status';

export type StatType = 'frontend' | 'backend' | 'server' | 'listener';
export type FieldValue = string | number;

/** One line of `show stat`: a frontend, backend, server or listener. */
export interface StatRow {
  proxy: string;
  name: string;
  type: StatType;
  /** HAProxy's own text, such as "UP 1/3" or "DRAIN (agent)". */
  status: string;
  state: ServerState;
  /** Every other column, by header name. Numbers are numbers; an empty field is undefined (absent from JSON). */
  fields: Record<string, FieldValue | undefined>;
}

export interface StatTable {
  /** Fixed columns in the order of the header (before the "-" separator). */
  columns: string[];
  /** Columns after "-", registered by modules (h1_, h2_, ssl_, quic_); presence and order vary by build. */
  moduleColumns: string[];
  rows: StatRow[];
  /** Complete rows left out of `rows` because their field count does not match the header's. */
  malformed: MalformedRow[];
}

/**
 * A row whose fields cannot be matched to the header: one field short or long shifts every column after the
 * fault (haproxy_exporter #45: HAProxy before 1.6.4 printed "DRAIN (agent)" without its comma, and the server
 * read as a frontend). Counts include the empty field after a trailing comma, on the header and on the row.
 */
export interface MalformedRow {
  /** 1-based line of the answer (the header is line 1). */
  line: number;
  fields: number;
  expected: number;
  /** The row's first two fields, as far as they can be trusted. */
  proxy: string;
  name: string;
  /** The start of the row as HAProxy printed it (at most 120 characters). */
  text: string;
}

/** A warning for a skipped row, naming it: `show stat line 9 (app/web2): 62 fields where the header has 63 …`. */
export function describeMalformed(m: MalformedRow): string {
  return `show stat line ${m.line} (${m.proxy}/${m.name}): ${m.fields} fields where the header has ${m.expected} (trailing comma included); row skipped: ${JSON.stringify(m.text)}`;
}

export interface StatParseOptions {
  /** Keep only these columns in `fields` (pxname, svname, type and status are always read); speeds up polling. */
  columns?: readonly string[];
}

export class StatParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatParseError';
  }
}

// Columns whose values are text even when they look like numbers; all others become numbers when numeric.
const TEXT_COLUMNS = new Set(['pxname', 'svname', 'status', 'check_status', 'last_chk', 'last_agt', 'agent_status', 'check_desc', 'agent_desc', 'addr', 'cookie', 'mode', 'algo', 'tracked', 'proto']);
const TYPE_NAMES: Record<string, StatType> = { '0': 'frontend', '1': 'backend', '2': 'server', '3': 'listener' };

const enum Kind {
  Skip,
  Value, // number when numeric, else text
  Text,
  CheckText, // text without the "* " (check running now) prefix
}

type Factory = (v: (FieldValue | undefined)[]) => Record<string, FieldValue | undefined>;
const factories = new Map<string, Factory>();

/**
 * An object-literal builder for one header: rows then share one hidden class, which makes building
 * 10,000 rows of ~120 columns several times cheaper than adding keys one by one.
 */
function factory(names: readonly string[], keep: readonly number[]): Factory {
  const key = keep.map((i) => names[i]).join(',');
  let f = factories.get(key);
  if (!f) {
    const body = `return {${keep.map((i) => `${JSON.stringify(names[i])}: v[${i}]`).join(',')}};`;
    f = new Function('v', body) as Factory;
    if (factories.size > 32) factories.clear();
    factories.set(key, f);
  }
  return f;
}

/** Parses the complete text of a `show stat` response. Throws StatParseError naming the line on malformed input. */
export function parseStat(text: string, opts: StatParseOptions = {}): StatTable {
  let nl = text.indexOf('\n');
  if (nl < 0) nl = text.length;
  const headerLine = text.charCodeAt(nl - 1) === 13 ? text.slice(0, nl - 1) : text.slice(0, nl);
  if (!headerLine.startsWith('# ')) {
    throw new StatParseError(`not a show stat output: expected a header line starting with "# pxname,svname", got ${JSON.stringify(text.slice(0, 60))}`);
  }
  const names = headerLine.slice(2).split(',');
  // HAProxy ends every line with a comma, which would otherwise read as an extra empty column; a row must
  // then end with one too, so that a row one field short is not taken for a complete one.
  const trailingComma = names.length > 1 && names[names.length - 1] === '';
  if (trailingComma) names.pop();
  const sep = names.indexOf('-');
  const columns = sep >= 0 ? names.slice(0, sep) : names.slice();
  const moduleColumns = sep >= 0 ? names.slice(sep + 1) : [];
  const ix = (name: string): number => names.indexOf(name);
  const iPx = ix('pxname');
  const iSv = ix('svname');
  const iStatus = ix('status');
  const iType = ix('type');
  if (iPx < 0 || iSv < 0 || iStatus < 0) {
    throw new StatParseError(`show stat header lacks ${['pxname', 'svname', 'status'].filter((c) => ix(c) < 0).join(', ')}: ${names.slice(0, 8).join(',')}...`);
  }
  const wanted = opts.columns ? new Set(opts.columns) : undefined;
  const width = names.length;
  const kinds = new Uint8Array(width);
  const keep: number[] = [];
  const seen = new Set<string>();
  names.forEach((n, i) => {
    const identity = i === iPx || i === iSv || i === iStatus || i === iType;
    const stored = !identity && i !== sep && n !== '' && !seen.has(n) && (!wanted || wanted.has(n));
    if (stored) {
      keep.push(i);
      seen.add(n);
    }
    kinds[i] = identity ? Kind.Text : !stored ? Kind.Skip : n === 'check_status' || n === 'agent_status' ? Kind.CheckText : TEXT_COLUMNS.has(n) ? Kind.Text : Kind.Value;
  });
  const build = factory(names, keep);
  // With a column subset, the rest of a line after the last wanted column need not be scanned at all,
  // unless a quoted field there could hold a newline. Completeness of the answer is the socket's job (framing).
  const lastWanted = wanted ? Math.max(iPx, iSv, iStatus, iType, ...keep) : width;
  let nextQuote = text.indexOf('"', nl);
  if (nextQuote < 0) nextQuote = text.length;
  const expected = width + (trailingComma ? 1 : 0);
  const rows: StatRow[] = [];
  const malformed: MalformedRow[] = [];
  const vals: (FieldValue | undefined)[] = new Array<FieldValue | undefined>(width + 1);
  const end = text.length;
  let pos = nl + 1;
  let line = 1;
  while (pos < end) {
    line++;
    const first = text.charCodeAt(pos);
    if (first === 10 || (first === 13 && text.charCodeAt(pos + 1) === 10)) {
      pos += first === 10 ? 1 : 2; // the empty line that ends the answer
      continue;
    }
    const rowLine = line;
    const rowStart = pos;
    let col = 0;
    /** The last field read was empty (what a trailing comma leaves). */
    let lastEmpty = false;
    let terminated = true;
    for (;;) {
      const kind = col < width ? kinds[col]! : Kind.Skip;
      let c = text.charCodeAt(pos);
      let value: FieldValue | undefined;
      const fieldStart = pos;
      if (c === 34) {
        // Quoted field: "" is a quote; commas and newlines are data.
        let out = '';
        let i = pos + 1;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new StatParseError(`show stat line ${rowLine}: unterminated quoted field`);
          out += text.slice(i, q);
          if (text.charCodeAt(q + 1) === 34) {
            out += '"';
            i = q + 2;
          } else {
            pos = q + 1;
            break;
          }
        }
        for (let j = out.indexOf('\n'); j >= 0; j = out.indexOf('\n', j + 1)) line++;
        c = text.charCodeAt(pos);
        if (pos < end && c !== 44 && c !== 10 && c !== 13) throw new StatParseError(`show stat line ${rowLine}: text after a closing quote`);
        value = kind === Kind.Skip ? undefined : kind === Kind.Value ? toValue(out) : out;
      } else if (kind === Kind.Value) {
        // Numbers are read from the characters directly: no substring for the common all-digit field.
        const start = pos;
        let num = 0;
        let digitsOnly = true;
        while (pos < end && c !== 44 && c !== 10 && c !== 13) {
          if (c >= 48 && c <= 57) num = num * 10 + (c - 48);
          else digitsOnly = false;
          c = text.charCodeAt(++pos);
        }
        value = pos === start ? undefined : digitsOnly ? num : toValue(text.slice(start, pos));
      } else {
        const start = pos;
        while (pos < end && c !== 44 && c !== 10 && c !== 13) c = text.charCodeAt(++pos);
        if (kind === Kind.Skip || pos === start) value = undefined;
        else {
          const v = text.slice(start, pos);
          value = kind === Kind.CheckText && v.startsWith('* ') ? v.slice(2) : v;
        }
      }
      if (col < width) vals[col] = value;
      col++;
      lastEmpty = pos === fieldStart;
      if (c === 44) {
        pos++;
        if (col > lastWanted && col <= width) {
          let eol = text.indexOf('\n', pos);
          if (eol < 0) eol = end;
          if (nextQuote < pos) {
            nextQuote = text.indexOf('"', pos);
            if (nextQuote < 0) nextQuote = end;
          }
          if (nextQuote > eol) {
            // The rest of the line is not read, but its fields are counted: the row must still match the header.
            for (let k = col; k < width; k++) vals[k] = undefined;
            const stop = eol > pos && text.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
            for (let k = pos; k < stop; k++) if (text.charCodeAt(k) === 44) col++;
            col++;
            lastEmpty = stop === pos || text.charCodeAt(stop - 1) === 44;
            terminated = eol < end;
            pos = eol + 1;
            break;
          }
        }
        continue;
      }
      if (c === 13) pos++;
      terminated = pos < end;
      pos++; // past "\n" (or the end)
      break;
    }
    if (col !== expected || (trailingComma && !lastEmpty)) {
      // An answer cut off inside its last row is incomplete output, never a partial result.
      if (!terminated) throw new StatParseError(`show stat line ${rowLine}: ${col} fields where the header has ${expected} (truncated output): ${String(vals[0])},${String(vals[1])}`);
      let stop = text.indexOf('\n', rowStart);
      if (stop < 0 || stop > rowStart + 120) stop = Math.min(end, rowStart + 120);
      const row = text.slice(rowStart, stop).replace(/\r$/, '');
      const [proxy = '', name = ''] = row.split(',', 2);
      malformed.push({ line: rowLine, fields: col, expected, proxy, name, text: row });
      continue;
    }
    const name = String(vals[iSv] ?? '');
    const status = String(vals[iStatus] ?? '');
    rows.push({
      proxy: String(vals[iPx] ?? ''),
      name,
      type: iType >= 0 ? (TYPE_NAMES[String(vals[iType])] ?? typeFromName(name)) : typeFromName(name),
      status,
      state: parseStatus(status).state,
      fields: build(vals),
    });
  }
  return { columns, moduleColumns, rows, malformed };
}

/** A row as one flat JSON object: proxy, name, type, status, state, then every column. */
export function rowToJson(row: StatRow): Record<string, FieldValue | undefined> {
  const { check_status, ...rest } = row.fields;
  return { proxy: row.proxy, name: row.name, type: row.type, status: row.status, state: row.state, ...(check_status !== undefined ? { check_status } : {}), ...rest };
}

function typeFromName(name: string): StatType {
  return name === 'FRONTEND' ? 'frontend' : name === 'BACKEND' ? 'backend' : 'server';
}

function toValue(v: string): FieldValue {
  const c = v.charCodeAt(0);
  // Only digits or a leading minus can start a number HAProxy prints; avoids Number("Infinity") surprises.
  if ((c >= 48 && c <= 57) || c === 45) {
    const n = +v;
    if (n === n) return n;
  }
  return v;
}
