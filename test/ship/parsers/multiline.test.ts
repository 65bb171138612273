// multiline on real samples: a Java service's stack traces (Caused by, Suppressed, ... N more), a Python
// traceback chain and a Go panic with its goroutine dump become one document each, with their first line's offset.
import { messages, parse, sample } from './helpers';

function offsetOf(text: Buffer, line: string): number {
  const at = text.indexOf(line);
  if (at < 0) throw new Error(`not in sample: ${line}`);
  return at;
}

test('java preset: each log line with its stack trace (Caused by, ... N more, Suppressed) is one document', async () => {
  const text = sample('java.log');
  const docs = await parse([{ multiline: { preset: 'java' } }], text);
  expect(docs).toHaveLength(5);
  const failed = docs[1];
  expect(failed.message!.split('\n')[0]).toMatch(/SEVERE .* failed to process order 42$/);
  expect(failed.message).toContain('\nCaused by: java.io.IOException: could not load order 42\n\tat App.load(App.java:5)\n\t... 1 more\nCaused by: java.lang.IllegalStateException');
  expect(failed.message!.endsWith('\t... 2 more')).toBe(true);
  expect(failed.log.flags).toEqual(['multiline']);
  expect(failed.log.offset).toBe(offsetOf(text, '2026-11-30 16:22:52,000 SEVERE'));
  expect(docs[3].message).toMatch(/cleanup after order 43\njava\.lang\.Exception: closing resources failed\n\tat App\.main\(App\.java:14\)\n\tSuppressed: java\.lang\.IllegalArgumentException: close r1\n\t\tat App\.lambda\$main\$0/);
  expect(messages(docs).filter((m) => /order 4[134] processed/.test(m!))).toHaveLength(3);
  for (const d of [docs[0], docs[2], docs[4]]) expect(d.log.flags).toBeUndefined();
  // The _id is the first line's file key and offset.
  expect(failed._id).toBe(`preview-${failed.log.offset.toString(36)}`);
});

test('python preset: a traceback chain (direct cause, during handling) stays with the log line', async () => {
  const docs = await parse([{ multiline: { preset: 'python' } }], sample('python.log'));
  expect(docs).toHaveLength(5);
  expect(docs[1].message).toMatch(/^.* ERROR orders: failed to process order 42\nTraceback \(most recent call last\):\n/);
  expect(docs[1].message).toContain("KeyError: 'quantity'\nThe above exception was the direct cause of the following exception:\nTraceback");
  expect(docs[1].message!.endsWith('ValueError: order 42 has no quantity')).toBe(true);
  expect(docs[3].message).toContain('ZeroDivisionError: division by zero\nDuring handling of the above exception, another exception occurred:\nTraceback');
  expect(docs[3].message!.endsWith("KeyError: 'missing'")).toBe(true);
});

test('go preset: a panic and every goroutine of its dump are one document', async () => {
  const docs = await parse([{ multiline: { preset: 'go' } }], sample('go.log'));
  expect(messages(docs).map((m) => m!.split('\n')[0])).toEqual(['2026/11/30 16:00:00 orders: starting 2 workers', 'panic: runtime error: index out of range [5] with length 3']);
  expect(docs[1].message).toContain('goroutine 1 [running]:\nmain.lookup(...)\n\t/tmp/samp/gop/main.go:16');
  expect(docs[1].message).toContain('goroutine 19 [chan receive]:\nmain.worker(0x2, 0xe942a80070)');
  expect(docs[1].message!.endsWith('\t/tmp/samp/gop/main.go:22 +0x113')).toBe(true);
});

test('whitespace preset, and pattern/negate/match as Filebeat has them', async () => {
  const text = 'start one\n  more\n\tand more\nstart two\n';
  expect(messages(await parse([{ multiline: { preset: 'whitespace' } }], text))).toEqual(['start one\n  more\n\tand more', 'start two']);
  // negate + after: lines NOT starting with a date go with the line before.
  const dated = '2024-01-01 a\nb\nc\n2024-01-02 d\n';
  expect(messages(await parse([{ multiline: { pattern: '^\\d{4}-', negate: true, match: 'after' } }], dated))).toEqual(['2024-01-01 a\nb\nc', '2024-01-02 d']);
  // before: a line ending with \ goes on into the next one.
  const cont = 'a \\\nb \\\nc\nd\n';
  expect(messages(await parse([{ multiline: { pattern: '\\\\$', match: 'before' } }], cont))).toEqual(['a \\\nb \\\nc', 'd']);
  // POSIX classes as Filebeat users write them.
  expect(messages(await parse([{ multiline: { pattern: '^[[:space:]]', match: 'after' } }], text))).toHaveLength(2);
});

test('max_lines and max_bytes cut an event, flag it truncated, and the rest goes on as the next event', async () => {
  const trace = ['ERROR boom', ...Array.from({ length: 7 }, (_, i) => `\tat frame${i}`), 'INFO next'].join('\n') + '\n';
  const docs = await parse([{ multiline: { preset: 'java', max_lines: 3 } }], trace);
  expect(messages(docs)).toEqual(['ERROR boom\n\tat frame0\n\tat frame1', '\tat frame2\n\tat frame3\n\tat frame4', '\tat frame5\n\tat frame6', 'INFO next']);
  expect(docs.map((d) => d.log.flags)).toEqual([['truncated', 'multiline'], ['truncated', 'multiline'], ['multiline'], undefined]);
  const byBytes = await parse([{ multiline: { preset: 'java', max_bytes: 30 } }], trace);
  expect(byBytes.map((d) => d.message).join('\n')).toBe(trace.trimEnd());
  expect(byBytes[0].log.flags).toContain('truncated');
  expect(byBytes.every((d) => Buffer.byteLength(d.message!) <= 30)).toBe(true);
});
