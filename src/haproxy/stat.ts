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
  /** Every other column that has a value; an empty field is absent. Numbers are numbers. */
  fields: Record<string, FieldValue>;
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

/** Parses the complete text of a `show stat` response. Throws StatParseError naming the line on malformed input. */
export function parseStat(text: string, opts: StatParseOptions = {}): StatTable {
  const reader = new CsvReader(text);
  const header = reader.next();
  if (header === undefined || !header[0]?.startsWith('# ')) {
    throw new StatParseError(`not a show stat output: expected a header line starting with "# pxname,svname", got ${JSON.stringify(text.slice(0, 60))}`);
  }
  header[0] = header[0].slice(2);
  // HAProxy ends every line with a comma, which would otherwise read as an extra empty column.
  if (header.length > 1 && header[header.length - 1] === '') header.pop();
  const names = header;
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
  // Precompute, per column index, the key to store (or null to skip) and whether it is text.
  const keys: (string | null)[] = names.map((n, i) =>
    i === iPx || i === iSv || i === iStatus || i === iType || i === sep || n === '' || (wanted && !wanted.has(n)) ? null : n,
  );
  const text_ = names.map((n) => TEXT_COLUMNS.has(n));
  // "* L7OK" means a check is running right now; the status is the last result either way.
  const running = names.map((n) => n === 'check_status' || n === 'agent_status');
  const width = names.length;
  const rows: StatRow[] = [];
  for (let cells = reader.next(); cells !== undefined; cells = reader.next()) {
    if (cells.length === 1 && cells[0] === '') continue;
    if (cells.length === width + 1 && cells[width] === '') cells.pop();
    if (cells.length !== width) {
      throw new StatParseError(`show stat line ${reader.line}: ${cells.length} fields where the header has ${width} (truncated or corrupt output): ${cells.slice(0, 2).join(',')}`);
    }
    const fields: Record<string, FieldValue> = {};
    for (let i = 0; i < width; i++) {
      const key = keys[i];
      if (key === null) continue;
      const v = cells[i]!;
      if (v === '') continue;
      fields[key!] = text_[i] ? (running[i] && v.startsWith('* ') ? v.slice(2) : v) : toValue(v);
    }
    const name = cells[iSv]!;
    const status = cells[iStatus]!;
    rows.push({
      proxy: cells[iPx]!,
      name,
      type: iType >= 0 ? (TYPE_NAMES[cells[iType]!] ?? typeFromName(name)) : typeFromName(name),
      status,
      state: parseStatus(status).state,
      fields,
    });
  }
  return { columns, moduleColumns, rows };
}

/** A row as one flat JSON object: proxy, name, type, status, state, then every column. */
export function rowToJson(row: StatRow): Record<string, FieldValue> {
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

/** RFC 4180 records with HAProxy's trailing comma removed; fast path for lines without quotes. */
class CsvReader {
  private pos = 0;
  line = 0;
  constructor(private readonly text: string) {}

  next(): string[] | undefined {
    const text = this.text;
    if (this.pos >= text.length) return undefined;
    this.line++;
    let end = text.indexOf('\n', this.pos);
    if (end < 0) end = text.length;
    const quote = text.indexOf('"', this.pos);
    let cells: string[];
    if (quote < 0 || quote > end) {
      let stop = end;
      if (stop > this.pos && text.charCodeAt(stop - 1) === 13) stop--;
      cells = text.slice(this.pos, stop).split(',');
      this.pos = end + 1;
    } else {
      cells = this.quoted();
    }
    return cells;
  }

  private quoted(): string[] {
    const text = this.text;
    const cells: string[] = [];
    let i = this.pos;
    let cell = '';
    for (;;) {
      if (text.charCodeAt(i) === 34) {
        // Quoted field: "" is a quote; commas and newlines are data.
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new StatParseError(`show stat line ${this.line}: unterminated quoted field`);
          cell += text.slice(i, q);
          if (text.charCodeAt(q + 1) === 34) {
            cell += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        for (let j = cell.indexOf('\n'); j >= 0; j = cell.indexOf('\n', j + 1)) this.line++;
      }
      let stop = i;
      while (stop < text.length) {
        const c = text.charCodeAt(stop);
        if (c === 44 || c === 10) break;
        stop++;
      }
      cell += text.slice(i, stop);
      cells.push(cell.endsWith('\r') && text.charCodeAt(stop) === 10 ? cell.slice(0, -1) : cell);
      cell = '';
      if (stop >= text.length || text.charCodeAt(stop) === 10) {
        this.pos = stop + 1;
        return cells;
      }
      i = stop + 1;
    }
  }
}
