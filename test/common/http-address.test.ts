// One name for the HTTP address in every program: `http` (flag --http, SIDEKICK_<PROGRAM>_HTTP, YAML http:), with the
// old names --listen, listen: and SIDEKICK_PROBE_LISTEN still accepted, and both names at once refused.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/common/errors';
import { loadProbeConfig } from '../../src/probe/config';
import { loadShipConfig } from '../../src/ship/config';
import { freePort, tempDir, waitUntil } from '../support/wait';

const CHECK = 'checks:\n  - {name: t, kind: tcp, target: "127.0.0.1:1"}\n';

function probeFile(top: string): string {
  const file = join(tempDir('sidekick-http-name-'), 'checks.yml');
  writeFileSync(file, `${top}${CHECK}`);
  return file;
}

describe('sidekick-probe: http, and listen as its old name', () => {
  it('reads http: and listen: from the file, and refuses both', () => {
    expect(loadProbeConfig(probeFile('http: 127.0.0.1:7001\n'), [], {}).http).toBe('127.0.0.1:7001');
    expect(loadProbeConfig(probeFile('listen: 127.0.0.1:7002\n'), [], {}).http).toBe('127.0.0.1:7002');
    expect(loadProbeConfig(probeFile(''), [], {}).http).toBe('0.0.0.0:8080');
    const both = probeFile('http: 127.0.0.1:7001\nlisten: 127.0.0.1:7002\n');
    expect(() => loadProbeConfig(both, [], {})).toThrow(ConfigError);
    expect(() => loadProbeConfig(both, [], {})).toThrow(`${both}: listen: is the old name of http; set only http`);
  });

  it('takes SIDEKICK_PROBE_HTTP and SIDEKICK_PROBE_LISTEN over the file, and the flags --http and --listen over both', () => {
    const file = probeFile('listen: 127.0.0.1:7002\n');
    expect(loadProbeConfig(file, [], { SIDEKICK_PROBE_HTTP: '127.0.0.1:7003' }).http).toBe('127.0.0.1:7003');
    expect(loadProbeConfig(file, [], { SIDEKICK_PROBE_LISTEN: '127.0.0.1:7004' }).http).toBe('127.0.0.1:7004');
    expect(() => loadProbeConfig(file, [], { SIDEKICK_PROBE_LISTEN: '127.0.0.1:7004', SIDEKICK_PROBE_HTTP: '127.0.0.1:7003' })).toThrow(
      'environment variable SIDEKICK_PROBE_HTTP: sets http, as environment variable SIDEKICK_PROBE_LISTEN does; set only one of them',
    );
    const flags = (listen?: string, http?: string) => [
      { flag: '--listen', key: 'http', value: listen },
      { flag: '--http', key: 'http', value: http },
    ];
    expect(loadProbeConfig(file, flags(undefined, '127.0.0.1:7005'), { SIDEKICK_PROBE_HTTP: '127.0.0.1:7003' }).http).toBe('127.0.0.1:7005');
    expect(loadProbeConfig(file, flags('127.0.0.1:7006'), {}).http).toBe('127.0.0.1:7006');
    expect(() => loadProbeConfig(file, flags('127.0.0.1:7006', '127.0.0.1:7005'), {})).toThrow('flag --http: sets http, as flag --listen does; set only one of them');
  });
});

describe('sidekick-ship: http, and listen as another name for it', () => {
  it('reads http: or listen: from the file, --http or --listen, SIDEKICK_SHIP_HTTP', () => {
    const dir = tempDir('sidekick-http-name-');
    const file = (text: string) => {
      const f = join(dir, `ship-${Math.random().toString(36).slice(2)}.yml`);
      writeFileSync(f, text);
      return f;
    };
    expect(loadShipConfig({ config: file('http: 127.0.0.1:7101\n') }, [], {}).http).toBe('127.0.0.1:7101');
    expect(loadShipConfig({ config: file('listen: 127.0.0.1:7102\n') }, [], {}).http).toBe('127.0.0.1:7102');
    expect(loadShipConfig({ config: file('listen: 127.0.0.1:7102\n') }, [], { SIDEKICK_SHIP_HTTP: '127.0.0.1:7103' }).http).toBe('127.0.0.1:7103');
    expect(loadShipConfig({ listen: '127.0.0.1:7104' }, [], {}).http).toBe('127.0.0.1:7104');
    expect(() => loadShipConfig({ config: file('http: 127.0.0.1:7101\nlisten: 127.0.0.1:7102\n') }, [], {})).toThrow('listen: is the old name of http; set only http');
    expect(() => loadShipConfig({ listen: '127.0.0.1:7104', http: '127.0.0.1:7105' }, [], {})).toThrow('flag --listen: sets http, as flag --http does; set only one of them');
  });
});

describe('sidekick-haproxy watch: --http, and --listen as its old name', () => {
  const BIN = join(__dirname, '../../dist/cmd/sidekick-haproxy.js');

  /** Starts watch on a socket that does not exist (it keeps retrying) and returns what its HTTP address answers. */
  async function healthz(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
    const child = spawn(process.execPath, [BIN, 'watch', '--socket', join(tempDir(), 'none.sock'), '--log-level', 'error', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    child.stderr!.resume();
    const port = Number([...args, env.SIDEKICK_HAPROXY_HTTP ?? ''].join(' ').match(/127\.0\.0\.1:(\d+)/)![1]);
    let status = 0;
    try {
      await waitUntil('watch to answer', async () => {
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
        return status !== 0;
      });
    } finally {
      child.kill('SIGTERM');
    }
    return status;
  }

  it('serves on --http, --listen or SIDEKICK_HAPROXY_HTTP', async () => {
    // 503: HAProxy is not there, but the address is the one given.
    expect(await healthz(['--http', `127.0.0.1:${await freePort()}`])).toBe(503);
    expect(await healthz(['--listen', `127.0.0.1:${await freePort()}`])).toBe(503);
    expect(await healthz([], { SIDEKICK_HAPROXY_HTTP: `127.0.0.1:${await freePort()}` })).toBe(503);
    // A flag overrides the environment, under either name.
    expect(await healthz(['--listen', `127.0.0.1:${await freePort()}`], { SIDEKICK_HAPROXY_HTTP: '127.0.0.1:1' })).toBe(503);
  });

  it('refuses --http and --listen together with exit 2', async () => {
    const child = spawn(process.execPath, [BIN, 'watch', '--http', '127.0.0.1:1', '--listen', '127.0.0.1:2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('--listen is the old name of --http; give only --http');
  });
});
