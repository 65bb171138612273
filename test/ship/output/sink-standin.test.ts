// The sink against a stand-in that answers like Elasticsearch 8 (es-standin.ts): the Elasticsearch flavor through
// the official client's product check, and the faults a healthy real engine will not produce on demand.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, existsSync } from 'node:fs';
import { bulkBody } from '../../../src/ship/output/bulk';
import { Arena, makeBytesEncoder } from '../../../src/ship/output/encoder';
import { detectEngine } from '../../../src/ship/output/flavor';
import { setup } from '../../../src/ship/output/setup';
import { createSink, SinkStopped, type Sink } from '../../../src/ship/output/sink';
import { startEsStandin, type EsStandin } from './es-standin';
import { makeDocs, metricValue, sinkOptions } from './helpers';

let es: EsStandin;
const sinks: Sink[] = [];
async function sinkFor(opts: ReturnType<typeof sinkOptions>): Promise<Sink> {
  const s = await createSink(opts);
  sinks.push(s);
  return s;
}

beforeEach(async () => {
  es = await startEsStandin();
});
afterEach(async () => {
  for (const s of sinks.splice(0)) {
    s.stop();
    await s.close();
  }
  await es.close();
});

describe('Elasticsearch flavor through the official client', () => {
  it('detects Elasticsearch 8 from GET / and passes the client product check', async () => {
    const info = await detectEngine({ urls: [es.url], requestTimeoutMs: 5000 });
    expect(info).toEqual({ flavor: 'elasticsearch', version: '8.19.0', clusterName: 'standin' });
    const root = es.requests.filter((r) => r.path === '/');
    // The second GET / is the official client's own: vendored compatible-with=8 media type, product check on.
    expect(root.map((r) => String(r.headers.accept))).toContainEqual(expect.stringContaining('compatible-with=8'));
  });

  it('refuses, with a message naming the fix, a server that claims to be Elasticsearch without x-elastic-product', async () => {
    const fake = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ cluster_name: 'x', version: { number: '8.19.0', build_flavor: 'default' }, tagline: 'You Know, for Search' }));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      await expect(detectEngine({ urls: [url], requestTimeoutMs: 5000 }, 'elasticsearch')).rejects.toThrow(/not Elasticsearch.*flavor opensearch/);
    } finally {
      await new Promise<void>((r) => fake.close(() => r()));
    }
  });

  it('setup() creates the ILM policy, index template and data stream, and a second run reports them existing', async () => {
    const opts = sinkOptions([es.url], { index: 'logs-sidekick-es' });
    const first = await setup({ ...opts, policy: { rolloverMaxSize: '10gb', deleteAfter: '7d' } });
    expect(first).toEqual([
      'engine: elasticsearch 8.19.0',
      'ILM policy logs-sidekick-es-policy: created or updated (rollover at 10gb, delete after 7d)',
      'index template logs-sidekick-es-template: created or updated',
      'data stream logs-sidekick-es: created',
    ]);
    const second = await setup(opts);
    expect(second[3]).toBe('data stream logs-sidekick-es: already exists');
    const tpl = es.requests.find((r) => r.path.startsWith('/_index_template/'));
    expect(tpl?.method).toBe('PUT');
    // Documents then go to the data stream's backing index.
    const sink = await sinkFor({ ...opts, log: opts.log });
    const docs = makeDocs(3);
    expect(await sink.send(docs)).toEqual(['created', 'created', 'created']);
    expect(es.docs.get('logs-sidekick-es')?.size).toBe(3);
  });
});

describe('send()', () => {
  it('stores every document under its _id with one gzip-compressed _bulk request to /<index>/_bulk', async () => {
    const opts = sinkOptions([es.url]);
    const sink = await sinkFor(opts);
    const docs = makeDocs(50);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
    const stored = es.docs.get('logs-sidekick-test');
    expect(stored?.size).toBe(50);
    for (const d of docs) expect(stored?.get(d.id)).toEqual(JSON.parse(d.source));
    const bulks = es.requests.filter((r) => r.path.includes('_bulk'));
    expect(bulks).toHaveLength(1);
    expect(bulks[0].path).toMatch(/^\/logs-sidekick-test\/_bulk\?filter_path=/);
    expect(bulks[0].headers['content-encoding']).toBe('gzip');
    expect(await metricValue(opts.registry, 'sidekick_ship_documents_acked_total')).toBe(50);
    expect(await metricValue(opts.registry, 'sidekick_ship_bytes_sent_total')).toBeGreaterThan(0);
  });

  it('sends plain NDJSON when compression is none', async () => {
    const sink = await sinkFor(sinkOptions([es.url], { compression: 'none' }));
    await sink.send(makeDocs(2));
    expect(es.requests.find((r) => r.path.includes('_bulk'))?.headers['content-encoding']).toBeUndefined();
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(2);
  });

  it('counts a replay of the same lines as duplicates, delivered, and stores nothing twice', async () => {
    const opts = sinkOptions([es.url]);
    const sink = await sinkFor(opts);
    const docs = makeDocs(20);
    await sink.send(docs);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'duplicate'));
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(20);
    expect(await metricValue(opts.registry, 'sidekick_ship_documents_duplicate_total')).toBe(20);
  });

  it('writes a mapping conflict to the dead-letter file before resolving, and stores the others', async () => {
    const opts = sinkOptions([es.url]);
    const sink = await sinkFor(opts);
    await sink.send(makeDocs(1, { fields: { status: 200 } }));
    const docs = [...makeDocs(2, { key: 'ok', fields: { status: 201 } }), ...makeDocs(1, { key: 'bad', fields: { status: 'not a number' }, text: () => 'the bad line' })];
    expect(await sink.send(docs)).toEqual(['created', 'created', 'dead-letter']);
    const lines = readFileSync(opts.deadLetterFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      index: 'logs-sidekick-test',
      _id: docs[2].id,
      path: '/var/log/test.log',
      offset: 0,
      message: 'the bad line',
      status: 400,
      error: { type: 'document_parsing_exception', reason: expect.stringContaining('failed to parse field [status] of type [long]') },
    });
    expect(Date.parse(lines[0].time as string)).not.toBeNaN();
    expect(es.docs.get('logs-sidekick-test')?.has(docs[0].id)).toBe(true);
    expect(es.docs.get('logs-sidekick-test')?.has(docs[2].id)).toBe(false);
    expect(await metricValue(opts.registry, 'sidekick_ship_dead_letters_total')).toBe(1);
  });

  it('re-sends only the items answered 429, until every one is stored exactly once', async () => {
    const opts = sinkOptions([es.url]);
    const sink = await sinkFor(opts);
    const docs = makeDocs(30);
    const rejections = new Map<string, number>();
    // Every third document is refused twice before it is taken.
    es.rejectItem = (id) => {
      const i = docs.findIndex((d) => d.id === id);
      const n = rejections.get(id) ?? 0;
      if (i % 3 === 0 && n < 2) {
        rejections.set(id, n + 1);
        return true;
      }
      return false;
    };
    expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(30);
    const bulks = es.requests.filter((r) => r.path.includes('_bulk'));
    expect(bulks.map((b) => b.ids.length)).toEqual([30, 10, 10]);
    expect(bulks[1].ids).toEqual(docs.filter((_d, i) => i % 3 === 0).map((d) => d.id));
    expect(await metricValue(opts.registry, 'sidekick_ship_retries_total', { reason: 'item' })).toBe(20);
  });

  it('retries whole-request failures (429, 503, dropped connections) until the engine answers, losing nothing', async () => {
    const opts = sinkOptions([es.url]);
    const sink = await sinkFor(opts);
    es.failNext({ status: 429 }, { status: 503 }, 'drop', { status: 502 }, 'drop', { status: 504 }, { status: 500 });
    const docs = makeDocs(10);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(10);
    // The 503 is Elasticsearch's "no master" cluster block: a wait for the cluster, counted as such.
    expect(await metricValue(opts.registry, 'sidekick_ship_retries_total', { reason: 'request' })).toBe(6);
    expect(await metricValue(opts.registry, 'sidekick_ship_retries_total', { reason: 'blocked' })).toBe(1);
    expect(sink.health()).toMatchObject({ ok: true, unreachableForMs: 0 });
    expect(opts.log.text()).toContain('engine answering again');
  });

  it('gives up on a request that gets no answer within requestTimeoutMs and sends it again', async () => {
    const opts = sinkOptions([es.url], { requestTimeoutMs: 300 });
    const sink = await sinkFor(opts);
    es.failNext('hang');
    const docs = makeDocs(4);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
    expect(es.requests.filter((r) => r.path.includes('_bulk'))).toHaveLength(2);
    expect(opts.log.text()).toMatch(/_bulk request failed, will retry: .*(timeout|Timeout)/);
  });

  it('splits a batch in half on 413 until the parts fit, and dead-letters a document that never fits', async () => {
    await es.close();
    es = await startEsStandin({ maxContentLength: 1500 });
    const opts = sinkOptions([es.url], { compression: 'none' });
    const sink = await sinkFor(opts);
    const docs = [...makeDocs(8, { key: 'small' }), ...makeDocs(1, { key: 'huge', text: () => 'x'.repeat(3000) })];
    const outcomes = await sink.send(docs);
    expect(outcomes).toEqual([...docs.slice(0, 8).map(() => 'created'), 'dead-letter']);
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(8);
    const dl = JSON.parse(readFileSync(opts.deadLetterFile, 'utf8').trim()) as { status: number; error: { type: string } };
    expect(dl).toMatchObject({ status: 413, error: { type: 'request_too_large' } });
  });

  it('sends a batch written as bytes with its arena as the first body; on 413 the halves are built from the same documents, and a dead letter keeps its line', async () => {
    await es.close();
    es = await startEsStandin({ maxContentLength: 1500 });
    // Uncompressed: the limit is on the body as sent, and a body handed to the socket is the one kept for reuse.
    const opts = sinkOptions([es.url], { compression: 'none' });
    const sink = await sinkFor(opts);
    const arena = new Arena(256);
    const encode = makeBytesEncoder({ hostName: 'test-host', agentVersion: '0.0.0-test' });
    const texts = [...Array.from({ length: 8 }, (_v, i) => `line ${i} "quoted" é`), 'x'.repeat(3000)];
    let offset = 0;
    const docs = texts.map((t) => {
      const read = Buffer.from(t);
      const doc = encode(arena, { key: 'arena', dev: 1, ino: 2 }, '/var/log/arena.log', offset, offset + read.length + 1, read, 0, read.length, false);
      offset += read.length + 1;
      return doc;
    });
    const body = Buffer.from(arena.body); // what the pipeline hands over: the arena's bytes
    const outcomes = await sink.send(docs, arena.body);
    expect(outcomes).toEqual([...texts.slice(0, 8).map(() => 'created'), 'dead-letter']);
    const bulks = es.requests.filter((r) => r.path.includes('_bulk'));
    // The whole batch (5 KB) was refused; what was stored came in halves built by the sink, each within the limit.
    expect(body.length).toBeGreaterThan(1500);
    expect(bulks.length).toBeGreaterThanOrEqual(2);
    for (const r of bulks) expect(r.bodyBytes).toBeLessThanOrEqual(1500);
    expect([...es.docs.get('logs-sidekick-test')!.values()].map((d) => d.message).sort()).toEqual(texts.slice(0, 8).sort());
    // The arena is not the sink's to keep: it was never written into.
    expect(arena.body.equals(body)).toBe(true);
    const dl = JSON.parse(readFileSync(opts.deadLetterFile, 'utf8').trim()) as { status: number; message: string; offset: number };
    expect(dl).toMatchObject({ status: 413, message: texts[8], offset: offset - 3001 });
  });

  it('without compression, reuses a body only once it is written: an early 413 while the socket still sends it leaves it whole', async () => {
    // A server that answers 413 to the first _bulk request at once, then reads that body only after a pause: the
    // client is still writing it (far more than loopback's socket buffers hold) when the split halves are built. A
    // body buffer reused on the answer, rather than once written, would send the halves' bytes in its place.
    const bodies: Buffer[] = [];
    let firstRead: () => void = () => undefined;
    const firstDone = new Promise<void>((r) => (firstRead = r));
    const server = http.createServer((req, res) => {
      if (!req.url?.includes('_bulk')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ cluster_name: 'x', version: { number: '2.19.0', distribution: 'opensearch' } }));
        return;
      }
      const first = bodies.length === 0;
      const at = bodies.push(Buffer.alloc(0)) - 1;
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        // The answer goes with the body's first bytes (node:http discards a body nobody has started to read).
        if (first && parts.length === 0) {
          req.pause();
          res.writeHead(413, { 'content-length': 0 });
          res.end();
          setTimeout(() => req.resume(), 300);
        }
        parts.push(c);
      });
      req.on('end', () => {
        bodies[at] = Buffer.concat(parts);
        if (first) return firstRead();
        const items = bodies[at].toString('utf8').trim().split('\n').length / 2;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: false, items: Array.from({ length: items }, () => ({ create: { status: 201 } })) }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sink = await sinkFor(sinkOptions([`http://127.0.0.1:${(server.address() as AddressInfo).port}`], { compression: 'none' }));
      const docs = makeDocs(60_000, { text: (i) => `line ${i} ` + 'x'.repeat(300) });
      const whole = Buffer.from(bulkBody(docs));
      expect(whole.length).toBeGreaterThan(24 * 1024 * 1024);
      expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
      await firstDone;
      expect(bodies.length).toBe(3);
      expect(bodies[0].equals(whole)).toBe(true);
      expect(Buffer.concat(bodies.slice(1)).equals(whole)).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 30_000);

  it('fails over to the next URL when one is down', async () => {
    const down = http.createServer();
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    await new Promise<void>((r) => down.close(() => r()));
    const sink = await sinkFor(sinkOptions([deadUrl, es.url]));
    for (let i = 0; i < 4; i++) expect(await sink.send(makeDocs(5, { key: `f${i}` }))).toEqual(['created', 'created', 'created', 'created', 'created']);
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(20);
  });
});

describe('authentication', () => {
  beforeEach(async () => {
    await es.close();
    es = await startEsStandin({ users: { shipper: 's3cret-pw' }, apiKeys: [Buffer.from('key-id:key-secret').toString('base64')] });
  });

  it('sends basic auth and API key credentials the engine accepts', async () => {
    const basic = await sinkFor(sinkOptions([es.url], { auth: { username: 'shipper', password: 's3cret-pw' } }));
    expect(await basic.send(makeDocs(2, { key: 'b' }))).toEqual(['created', 'created']);
    const apiKey = await sinkFor(sinkOptions([es.url], { auth: { apiKey: 'key-id:key-secret' } }));
    expect(await apiKey.send(makeDocs(2, { key: 'a' }))).toEqual(['created', 'created']);
    const userInUrl = await sinkFor(sinkOptions([es.url.replace('http://', 'http://shipper:s3cret-pw@')]));
    expect(await userInUrl.send(makeDocs(2, { key: 'u' }))).toEqual(['created', 'created']);
    expect(es.docs.get('logs-sidekick-test')?.size).toBe(6);
  });

  it('on 401 logs a clear error without the secret, keeps retrying, and stop() ends the wait with SinkStopped', async () => {
    const opts = sinkOptions([es.url], { auth: { username: 'shipper', password: 'wrong-pw' } });
    const sink = await sinkFor(opts);
    const sending = sink.send(makeDocs(3));
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.health()).toMatchObject({ ok: false, lastError: expect.stringContaining('refused the credentials (HTTP 401)') });
    expect(sink.health().unreachableForMs).toBeGreaterThan(0);
    const errors = opts.log.lines().filter((l) => l.level === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(String(errors[0].msg)).toMatch(/HTTP 401.*check the configured user\/API key/);
    expect(opts.log.text()).not.toContain('wrong-pw');
    expect(opts.log.text()).not.toContain(Buffer.from('shipper:wrong-pw').toString('base64'));
    sink.stop();
    await expect(sending).rejects.toBeInstanceOf(SinkStopped);
    expect(es.docs.get('logs-sidekick-test')).toBeUndefined();
  });
});

describe('engine unreachable', () => {
  it('never rejects while the engine is down, reports how long, and delivers once it is back', async () => {
    const port = Number(new URL(es.url).port);
    await es.close();
    const opts = sinkOptions([`http://127.0.0.1:${port}`]);
    const sink = await sinkFor(opts);
    const docs = makeDocs(5);
    let settled = false;
    const sending = sink.send(docs).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 400));
    expect(settled).toBe(false);
    expect(sink.health().ok).toBe(false);
    expect(sink.health().unreachableForMs).toBeGreaterThanOrEqual(200);
    expect(sink.health().lastError).toMatch(/ECONNREFUSED/);
    es = await startEsStandin({ port });
    await expect(sending).resolves.toEqual(docs.map(() => 'created'));
  });

  it('does not create the dead-letter file when nothing was refused', async () => {
    const opts = sinkOptions([es.url]);
    const sink = await sinkFor(opts);
    await sink.send(makeDocs(3));
    expect(existsSync(opts.deadLetterFile)).toBe(false);
  });
});
