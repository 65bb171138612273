// End-to-end: inputs with parsers, the built sidekick-ship against the real engine. Multiline events stay
// exactly once: killed with SIGKILL between the lines of an event, after an event was passed on by its
// timeout, and across rotation in the middle of an event.
import { appendFileSync, closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithEngine, esRequest, uniqueName, useEngine } from '../support/engine';
import { allDocs, sleep, startShipper, stopShipper, tempDir, waitForCount, waitForLog, type ShipperRun, type Stored } from './helpers';

const SAMPLES = join(__dirname, 'parsers/samples');

/** Every expected message stored once, each with the _id of its first line's offset. */
function expectEvents(docs: Stored[], expected: string[]): void {
  expect(docs.map((d) => d.message).sort()).toEqual([...expected].sort());
  for (const d of docs) expect(d.id.endsWith(`-${d.offset.toString(36)}`)).toBe(true);
  expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
}

function trace(n: number, frames: number): string[] {
  return [`2026-01-01 00:00:00,000 ERROR [main] c.e.App - request ${n} failed`, `java.lang.IllegalStateException: boom ${n}`, ...Array.from({ length: frames }, (_, i) => `\tat com.example.App.step${i}(App.java:${i + 1})`)];
}

describeWithEngine('sidekick-ship inputs and parsers', () => {
  const engine = useEngine();
  let run: ShipperRun | undefined;
  let dir: string;

  beforeEach(() => {
    dir = tempDir('ship-parsers-');
  });
  afterEach(async () => {
    if (run) await stopShipper(run, 'SIGKILL');
    run = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('two inputs, each with its own parsers and data stream: a Java log joined into events, a Python log too', async () => {
    const app = uniqueName('logs-app');
    const py = uniqueName('logs-py');
    writeFileSync(join(dir, 'app.log'), readFileSync(join(SAMPLES, 'java.log')));
    writeFileSync(join(dir, 'worker.log'), readFileSync(join(SAMPLES, 'python.log')));
    const extra = {
      inputs: [
        { paths: [join(dir, 'app.log')], index: app, parsers: [{ multiline: { preset: 'java' } }], fields: { service: { name: 'orders' } } },
        { paths: [join(dir, 'worker.log')], index: py, parsers: [{ multiline: { preset: 'python' } }] },
      ],
    };
    const once = startShipper({ dir, esUrl: engine.url, index: 'unused-default', paths: [], once: true, extra });
    expect(await once.exited).toBe(0);
    const javaDocs = await allDocs(app);
    expect(javaDocs).toHaveLength(5);
    expect(javaDocs.filter((d) => d.flags?.includes('multiline'))).toHaveLength(2);
    expect(javaDocs.find((d) => d.message.includes('Caused by: java.io.IOException'))!.message).toMatch(/failed to process order 42\n/);
    const pyDocs = await allDocs(py);
    expect(pyDocs).toHaveLength(5);
    const res = await esRequest<{ hits: { hits: { _source: { service?: { name: string } } }[] } }>('POST', `/${app}/_search`, { size: 1 });
    expect(res.body.hits.hits[0]._source.service).toEqual({ name: 'orders' });
    // A second run stores nothing twice.
    const again = startShipper({ dir, esUrl: engine.url, index: 'unused-default', paths: [], once: true, extra });
    expect(await again.exited).toBe(0);
    expect(await allDocs(app)).toHaveLength(5);
  });

  test('killed with SIGKILL between the lines of an event: the restart re-reads the whole event and stores it once', async () => {
    const index = uniqueName('ship-ml-kill');
    const file = join(dir, 'app.log');
    const first = trace(1, 3);
    const second = trace(2, 40);
    writeFileSync(file, [...first, ...second.slice(0, 10)].join('\n') + '\n');
    const extra = { parsers: [{ multiline: { preset: 'java', timeout: '1h' } }], registry_flush: '100ms' };
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file], extra });
    await waitForCount(index, 1); // the first event, ended by the second's first line
    await sleep(500); // the second event's first lines are read and held
    await stopShipper(run, 'SIGKILL');
    run = undefined;
    appendFileSync(file, second.slice(10).join('\n') + '\nINFO done\n');
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true, extra });
    expect(await once.exited).toBe(0);
    expectEvents(await allDocs(index), [first.join('\n'), second.join('\n'), 'INFO done']);
  });

  test('an event passed on by its timeout, stored, then SIGKILL before its position was saved: the lines written after it are not lost', async () => {
    const index = uniqueName('ship-ml-cut');
    const file = join(dir, 'app.log');
    const ev = trace(1, 5);
    writeFileSync(file, ev.join('\n') + '\n');
    // Positions are never saved on a timer: only what must be on disk first (new keys, cuts).
    const extra = { parsers: [{ multiline: { preset: 'java', timeout: '300ms' } }], registry_flush: '1h' };
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file], extra });
    await waitForCount(index, 1);
    await stopShipper(run, 'SIGKILL');
    run = undefined;
    // The application goes on with more frames of the same trace: read alone, they would join the first
    // event (the same _id, a 409) and vanish; the saved cut keeps the first event as it was stored.
    const late = ['\tat com.example.App.late1(App.java:90)', '\tat com.example.App.late2(App.java:91)'];
    appendFileSync(file, late.join('\n') + '\nINFO next\n');
    const once = startShipper({ dir, esUrl: engine.url, index, paths: [file], once: true, extra });
    expect(await once.exited).toBe(0);
    const docs = await allDocs(index);
    expectEvents(docs, [ev.join('\n'), late.join('\n'), 'INFO next']);
    expect(docs.find((d) => d.message === late.join('\n'))!.flags).toEqual(['multiline']);
  });

  test('rotation by rename in the middle of an event: the event is read whole from the renamed file, the new file goes on', async () => {
    const index = uniqueName('ship-ml-rotate');
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    run = startShipper({ dir, esUrl: engine.url, index, paths: [file], extra: { parsers: [{ multiline: { preset: 'java', timeout: '3s' } }] } });
    await waitForLog(run, 'following file');
    const ev = trace(7, 30);
    let fd = openSync(file, 'a');
    writeSync(fd, ev.slice(0, 12).join('\n') + '\n');
    await sleep(400);
    renameSync(file, join(dir, 'app.log.1'));
    // The application finishes the event in the file it holds open, then reopens its log by name.
    writeSync(fd, ev.slice(12).join('\n') + '\n');
    closeSync(fd);
    fd = openSync(file, 'a');
    writeSync(fd, 'INFO after rotation\n');
    closeSync(fd);
    await waitForCount(index, 2, 30_000);
    await sleep(1000);
    expectEvents(await allDocs(index), [ev.join('\n'), 'INFO after rotation']);
    expect(await stopShipper(run)).toBe(0);
    run = undefined;
  });

  test('JSON lines, Docker json-file lines, and plain lines through a grok ingest pipeline on the engine', async () => {
    const json = uniqueName('logs-json');
    const docker = uniqueName('logs-docker');
    const access = uniqueName('logs-access');
    const pipeline = uniqueName('sidekick-grok');
    const put = await esRequest('PUT', `/_ingest/pipeline/${pipeline}`, {
      processors: [{ grok: { field: 'message', patterns: ['^%{IP:source.ip} %{WORD:http.request.method} %{URIPATHPARAM:url.original} %{NUMBER:http.response.status_code:int}$'] } }],
    });
    expect(put.status).toBe(200);
    const jsonLines = ['{"time":"2026-03-01T10:00:00.000Z","log.level":"info","message":"order 1 placed","order":{"id":1}}', 'not json', '{"time":"2026-03-01T10:00:02.500Z","log.level":"warn","message":"order 2 slow"}'];
    writeFileSync(join(dir, 'orders.json'), jsonLines.join('\n') + '\n');
    writeFileSync(join(dir, 'container-json.log'), readFileSync(join(SAMPLES, 'docker-json.log')));
    writeFileSync(join(dir, 'access.log'), '10.0.0.1 GET /orders?id=1 200\n10.0.0.2 POST /orders 503\n');
    const extra = {
      inputs: [
        { paths: [join(dir, 'orders.json')], index: json, parsers: [{ ndjson: {} }, { timestamp: { field: 'time' } }, { drop_fields: { fields: ['time'] } }] },
        { paths: [join(dir, 'container-json.log')], index: docker, parsers: [{ container: {} }] },
        { paths: [join(dir, 'access.log')], index: access, pipeline },
      ],
    };
    const check = startShipper({ dir, esUrl: engine.url, index: 'unused-default', paths: [], extra, args: ['test', 'output'] });
    expect(await check.exited).toBe(0);
    const once = startShipper({ dir, esUrl: engine.url, index: 'unused-default', paths: [], once: true, extra });
    expect(await once.exited).toBe(0);

    type Src = Record<string, unknown> & { message?: string; log: { level?: string; flags?: string[] } };
    const search = async (index: string): Promise<Src[]> =>
      (await esRequest<{ hits: { hits: { _source: Src }[] } }>('POST', `/${index}/_search`, { size: 100, sort: [{ 'log.offset': 'asc' }] })).body.hits.hits.map((h) => h._source);
    await allDocs(json);
    const j = await search(json);
    expect(j.map((d) => [d['@timestamp'], d.message, d.log.level])).toEqual([
      ['2026-03-01T10:00:00.000Z', 'order 1 placed', 'info'],
      [expect.any(String), 'not json', undefined],
      ['2026-03-01T10:00:02.500Z', 'order 2 slow', 'warn'],
    ]);
    expect(j[0].order).toEqual({ id: 1 });
    expect(j[0].time).toBeUndefined();
    expect((j[1].error as { message: string }).message).toMatch(/not valid JSON/);

    await allDocs(docker);
    const d = await search(docker);
    expect(d.map((x) => [x.stream, (x.message as string).length])).toEqual([['stdout', 16], ['stdout', 40009], ['stdout', 12], ['stderr', 27]]);

    await allDocs(access);
    const a = await search(access);
    expect(a.map((x) => [x.source, x.http, x.url])).toEqual([
      [{ ip: '10.0.0.1' }, { request: { method: 'GET' }, response: { status_code: 200 } }, { original: '/orders?id=1' }],
      [{ ip: '10.0.0.2' }, { request: { method: 'POST' }, response: { status_code: 503 } }, { original: '/orders' }],
    ]);

    // A pipeline the engine does not have: test output says so and exits 1.
    const missing = { inputs: [{ ...extra.inputs[2], pipeline: 'no-such-pipeline' }] };
    const bad = startShipper({ dir, esUrl: engine.url, index: 'unused-default', paths: [], extra: missing, args: ['test', 'output'] });
    expect(await bad.exited).toBe(1);
  });
});
