// Small parsers shared by the command line and checks.yml (kept free of library imports for fast one-shots).
import type { StatusRange } from './types';

export const STATUS_EXPECTED = 'status codes or ranges such as 200, 200-399 or 200,204,300-399';

/** "200-399,404" -> ranges; undefined when malformed. */
export function parseStatusRanges(text: string | number): StatusRange[] | undefined {
  const parts = String(text).split(',').map((p) => p.trim());
  const ranges: StatusRange[] = [];
  for (const p of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(p);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (from < 100 || to > 599 || from > to) return undefined;
    ranges.push({ from, to });
  }
  return ranges.length ? ranges : undefined;
}

/** "Name: value" -> [name, value]. */
export function parseHeader(text: string): [string, string] | undefined {
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  const name = text.slice(0, i).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return undefined;
  return [name.toLowerCase(), text.slice(i + 1).trim()];
}

/** "data.status=ok" -> {path, value}. */
export function parseJsonPathSpec(text: string): { path: string; value: string } | undefined {
  const i = text.indexOf('=');
  if (i <= 0) return undefined;
  return { path: text.slice(0, i).trim(), value: text.slice(i + 1) };
}

/** A regular expression's syntax error, or undefined when it compiles. */
export function regexError(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** "host:port" or "[v6]:port" -> parts; no default host (a probe needs one). */
export function parseTarget(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2], port };
}
