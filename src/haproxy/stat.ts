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
  // HAProxy ends every line with a comma, which would otherwise read as an extra empty column.
  if (names.length > 1 && names[names.length - 1] === '') names.pop();
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
  const rows: StatRow[] = [];
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
    let col = 0;
    for (;;) {
      if (col > width) throw new StatParseError(`show stat line ${rowLine}: more fields than the ${width} of the header (corrupt output)`);
      const kind = col < width ? kinds[col]! : Kind.Skip;
      let c = text.charCodeAt(pos);
      let value: FieldValue | undefined;
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
      vals[col++] = value;
      if (c === 44) {
        pos++;
        if (col > lastWanted) {
          let eol = text.indexOf('\n', pos);
          if (eol < 0) eol = end;
          if (nextQuote < pos) {
            nextQuote = text.indexOf('"', pos);
            if (nextQuote < 0) nextQuote = end;
          }
          if (nextQuote > eol) {
            for (let k = col; k < width; k++) vals[k] = undefined;
            col = width;
            pos = eol + 1;
            break;
          }
        }
        continue;
      }
      if (c === 13) pos++;
      pos++; // past "\n" (or the end)
      break;
    }
    // A trailing comma leaves one extra, empty field.
    if (!(col === width || (col === width + 1 && vals[width] === undefined))) {
      throw new StatParseError(`show stat line ${rowLine}: ${col === width + 1 ? width + 1 : col} fields where the header has ${width} (truncated or corrupt output): ${String(vals[0])},${String(vals[1])}`);
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
  return { columns, moduleColumns, rows };
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
