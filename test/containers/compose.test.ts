// docker-compose.elk.yml run for real, with images/stand-ins.compose.yml swapping in local stand-ins for the
// public images (OpenSearch for Elasticsearch, Debian's busybox and HAProxy) and leaving Kibana out: the sidekicks
// run from their images exactly as the file says. One stack per Compose implementation installed, under a project
// name of its own, on the networks Compose creates for it; nothing is published but on 127.0.0.1's free ports.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from '../../images/build';
import { BUILD_TIMEOUT_MS, buildAllImages, buildStandinImages, composeCommands, describeWithDocker, docker, dockerOk, removeStale, runCommand, type ComposeCommand, type DockerResult } from '../support/docker';
import { eventually, sleep } from '../support/wait';

const COMPOSE_FILES = ['-f', join(ROOT, 'docker-compose.elk.yml'), '-f', join(ROOT, 'images/stand-ins.compose.yml')];
const PORTS = ['ES_PORT', 'KIBANA_PORT', 'PROBE_PORT', 'LB_PORT', 'HAPROXY_METRICS_PORT', 'HEAL_PORT'];
const INDEX = 'logs-sidekick-default';
const LOG = '/var/log/app/app.log';

interface Event {
  event: string;
  proxy: string;
  server?: string;
  from: string;
  to: string;
  status: string;
}

const STACK_PREFIX = 'sidekick-test-stack-';
const implementations = composeCommands();
const installed = implementations.filter((c) => !c.missing);

describeWithDocker('the compose stack (docker-compose.elk.yml), for real', () => {
  if (installed.length === 0) {
    it('needs docker-compose or the docker compose plugin', () => {
      throw new Error(`no Compose implementation found: ${implementations.map((c) => c.missing).join('; ')}`);
    });
    return;
  }
  // Named so the run's output says which implementation was left out, and why.
  for (const c of implementations.filter((i) => i.missing)) describe.skip(`under ${c.name} [skipped: ${c.missing}]`, () => it('runs the stack', () => undefined));

  // A stack of a run that was killed (its pid is gone) is removed first, with its volumes.
  beforeAll(() => removeStale(STACK_PREFIX), 200_000);

  describe.each(installed.map((c) => [c.name, c] as [string, ComposeCommand]))('under %s', (_name, compose) => {
    const project = `${STACK_PREFIX}${process.pid}-${compose.argv.length}-${Date.now().toString(36)}`;
    const dir = mkdtempSync(join(tmpdir(), 'sidekick-stack-'));
    let env: NodeJS.ProcessEnv = {};
    let es = '';
    let down = false;

    const run = (args: string[], timeoutMs = 120_000): Promise<DockerResult> => runCommand([...compose.argv, '-p', project, ...COMPOSE_FILES, ...args], { env, timeoutMs });
    const ok = async (args: string[], timeoutMs?: number): Promise<string> => {
      const r = await run(args, timeoutMs);
      if (r.code !== 0) throw new Error(`${compose.argv.join(' ')} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
      return r.stdout.trim();
    };
    const container = async (service: string): Promise<string> => (await ok(['ps', '-q', service])).split('\n')[0];
    const address = async (service: string, port: number): Promise<string> => `http://${(await ok(['port', service, String(port)])).split('\n')[0]}`;
    const inApp = async (...command: string[]): Promise<string> => dockerOk(['exec', await container('app'), ...command]);
    const state = async (id: string): Promise<{ Status: string; ExitCode: number; Health?: { Status: string } }> =>
      JSON.parse(await dockerOk(['inspect', '--format', '{{json .State}}', id]));
    const es_ = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(es + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await res.json()) as T;
    };
    const stored = async (): Promise<{ count: number; offsets: number }> => {
      await es_('POST', `/${INDEX}/_refresh`);
      const r = await es_<{ hits: { total: { value: number } }; aggregations: { offsets: { value: number } } }>('POST', `/${INDEX}/_search`, {
        size: 0,
        track_total_hits: true,
        query: { term: { 'log.file.path': LOG } },
        aggs: { offsets: { cardinality: { field: 'log.offset', precision_threshold: 40000 } } },
      });
      return { count: r.hits.total.value, offsets: r.aggregations.offsets.value };
    };
    const events = async (): Promise<Event[]> =>
      (await dockerOk(['logs', await container('haproxy-sidekick')]))
        .split('\n')
        .filter((l) => l.startsWith('{"event"'))
        .map((l) => JSON.parse(l) as Event)
        .filter((e) => e.event === 'server.state' && e.proxy === 'app' && e.server === 'app1');

    beforeAll(async () => {
      const [images, standins] = await Promise.all([buildAllImages(['ship', 'probe', 'haproxy', 'heal']), buildStandinImages()]);
      // The demo's checks with test-sized timings: a heartbeat older than 2 s is stale.
      const checks = parse(readFileSync(join(ROOT, 'images/demo/checks.yml'), 'utf8')) as { checks: Record<string, unknown>[] };
      for (const c of checks.checks) Object.assign(c, { interval: '500ms', rise: 1, fall: 1, start_period: '0s' }, c.kind === 'file' ? { max_age: '2s' } : {});
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'checks.yml'), stringify(checks), { mode: 0o644 });
      env = {
        ...process.env,
        SIDEKICK_TAG: images.ship.split(':')[1],
        SIDEKICK_STANDIN_APP: standins.app,
        SIDEKICK_STANDIN_HAPROXY: standins.haproxy,
        SIDEKICK_STANDIN_OPENSEARCH: standins.opensearch,
        SIDEKICK_PROBE_CHECKS: join(dir, 'checks.yml'),
        SIDEKICK_HEAL_SECRET: randomBytes(32).toString('hex'),
        DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
        ...Object.fromEntries(PORTS.map((p) => [p, '127.0.0.1:0'])),
      };
      await ok(['up', '-d', '--no-build'], 10 * 60_000);
      es = await address('elasticsearch', 9200);
    }, BUILD_TIMEOUT_MS);

    afterAll(async () => {
      if (!down) await run(['down', '-v', '--timeout', '5'], 180_000);
      rmSync(dir, { recursive: true, force: true });
    }, 200_000);

    it('ship stores every line the app writes exactly once, also after docker kill and docker start mid-stream; docker stop saves its position and exits 0', async () => {
      const ship = await container('ship');
      await eventually('30 lines stored', async () => (await stored()).count >= 30, 120_000, 250);
      await dockerOk(['kill', ship]);
      const killedAt = (await stored()).count;
      expect((await state(ship)).ExitCode).toBe(137);
      await sleep(1000); // the app goes on writing
      await dockerOk(['start', ship]);
      await eventually('ship resumed after the kill', async () => (await stored()).count > killedAt + 10, 60_000, 250);

      await inApp('touch', '/var/run/app/hold-writes');
      await sleep(500); // the write loop's current turn ends
      const lines = Number((await inApp('wc', '-l', LOG)).split(/\s+/)[0]);
      const size = Number(await inApp('stat', '-c', '%s', LOG));
      await eventually(`all ${lines} lines stored`, async () => (await stored()).count >= lines, 60_000, 250);
      expect(await stored()).toEqual({ count: lines, offsets: lines });
      // Both starts gzipped their bodies with the image's libdeflate binding, which the engine took.
      const starts = (await docker(['logs', ship])).stderr.split('\n').filter((l) => l.includes('"sidekick-ship starting"'));
      expect(starts.map((l) => (JSON.parse(l) as { compression: string }).compression)).toEqual([expect.stringMatching(/^gzip \(libdeflate \d/), expect.stringMatching(/^gzip \(libdeflate \d/)]);
      // And wrote runs of plain lines with the image's bulk-lines binding.
      expect(starts.map((l) => (JSON.parse(l) as { plain_lines: string }).plain_lines)).toEqual(['bulk-lines binding', 'bulk-lines binding']);

      await dockerOk(['stop', '--time', '10', ship]);
      expect(await state(ship)).toEqual(expect.objectContaining({ Status: 'exited', ExitCode: 0 }));
      await dockerOk(['cp', `${ship}:/var/lib/sidekick/ship/registry.json`, dir]);
      const registry = JSON.parse(readFileSync(join(dir, 'registry.json'), 'utf8')) as { files: { path: string; offset: number }[] };
      expect(registry.files.find((f) => f.path === LOG)?.offset).toBe(size);
      await inApp('rm', '/var/run/app/hold-writes');
    });

    it("the probe container, in the app's network namespace, turns healthy through its image's HEALTHCHECK", async () => {
      const probe = await container('probe');
      expect(await dockerOk(['inspect', '--format', '{{.HostConfig.NetworkMode}}', probe])).toBe(`container:${await container('app')}`);
      await eventually('probe container healthy', async () => (await state(probe)).Health?.Status === 'healthy', 120_000, 250);
    });

    it('heal, on the engine socket through its group, read-only and without capabilities, turns healthy', async () => {
      const heal = await container('heal');
      await eventually('heal container healthy', async () => (await state(heal)).Health?.Status === 'healthy', 120_000, 250);
    });

    it('HAProxy takes the app out when its heartbeat goes stale (the probe says so on its agent port) and back when fresh; haproxy-sidekick emits both server.state events', async () => {
      const lb = await address('lb', 80);
      const front = async (): Promise<number> => (await fetch(lb).catch(() => undefined))?.status ?? 0;
      await eventually('the app served through HAProxy', async () => (await front()) === 200, 120_000, 250);
      const before = (await events()).length;

      await inApp('touch', '/var/run/app/hold-heartbeat');
      const out = await eventually('a server.state event app/app1 up → down', async () => (await events()).slice(before).find((e) => e.from === 'up' && e.to === 'down'), 60_000, 250);
      expect(out.status).toBe('DOWN (agent)');
      expect(await front()).toBe(503);

      await inApp('rm', '/var/run/app/hold-heartbeat');
      await eventually('a server.state event app/app1 down → up', async () => (await events()).slice(before).find((e) => e.from === 'down' && e.to === 'up'), 60_000, 250);
      await eventually('the app served through HAProxy again', async () => (await front()) === 200, 30_000, 250);
    });

    it('docker stop ends the probe, haproxy-sidekick and heal within their grace period with exit status 0', async () => {
      for (const service of ['probe', 'haproxy-sidekick', 'heal']) {
        const id = await container(service);
        await dockerOk(['stop', '--time', '10', id]);
        expect([service, await state(id)]).toEqual([service, expect.objectContaining({ Status: 'exited', ExitCode: 0 })]);
      }
    });

    it('down -v leaves no container, network or volume of the project behind, anonymous volumes included', async () => {
      const label = `label=com.docker.compose.project=${project}`;
      const ids = (await dockerOk(['ps', '-aq', '--filter', label])).split('\n');
      // Every volume the stack's containers mount: the file's named ones and the images' anonymous ones
      // (ship-setup's /var/lib/sidekick), which carry no project label.
      const mounted = (await dockerOk(['inspect', '--format', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', ...ids])).split(/\s+/).filter(Boolean);
      const anonymous = mounted.filter((v) => /^[0-9a-f]{64}$/.test(v));
      expect(anonymous.length).toBeGreaterThan(0);
      await ok(['down', '-v', '--timeout', '5'], 180_000);
      down = true;
      expect(await dockerOk(['ps', '-aq', '--filter', label])).toBe('');
      expect(await dockerOk(['network', 'ls', '-q', '--filter', label])).toBe('');
      expect(await dockerOk(['volume', 'ls', '-q', '--filter', label])).toBe('');
      const left = (await dockerOk(['volume', 'ls', '-q'])).split('\n');
      expect(mounted.filter((v) => left.includes(v))).toEqual([]);
    });
  });
});
