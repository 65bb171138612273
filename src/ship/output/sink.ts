// The Elasticsearch/OpenSearch sink: one _bulk request of create operations per send(), settled item by item.
// Created and 409 duplicates are delivered, 429/5xx items and items refused by a cluster block are re-sent
// alone with backoff, other refusals go to the dead-letter file; whole-request failures are retried with
// backoff until stop().
import type { Registry } from 'prom-client';
import type { Logger } from '../../common/log';
import { errorMessage } from '../../common/errors';
import type { Doc, Outcome } from '../types';
import { BULK_FILTER_PATH, backoffMs, bulkBody, readBulkResponse, requestBlock, requestVerdict, type ItemError } from './bulk';
import { DeadLetterFile, type DeadLetter } from './deadletter';
import { detectEngine, type Flavor } from './flavor';
import { createGzipCodec, type GzipCodec } from './gzip';
import { libdeflateError } from './libdeflate';
import { sinkMetrics, type SinkMetrics } from './metrics';
import { Sniffer } from './sniff';
import { Endpoints, readTls, type Auth, type EndpointState, type TlsFiles, type HttpReply } from './transport';

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
  /** Follow the cluster's own node list (GET /_nodes/http) every intervalMs and after a connection failure. */
  sniff?: { intervalMs: number };
  deadLetterFile: string;
  /** Bounds of the dead-letter file: rotated past maxBytes, maxFiles kept (default: unbounded, one file). */
  deadLetter?: { maxBytes: number; maxFiles: number };
  logger: Logger;
  registry: Registry;
}

/** Why documents are held back: the engine not answering, refusing writes for now, or the dead-letter file unwritable. */
export type WaitReason = 'engine_unreachable' | 'cluster_block' | 'dead_letter_file';

export interface SinkWait {
  reason: WaitReason;
  message: string;
  /** How long it has been waiting for this reason, in ms. */
  forMs: number;
}

export interface SinkHealth {
  /** The engine answers (it may still refuse writes for now: see waiting). */
  ok: boolean;
  /** How long every request has been failing (0 while the engine answers). */
  unreachableForMs: number;
  lastError?: string;
  /** What it is waiting for, if anything. */
  waiting?: SinkWait;
  /** The engine nodes in rotation. */
  nodes: EndpointState[];
}

export interface Sink {
  /** How request bodies are sent: `none`, or `gzip` and the library that makes it (`gzip (libdeflate 1.14)`). */
  readonly compression: string;
  /** Delivers docs until each is settled; `body`: their whole _bulk body, already written (see Pipeline's Send). */
  send(docs: Doc[], body?: Buffer): Promise<Outcome[]>;
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

/** Smallest body buffer kept for reuse (far above Node's Buffer pool slabs). */
const MIN_SPARE_BODY = 64 * 1024;

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
  /** Since when writes are refused by a block, and the engine's words for it. */
  private blockedSince: number | undefined;
  private blockMessage = '';
  private deadLetterFailingSince: number | undefined;
  private deadLetterError = '';
  private probe: Promise<void> = Promise.resolve();
  private readonly sniffer: Sniffer | undefined;
  private readonly gzip: GzipCodec | undefined;
  /**
   * Buffers of bodies already compressed, or (compression none) already handed to the operating system, written into
   * again by the next ones: a new ~550 KiB body per request stayed allocated until V8's next scavenge (~15 MiB of
   * them at a time in a drain).
   */
  private readonly spareBodies: Buffer[] = [];

  constructor(private readonly opts: SinkOptions) {
    // One stream per request under way is kept; more than 16 at once (batch.concurrency allows 64) make their own.
    if (opts.compression === 'gzip') {
      this.gzip = createGzipCodec(opts.gzipLevel ?? 1, 16);
      const why = libdeflateError();
      if (why !== undefined) opts.logger.debug({ reason: why }, 'gzip with node:zlib: the libdeflate binding did not load');
    }
    const tls = readTls(opts.tls);
    this.endpoints = new Endpoints(opts.urls, { auth: opts.auth, tls, requestTimeoutMs: opts.requestTimeoutMs, deadBackoff: opts.backoff });
    if (opts.sniff) this.sniffer = new Sniffer(this.endpoints, opts.sniff.intervalMs, opts.logger);
    if (!tls.rejectUnauthorized) {
      opts.logger.warn('TLS certificate verification is off (insecure): the engine\'s identity is not checked');
    }
    this.metrics = sinkMetrics(opts.registry);
    const limits = opts.deadLetter ?? { maxBytes: Number.POSITIVE_INFINITY, maxFiles: 1 };
    this.deadLetters = new DeadLetterFile(opts.deadLetterFile, opts.index, {
      ...limits,
      onRotate: (dropped) => {
        this.metrics.deadLetterRotations.inc();
        if (dropped > 0) this.metrics.deadLettersDropped.inc(dropped);
        opts.logger.warn({ file: opts.deadLetterFile, max_size: limits.maxBytes, max_files: limits.maxFiles, dropped }, 'dead-letter file rotated');
      },
    });
    this.path = `/${encodeURIComponent(opts.index)}/_bulk?filter_path=${BULK_FILTER_PATH}`;
  }

  get compression(): string {
    return this.gzip ? `gzip (${this.gzip.name})` : 'none';
  }

  /** Learns and logs which engine answers; the bulk path does not depend on it, so failure only logs. */
  startProbe(): void {
    this.sniffer?.start();
    this.probe = detectEngine(this.opts, this.opts.flavor).then(
      (info) => this.opts.logger.info({ flavor: info.flavor, version: info.version, cluster: info.clusterName }, 'engine found'),
      (err: unknown) => this.opts.logger.warn({ err: errorMessage(err) }, 'could not identify the engine yet (GET /); shipping anyway'),
    );
  }

  async send(docs: Doc[], body?: Buffer): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(docs.length);
    if (docs.length > 0) await this.deliver(docs, docs.map((_d, i) => i), outcomes, body);
    return outcomes;
  }

  /**
   * Delivers docs[which] until each is settled; splits on 413, retries the rest. `written`: the body of docs[which],
   * already written (not ours to keep), for the first request; the others are built by bulkBody.
   */
  private async deliver(docs: readonly Doc[], which: number[], outcomes: Outcome[], written?: Buffer): Promise<void> {
    let pending = which;
    let attempt = 0;
    while (pending.length > 0) {
      this.throwIfStopped();
      const own = written === undefined || pending !== which;
      const body = own ? bulkBody(docs, pending, this.spareBodies.pop()) : written;
      // Only the size is kept: the body itself can go as soon as it is compressed, before the engine answers.
      const bodyBytes = body.length;
      let reply: HttpReply;
      try {
        reply = await this.post(body, own);
      } catch (err) {
        this.throwIfStopped();
        this.failed(`${errorMessage(err)}${codeOf(err)}`, 'warn');
        this.sniffer?.soon();
        this.metrics.retries.inc({ reason: 'request' });
        // That node is left out now: another one that answers takes the request at once; only when none is
        // left does the request wait (a node coming back is then tried first).
        if (this.endpoints.anyAlive()) continue;
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
        this.opts.logger.info({ docs: pending.length, bytes: bodyBytes }, '_bulk request too large (413): splitting it in half');
        const half = Math.ceil(pending.length / 2);
        await this.deliver(docs, pending.slice(0, half), outcomes);
        await this.deliver(docs, pending.slice(half), outcomes);
        return;
      }
      const block = verdict === 'ok' ? undefined : requestBlock(reply.text);
      if (block) {
        // A cluster-wide block refuses the whole request: the engine is there and will take the documents later.
        this.succeeded();
        this.blocked(block);
        this.metrics.retries.inc({ reason: 'blocked' });
        await this.sleep(backoffMs(attempt++, this.opts.backoff));
        continue;
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
      let blocked: ItemError | undefined;
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
        } else if (v === 'blocked') {
          retry.push(at);
          blocked ??= verdicts.errors[i];
        } else {
          letters.push({ doc: docs[at], status: verdicts.statuses[i], error: verdicts.errors[i] as ItemError });
          outcomes[at] = 'dead-letter';
        }
      }
      this.metrics.acked.inc(acked);
      if (dups) this.metrics.duplicates.inc(dups);
      if (acked > 0) this.opts.logger.debug({ acked, node: reply.endpoint.label }, 'documents acknowledged');
      if (blocked) this.blocked(blocked);
      else if (acked > 0) this.unblocked();
      if (letters.length) await this.deadLetter(letters);
      if (retry.length === 0) return;
      this.metrics.retries.inc({ reason: blocked ? 'blocked' : 'item' }, retry.length);
      const first = verdicts.errors[pending.indexOf(retry[0])];
      this.opts.logger.debug({ items: retry.length, of: pending.length, error: first?.type }, 're-sending items the engine asked to retry');
      pending = retry;
      await this.sleep(backoffMs(attempt++, this.opts.backoff));
    }
  }

  /** Sends one body (compressed first, with gzip); `own`: a buffer of ours, kept for the next body once sent. */
  private async post(body: Buffer, own: boolean): Promise<HttpReply> {
    const compress = this.gzip !== undefined;
    const payload = compress ? await this.gzip.compress(body) : body;
    if (compress && own) this.reuse(body);
    const started = process.hrtime.bigint();
    let outcome: number | string = 'error';
    try {
      // Uncompressed, the body is what the socket sends: it is kept for the next one only once written, which an
      // early answer (a 413 before the engine read it all) does not mean.
      const reply = await this.endpoints.post(this.path, payload, compress, this.stopper.signal, compress || !own ? undefined : () => this.reuse(body));
      outcome = reply.status;
      return reply;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.latency.observe(seconds);
      this.metrics.bytesSent.inc(payload.length);
      this.opts.logger.debug({ ms: Math.round(seconds * 1000), status: outcome, bytes: payload.length }, 'bulk request');
    }
  }

  /** Keeps a body's whole buffer for the next body once nothing reads it (a spare one not reused here is dropped). */
  private reuse(body: Buffer): void {
    // Only a buffer of its own: a small Buffer may be a slice of Node's shared pool (8 KiB slabs).
    if (body.byteOffset === 0 && body.buffer.byteLength >= MIN_SPARE_BODY && this.spareBodies.length < 16) {
      this.spareBodies.push(Buffer.from(body.buffer));
    }
  }

  /** Writes dead letters, waiting with backoff while the file cannot be written (disk full, read-only). */
  private async deadLetter(letters: DeadLetter[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.throwIfStopped();
      try {
        await this.deadLetters.write(letters);
        break;
      } catch (err) {
        if (this.deadLetterFailingSince === undefined) {
          this.deadLetterFailingSince = Date.now();
          this.opts.logger.error({ file: this.deadLetters.path, err: errorMessage(err) }, 'cannot write the dead-letter file; holding the refused documents until it can be written');
        }
        this.deadLetterError = `cannot write ${this.deadLetters.path}: ${errorMessage(err)}`;
        await this.sleep(backoffMs(attempt, this.opts.backoff));
      }
    }
    if (this.deadLetterFailingSince !== undefined) {
      this.opts.logger.info({ file: this.deadLetters.path, failedForMs: Date.now() - this.deadLetterFailingSince }, 'dead-letter file writable again');
      this.deadLetterFailingSince = undefined;
    }
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

  private blocked(error: ItemError): void {
    const message = `${error.type}: ${error.reason ?? ''}`.trim();
    if (this.blockedSince === undefined) {
      this.blockedSince = Date.now();
      this.opts.logger.warn({ index: this.opts.index, error: error.type, reason: error.reason }, 'the engine refuses writes for now (block); waiting and retrying, nothing is dead-lettered');
    } else if (message !== this.blockMessage) {
      this.opts.logger.warn({ index: this.opts.index, error: error.type, reason: error.reason }, 'still blocked, for another reason');
    }
    this.blockMessage = message;
  }

  private unblocked(): void {
    if (this.blockedSince === undefined) return;
    this.opts.logger.info({ index: this.opts.index, blockedForMs: Date.now() - this.blockedSince }, 'the engine takes writes again (block lifted)');
    this.blockedSince = undefined;
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
    const now = Date.now();
    const nodes = this.endpoints.states(now);
    let waiting: SinkWait | undefined;
    if (this.failingSince !== undefined) waiting = { reason: 'engine_unreachable', message: this.lastError ?? '', forMs: now - this.failingSince };
    else if (this.blockedSince !== undefined) waiting = { reason: 'cluster_block', message: this.blockMessage, forMs: now - this.blockedSince };
    else if (this.deadLetterFailingSince !== undefined) waiting = { reason: 'dead_letter_file', message: this.deadLetterError, forMs: now - this.deadLetterFailingSince };
    const unreachableForMs = this.failingSince === undefined ? 0 : now - this.failingSince;
    return { ok: this.failingSince === undefined, unreachableForMs, lastError: this.lastError, ...(waiting ? { waiting } : {}), nodes };
  }

  stop(): void {
    this.sniffer?.stop();
    this.stopper.abort();
  }

  async close(): Promise<void> {
    this.sniffer?.stop();
    this.gzip?.close();
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
