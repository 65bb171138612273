// Engine detection over plain HTTP (the official client is only for `setup`): the next URL when one is
// unreachable, the engine's refusal passed on, the shipping path free of the official client.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { detectEngine } from '../../../src/ship/output/flavor';
import { startEsStandin, type EsStandin } from './es-standin';

let es: EsStandin;
beforeAll(async () => {
  es = await startEsStandin({ users: { elastic: 'changeme' } });
});
afterAll(async () => {
  await es.close();
});

/** A URL nothing listens on: a port that was free a moment ago. */
async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

it('moves on to the next URL when the first is unreachable', async () => {
  const info = await detectEngine({ urls: [await deadUrl(), es.url], auth: { username: 'elastic', password: 'changeme' }, requestTimeoutMs: 5000 });
  expect(info).toEqual({ flavor: 'elasticsearch', version: '8.19.0', clusterName: 'standin' });
});

it('passes on the engine refusing the credentials, with the status and the reason', async () => {
  await expect(detectEngine({ urls: [es.url], auth: { username: 'elastic', password: 'wrong' }, requestTimeoutMs: 5000 })).rejects.toThrow(
    /HTTP 401.*unable to authenticate user/,
  );
});

it('with flavor opensearch asks in plain application/json and runs no product check', async () => {
  const seen: string[] = [];
  const os = http.createServer((req, res) => {
    seen.push(String(req.headers.accept));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cluster_name: 'os', version: { number: '2.19.0', distribution: 'opensearch' } }));
  });
  await new Promise<void>((r) => os.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(os.address() as AddressInfo).port}`;
    expect(await detectEngine({ urls: [url], requestTimeoutMs: 5000 }, 'opensearch')).toEqual({ flavor: 'opensearch', version: '2.19.0', clusterName: 'os' });
    expect(await detectEngine({ urls: [url], requestTimeoutMs: 5000 })).toEqual({ flavor: 'opensearch', version: '2.19.0', clusterName: 'os' });
    expect(seen).toEqual(['application/json', 'application/json']);
  } finally {
    await new Promise<void>((r) => os.close(() => r()));
  }
});

it('the shipping command does not load the official Elasticsearch client (it costs ~17 MiB of RSS)', () => {
  const cli = resolve(__dirname, '../../../dist/src/ship/cli.js');
  const loaded = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(cli)}); process.stdout.write(String(Object.keys(require.cache).filter((k) => k.includes('@elastic')).length))`]);
  expect(loaded.toString()).toBe('0');
});
