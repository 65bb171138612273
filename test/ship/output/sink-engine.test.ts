// The sink and setup against the real engine (embedded OpenSearch from jest's globalSetup), with the fault proxy
// in front of it for 429s, 503s and dropped connections: every document stored exactly once, by _id.
import { readFileSync } from 'node:fs';
import { detectEngine } from '../../../src/ship/output/flavor';
import { setup } from '../../../src/ship/output/setup';
import { loadLibdeflate } from '../../../src/ship/output/libdeflate';
import { createSink, type Sink } from '../../../src/ship/output/sink';
import { countDocs, deleteDataStreamOrIndex, describeWithEngine, getById, uniqueName, useEngine } from '../../support/engine';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy';
import { makeDocs, metricValue, sinkOptions } from './helpers';

describeWithEngine('sink and setup against the real engine', () => {
  const engine = useEngine();
  const sinks: Sink[] = [];
  const proxies: FaultProxy[] = [];
  const streams: string[] = [];

  async function freshStream(): Promise<string> {
    const index = uniqueName('logs-sidekick-out');
    streams.push(index);
    await setup({ ...sinkOptions([engine.url], { index }) });
    return index;
  }
  async function sinkFor(opts: ReturnType<typeof sinkOptions>): Promise<Sink> {
    const s = await createSink(opts);
    sinks.push(s);
    return s;
  }
  async function proxy(settings: Parameters<typeof startFaultProxy>[0]): Promise<FaultProxy> {
    const p = await startFaultProxy(settings);
    proxies.push(p);
    return p;
  }

  afterEach(async () => {
    for (const s of sinks.splice(0)) {
      s.stop();
      await s.close();
    }
    for (const p of proxies.splice(0)) await p.close();
  });
  afterAll(async () => {
    for (const s of streams) await deleteDataStreamOrIndex(s);
  });

  it('detects OpenSearch from GET /', async () => {
    const info = await detectEngine({ urls: [engine.url], requestTimeoutMs: 10000 });
    expect(info.flavor).toBe('opensearch');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('setup() creates the template and data stream (and the ISM policy where the plugin exists); a second run is fine', async () => {
    const index = uniqueName('logs-sidekick-setup');
    streams.push(index);
    const first = await setup(sinkOptions([engine.url], { index }));
    expect(first[0]).toMatch(/^engine: opensearch /);
    expect(first[1]).toMatch(new RegExp(`^ISM policy ${index}-policy: (created|skipped, the Index State Management plugin is not installed)`));
    expect(first.slice(2)).toEqual([`index template ${index}-template: created or updated`, `data stream ${index}: created`]);
    const second = await setup(sinkOptions([engine.url], { index }));
    expect(second[3]).toBe(`data stream ${index}: already exists`);
    const ds = (await fetch(`${engine.url}/_data_stream/${index}`).then((r) => r.json())) as { data_streams: { name: string }[] };
    expect(ds.data_streams.map((d) => d.name)).toEqual([index]);
    const tpl = (await fetch(`${engine.url}/_index_template/${index}-template`).then((r) => r.json())) as {
      index_templates: { index_template: { template: { mappings: { properties: Record<string, { type?: string }> } } } }[];
    };
    const props = tpl.index_templates[0].index_template.template.mappings.properties;
    expect(props['@timestamp'].type).toBe('date');
    expect(props.message.type).toBe('text');
  });

  it.each([
    ['libdeflate when its binding is built', undefined],
    ['node:zlib (SIDEKICK_NATIVE=off)', 'off'],
  ])('stores documents that can be fetched by _id with the source sent, gzipped by %s', async (_, native) => {
    const index = await freshStream();
    const before = process.env.SIDEKICK_NATIVE;
    if (native !== undefined) process.env.SIDEKICK_NATIVE = native;
    let sink: Sink;
    try {
      sink = await sinkFor(sinkOptions([engine.url], { index }));
    } finally {
      if (before === undefined) delete process.env.SIDEKICK_NATIVE;
      else process.env.SIDEKICK_NATIVE = before;
    }
    expect(sink.compression).toMatch(native === undefined && loadLibdeflate() ? /^gzip \(libdeflate \d/ : /^gzip \(zlib \d/);
    const docs = makeDocs(100);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
    expect(await countDocs(index)).toBe(100);
    for (const d of [docs[0], docs[57], docs[99]]) {
      const stored = await getById(index, d.id);
      expect(stored?._source).toEqual(JSON.parse(d.source));
    }
  });

  it('a replay of the same documents is all duplicates and the count does not change', async () => {
    const index = await freshStream();
    const opts = sinkOptions([engine.url], { index });
    const sink = await sinkFor(opts);
    const docs = makeDocs(40);
    await sink.send(docs);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'duplicate'));
    expect(await countDocs(index)).toBe(40);
    expect(await metricValue(opts.registry, 'sidekick_ship_documents_duplicate_total')).toBe(40);
  });

  it('a mapping conflict goes to the dead-letter file and the other documents are stored', async () => {
    const index = await freshStream();
    const opts = sinkOptions([engine.url], { index });
    const sink = await sinkFor(opts);
    await sink.send(makeDocs(1, { key: 'first', fields: { status: 200 } }));
    const docs = [...makeDocs(3, { key: 'good', fields: { status: 201 } }), ...makeDocs(1, { key: 'bad', fields: { status: 'not a number' }, text: () => 'a line with a bad status' })];
    expect(await sink.send(docs)).toEqual(['created', 'created', 'created', 'dead-letter']);
    expect(await countDocs(index)).toBe(4);
    const dl = readFileSync(opts.deadLetterFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ _id: docs[3].id, index, message: 'a line with a bad status', path: '/var/log/test.log', offset: 0, status: 400 });
    expect((dl[0].error as { type: string }).type).toMatch(/mapper_parsing_exception|document_parsing_exception/);
    expect(await getById(index, docs[3].id)).toBeUndefined();
  });

  it('429 for a share of the items: every document is eventually stored exactly once', async () => {
    const index = await freshStream();
    const p = await proxy({ target: engine.url, rejectBulkItems: 0.3, mode: 'random', seed: 7 });
    const opts = sinkOptions([p.url], { index });
    const sink = await sinkFor(opts);
    const docs = makeDocs(200);
    expect(await sink.send(docs)).toEqual(docs.map(() => 'created'));
    expect(p.counters.itemsRejected).toBeGreaterThan(20);
    expect(await countDocs(index)).toBe(200);
    expect(await metricValue(opts.registry, 'sidekick_ship_retries_total', { reason: 'item' })).toBe(p.counters.itemsRejected);
    for (const d of [docs[0], docs[100], docs[199]]) expect((await getById(index, d.id))?._id).toBe(d.id);
  });

  it('503s and dropped connections for a while: retried until healed, nothing lost, nothing twice', async () => {
    const index = await freshStream();
    const p = await proxy({ target: engine.url, status503: 1, only: /_bulk/ });
    const sink = await sinkFor(sinkOptions([p.url], { index }));
    const docs = makeDocs(100);
    const sending = sink.send(docs);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.health().ok).toBe(false);
    // Still failing, now by dropping connections after the engine did the work: the retry meets 409s.
    p.set({ status503: 0, drop: 1, dropPhase: 'after' });
    await new Promise((r) => setTimeout(r, 200));
    p.set({ drop: 0 });
    const outcomes = await sending;
    expect(p.counters.status503).toBeGreaterThan(0);
    expect(p.counters.dropped).toBeGreaterThan(0);
    expect(outcomes.every((o) => o === 'created' || o === 'duplicate')).toBe(true);
    expect(outcomes).toContain('duplicate');
    expect(await countDocs(index)).toBe(100);
    expect(sink.health().ok).toBe(true);
  });
});
