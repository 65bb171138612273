// `sidekick-probe wait`: blocks until every target (tcp://h:p, http(s)://…, file:PATH) is healthy, for start
// ordering; prints what it is still waiting for, and gives up after the timeout.
import { UsageError } from '../common/errors';
import { redactUrl } from '../common/redact';
import { human } from './kinds/common';
import { releaseProbes, runProbe } from './kinds';
import { parseTarget } from './parse';
import type { ProbeConfig } from './types';

export const WAIT_TARGETS = 'tcp://HOST:PORT, http://…, https://… or file:PATH';

/** Turns a wait target into a probe configuration; throws a UsageError naming it when malformed. */
export function parseWaitTarget(text: string, insecure = false): ProbeConfig {
  if (text.startsWith('tcp://')) {
    const hp = parseTarget(text.slice(6));
    if (!hp) throw new UsageError(`wait target ${JSON.stringify(redactUrl(text))} is not valid; expected tcp://HOST:PORT`);
    return { kind: 'tcp', host: hp.host, port: hp.port, timeout: 1000 };
  }
  if (/^https?:\/\//.test(text)) {
    try {
      new URL(text);
    } catch {
      throw new UsageError(`wait target ${JSON.stringify(redactUrl(text))} is not a valid URL`);
    }
    return { kind: 'http', url: text, method: 'GET', status: [{ from: 200, to: 399 }], headers: {}, follow_redirects: 0, insecure, timeout: 2000 };
  }
  if (text.startsWith('file:') && text.length > 5) return { kind: 'file', path: text.slice(5).replace(/^\/\/(?=\/)/, ''), timeout: 1000 };
  throw new UsageError(`wait target ${JSON.stringify(redactUrl(text))} is not valid; expected ${WAIT_TARGETS}`);
}

export interface WaitOptions {
  timeout: number;
  interval: number;
  /** Progress lines (stderr by default). */
  say?: (line: string) => void;
}

/** Resolves to 0 once every target is healthy, or 1 when the timeout passes first. */
export async function waitFor(targets: string[], probes: ProbeConfig[], opts: WaitOptions): Promise<number> {
  const say = opts.say ?? ((line: string) => process.stderr.write(line + '\n'));
  const start = Date.now();
  const pending = new Map(targets.map((t, i) => [t, probes[i]]));
  const last = new Map<string, string>();
  let lastReport = 0;
  try {
    for (;;) {
      await Promise.all(
        [...pending].map(async ([t, cfg]) => {
          const left = start + opts.timeout - Date.now();
          const r = await runProbe({ ...cfg, timeout: Math.max(1, Math.min(cfg.timeout, left)) });
          if (r.ok) {
            pending.delete(t);
            say(`ready: ${redactUrl(t)} (${r.message}) after ${human(Date.now() - start)}`);
          } else last.set(t, r.message);
        }),
      );
      if (pending.size === 0) return 0;
      const now = Date.now();
      if (now - start >= opts.timeout) {
        say(`timed out after ${human(opts.timeout)}; still waiting for: ${[...pending.keys()].map((t) => `${redactUrl(t)} (${last.get(t)})`).join(', ')}`);
        return 1;
      }
      if (now - lastReport >= 5000) {
        lastReport = now;
        for (const t of pending.keys()) say(`waiting for ${redactUrl(t)}: ${last.get(t)}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(opts.interval, start + opts.timeout - now)));
    }
  } finally {
    releaseProbes();
  }
}
