// sidekick-heal as a user runs it: help, configuration errors (exit 2 naming the file, variable or flag and key),
// an engine that cannot be reached (exit 1 naming the socket, no stack trace), secrets kept out of every output,
// and a clean stop on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHealConfig } from '../../src/heal/config';
import { eventually, tempDir } from '../support/wait';
import { describeWithDocker } from './helpers';

const CLI = join(__dirname, '../../dist/cmd/sidekick-heal.js');
const SECRET = 'do-not-print-this-secret-0123456789';

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function yaml(text: string): string {
  const file = join(tempDir('sidekick-heal-cli-'), 'heal.yml');
  writeFileSync(file, text);
  return file;
}

describe('sidekick-heal configuration', () => {
  test('defaults: the engine socket, loopback for the event endpoint, the issue\'s guardrails', () => {
    expect(loadHealConfig(undefined, [], {})).toMatchObject({
      docker_host: { kind: 'unix', socketPath: '/var/run/docker.sock' },
      http: '127.0.0.1:5067',
      label: 'sidekick.heal',
      min_interval: 30_000,
      max_interval: 600_000,
      max_actions: 3,
      window: 3_600_000,
      min_healthy: 1,
      dry_run: false,
      webhooks: [],
    });
  });

  test('YAML < environment (DOCKER_HOST wins over docker_host) < flags', () => {
    const file = yaml('docker_host: unix:///from/yaml.sock\nmax_actions: 5\nwindow: 2h\n');
    const s = loadHealConfig(file, [{ flag: '--max-actions', key: 'max_actions', value: 7 }], { DOCKER_HOST: 'tcp://10.0.0.2:2375', SIDEKICK_HEAL_MAX_ACTIONS: '6' });
    expect(s.docker_host).toMatchObject({ kind: 'tcp', host: '10.0.0.2', port: 2375 });
    expect(s.max_actions).toBe(7);
    expect(s.window).toBe(7_200_000);
  });

  test('secrets come from the environment or a file', () => {
    const dir = tempDir('sidekick-heal-secret-');
    writeFileSync(join(dir, 'token'), 'a-token-read-from-a-file-1234\n');
    const s = loadHealConfig(undefined, [], { SIDEKICK_HEAL_SECRET: SECRET, SIDEKICK_HEAL_TOKEN_FILE: join(dir, 'token') });
    expect(s.secret).toBe(SECRET);
    expect(s.token).toBe('a-token-read-from-a-file-1234');
  });
});

describe('sidekick-heal command', () => {
  test('--help shows the options, the secrets\' variables and examples; sidekick heal is the same program', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--dry-run/);
    expect(r.stdout).toMatch(/SIDEKICK_HEAL_SECRET_FILE/);
    expect(r.stdout).toContain('Examples:');
    const umbrella = spawnSync(process.execPath, [join(__dirname, '../../dist/cmd/sidekick.js'), 'heal', '--help'], { encoding: 'utf8' });
    expect(umbrella.status).toBe(0);
    expect(umbrella.stdout).toMatch(/^Usage: sidekick heal /);
  });

  test.each([
    [['--max-actions', 'many'], 'flag --max-actions: "many" is not valid; expected a whole number'],
    [['--window', 'soon'], 'flag --window: window: "soon" is not valid; expected a duration'],
    [['--docker-host', 'ftp://engine'], 'flag --docker-host: docker_host: "ftp://engine" is not valid; expected unix:///path/to/docker.sock'],
    [['--http', 'everywhere'], 'flag --http: http: "everywhere" is not valid; expected HOST:PORT'],
    [['--action', 'reboot'], "argument 'reboot' is invalid"],
  ])('%p exits 2 naming the flag and what was expected', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  test('a mistake in the YAML file or the environment exits 2 naming where, the key and what was expected', () => {
    const file = yaml('max_actions: 0\nmap:\n  haproxy:\n    web1: app-1\nretries: 3\n');
    const r = run(['-c', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}: \n`);
    expect(r.stderr).toContain('max_actions: 0 is not valid; expected a whole number of at least 1');
    expect(r.stderr).toContain('map.haproxy.web1: "app-1" is not valid; expected the key to be BACKEND/SERVER, such as app/web1');
    expect(r.stderr).toMatch(/unknown key "retries"/);
    const env = run([], { DOCKER_HOST: 'docker.example:2375' });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain('environment variable DOCKER_HOST: docker_host: "docker.example:2375" is not valid');
  });

  test('a short secret is refused without being shown', () => {
    const r = run([], { SIDEKICK_HEAL_SECRET: 'hunter2' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('SIDEKICK_HEAL_SECRET (or its _FILE): the value is too short (7 characters); expected at least 16');
    expect(r.stderr).not.toContain('hunter2');
    const missing = run([], { SIDEKICK_HEAL_SECRET_FILE: '/no/such/secret' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot read secret file /no/such/secret (ENOENT)');
  });

  test('an engine that cannot be reached is one clear line naming the socket, exit 1', () => {
    const dir = tempDir('sidekick-heal-nosock-');
    const r = run(['--docker-host', `unix://${dir}/docker.sock`]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`sidekick-heal: error: cannot reach the container engine at unix://${dir}/docker.sock: no such socket ${dir}/docker.sock (is the engine running, and is the socket mounted into this container?)`);
    writeFileSync(join(dir, 'not-a-socket'), '');
    const notSocket = run(['--docker-host', join(dir, 'not-a-socket')]);
    expect(notSocket.status).toBe(1);
    expect(notSocket.stderr).toMatch(/connection refused \(nothing listens there, or .*not-a-socket is not a socket\)/);
    expect(notSocket.stderr).not.toMatch(/\n\s+at /);
  });
});

describeWithDocker('sidekick-heal process', () => {
  test('runs against the engine, never prints its secrets, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, '--http', '127.0.0.1:0', '--log-level', 'debug', '--log-format', 'json', '--label', `heal-p${process.pid}`], {
      env: { PATH: process.env.PATH, SIDEKICK_HEAL_SECRET: SECRET, SIDEKICK_HEAL_TOKEN: `${SECRET}-token`, SIDEKICK_HEAL_WEBHOOK_SECRET: `${SECRET}-hook` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    await eventually('heal to follow the engine', () => output.includes('following the engine events'), 20_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/"msg":"connected to the container engine"/);
    expect(output).not.toContain(SECRET);
  }, 40_000);
});
