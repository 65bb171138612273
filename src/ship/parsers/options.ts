// Schema pieces the parsers' options share: regular expressions (with the POSIX classes Filebeat users write)
// and field paths.
import { z } from 'zod';

/** POSIX bracket classes (RE2 and Filebeat accept them; JavaScript does not) and their JavaScript equivalents. */
const POSIX: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  blank: ' \\t',
  digit: '0-9',
  lower: 'a-z',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\s',
  upper: 'A-Z',
  word: '\\w',
  xdigit: '0-9A-Fa-f',
};

/** Turns `[[:space:]]` and the like into JavaScript classes; everything else is JavaScript regex syntax. */
export function translatePosix(source: string): string {
  return source.replace(/\[:(\w+):\]/g, (whole, name: string) => POSIX[name] ?? whole);
}

/** A regular expression (JavaScript syntax, plus POSIX classes), validated and returned as its source. */
export const regexSource = () =>
  z.string().min(1, 'expected a regular expression').transform((v, ctx) => {
    const source = translatePosix(v);
    try {
      new RegExp(source);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `expected a regular expression (${(err as Error).message})` });
      return z.NEVER;
    }
    return source;
  });

/** A field path: dotted names such as `message`, `http.request.method` or `@timestamp`. */
export const fieldPath = () => z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, 'expected a field name such as message or http.request.method');
