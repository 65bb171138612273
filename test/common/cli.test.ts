// The installed commands behave as a user expects: real help, a version, exit 2 naming a bad flag.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

function run(bin: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cmd', `${bin}.js`), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sidekick commands', () => {
  it('sidekick --help lists the three programs with examples', () => {
    const r = run('sidekick', ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: sidekick /);
    for (const sub of ['ship', 'probe', 'haproxy']) expect(r.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    expect(r.stdout).toContain('Examples:');
  });

  it.each(['sidekick', 'sidekick-ship', 'sidekick-probe', 'sidekick-haproxy'])('%s --version prints the package version', (bin) => {
    const r = run(bin, ['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it.each([
    ['sidekick', ['--no-such-flag']],
    ['sidekick-ship', ['--no-such-flag']],
    ['sidekick-probe', ['--no-such-flag']],
    ['sidekick-haproxy', ['--no-such-flag']],
    ['sidekick', ['ship', '--no-such-flag']],
  ])('%s %p exits 2 naming the flag', (bin, args) => {
    const r = run(bin, args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('sidekick ship --help is the shipper help under the sidekick name', () => {
    const r = run('sidekick', ['ship', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: sidekick ship /);
  });
});

describe('graceful shutdown', () => {
  const script = (stopBody: string): string => `
    const { onShutdown } = require(${JSON.stringify(join(root, 'dist/src/common/shutdown.js'))});
    const { createLogger } = require(${JSON.stringify(join(root, 'dist/src/common/log.js'))});
    const logger = createLogger({ name: 't', format: 'json' });
    setInterval(() => {}, 1000);
    onShutdown({ logger, graceMs: 500, stop: async () => { ${stopBody} } });
    process.stdout.write('ready\\n');
  `;

  function runUntilSignal(body: string): Promise<{ code: number | null; stdout: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['-e', script(body)]);
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('ready')) child.kill('SIGTERM');
      });
      child.on('exit', (code) => resolve({ code, stdout }));
    });
  }

  it('runs the stop handler on SIGTERM and exits 0', async () => {
    const r = await runUntilSignal("process.stdout.write('flushed\\n');");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('flushed');
  });

  it('exits 1 when the stop handler outlives the grace period', async () => {
    const r = await runUntilSignal('await new Promise(() => {});');
    expect(r.code).toBe(1);
  });
});

describe('output into a closed pipe', () => {
  it('stops quietly when the reader goes away (sidekick ship --help | head -1)', () => {
    const r = spawnSync('sh', ['-c', `node ${join(root, 'dist/cmd/sidekick.js')} ship --help | head -1`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout).toMatch(/^Usage: sidekick ship/);
    expect(r.stderr).toBe('');
  });
});
