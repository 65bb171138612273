// The command line: help with examples, and usage/configuration mistakes exit 2 naming what is wrong.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ship-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ship(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('--help lists every flag of the issue and examples', () => {
  const r = ship(['--help']);
  expect(r.status).toBe(0);
  for (const flag of ['--config', '--es', '--index', '--state-dir', '--from', '--once', '--http', '--flavor', '--compression', '--max-line', '--fields', 'setup']) {
    expect(r.stdout).toContain(flag);
  }
  expect(r.stdout).toContain('Examples:');
});

test('an unknown flag exits 2 naming it', () => {
  const r = ship(['--nope', 'x.log']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('--nope');
});

test('a bad --max-line exits 2 naming the flag and what was expected', () => {
  const r = ship(['--max-line', 'huge', 'x.log']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--max-line.*"huge".*expected a size/);
});

test('a typo in the configuration file exits 2 naming the file and the key', () => {
  const file = join(dir, 'bad.yml');
  writeFileSync(file, 'paths: [x.log]\nbatch:\n  max_dosc: 10\n');
  const r = ship(['-c', file]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(file);
  expect(r.stderr).toContain('max_dosc');
});

test('a bad URL in SIDEKICK_ES_URL exits 2 naming the variable', () => {
  const r = ship(['x.log'], { SIDEKICK_ES_URL: 'ftp://nowhere' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('SIDEKICK_ES_URL');
});

test('no files to follow exits 2 saying how to give them', () => {
  const r = ship(['--state-dir', join(dir, 'state')]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/no files to follow/);
});

test('a password given without a username is refused without printing the password', () => {
  const r = ship(['--once', '--state-dir', join(dir, 'state'), join(dir, 'none-*.log')], { SIDEKICK_ES_PASSWORD: 's3cr3t-value' });
  expect(r.status).toBe(2);
  expect(r.stderr).not.toContain('s3cr3t-value');
});

test('a configured field that would replace a per-line field exits 2 naming it', () => {
  const r = ship(['--fields', 'message=x', '--state-dir', join(dir, 'state'), join(dir, 'none-*.log')]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/fields: .*message/);
});

test('an unreadable TLS file exits 2 naming the key and the file', () => {
  const r = ship(['--state-dir', join(dir, 'state'), join(dir, 'none-*.log')], { SIDEKICK_ES_CA_FILE: join(dir, 'missing-ca.pem') });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/es\.ca_file: cannot read .*missing-ca\.pem/);
});

test.each([
  ['memory_budget: 0', 'memory_budget'],
  ['read: { buffer_size: 0 }', 'read.buffer_size'],
  ['read: { scan_interval: 0 }', 'read.scan_interval'],
  ['read: { poll_interval: 0s }', 'read.poll_interval'],
  ['registry_flush: 0', 'registry_flush'],
])('a zero that would read nothing or spin (%s) exits 2 naming the key', (yaml, key) => {
  const file = join(dir, 'zero.yml');
  writeFileSync(file, `paths: [${join(dir, 'none-*.log')}]\nstate_dir: ${join(dir, 'state')}\n${yaml}\n`);
  const r = ship(['-c', file, '--once']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(key);
  expect(r.stderr).toMatch(/expected at least/);
});

test('the example configuration is valid', () => {
  const { loadShipConfig } = jest.requireActual<typeof import('../../src/ship/config')>('../../src/ship/config');
  const cfg = loadShipConfig({ config: join(__dirname, '../../examples/ship.yml') }, [], {});
  expect(cfg.paths.length).toBeGreaterThan(0);
  expect(cfg.read.max_line).toBe(1024 * 1024);
});
