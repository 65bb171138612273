// The Elasticsearch/OpenSearch sink: one _bulk request of create operations per send(), settled item by item.
// Created and 409 duplicates are delivered, 429/5xx items are re-sent alone with backoff, other refusals go
// to the dead-letter file; whole-request failures are retried with backoff until stop().
import { gzip as gzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import type { Registry } from 'prom-client';
import type { Logger } from '../../common/log';
import { errorMessage } from '../../common/errors';
import type { Doc, Outcome } from '../types';
import { BULK_FILTER_PATH, backoffMs, bulkBody, readBulkResponse, requestVerdict, type ItemError } from './bulk';
import { DeadLetterFile, type DeadLetter } from './deadletter';
import { detectEngine, type Flavor } from './flavor';
import { sinkMetrics, type SinkMetrics } from './metrics';
import { Endpoints, readTls, type Auth, type TlsFiles, type HttpReply } from './transport';

const gzip = promisify(gzipCb);

export interface SinkOptions {
  urls: string[];
  index: string;
  flavor: 'auto' | Flavor;
  auth?: Auth;
  tls?: TlsFiles;
  compression: 'gzip' | 'none';
  /** zlib level for gzip, default 1: most of the size win for a fraction of level 6's CPU. */
  gzipLevel?: number;
  requestTimeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
  deadLetterFile: string;
  logger: Logger;
  registry: Registry;
}

export interface SinkHealth {
  ok: boolean;
  /** How long every request has been failing (0 while the engine answers). */
  unreachableForMs: number;
  lastError?: string;
}

export interface Sink {
  send(docs: Doc[]): Promise<Outcome[]>;
  health(): SinkHealth;
  /** Pending and in-flight retries reject with SinkStopped so shutdown can finish; nothing more is acknowledged. */
  stop(): void;
  close(): Promise<void>;
}

export class SinkStopped extends Error {
  constructor() {
    super('sink stopped');
    this.name = 'SinkStopped';
  }
}

/** How often a persisting failure is logged again. */
const REPEAT_LOG_MS = 30_000;

class BulkSink implements Sink {
  private readonly endpoints: Endpoints;
  private readonly deadLetters: DeadLetterFile;
  private readonly metrics: SinkMetrics;
  private readonly stopper = new AbortController();
  private readonly path: string;
  private failingSince: number | undefined;
  private lastError: string | undefined;
  private lastLoggedAt = 0;
  private failuresSinceLog = 0;
  private probe: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SinkOptions) {
    const tls = readTls(opts.tls);
    this.endpoints = new Endpoints(opts.urls, { auth: opts.auth, tls, requestTimeoutMs: opts.requestTimeoutMs });
    if (!tls.rejectUnauthorized) {
      opts.logger.warn('TLS certificate verification is off (insecure): the engine\'s identity is not checked');
    }
    this.deadLetters = new DeadLetterFile(opts.deadLetterFile, opts.index);
    this.metrics = sinkMetrics(opts.registry);
    this.path = `/${encodeURIComponent(opts.index)}/_bulk?filter_path=${BULK_FILTER_PATH}`;
  }

  /** Learns and logs which engine answers; the bulk path does not depend on it, so failure only logs. */
  startProbe(): void {
    this.probe = detectEngine(this.opts, this.opts.flavor).then(
      (info) => this.opts.logger.info({ flavor: info.flavor, version: info.version, cluster: info.clusterName }, 'engine found'),
      (err: unknown) => this.opts.logger.warn({ err: errorMessage(err) }, 'could not identify the engine yet (GET /); shipping anyway'),
    );
  }

  async send(docs: Doc[]): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(docs.length);
    if (docs.length > 0) await this.deliver(docs, docs.map((_d, i) => i), outcomes);
    return outcomes;
  }

  /** Delivers docs[which] until each is settled; splits on 413, retries the rest. */
  private async deliver(docs: readonly Doc[], which: number[], outcomes: Outcome[]): Promise<void> {
    let pending = which;
    let attempt = 0;
    while (pending.length > 0) {
      this.throwIfStopped();
      const body = bulkBody(docs, pending);
      let reply: HttpReply;
      try {
        reply = await this.post(body);
      } catch (err) {
        this.throwIfStopped();
        this.failed(`${errorMessage(err)}${codeOf(err)}`, 'warn');
        this.metrics.retries.inc({ reason: 'request' });
        await this.sleep(backoffMs(attempt++, this.opts.backoff));
        continue;
      }
      const verdict = requestVerdict(reply.status);
      if (verdict === 'split') {
        this.succeeded();
        if (pending.length === 1) {
          await this.deadLetter([{ doc: docs[pending[0]], status: 413, error: { type: 'request_too_large', reason: 'the document alone is larger than the engine accepts (HTTP 413)' } }]);
          outcomes[pending[0]] = 'dead-letter';
          return;
        }
        this.opts.logger.info({ docs: pending.length, bytes: body.length }, '_bulk request too large (413): splitting it in half');
        const half = Math.ceil(pending.length / 2);
        await this.deliver(docs, pending.slice(0, half), outcomes);
        await this.deliver(docs, pending.slice(half), outcomes);
        return;
      }
      if (verdict !== 'ok') {
        this.failed(
          verdict === 'auth'
            ? `the engine refused the credentials (HTTP ${reply.status}) at ${reply.endpoint.label}: check the configured user/API key and its privileges (${summary(reply.text)})`
            : `HTTP ${reply.status} from ${reply.endpoint.label}: ${summary(reply.text)}`,
          verdict === 'auth' ? 'error' : 'warn',
        );
        this.metrics.retries.inc({ reason: 'request' });
        await this.sleep(backoffMs(attempt++, this.opts.backoff));
        continue;
      }
      let verdicts;
      try {
        verdicts = readBulkResponse(reply.text, pending.length);
      } catch (err) {
        // The engine answered but not in a way that accounts for every document: re-sending is safe (create + _id).
        this.failed(errorMessage(err), 'warn');
        this.metrics.retries.inc({ reason: 'request' });
        await this.sleep(backoffMs(attempt++, this.opts.backoff));
        continue;
      }
      this.succeeded();
      const retry: number[] = [];
      const letters: DeadLetter[] = [];
      let acked = 0;
      let dups = 0;
      for (let i = 0; i < pending.length; i++) {
        const v = verdicts.verdicts[i];
        const at = pending[i];
        if (v === 'created') {
          outcomes[at] = 'created';
          acked++;
        } else if (v === 'duplicate') {
          outcomes[at] = 'duplicate';
          acked++;
          dups++;
        } else if (v === 'retry') {
          retry.push(at);
        } else {
          letters.push({ doc: docs[at], status: verdicts.statuses[i], error: verdicts.errors[i] as ItemError });
          outcomes[at] = 'dead-letter';
        }
      }
      this.metrics.acked.inc(acked);
      if (dups) this.metrics.duplicates.inc(dups);
      if (letters.length) await this.deadLetter(letters);
      if (retry.length === 0) return;
      this.metrics.retries.inc({ reason: 'item' }, retry.length);
      const first = verdicts.errors[pending.indexOf(retry[0])];
      this.opts.logger.debug({ items: retry.length, of: pending.length, error: first?.type }, 're-sending items the engine asked to retry');
      pending = retry;
      await this.sleep(backoffMs(attempt++, this.opts.backoff));
    }
  }

  private async post(body: Buffer): Promise<HttpReply> {
    let payload = body;
    const compress = this.opts.compression === 'gzip';
    if (compress) payload = await gzip(payload, { level: this.opts.gzipLevel ?? 1 });
    const started = process.hrtime.bigint();
    try {
      return await this.endpoints.post(this.path, payload, compress, this.stopper.signal);
    } finally {
      this.metrics.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.metrics.bytesSent.inc(payload.length);
    }
  }

  private async deadLetter(letters: DeadLetter[]): Promise<void> {
    await this.deadLetters.write(letters);
    this.metrics.deadLetters.inc(letters.length);
    const first = letters[0];
    this.opts.logger.warn(
      { count: letters.length, file: this.deadLetters.path, status: first.status, error: first.error.type, reason: first.error.reason, path: first.doc.line.path, offset: first.doc.line.offset },
      'documents refused by the engine written to the dead-letter file',
    );
  }

  private failed(message: string, level: 'warn' | 'error'): void {
    const now = Date.now();
    if (this.failingSince === undefined) this.failingSince = now;
    this.failuresSinceLog++;
    if (message !== this.lastError || now - this.lastLoggedAt >= REPEAT_LOG_MS) {
      this.opts.logger[level]({ failures: this.failuresSinceLog, failingForMs: now - this.failingSince }, `_bulk request failed, will retry: ${message}`);
      this.lastLoggedAt = now;
      this.failuresSinceLog = 0;
    }
    this.lastError = message;
  }

  private succeeded(): void {
    if (this.failingSince !== undefined) {
      this.opts.logger.info({ failedForMs: Date.now() - this.failingSince }, 'engine answering again');
      this.failingSince = undefined;
      this.failuresSinceLog = 0;
    }
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopper.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new SinkStopped());
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new SinkStopped());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private throwIfStopped(): void {
    if (this.stopper.signal.aborted) throw new SinkStopped();
  }

  health(): SinkHealth {
    if (this.failingSince === undefined) return { ok: true, unreachableForMs: 0, lastError: this.lastError };
    return { ok: false, unreachableForMs: Date.now() - this.failingSince, lastError: this.lastError };
  }

  stop(): void {
    this.stopper.abort();
  }

  async close(): Promise<void> {
    await this.probe;
    await this.deadLetters.close();
    if (this.stopper.signal.aborted) this.endpoints.destroy();
    else await this.endpoints.close();
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? ` (${code})` : '';
}

/** The start of an error body, for logs: enough to see the engine's reason, never a whole document batch. */
function summary(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { type?: string; reason?: string } | string };
    if (parsed.error && typeof parsed.error === 'object') return `${parsed.error.type ?? ''}: ${parsed.error.reason ?? ''}`;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: a proxy's HTML page or plain text
  }
  return text.slice(0, 200).replace(/\s+/g, ' ') || '(empty body)';
}

/** Creates the sink; it does not wait for the engine (send() retries until it answers). */
export async function createSink(opts: SinkOptions): Promise<Sink> {
  const sink = new BulkSink(opts);
  sink.startProbe();
  return sink;
}
