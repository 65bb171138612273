// `sidekick-ship test config|parse` and the inputs/parsers configuration: what a user sees before shipping,
// and mistakes that exit 2 naming the input and the key.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ship-cli-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ship(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...opts.env }, input: opts.input, timeout: 20_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

function config(name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

const TWO_INPUTS = `
es: { urls: ["http://user:pw@127.0.0.1:9"], api_key: top-secret-key }
inputs:
  - id: app
    paths: ["${'/var/log/app/*.log'}"]
    index: logs-app-default
    parsers:
      - multiline: { preset: java }
      - timestamp: { pattern: '^(\\S+ \\S+)', layout: "yyyy-MM-dd HH:mm:ss,SSS", timezone: Europe/Berlin }
  - id: access
    paths: ["/var/log/app/access.json"]
    index: logs-access-default
    parsers:
      - ndjson: { target: "" }
      - timestamp: { field: time }
`;

test('test config prints the effective configuration with each input and no secret', () => {
  const r = ship(['test', 'config', '-c', config('two.yml', TWO_INPUTS)]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/inputs:\n\s+- id: app\n/);
  expect(r.stdout).toContain('index: logs-access-default');
  expect(r.stdout).toContain('max_lines: 500');
  expect(r.stdout).not.toContain('top-secret-key');
  expect(r.stdout).not.toContain(':pw@');
});

test.each([
  ['a bad multiline option names the input and the key', 'inputs:\n  - paths: [a.log]\n    parsers:\n      - multiline: { preset: java, max_lines: 0 }\n', /inputs\[0\]\.parsers\[0\]\.multiline\.max_lines: 0 is not valid/],
  ['an unknown parser', 'inputs:\n  - paths: [a.log]\n    parsers:\n      - multilne: { preset: java }\n', /inputs\[0\]\.parsers\[0\]: unknown key "multilne"/],
  ['a pattern without match', 'paths: [a.log]\nparsers:\n  - multiline: { pattern: "^x" }\n', /parsers\[0\]\.multiline\.match: .*expected after or before/],
  ['a regex that does not compile', 'inputs:\n  - paths: [a.log]\n    exclude_lines: ["(unclosed"]\n', /inputs\[0\]\.exclude_lines\[0\]: .*expected a regular expression/],
  ['an unknown time zone', 'paths: [a.log]\nparsers:\n  - timestamp: { field: t, timezone: Mars/Olympus }\n', /parsers\[0\]\.timestamp\.timezone: "Mars\/Olympus" is not valid; expected a time zone/],
  ['paths and inputs together', 'paths: [a.log]\ninputs:\n  - paths: [b.log]\n', /paths .* and inputs are both given/],
  ['a configured field that would replace log.*', 'inputs:\n  - id: web\n    paths: [a.log]\n    fields: { log: x }\n', /web\.fields: field "log" cannot be set/],
  ['a dissect tokenizer with two fields touching', 'paths: [a.log]\nparsers:\n  - dissect: { tokenizer: "%{a}%{b}" }\n', /parsers\[0\]\.dissect\.tokenizer: .*have no text between them/],
])('%s exits 2', (_what, yaml, message) => {
  const r = ship(['test', 'config', '-c', config('bad.yml', yaml)]);
  expect(r.stderr).toMatch(message);
  expect(r.status).toBe(2);
});

test('test parse shows the documents an input makes from stdin or a file, without an engine', () => {
  const file = config('two.yml', TWO_INPUTS);
  const r = ship(['test', 'parse', '-c', file, '--input', 'app', '-'], { input: '2026-07-01 12:00:00,250 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n2026-07-01 12:00:01,000 INFO ok\n' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { '@timestamp': string; message: string; log: { offset: number; flags?: string[] } });
  expect(docs.map((d) => [d['@timestamp'], d.message, d.log.offset, d.log.flags])).toEqual([
    ['2026-07-01T10:00:00.250Z', '2026-07-01 12:00:00,250 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)', 0, ['multiline']],
    ['2026-07-01T10:00:01.000Z', '2026-07-01 12:00:01,000 INFO ok', 90, undefined],
  ]);
  const json = join(dir, 'access.json');
  writeFileSync(json, '{"time":"2026-07-01T10:00:00Z","message":"GET /","http":{"response":{"status_code":200}}}\n');
  const a = ship(['test', 'parse', '-c', file, '--input', '1', json]);
  expect(a.status).toBe(0);
  expect(JSON.parse(a.stdout)).toMatchObject({ '@timestamp': '2026-07-01T10:00:00.000Z', message: 'GET /', time: '2026-07-01T10:00:00Z', http: { response: { status_code: 200 } } });
  const which = ship(['test', 'parse', '-c', file, '-'], { input: 'x\n' });
  expect(which.status).toBe(2);
  expect(which.stderr).toMatch(/choose one with --input \(0 \(app\), 1 \(access\)\)/);
});
