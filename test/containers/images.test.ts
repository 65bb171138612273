// Each image in a container on the real Docker engine, as it runs in a deployment: its CLI through `docker run`,
// a non-root user, a read-only root file system and no capabilities, a clean stop, an init that reaps orphans, and
// the probe image's HEALTHCHECK read back from the engine. One build per run, shared (images/build.js).
import { chmodSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGES, NODE_IMAGE } from '../../images/build';
import { BUILD_TIMEOUT_MS, buildAllImages, describeWithDocker, docker, dockerOk, useDocker } from '../support/docker';
import { eventually, tempDir } from '../support/wait';

const BINS: Record<string, string> = { ship: 'sidekick-ship', probe: 'sidekick-probe', haproxy: 'sidekick-haproxy', heal: 'sidekick-heal', sidekick: 'sidekick' };
/** How a deployment should run every sidekick: nothing writable but a tmpfs, no capability. */
const HARDENED = ['--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL'];

/** A directory the container's user (uid 1000) can read, mounted read-only at /etc/sidekick, with checks.yml in it. */
function configDir(checks: unknown): string {
  const dir = tempDir('sidekick-containers-');
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'checks.yml'), JSON.stringify(checks));
  return dir;
}

async function state(container: string): Promise<{ Status: string; ExitCode: number; Health?: { Status: string; Log: { Output: string }[] } }> {
  return JSON.parse(await dockerOk(['inspect', '--format', '{{json .State}}', container]));
}

/** The processes of a running container in state Z (zombies), read from its /proc (the engine's `docker top` omits them). */
async function zombies(container: string): Promise<string[]> {
  const stats = await dockerOk(['exec', container, 'sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null; true']);
  // a stat line is "PID (COMM) STATE ...", and COMM may hold spaces and parentheses
  return stats.split('\n').filter((l) => l.slice(l.lastIndexOf(')') + 2).startsWith('Z'));
}

describeWithDocker('the images in containers', () => {
  const d = useDocker('images');
  let images: Record<string, string> = {};
  beforeAll(async () => {
    images = await buildAllImages(Object.keys(BINS));
  }, BUILD_TIMEOUT_MS);

  it('every program has an image, and npm run images builds each one', () => {
    for (const target of Object.keys(BINS)) expect([target, IMAGES[target]]).toEqual([target, expect.stringMatching(/^sidekick/)]);
  });

  it.each(Object.entries(BINS))('%s: --help exits 0 through docker run, and a bad flag exits 2 naming it', async (target, bin) => {
    const help = await d.run(['--rm', '--network', 'none', images[target], '--help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining(`Usage: ${bin}`)]);
    const bad = await d.run(['--rm', '--network', 'none', images[target], '--no-such-flag']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining("unknown option '--no-such-flag'")]);
  });

  it.each(Object.keys(BINS))('%s runs as the non-root user node (uid 1000)', async (target) => {
    const r = await d.run(['--rm', '--network', 'none', '--entrypoint', 'id', images[target]]);
    expect([r.code, r.stdout.trim()]).toEqual([0, 'uid=1000(node) gid=1000(node) groups=1000(node)']);
  });

  it("keeps Node's compile cache under /tmp, so that each later start (a HEALTHCHECK's, say) skips compiling its modules", async () => {
    const run = (env: string[]) =>
      d.run(['--rm', '--network', 'none', ...HARDENED, ...env, '--entrypoint', 'sh', images.probe, '-c', 'node /app/dist/cmd/sidekick-probe.js --help >/dev/null && node -p process.versions.node && find /tmp -path "*compile-cache*" -type f | wc -l']);
    const on = await run([]);
    expect(on.code).toBe(0);
    const [version, files] = on.stdout.trim().split('\n');
    // module.enableCompileCache came with Node 22.1; the images are built on Node 24 unless SIDEKICK_NODE_IMAGE says otherwise.
    if (Number(version.split('.')[0]) < 22) return;
    expect(Number(files)).toBeGreaterThan(0);
    const off = await run(['-e', 'NODE_DISABLE_COMPILE_CACHE=1']);
    expect([off.code, off.stdout.trim().split('\n')[1]]).toEqual([0, '0']);
  });

  it.each(['ship', 'sidekick'])("%s: gzips with the libdeflate binding built into the image, on a read-only root with no capability", async (target) => {
    const script = [
      "const { createGzipCodec } = require('/app/dist/src/ship/output/gzip.js');",
      "const codec = createGzipCodec(1, 1);",
      "const input = Buffer.from('{\"message\":\"a line\"}\\n'.repeat(1000));",
      "codec.compress(input).then((out) => console.log(JSON.stringify({ name: codec.name, same: require('zlib').gunzipSync(out).equals(input), ratio: input.length / out.length })));",
    ].join(' ');
    const r = await d.run(['--rm', '--network', 'none', ...HARDENED, '--entrypoint', 'node', images[target], '-e', script]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(JSON.parse(r.stdout)).toEqual({ name: expect.stringMatching(/^libdeflate \d+\.\d+/), same: true, ratio: expect.any(Number) });
    expect(JSON.parse(r.stdout).ratio).toBeGreaterThan(50);
  });

  describe('the probe image', () => {
    it(`ICMP to 127.0.0.1 works with --cap-add NET_RAW alone, and fails saying why without it (Node ${NODE_IMAGE})`, async () => {
      const version = await dockerOk(['run', '--rm', '--network', 'none', '--entrypoint', 'node', images.probe, '-p', 'process.versions.node']);
      if (!process.env.SIDEKICK_NODE_IMAGE) expect(version.split('.')[0]).toBe(/^node:(\d+)/.exec(NODE_IMAGE)![1]);
      // a generous timeout: a loaded machine may answer loopback slowly; what is checked is the privilege
      const ok = await d.run(['--rm', ...HARDENED, '--cap-add', 'NET_RAW', images.probe, 'icmp', '127.0.0.1', '--timeout', '10s', '--json']);
      expect([ok.code, JSON.parse(ok.stdout)]).toEqual([0, expect.objectContaining({ kind: 'icmp', ok: true, message: expect.stringContaining('1/1 replies') })]);
      const denied = await d.run(['--rm', ...HARDENED, images.probe, 'icmp', '127.0.0.1', '--json']);
      expect([denied.code, JSON.parse(denied.stdout)]).toEqual([1, expect.objectContaining({ ok: false, message: expect.stringContaining('CAP_NET_RAW capability is missing') })]);
    });

    it('its HEALTHCHECK drives the engine: starting, then healthy, then unhealthy when the heartbeat goes stale; docker stop exits 0', async () => {
      const dir = configDir({
        http: '0.0.0.0:8080',
        checks: [{ name: 'worker-heartbeat', kind: 'file', path: '/etc/sidekick/heartbeat', max_age: '2s', interval: '200ms', rise: 1, fall: 1, start_period: '0s' }],
      });
      const heartbeat = join(dir, 'heartbeat');
      writeFileSync(heartbeat, '');
      const beat = setInterval(() => writeFileSync(heartbeat, ''), 200);
      try {
        const name = d.name('health');
        // The image's own HEALTHCHECK command, run every second instead of every 10 s; a start period and a timeout
        // that let a loaded machine start node, and two failures in a row for unhealthy.
        const timings = ['--health-interval', '1s', '--health-timeout', '10s', '--health-retries', '2', '--health-start-period', '60s'];
        const started = await d.run(['-d', '--name', name, ...HARDENED, '-v', `${dir}:/etc/sidekick:ro`, ...timings, images.probe, 'serve', '--config', '/etc/sidekick/checks.yml']);
        expect([started.code, started.stderr]).toEqual([0, '']);
        const seen: string[] = [];
        const watch = async (until: string): Promise<void> => {
          await eventually(`health ${until} (seen: ${seen.join(' → ')})`, async () => {
            const s = (await state(name)).Health?.Status ?? 'none';
            if (seen[seen.length - 1] !== s) seen.push(s);
            return s === until;
          }, 60_000, 100);
        };
        await watch('healthy');
        clearInterval(beat);
        const old = Date.now() / 1000 - 60;
        utimesSync(heartbeat, old, old);
        await watch('unhealthy');
        expect(seen).toEqual(['starting', 'healthy', 'unhealthy']);
        // the engine's health log holds the probe's own answer (on a loaded machine some runs may time out instead)
        await eventually('a health log entry with the probe\'s 503', async () => (await state(name)).Health!.Log.some((l) => l.Output.includes('status 503')), 30_000, 250);

        await dockerOk(['stop', '--time', '10', name]);
        expect(await state(name)).toEqual(expect.objectContaining({ Status: 'exited', ExitCode: 0 }));
      } finally {
        clearInterval(beat);
      }
    });

    it('reaps the grandchildren of exec checks that time out: no zombie under its init, zombies with node as PID 1', async () => {
      const dir = configDir({
        http: '0.0.0.0:8080',
        checks: [{ name: 'forks', kind: 'exec', command: ['sh', '-c', 'sleep 60 & sleep 60'], timeout: '300ms', interval: '500ms', fall: 1 }],
      });
      const args = (name: string, entry: string[]): string[] => ['-d', '--name', name, ...HARDENED, '-v', `${dir}:/etc/sidekick:ro`, ...entry, images.probe];
      const probe = d.name('init');
      const control = d.name('no-init');
      await d.run([...args(probe, []), 'serve', '--config', '/etc/sidekick/checks.yml']);
      // The same probe with node as PID 1: it never waits for the orphans it inherits, as the image would show
      // without its init.
      await d.run([...args(control, ['--entrypoint', 'node']), '/app/dist/cmd/sidekick-probe.js', 'serve', '--config', '/etc/sidekick/checks.yml']);
      await eventually('zombies with node as PID 1', async () => (await zombies(control)).length >= 3, 30_000, 250);
      const logs = await docker(['logs', probe]);
      expect(logs.stdout).toMatch(/"check":"forks".*timed out/);
      expect(await zombies(probe)).toEqual([]);
      expect((await state(probe)).Status).toBe('running');
    });
  });
});
