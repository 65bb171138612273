/**
 * The real search engine of the test run (embedded OpenSearch 2.19.6, or SIDEKICK_TEST_ES_URL) and
 * the fault proxy in front of it.
 */
import zlib from 'node:zlib';
import { Client } from '@elastic/elasticsearch';
import {
  countDocs,
  deleteDataStreamOrIndex,
  describeWithEngine,
  esRequest,
  getById,
  uniqueName,
  useEngine,
} from './support/engine';
import { parseBulk, startFaultProxy, type FaultProxy } from './support/fault-proxy';

interface BulkItemResult {
  _index: string;
  _id: string | null;
  status: number;
  error?: { type: string; reason: string };
}
type BulkItem = Record<string, BulkItemResult>;
interface BulkResponse {
  errors: boolean;
  items: BulkItem[];
}

/** The one value of a bulk response item ({create: {...}} -> {...}). */
function result(item: BulkItem | undefined): BulkItemResult {
  const values = Object.values(item ?? {});
  if (values.length !== 1 || values[0] === undefined) throw new Error(`not a bulk item: ${JSON.stringify(item)}`);
  return values[0];
}

const TEMPLATE = 'sidekick-enginetest';
const PATTERN = 'logs-enginetest-*';

function createOps(stream: string, ids: string[]): unknown[] {
  return ids.flatMap((id, i) => [
    { create: { _index: stream, _id: id } },
    { '@timestamp': new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(), message: `line ${id}`, seq: i },
  ]);
}

describe('bulk NDJSON parsing (no engine needed)', () => {
  it('pairs action and source lines, and knows delete has no source', () => {
    const body =
      '{"create":{"_index":"a","_id":"1"}}\n{"x":1}\n{"delete":{"_id":"2"}}\n{"index":{"_id":3}}\n{"y":2}\n';
    const items = parseBulk(body, 'dflt');
    expect(items.map((i) => [i.action, i.index, i.id, i.lines.length])).toEqual([
      ['create', 'a', '1', 2],
      ['delete', 'dflt', '2', 1],
      ['index', 'dflt', '3', 2],
    ]);
  });
});

describeWithEngine('search engine', () => {
  const engine = useEngine();

  beforeAll(async () => {
    const res = await esRequest('PUT', `/_index_template/${TEMPLATE}`, {
      index_patterns: [PATTERN],
      data_stream: {},
      priority: 500,
      template: {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: { properties: { message: { type: 'text' }, seq: { type: 'integer' } } },
      },
    });
    expect(res.status).toBe(200);
  });

  afterAll(async () => {
    await deleteDataStreamOrIndex(PATTERN);
    await esRequest('DELETE', `/_index_template/${TEMPLATE}`);
  });

  it('answers cluster health (yellow or green)', async () => {
    const res = await esRequest<{ status: string; number_of_nodes: number }>(
      'GET',
      '/_cluster/health?wait_for_status=yellow&timeout=10s',
    );
    expect(res.status).toBe(200);
    expect(['yellow', 'green']).toContain(res.body.status);
    expect(engine.url).toMatch(/^https?:\/\//);
  });

  it('creates into a data stream and answers 409 per item for a second create with the same _id', async () => {
    const stream = uniqueName('logs-enginetest-ds');
    const first = await esRequest<BulkResponse>('POST', '/_bulk', createOps(stream, ['a1', 'a2']));
    expect(first.status).toBe(200);
    expect(first.body.errors).toBe(false);
    expect(first.body.items.map((i) => result(i).status)).toEqual([201, 201]);
    expect(result(first.body.items[0])._index).toMatch(/^\.ds-logs-enginetest-ds-/);

    const ds = await esRequest<{ data_streams: { name: string; template: string }[] }>('GET', `/_data_stream/${stream}`);
    expect(ds.status).toBe(200);
    expect(ds.body.data_streams[0]).toMatchObject({ name: stream, template: TEMPLATE });

    const again = await esRequest<BulkResponse>('POST', '/_bulk', createOps(stream, ['a2', 'a3']));
    expect(again.status).toBe(200);
    expect(again.body.errors).toBe(true);
    const [dup, fresh] = again.body.items.map(result);
    expect(dup).toMatchObject({ _id: 'a2', status: 409, error: { type: 'version_conflict_engine_exception' } });
    expect(fresh).toMatchObject({ _id: 'a3', status: 201 });

    expect(await countDocs(stream)).toBe(3);
    const doc = await getById<{ message: string }>(stream, 'a2');
    expect(doc?._source.message).toBe('line a2');
    expect(await getById(stream, 'nope')).toBeUndefined();

    await deleteDataStreamOrIndex(stream);
    expect((await esRequest('GET', `/_data_stream/${stream}`)).status).toBe(404);
    expect(await countDocs(stream)).toBe(0);
  });

  it('has ingest pipelines with painless scripts', async () => {
    const pipeline = uniqueName('enginetest-pipe');
    const put = await esRequest('PUT', `/_ingest/pipeline/${pipeline}`, {
      processors: [{ set: { field: 'tagged', value: true } }, { script: { source: 'ctx.len = ctx.message.length()' } }],
    });
    expect(put.status).toBe(200);
    const index = uniqueName('enginetest-idx');
    const res = await esRequest('PUT', `/${index}/_doc/1?pipeline=${pipeline}&refresh=true`, { message: 'hello' });
    expect(res.status).toBe(201);
    expect((await getById(index, '1'))?._source).toEqual({ message: 'hello', tagged: true, len: 5 });
    await deleteDataStreamOrIndex(index);
    await esRequest('DELETE', `/_ingest/pipeline/${pipeline}`);
  });

  describe('fault proxy', () => {
    let proxy: FaultProxy;

    beforeEach(async () => {
      proxy = await startFaultProxy({ target: engine.url, mode: 'every' });
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('passes requests through untouched by default', async () => {
      const res = await esRequest<{ version: { number: string } }>('GET', '/', undefined, { baseUrl: proxy.url });
      expect(res.status).toBe(200);
      expect(typeof res.body.version.number).toBe('string');
      expect(proxy.counters).toMatchObject({ requests: 1, forwarded: 1, status429: 0 });
    });

    it('answers 429 with an Elasticsearch error body for the configured share', async () => {
      proxy.set({ status429: 0.5 });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await esRequest<{ status: number; error: { type: string } }>('GET', '/_cluster/health', undefined, {
          baseUrl: proxy.url,
        });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.body).toMatchObject({ status: 429, error: { type: 'es_rejected_execution_exception' } });
          expect(res.headers.get('content-type')).toMatch(/application\/json/);
        }
      }
      expect(statuses).toEqual([200, 429, 200, 429, 200, 429]);
      expect(proxy.counters).toMatchObject({ requests: 6, forwarded: 3, status429: 3 });

      proxy.set({ status429: 0, status503: 1 });
      const unavailable = await esRequest('GET', '/', undefined, { baseUrl: proxy.url });
      expect(unavailable.status).toBe(503);
      expect(proxy.counters.status503).toBe(1);
    });

    it('random mode is reproducible for a seed', async () => {
      const run = async (): Promise<number[]> => {
        proxy.set({ mode: 'random', seed: 42, status429: 0.3 });
        const out: number[] = [];
        for (let i = 0; i < 12; i++) out.push((await esRequest('GET', '/', undefined, { baseUrl: proxy.url })).status);
        return out;
      };
      const a = await run();
      const b = await run();
      expect(a).toEqual(b);
      expect(a).toContain(429);
      expect(a).toContain(200);
    });

    it.each([false, true])(
      'rejects a share of bulk items with 429, keeps order, stores the rest (gzip: %s)',
      async (gzip) => {
        const stream = uniqueName('logs-enginetest-proxy');
        const ids = Array.from({ length: 10 }, (_, i) => `doc-${i}`);
        proxy.set({ rejectBulkItems: 0.3 });
        const ndjson = createOps(stream, ids).map((l) => JSON.stringify(l)).join('\n') + '\n';
        const body = gzip ? zlib.gzipSync(Buffer.from(ndjson)) : ndjson;
        const res = await fetch(`${proxy.url}/_bulk`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
          body,
        });
        expect(res.status).toBe(200);
        const parsed = (await res.json()) as BulkResponse;
        expect(parsed.errors).toBe(true);
        const results = parsed.items.map(result);
        expect(results.map((r) => r._id)).toEqual(ids);
        // 'every' mode with share 0.3: items 4, 7 and 10 (1-based) are rejected.
        const rejectedIds = ['doc-3', 'doc-6', 'doc-9'];
        for (const r of results) {
          if (rejectedIds.includes(r._id ?? '')) {
            expect(r).toMatchObject({ _index: stream, status: 429, error: { type: 'es_rejected_execution_exception' } });
          } else {
            expect(r.status).toBe(201);
            expect(r._index).toMatch(/^\.ds-logs-enginetest-proxy-/);
          }
        }
        expect(parsed.items.every((it) => Object.keys(it)[0] === 'create')).toBe(true);
        expect(proxy.counters).toMatchObject({ bulkRequests: 1, itemsRejected: 3, itemsForwarded: 7, forwarded: 1 });

        expect(await countDocs(stream)).toBe(7);
        for (const id of ids) {
          const doc = await getById<{ message: string }>(stream, id);
          if (rejectedIds.includes(id)) expect(doc).toBeUndefined();
          else expect(doc?._source.message).toBe(`line ${id}`);
        }

        // A retry of only the rejected items through a clean proxy completes the set.
        proxy.set({ rejectBulkItems: 0 });
        const retry = await esRequest<BulkResponse>('POST', '/_bulk', createOps(stream, rejectedIds), { baseUrl: proxy.url });
        expect(retry.body.errors).toBe(false);
        expect(await countDocs(stream)).toBe(10);
        await deleteDataStreamOrIndex(stream);
      },
    );

    it('rejects every item without bothering the engine when the share is 1', async () => {
      proxy.set({ rejectBulkItems: 1 });
      const stream = uniqueName('logs-enginetest-all');
      const res = await esRequest<BulkResponse>('POST', `/${stream}/_bulk`, [
        { create: { _id: 'x' } },
        { '@timestamp': '2024-01-01T00:00:00Z' },
        { create: {} },
        { '@timestamp': '2024-01-01T00:00:00Z' },
      ], { baseUrl: proxy.url });
      expect(res.status).toBe(200);
      expect(res.body.items.map(result)).toMatchObject([
        { _index: stream, _id: 'x', status: 429 },
        { _index: stream, _id: null, status: 429 },
      ]);
      expect(proxy.counters).toMatchObject({ forwarded: 0, itemsRejected: 2 });
      expect(await countDocs(stream)).toBe(0);
    });

    it('drops connections for a share of requests', async () => {
      proxy.set({ drop: 0.5 });
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) {
        try {
          const res = await fetch(`${proxy.url}/`, { headers: { connection: 'close' } });
          await res.text();
          outcomes.push(String(res.status));
        } catch {
          outcomes.push('dropped');
        }
      }
      expect(outcomes).toEqual(['200', 'dropped', '200', 'dropped']);
      expect(proxy.counters.dropped).toBe(2);
    });

    it('elasticCompat lets @elastic/elasticsearch 8 bulk into OpenSearch through the proxy', async () => {
      proxy.set({ elasticCompat: true });
      const client = new Client({ node: proxy.url });
      const stream = uniqueName('logs-enginetest-client');
      try {
        const info = await client.info();
        expect(info.version.number).toMatch(/^\d+\./);
        const res = await client.bulk({
          operations: [{ create: { _index: stream, _id: 'c1' } }, { '@timestamp': '2024-01-01T00:00:00Z', message: 'from the client' }],
          refresh: true,
        });
        expect(res.errors).toBe(false);
        expect((await getById<{ message: string }>(stream, 'c1'))?._source.message).toBe('from the client');
      } finally {
        await client.close();
        await deleteDataStreamOrIndex(stream);
      }
    });

    it('can drop the answer after the engine did the work, and delays responses', async () => {
      const stream = uniqueName('logs-enginetest-after');
      proxy.set({ drop: 1, dropPhase: 'after', only: /_bulk$/ });
      await expect(
        fetch(`${proxy.url}/_bulk`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: createOps(stream, ['z1']).map((l) => JSON.stringify(l)).join('\n') + '\n',
        }),
      ).rejects.toThrow();
      expect(await countDocs(stream)).toBe(1);

      proxy.set({ drop: 0, delayMs: 300, only: undefined });
      const t0 = Date.now();
      const res = await esRequest('GET', '/', undefined, { baseUrl: proxy.url });
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
      expect(proxy.counters.delayed).toBe(1);
      await deleteDataStreamOrIndex(stream);
    });
  });
});
