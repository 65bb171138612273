// The parsers that shape a document: JSON lines, container runtime lines, timestamps, dissect, regex,
// drop_fields and include/exclude_lines, each on the lines a user would feed them.
import { parse, sample } from './helpers';

describe('ndjson', () => {
  test('decodes at the root, takes message, expands dotted keys, and keeps the shipper fields unless overwrite_keys', async () => {
    const line = '{"@timestamp":"2026-03-01T10:00:00.123+01:00","log.level":"warn","message":"slow query","service":{"name":"db"},"host":{"name":"other"},"event.duration":1200}\n';
    const [kept] = await parse([{ ndjson: {} }], line);
    expect(kept.message).toBe('slow query');
    expect(kept.log).toMatchObject({ level: 'warn', offset: 0 });
    expect(kept.service).toEqual({ name: 'db' });
    expect(kept.event).toEqual({ duration: 1200 });
    expect(kept.host).toEqual({ name: 'h' });
    expect(kept['@timestamp']).not.toBe('2026-03-01T09:00:00.123Z');
    const [over] = await parse([{ ndjson: { overwrite_keys: true } }], line);
    expect(over['@timestamp']).toBe('2026-03-01T09:00:00.123Z');
    expect(over.host).toEqual({ name: 'other' });
    expect(over.log).toMatchObject({ level: 'warn', offset: 0, file: { path: '/var/log/app/app.log' } });
  });

  test('target and message_key; a line that is not JSON is kept whole with error.message', async () => {
    const docs = await parse([{ ndjson: { target: 'json', message_key: 'msg' } }], '{"msg":"hello","a.b":1}\nnot json at all\n[1,2]\n');
    expect(docs[0].message).toBe('hello');
    expect(docs[0].json).toEqual({ a: { b: 1 } });
    expect(docs[1].message).toBe('not json at all');
    expect((docs[1].error as { message: string }).message).toMatch(/^ndjson: the line is not valid JSON/);
    expect((docs[2].error as { message: string }).message).toBe('ndjson: expected a JSON object, found an array');
    expect(docs[2].message).toBe('[1,2]');
  });
});

describe('container', () => {
  test("Docker json-file: a 40,000-byte line the runtime split into 16 KiB pieces is one document; stream and the runtime's time kept", async () => {
    const docs = await parse([{ container: {} }], sample('docker-json.log'));
    expect(docs.map((d) => (d.message!.length > 100 ? `long ${d.message!.length}` : d.message))).toEqual(['orders: starting', 'long 40009', 'orders: done', 'orders: warning: cache cold']);
    expect(docs[1].message).toMatch(/^long:x+:end$/);
    expect(docs[1].stream).toBe('stdout');
    expect(docs[3].stream).toBe('stderr');
    expect(docs[0]['@timestamp']).toBe('2026-11-30T16:23:47.490Z');
    const stderr = await parse([{ container: { stream: 'stderr' } }], sample('docker-json.log'));
    expect(stderr.map((d) => d.message)).toEqual(['orders: warning: cache cold']);
  });

  test('CRI: P pieces joined until F, per stream, in the order the lines started', async () => {
    // The CRI logging format (kubernetes/cri-api, kubelet's container log files): <time> <stream> <P|F> <text>.
    const text = [
      '2026-11-30T16:23:47.490058186Z stdout P first half of a long ',
      '2026-11-30T16:23:47.490100000Z stderr F an error in between',
      '2026-11-30T16:23:47.490200000+00:00 stdout F line, second half',
      '2026-11-30T16:23:47.491000000Z stdout F ',
    ].join('\n');
    const docs = await parse([{ container: { format: 'cri' } }], text + '\n');
    expect(docs.map((d) => [d.stream, d.message])).toEqual([
      ['stdout', 'first half of a long line, second half'],
      ['stderr', 'an error in between'],
      ['stdout', ''],
    ]);
    expect(docs[0].log.offset).toBe(0);
  });

  test('container then multiline: a Java stack trace written to stdout is joined after the runtime framing is removed', async () => {
    const lines = ['INFO start', 'ERROR failed', 'java.lang.IllegalStateException: x', '\tat a.B.c(B.java:1)', 'INFO next'];
    const text = lines.map((l, i) => JSON.stringify({ log: l + '\n', stream: 'stdout', time: `2026-11-30T16:00:0${i}.000Z` })).join('\n') + '\n';
    const docs = await parse([{ container: {} }, { multiline: { preset: 'java' } }], text);
    expect(docs.map((d) => d.message)).toEqual(['INFO start', 'ERROR failed\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)', 'INFO next']);
    expect(docs[1]['@timestamp']).toBe('2026-11-30T16:00:01.000Z');
  });
});

describe('timestamp', () => {
  test.each([
    ['a regex group and a custom layout in a time zone', { pattern: '^(\\S+ \\S+)', layout: 'yyyy-MM-dd HH:mm:ss,SSS', timezone: 'Europe/Berlin' }, '2026-07-01 12:00:00,250 INFO x', '2026-07-01T10:00:00.250Z'],
    ['the common log format', { pattern: '\\[([^\\]]+)\\]', layout: 'CLF' }, '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326', '2000-10-10T20:55:36.000Z'],
    ['RFC 3339 with nanoseconds', { pattern: '^(\\S+)' }, '2026-11-30T16:23:47.490058186+02:00 x', '2026-11-30T14:23:47.490Z'],
    ['ISO 8601 without a zone, read in the configured one', { pattern: '^(\\S+)', timezone: 'America/New_York' }, '2026-01-15T08:00:00 x', '2026-01-15T13:00:00.000Z'],
    ['a named group', { pattern: 'at=(?<timestamp>\\d+)', layout: 'UNIX' }, 'job done at=1700000000', '2023-11-14T22:13:20.000Z'],
  ])('%s', async (_what, cfg, line, expected) => {
    const [doc] = await parse([{ timestamp: cfg }], line + '\n');
    expect(doc['@timestamp']).toBe(expected);
    expect(doc.log.flags).toBeUndefined();
  });

  test('from a field, epoch milliseconds, layouts tried in order; a stamp that does not parse keeps the read time and is flagged', async () => {
    const docs = await parse([{ ndjson: {} }, { timestamp: { field: 'time', layouts: ['ISO8601', 'UNIX_MS'] } }], '{"time":1700000000123,"message":"a"}\n{"time":"yesterday","message":"b"}\n');
    expect(docs[0]['@timestamp']).toBe('2023-11-14T22:13:20.123Z');
    expect(docs[1].log.flags).toEqual(['timestamp_parsing_error']);
    expect(Date.now() - Date.parse(docs[1]['@timestamp'])).toBeLessThan(60_000);
    expect((docs[1].error as { message: string }).message).toMatch(/"yesterday" matches none of the layouts ISO8601, UNIX_MS/);
  });
});

describe('dissect, regex, drop_fields, include/exclude_lines', () => {
  test('dissect splits an access log line into fields; a line that does not fit is flagged', async () => {
    const docs = await parse(
      [{ dissect: { tokenizer: '%{source.ip} %{?ident} %{user.name} [%{+ts} %{+ts}] "%{http.request.method} %{url.original} %{?proto}" %{http.response.status_code} %{http.response.body.bytes}' } }],
      '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326\nsomething else\n',
    );
    expect(docs[0]).toMatchObject({ source: { ip: '127.0.0.1' }, user: { name: 'frank' }, ts: '10/Oct/2000:13:55:36 -0700', http: { request: { method: 'GET' }, response: { status_code: '200', body: { bytes: '2326' } } }, url: { original: '/apache_pb.gif' } });
    expect(docs[1].log.flags).toEqual(['dissect_parsing_error']);
    const padded = await parse([{ dissect: { tokenizer: '%{a->} %{b}' } }], 'x     y\n');
    expect(padded[0]).toMatchObject({ a: 'x', b: 'y' });
  });

  test('regex named groups (dotted names) become fields, a message group replaces the message', async () => {
    const docs = await parse([{ regex: { pattern: '^(?<ts>\\S+ \\S+) (?<log.level>[A-Z]+) \\[(?<process.thread.name>[^\\]]+)\\] (?<log.logger>\\S+) - (?<message>.*)$' } }], '2026-11-30 16:22:51,822 INFO [main] c.e.OrderService - order 41 processed\nno match\n');
    expect(docs[0]).toMatchObject({ message: 'order 41 processed', log: { level: 'INFO', logger: 'c.e.OrderService' }, process: { thread: { name: 'main' } } });
    expect(docs[1].log.flags).toEqual(['regex_parsing_error']);
  });

  test('drop_fields removes fields and message; include_lines first, then exclude_lines, on whole events', async () => {
    const docs = await parse([{ ndjson: {} }, { drop_fields: { fields: ['secret', 'user.password'] } }], '{"message":"m","secret":"x","user":{"name":"u","password":"p"}}\n');
    expect(docs[0]).toMatchObject({ message: 'm', user: { name: 'u' } });
    expect(docs[0].secret).toBeUndefined();
    expect((docs[0].user as Record<string, unknown>).password).toBeUndefined();
    const text = 'ERROR a\n\tat x\nINFO b\nERROR health check ok\nWARN c\n';
    const kept = await parse([{ multiline: { preset: 'java' } }], text, { include: ['^(ERROR|WARN)'], exclude: ['health check'] });
    expect(kept.map((d) => d.message)).toEqual(['ERROR a\n\tat x', 'WARN c']);
  });
});
