// Structured logging: JSON lines on stderr by default, readable text when stderr is a terminal;
// values under secret-looking key names are redacted wherever they appear.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { REDACTED } from './redact';

export type { Logger };

const SECRET_KEYS = ['password', 'passwd', 'secret', 'token', 'api_key', 'apiKey', 'authorization', 'Authorization', 'credentials'];
export { REDACTED, redactSecrets, redactUrl } from './redact';

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
