// Shared pieces for the output tests: documents from fake lines, a logger whose lines can be read back, sink options.
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger, type Logger } from '../../../src/common/log';
import { makeEncoder } from '../../../src/ship/output/encoder';
import type { SinkOptions } from '../../../src/ship/output/sink';
import type { Doc } from '../../../src/ship/types';
import { tempDir as makeTempDir } from '../../support/wait';

export interface CapturedLog {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
}

export function captureLog(): CapturedLog {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const logger = createLogger({ name: 'test', level: 'debug', format: 'json', destination });
  return {
    logger,
    text: () => text,
    lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export function makeDocs(n: number, opts: { key?: string; text?: (i: number) => string; fields?: Record<string, unknown> } = {}): Doc[] {
  const encode = makeEncoder({ hostName: 'test-host', agentVersion: '0.0.0-test', fields: opts.fields });
  const key = opts.key ?? `k${process.pid}x${Date.now().toString(36)}`;
  let offset = 0;
  return Array.from({ length: n }, (_v, i) => {
    const text = opts.text ? opts.text(i) : `line ${i} of the test file`;
    const line = { file: { key, dev: 1, ino: 2 }, path: '/var/log/test.log', offset, next: offset + text.length + 1, text, truncated: false };
    offset = line.next;
    return encode(line);
  });
}

export function tempDir(): string {
  return makeTempDir('sidekick-ship-out-');
}

export function sinkOptions(urls: string[], over: Partial<SinkOptions> = {}): SinkOptions & { log: CapturedLog } {
  const log = captureLog();
  return {
    urls,
    index: 'logs-sidekick-test',
    flavor: 'auto',
    compression: 'gzip',
    requestTimeoutMs: 5000,
    backoff: { initialMs: 10, maxMs: 50 },
    deadLetterFile: join(tempDir(), 'dead-letters.ndjson'),
    logger: log.logger,
    registry: new Registry(),
    log,
    ...over,
  };
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val) && !('metricName' in x && String(x.metricName).endsWith('_bucket')));
  return v?.value ?? 0;
}

/** [name, message] of what fn throws, undefined when it does not (a binding's errors come from the main realm, not
 * jest's: no instanceof). */
export function thrown(fn: () => unknown): [string, string] | undefined {
  try {
    fn();
  } catch (err) {
    return [(err as Error).name, (err as Error).message];
  }
  return undefined;
}
