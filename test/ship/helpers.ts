// Helpers for the shipper's end-to-end tests: run the built CLI as a real process against the real
// engine (or the fault proxy in front of it), and check what the engine stored.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { esRequest, refresh } from '../support/engine';
import { sleep, tempDir as makeTempDir, waitUntil } from '../support/wait';

export const CLI = resolve(__dirname, '../../dist/cmd/sidekick-ship.js');

export function tempDir(prefix = 'ship-e2e-'): string {
  return makeTempDir(prefix);
}

export interface ShipperRun {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Writes a configuration with short intervals (tests should not wait for production timings) and starts the CLI. */
export function startShipper(opts: {
  dir: string;
  esUrl: string;
  index: string;
  paths: string[];
  once?: boolean;
  extra?: Record<string, unknown>;
  args?: string[];
  /** Node's own options, before the program. */
  nodeArgs?: string[];
  /** Added to this process's environment for the shipper. */
  env?: NodeJS.ProcessEnv;
}): ShipperRun {
  const config = {
    es: { urls: [opts.esUrl], backoff_initial: '100ms', backoff_max: '1s', request_timeout: '10s' },
    index: opts.index,
    state_dir: join(opts.dir, 'state'),
    paths: opts.paths,
    read: { scan_interval: '300ms', poll_interval: '200ms', close_inactive: '1s' },
    batch: { max_latency: '100ms' },
    shutdown_grace: '8s',
    ...opts.extra,
  };
  const file = join(opts.dir, 'ship.yml');
  writeFileSync(file, stringify(config));
  const args = [...(opts.nodeArgs ?? []), CLI, '-c', file, '--log-format', 'json', ...(opts.once ? ['--once'] : []), ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ? { ...process.env, ...opts.env } : process.env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, stderr: () => err, exited };
}

/**
 * Per test: a fresh temporary directory in `dir`, and after the test the shipper left in `run` stopped (it must
 * exit 0) and the directory removed.
 */
export function perTestShipper(): { dir: string; run: ShipperRun | undefined } {
  const ctx: { dir: string; run: ShipperRun | undefined } = { dir: '', run: undefined };
  beforeEach(() => {
    ctx.dir = tempDir();
  });
  afterEach(async () => {
    if (ctx.run) expect(await stopShipper(ctx.run)).toBe(0);
    ctx.run = undefined;
    rmSync(ctx.dir, { recursive: true, force: true });
  });
  return ctx;
}

/** Stops a run (SIGTERM) and returns its exit status. */
export async function stopShipper(run: ShipperRun, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal);
  return run.exited;
}

export interface Stored {
  id: string;
  message: string;
  offset: number;
  path: string;
  flags?: string[];
}

/** Every document of an index (scrolled), in the suite's engine or the one at baseUrl (a test's own cluster). */
export async function allDocs(index: string, baseUrl?: string): Promise<Stored[]> {
  const at = baseUrl ? { baseUrl } : {};
  if (baseUrl) await esRequest('POST', `/${index}/_refresh`, undefined, at);
  else await refresh(index);
  type Page = { _scroll_id?: string; hits?: { hits: { _id: string; _source: Record<string, unknown> }[] } };
  const out: Stored[] = [];
  let res = await esRequest<Page>('POST', `/${index}/_search?scroll=1m&ignore_unavailable=true&allow_no_indices=true`, { size: 5000, sort: ['_doc'] }, at);
  if (res.status === 404) return out;
  for (;;) {
    if (res.status !== 200) throw new Error(`search ${index}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    const hits = res.body.hits?.hits ?? [];
    for (const h of hits) {
      const log = h._source.log as { offset: number; file: { path: string }; flags?: string[] };
      out.push({ id: h._id, message: h._source.message as string, offset: log.offset, path: log.file.path, flags: log.flags });
    }
    if (hits.length === 0 || !res.body._scroll_id) break;
    res = await esRequest<Page>('POST', '/_search/scroll', { scroll: '1m', scroll_id: res.body._scroll_id }, at);
  }
  if (res.body._scroll_id) await esRequest('DELETE', '/_search/scroll', { scroll_id: res.body._scroll_id }, at);
  return out;
}

export async function count(index: string): Promise<number> {
  await refresh(index);
  const res = await esRequest<{ count?: number }>('GET', `/${index}/_count?ignore_unavailable=true&allow_no_indices=true`);
  return res.status === 200 ? (res.body.count ?? 0) : 0;
}

export function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 30_000, stepMs = 200): Promise<void> {
  return waitUntil(what, cond, timeoutMs, stepMs);
}

/** The port of a shipper started with `--http 127.0.0.1:0`, once it listens. */
export async function httpPort(run: ShipperRun): Promise<number> {
  await waitForLog(run, 'http listening');
  return Number(/"listen":"127\.0\.0\.1:(\d+)"/.exec(run.stderr())![1]);
}

/** What a shipper's /healthz answered. */
export interface ShipHealthz {
  code: number;
  body: { status: string; detail: { waiting: { reason: string; message: string }[]; engine: { nodes: { url: string }[] } } };
}

export async function healthz(port: number): Promise<ShipHealthz> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { code: res.status, body: (await res.json()) as ShipHealthz['body'] };
}

/** The first value of a metric line matching `re` (its first group) in a shipper's /metrics. */
export async function metricOf(port: number, re: RegExp): Promise<number> {
  return Number(re.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1]);
}

/** Waits until the shipper has logged a message (e.g. "following file"). */
export async function waitForLog(run: ShipperRun, msg: string, times = 1, timeoutMs = 20_000): Promise<void> {
  await waitFor(`log message ${JSON.stringify(msg)}`, () => run.stderr().split(`"msg":"${msg}"`).length - 1 >= times, timeoutMs, 50);
}

export async function waitForCount(index: string, n: number, timeoutMs = 30_000): Promise<void> {
  let last = 0;
  await waitFor(`${n} documents in ${index} (last count ${last})`, async () => (last = await count(index)) >= n, timeoutMs, 300).catch(() => {
    throw new Error(`timed out waiting for ${n} documents in ${index}; found ${last}`);
  });
}

export { sleep };

/**
 * Asserts every expected line is stored exactly once: as many documents as lines, each message as
 * often as it was written, and each _id the one derived from the line's offset (distinct by construction).
 */
export function expectExactlyOnce(docs: Stored[], expected: string[]): void {
  const want = new Map<string, number>();
  for (const l of expected) want.set(l, (want.get(l) ?? 0) + 1);
  const got = new Map<string, number>();
  for (const d of docs) got.set(d.message, (got.get(d.message) ?? 0) + 1);
  const missing: string[] = [];
  const extra: string[] = [];
  for (const [m, n] of want) if ((got.get(m) ?? 0) < n) missing.push(`${m.slice(0, 80)} (${got.get(m) ?? 0}/${n})`);
  for (const [m, n] of got) if ((want.get(m) ?? 0) < n) extra.push(`${m.slice(0, 80)} (${n}/${want.get(m) ?? 0})`);
  const summary = { stored: docs.length, expected: expected.length, missing: missing.slice(0, 5), extra: extra.slice(0, 5), nMissing: missing.length, nExtra: extra.length };
  expect(summary).toEqual({ stored: expected.length, expected: expected.length, missing: [], extra: [], nMissing: 0, nExtra: 0 });
  for (const d of docs) expect(d.id.endsWith(`-${d.offset.toString(36)}`)).toBe(true);
  expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
}

/** Distinct, recognisable lines: `${tag} 000123 padding...`. */
export function lines(tag: string, from: number, to: number, pad = 60): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(`${tag} ${String(i).padStart(6, '0')} ${'x'.repeat(pad)}`);
  return out;
}
