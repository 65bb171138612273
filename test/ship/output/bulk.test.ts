// The _bulk body and the reading of the engine's answer: which documents are settled, retried or dead letters.
import { BadBulkResponse, backoffMs, bulkBody, itemVerdict, readBulkResponse, requestVerdict } from '../../../src/ship/output/bulk';
import { makeEncoder } from '../../../src/ship/output/encoder';
import type { Doc } from '../../../src/ship/types';

const encode = makeEncoder({ hostName: 'h', agentVersion: '1' });
function docs(n: number): Doc[] {
  return Array.from({ length: n }, (_v, i) =>
    encode({ file: { key: 'k', dev: 1, ino: 1 }, path: '/p.log', offset: i * 10, next: i * 10 + 10, text: `line ${i}`, truncated: false }),
  );
}

describe('bulkBody', () => {
  it('is NDJSON of create actions with the _id, each followed by the source, ending with a newline', () => {
    const d = docs(3);
    const body = bulkBody(d).toString();
    expect(body.endsWith('\n')).toBe(true);
    const lines = body.slice(0, -1).split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { create: { _id: d[0].id } }, JSON.parse(d[0].source),
      { create: { _id: d[1].id } }, JSON.parse(d[1].source),
      { create: { _id: d[2].id } }, JSON.parse(d[2].source),
    ]);
  });

  it('carries only the chosen documents, in the given order', () => {
    const d = docs(5);
    const ids = bulkBody(d, [3, 1]).toString().split('\n').filter((_l, i) => i % 2 === 0 && _l).map((l) => (JSON.parse(l) as { create: { _id: string } }).create._id);
    expect(ids).toEqual([d[3].id, d[1].id]);
  });

  it('escapes an _id that is not plain', () => {
    const d = docs(1);
    d[0] = { id: 'we"ird\\id', source: d[0].source, line: d[0].line };
    expect((JSON.parse(bulkBody(d).toString().split('\n')[0]) as { create: { _id: string } }).create._id).toBe('we"ird\\id');
  });

  it('is written into a scratch buffer large enough for it, with the same bytes; a smaller one is left alone', () => {
    const d = docs(50);
    const expected = bulkBody(d);
    const scratch = Buffer.alloc(expected.length * 2, 0x61);
    const body = bulkBody(d, undefined, scratch);
    expect(body.buffer).toBe(scratch.buffer);
    expect(body.equals(expected)).toBe(true);
    const small = Buffer.alloc(16, 0x61);
    const other = bulkBody(d, [3, 1], small);
    expect(other.buffer).not.toBe(small.buffer);
    expect(other.equals(bulkBody(d, [3, 1]))).toBe(true);
    expect(small.equals(Buffer.alloc(16, 0x61))).toBe(true);
  });
});

describe('readBulkResponse', () => {
  it('settles everything as created when errors is false, without needing items', () => {
    expect(readBulkResponse('{"errors":false}', 3).verdicts).toEqual(['created', 'created', 'created']);
  });

  it('reads each item in request order: 201 created, 409 duplicate, 429/5xx retry, other 4xx dead letter', () => {
    const items = [
      { create: { _index: 'x', _id: 'a', status: 201 } },
      { create: { _index: 'x', _id: 'b', status: 409, error: { type: 'version_conflict_engine_exception', reason: '[b]: version conflict, document already exists (current version [1])' } } },
      { create: { _index: 'x', _id: 'c', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected' } } },
      { create: { _index: 'x', _id: 'd', status: 400, error: { type: 'document_parsing_exception', reason: 'failed to parse field [n] of type [long]', caused_by: { type: 'illegal_argument_exception', reason: 'For input string' } } } },
      { create: { _index: 'x', _id: 'e', status: 503, error: { type: 'unavailable_shards_exception', reason: 'primary shard is not active' } } },
      { create: { _index: 'x', _id: 'f', status: 400, error: { type: 'mapper_parsing_exception', reason: 'object mapping' } } },
    ];
    const r = readBulkResponse(JSON.stringify({ took: 3, errors: true, items }), items.length);
    expect(r.verdicts).toEqual(['created', 'duplicate', 'retry', 'dead-letter', 'retry', 'dead-letter']);
    expect(r.statuses).toEqual([201, 409, 429, 400, 503, 400]);
    expect(r.errors[3]).toEqual({ type: 'document_parsing_exception', reason: 'failed to parse field [n] of type [long]', caused_by: { type: 'illegal_argument_exception', reason: 'For input string' } });
    expect(r.errors[0]).toBeUndefined();
  });

  it('reads filter_path-trimmed items (status and error only)', () => {
    const r = readBulkResponse('{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":404,"error":{"type":"index_not_found_exception","reason":"no such index"}}}]}', 2);
    expect(r.verdicts).toEqual(['created', 'dead-letter']);
    expect(r.errors[1]?.type).toBe('index_not_found_exception');
  });

  it('refuses an answer that does not account for every document, so the request is retried', () => {
    expect(() => readBulkResponse('{"errors":true,"items":[{"create":{"status":201}}]}', 2)).toThrow(BadBulkResponse);
    expect(() => readBulkResponse('<html>bad gateway</html>', 2)).toThrow(BadBulkResponse);
    expect(() => readBulkResponse('{"took":1}', 2)).toThrow(BadBulkResponse);
    expect(() => readBulkResponse('{"errors":true,"items":[{"create":{}}]}', 1)).toThrow(/item 0 has no status/);
  });
});

describe('verdicts', () => {
  it('classifies item statuses', () => {
    expect([200, 201, 409, 429, 500, 502, 400, 404, 413].map(itemVerdict)).toEqual(['created', 'created', 'duplicate', 'retry', 'retry', 'retry', 'dead-letter', 'dead-letter', 'dead-letter']);
  });

  it('classifies whole-request statuses: 413 split, 401/403 auth, the rest retried', () => {
    expect([200, 413, 401, 403, 429, 500, 502, 503, 504, 404, 400].map(requestVerdict)).toEqual(['ok', 'split', 'auth', 'auth', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry']);
  });
});

describe('backoffMs', () => {
  const b = { initialMs: 100, maxMs: 5000 };
  it('doubles per attempt between half and all of the step', () => {
    expect(backoffMs(0, b, () => 0)).toBe(50);
    expect(backoffMs(0, b, () => 1)).toBe(100);
    expect(backoffMs(3, b, () => 0)).toBe(400);
    expect(backoffMs(3, b, () => 1)).toBe(800);
  });
  it('is capped at maxMs, even after very many attempts', () => {
    expect(backoffMs(10, b, () => 1)).toBe(5000);
    expect(backoffMs(5000, b, () => 0.5)).toBe(3750);
  });
});
