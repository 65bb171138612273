// The _bulk request body and the reading of its response: which documents are settled, which go back for
// another try, which are dead letters. Pure functions; the sink does the sending.
import type { Doc } from '../types';
import { ACTION_HEAD, PLAIN_ID } from './encoder';

const ACTION_TAIL = '}}\n';

/**
 * The NDJSON body of `create` operations for docs[which[0]], docs[which[1]], ... (all of docs when `which` is
 * omitted). The index is in the URL, so action lines carry only the _id. Each operation is written straight into
 * one Buffer: cheaper than concatenating the whole batch into a string and encoding that (no big rope to flatten);
 * documents that write their own bytes (Doc.writeOp: plain lines) build no string at all. Written into `scratch`
 * (returned as a view of it) when it is large enough for the estimate and no document outgrows it.
 */
export function bulkBody(docs: readonly Doc[], which?: readonly number[], scratch?: Buffer): Buffer {
  const n = which ? which.length : docs.length;
  let estimate = 0;
  for (let i = 0; i < n; i++) {
    const doc = docs[which ? which[i] : i];
    estimate += doc.opLength ?? doc.source.length + doc.id.length + 24;
  }
  const want = estimate + (estimate >> 4) + 64;
  let buf = scratch !== undefined && scratch.length >= want ? scratch : Buffer.allocUnsafe(want);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const doc = docs[which ? which[i] : i];
    if (doc.writeOp) {
      const bound = doc.opBound!();
      if (buf.length - at < bound) buf = grow(buf, at, bound);
      at = doc.writeOp(buf, at);
      continue;
    }
    const id = PLAIN_ID.test(doc.id) ? '"' + doc.id + '"' : JSON.stringify(doc.id);
    const op = (doc.action ?? ACTION_HEAD) + id + ACTION_TAIL + doc.source + '\n';
    // Non-ASCII text takes up to 3 bytes per UTF-16 unit: grow only when that worst case might not fit.
    if (buf.length - at < op.length * 3) buf = grow(buf, at, op.length * 3);
    at += buf.write(op, at);
  }
  return buf.subarray(0, at);
}

/** A bigger copy of buf[0, at) with room for `need` more bytes. */
function grow(buf: Buffer, at: number, need: number): Buffer<ArrayBuffer> {
  const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + need));
  buf.copy(bigger, 0, 0, at);
  return bigger;
}

/** Only the parts of each item we read; filter_path keeps the response small (no _shards, _seq_no, ...). */
export const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error';

/** An item's error as the engine reports it. */
export interface ItemError {
  type: string;
  reason?: string;
  caused_by?: { type?: string; reason?: string };
}

/** `blocked`: the engine refuses writes to the index for now (a cluster block, a closed index): wait and re-send. */
export type ItemVerdict = 'created' | 'duplicate' | 'retry' | 'blocked' | 'dead-letter';

export interface BulkVerdicts {
  verdicts: ItemVerdict[];
  /** Per position, the error of items that were not created. */
  errors: (ItemError | undefined)[];
  /** Per position, the item's HTTP status. */
  statuses: number[];
}

/** What one item's status means for its document. */
export function itemVerdict(status: number): ItemVerdict {
  if (status >= 200 && status < 300) return 'created';
  // A 409 on create is the engine saying a document with this _id is already stored: our line, delivered before.
  if (status === 409) return 'duplicate';
  if (status === 429 || status >= 500) return 'retry';
  return 'dead-letter';
}

export class BadBulkResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadBulkResponse';
  }
}

/** `errors` is the first member with filter_path (after `took` without): false means every item succeeded. */
const ALL_CREATED = /^\s*\{\s*(?:"took"\s*:\s*\d+\s*,\s*)?"errors"\s*:\s*false\s*[,}]/;

function allCreated(count: number): BulkVerdicts {
  return { verdicts: new Array<ItemVerdict>(count).fill('created'), errors: new Array(count), statuses: new Array<number>(count).fill(201) };
}

interface BulkItem {
  status?: unknown;
  error?: unknown;
}

/**
 * Reads a 2xx _bulk response for `count` operations. The items are only looked at when `errors` is true.
 * Throws BadBulkResponse when the body does not account for every operation (the sender retries the request).
 */
export function readBulkResponse(text: string, count: number): BulkVerdicts {
  // The common answer needs no parsing of thousands of items: everything was created.
  if (ALL_CREATED.test(text)) return allCreated(count);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadBulkResponse(`_bulk response is not JSON: ${text.slice(0, 200)}`);
  }
  if (parsed === null || typeof parsed !== 'object') throw new BadBulkResponse('_bulk response is not an object');
  const reply = parsed as { errors?: unknown; items?: unknown };
  if (reply.errors === false) return allCreated(count);
  if (reply.errors !== true || !Array.isArray(reply.items)) throw new BadBulkResponse('_bulk response has no errors flag or items');
  if (reply.items.length !== count) {
    throw new BadBulkResponse(`_bulk response has ${reply.items.length} items for ${count} operations`);
  }
  const verdicts: ItemVerdict[] = new Array<ItemVerdict>(count);
  const errors: (ItemError | undefined)[] = new Array(count);
  const statuses: number[] = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const wrapper = reply.items[i] as Record<string, BulkItem> | null;
    const item = wrapper && typeof wrapper === 'object' ? (wrapper.create ?? Object.values(wrapper)[0]) : undefined;
    if (!item || typeof item.status !== 'number') throw new BadBulkResponse(`_bulk response item ${i} has no status`);
    statuses[i] = item.status;
    verdicts[i] = itemVerdict(item.status);
    if (verdicts[i] !== 'created') {
      const error = itemError(item.error, item.status);
      errors[i] = error;
      if (isBlock(error)) verdicts[i] = 'blocked';
    }
  }
  return { verdicts, errors, statuses };
}

function itemError(raw: unknown, status: number): ItemError {
  if (raw && typeof raw === 'object') {
    const e = raw as { type?: unknown; reason?: unknown; caused_by?: { type?: unknown; reason?: unknown } };
    const out: ItemError = { type: typeof e.type === 'string' ? e.type : `http_${status}` };
    if (typeof e.reason === 'string') out.reason = e.reason;
    if (e.caused_by && typeof e.caused_by === 'object') {
      out.caused_by = {};
      if (typeof e.caused_by.type === 'string') out.caused_by.type = e.caused_by.type;
      if (typeof e.caused_by.reason === 'string') out.caused_by.reason = e.caused_by.reason;
    }
    return out;
  }
  return { type: `http_${status}`, ...(typeof raw === 'string' ? { reason: raw } : {}) };
}

/**
 * Errors that mean "not now" rather than "never": a cluster block (`cluster_block_exception`: the flood-stage disk
 * watermark's read_only_allow_delete (429), index.blocks.write or read_only (403), a cluster-wide read-only block)
 * or a closed index (`index_closed_exception`, 400). They last until an operator or the engine lifts them, and
 * the documents are fine: wait and re-send, never dead-letter.
 */
const BLOCK_TYPES = new Set(['cluster_block_exception', 'index_closed_exception']);

export function isBlock(error: { type?: string } | undefined): boolean {
  return error !== undefined && BLOCK_TYPES.has(error.type ?? '');
}

/** The block named in a whole-request error body (a cluster-wide block refuses the whole _bulk), if any. */
export function requestBlock(text: string): ItemError | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    const e = parsed.error as ItemError | undefined;
    if (e && typeof e === 'object' && isBlock(e)) return { type: e.type, ...(typeof e.reason === 'string' ? { reason: e.reason } : {}) };
  } catch {
    // not JSON: not a block
  }
  return undefined;
}

export type RequestVerdict = 'ok' | 'split' | 'auth' | 'retry';

/** What a whole-request HTTP status means: 2xx read the items, 413 halve the batch, everything else retry. */
export function requestVerdict(status: number): RequestVerdict {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 413) return 'split';
  if (status === 401 || status === 403) return 'auth';
  return 'retry';
}

/** Exponential backoff with equal jitter: half the step is fixed, half random, capped at maxMs. */
export function backoffMs(attempt: number, backoff: { initialMs: number; maxMs: number }, random: () => number = Math.random): number {
  const step = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}
