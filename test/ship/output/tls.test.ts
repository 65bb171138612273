// TLS to the engine: a private CA is trusted when given, refused (and retried, never dropped) when not, and
// skipping verification works but warns.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSink, SinkStopped } from '../../../src/ship/output/sink';
import { detectEngine } from '../../../src/ship/output/flavor';
import { startEsStandin, type EsStandin } from './es-standin';
import { makeDocs, sinkOptions, tempDir } from './helpers';

const dir = tempDir();
const ca = join(dir, 'ca.pem');
let es: EsStandin;

beforeAll(async () => {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=sidekick test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
  es = await startEsStandin({ tls: { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) } });
});
afterAll(async () => {
  await es.close();
});

it('ships over HTTPS when the CA file is given, and the official client trusts it too', async () => {
  const opts = sinkOptions([es.url], { tls: { caFile: ca } });
  const sink = await createSink(opts);
  try {
    expect(await sink.send(makeDocs(3, { key: 'ca' }))).toEqual(['created', 'created', 'created']);
    expect((await detectEngine({ urls: [es.url], tls: { caFile: ca }, requestTimeoutMs: 5000 })).flavor).toBe('elasticsearch');
  } finally {
    await sink.close();
  }
  expect(opts.log.text()).not.toContain('verification is off');
});

it('refuses an unknown certificate, keeps the documents and says why in health()', async () => {
  const sink = await createSink(sinkOptions([es.url]));
  const sending = sink.send(makeDocs(2, { key: 'noca' }));
  await new Promise((r) => setTimeout(r, 300));
  expect(sink.health().ok).toBe(false);
  expect(sink.health().lastError).toMatch(/certificate|self.signed|UNABLE_TO_VERIFY|SELF_SIGNED/i);
  sink.stop();
  await expect(sending).rejects.toBeInstanceOf(SinkStopped);
  await sink.close();
  expect(es.docs.get('logs-sidekick-test')?.has(makeDocs(1, { key: 'noca' })[0].id)).toBeFalsy();
});

it('with insecure: true ships without verification and warns once', async () => {
  const opts = sinkOptions([es.url], { tls: { insecure: true } });
  const sink = await createSink(opts);
  try {
    await sink.send(makeDocs(2, { key: 'insecure-a' }));
    await sink.send(makeDocs(2, { key: 'insecure-b' }));
  } finally {
    await sink.close();
  }
  const warnings = opts.log.lines().filter((l) => String(l.msg).includes('verification is off'));
  expect(warnings).toHaveLength(1);
});

it('names an unreadable TLS file as a usage error', async () => {
  await expect(createSink(sinkOptions([es.url], { tls: { caFile: join(dir, 'missing.pem') } }))).rejects.toThrow(/cannot read TLS CA file .*missing\.pem: ENOENT/);
});
