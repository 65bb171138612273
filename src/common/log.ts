// Structured logging: JSON lines on stderr by default, readable text when stderr is a terminal;
// values under secret-looking key names are redacted wherever they appear.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

const SECRET_KEY = /pass(word)?|secret|token|api_?key|authorization|credential|private_?key/i;
const SECRET_KEYS = ['password', 'passwd', 'secret', 'token', 'api_key', 'apiKey', 'authorization', 'Authorization', 'credentials'];
export const REDACTED = '[redacted]';

export interface LogOptions {
  name: string;
  level?: string;
  format?: 'json' | 'text' | 'auto';
  /** Where lines go; defaults to stderr (stdout carries a program's own output and events). */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createLogger(opts: LogOptions): Logger {
  const dest = opts.destination ?? process.stderr;
  const format = opts.format ?? 'auto';
  const text = format === 'text' || (format === 'auto' && dest.isTTY === true);
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      base: { name: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]), censor: REDACTED },
    },
    text ? textStream(dest) : (dest as NodeJS.WritableStream),
  );
}

/** A copy of a value with every secret-looking key's value replaced, for printing configuration. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && !/_file$/i.test(k) && v !== undefined ? REDACTED : redactSecrets(v);
    }
    return out as T;
  }
  return value;
}

/** Removes user:password@ from a URL so it can be logged. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? REDACTED : '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

function textStream(dest: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const { time, level, msg, name: _name, pid: _pid, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          const clock = typeof time === 'string' ? time.slice(11, 23) : '';
          dest.write(`${clock} ${String(level).toUpperCase().padEnd(5)} ${String(msg ?? '')}${extra ? '  ' + extra : ''}\n`);
        } catch {
          dest.write(line + '\n');
        }
      }
      done();
    },
  });
}
