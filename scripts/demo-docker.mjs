#!/usr/bin/env node
// `npm run demo:docker` (or `npm run demo -- --docker`): the demo's tour with real containers. Builds sidekick's
// images and local stand-ins for the public ones (images/stand-ins.*: OpenSearch for Elasticsearch, Debian's busybox
// and HAProxy), starts docker-compose.elk.yml with them under a project of its own, and walks through it: every line
// the app writes is stored once, also across a `docker kill`; the probe container turns healthy; a stale heartbeat
// takes the app out of HAProxy and back, seen as server.state events. Ends with `down -v`; `--keep` leaves it up.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import images from '../images/build.js';
import { check, es, finish, say, show } from './demo-common.mjs';

const root = images.ROOT;
const keep = process.argv.includes('--keep');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const why = images.dockerUnavailableReason();
if (why) {
  console.error(`demo:docker: no Docker engine: ${why}`);
  process.exit(1);
}
const compose = [['docker', 'compose'], ['docker-compose']].find((c) => spawnSync(c[0], [...c.slice(1), 'version'], { stdio: 'ignore' }).status === 0);
if (!compose) {
  console.error('demo:docker: neither `docker compose` nor docker-compose is installed (apt-get install -y docker-compose)');
  process.exit(1);
}

const project = `sidekick-demo-${process.pid}`;
const work = mkdtempSync(join(tmpdir(), 'sidekick-demo-docker-'));
const files = ['-f', 'docker-compose.elk.yml', '-f', 'images/stand-ins.compose.yml'];
let env = process.env;

function sh(argv, { visible = true, quiet = false } = {}) {
  if (visible) show(argv);
  const r = spawnSync(argv[0], argv.slice(1), { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (visible && !quiet && r.stdout) process.stdout.write(r.stdout);
  if (r.status !== 0) process.stdout.write(r.stderr);
  return r;
}
const dc = (args, opts) => sh([...compose, '-p', project, ...files, ...args], opts);
/** The container of a service, by name (docker-compose 1.x and v2 name them differently). */
const id = (service) => {
  const cid = dc(['ps', '-q', service], { visible: false }).stdout.trim().split('\n')[0];
  return sh(['docker', 'inspect', '--format', '{{.Name}}', cid], { visible: false }).stdout.trim().replace(/^\//, '');
};
const port = (service, p) => `http://${dc(['port', service, String(p)], { visible: false }).stdout.trim()}`;
const inApp = (...argv) => sh(['docker', 'exec', id('app'), ...argv], { visible: false });
const health = (service) => sh(['docker', 'inspect', '--format', '{{.State.Health.Status}}', id(service)], { visible: false }).stdout.trim();

async function until(what, fn, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

let stopping = false;
function down() {
  if (stopping) return;
  stopping = true;
  if (keep) {
    say(`The stack stays up (--keep). Stop it with: ${compose.join(' ')} -p ${project} ${files.join(' ')} down -v`);
  } else {
    say('Tearing down');
    dc(['down', '-v', '--timeout', '5'], { quiet: true });
  }
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  down();
  process.exit(130);
});

/**
 * Stacks of earlier demos whose process is gone: left up on purpose (`--keep`) or by a demo that was killed. Not
 * removed (a kept stack is the user's), only named, with the command that removes each.
 */
function earlierStacks() {
  const r = spawnSync('docker', ['ps', '-a', '--format', '{{.Label "com.docker.compose.project"}}'], { encoding: 'utf8' });
  const projects = new Set((r.stdout || '').split('\n').filter((p) => /^sidekick-demo-\d+$/.test(p)));
  return [...projects].filter((p) => {
    try {
      process.kill(Number(p.slice('sidekick-demo-'.length)), 0);
      return false;
    } catch (err) {
      return err.code !== 'EPERM';
    }
  });
}

try {
  for (const p of earlierStacks()) {
    say(`A stack of an earlier demo is still there (kept, or its demo was killed): ${p}. Remove it with: ${compose.join(' ')} -p ${p} ${files.join(' ')} down -v`);
  }
  say('Building the images and the stand-ins for public images (the first time takes minutes)');
  const log = (l) => process.stdout.write(`  ${l}\n`);
  const built = await images.buildImages({ targets: ['ship', 'probe', 'haproxy', 'heal'], log });
  const standins = await images.buildStandins({ log });
  sh(['docker', 'images', '--format', 'table {{.Repository}}:{{.Tag}}\t{{.Size}}', ...Object.values(built.images).map((r) => `--filter=reference=${r}`)]);

  // The demo's checks with short timings, so a stale heartbeat shows within seconds.
  const checks = parse(readFileSync(join(root, 'images/demo/checks.yml'), 'utf8'));
  for (const c of checks.checks) Object.assign(c, { interval: '500ms', rise: 1, fall: 1, start_period: '0s' }, c.kind === 'file' ? { max_age: '2s' } : {});
  chmodSync(work, 0o755);
  writeFileSync(join(work, 'checks.yml'), stringify(checks), { mode: 0o644 });
  env = {
    ...process.env,
    SIDEKICK_TAG: built.images.ship.split(':')[1],
    SIDEKICK_STANDIN_APP: standins.images.app,
    SIDEKICK_STANDIN_HAPROXY: standins.images.haproxy,
    SIDEKICK_STANDIN_OPENSEARCH: standins.images.opensearch,
    SIDEKICK_PROBE_CHECKS: join(work, 'checks.yml'),
    SIDEKICK_HEAL_SECRET: process.env.SIDEKICK_HEAL_SECRET || randomBytes(32).toString('hex'),
    DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
    ...Object.fromEntries(['ES_PORT', 'KIBANA_PORT', 'PROBE_PORT', 'LB_PORT', 'HAPROXY_METRICS_PORT', 'HEAL_PORT'].map((p) => [p, '127.0.0.1:0'])),
  };

  say('Starting docker-compose.elk.yml with the stand-ins (Kibana left out)');
  if (dc(['up', '-d', '--no-build']).status !== 0) throw new Error('the stack did not start');
  dc(['ps']);
  const url = port('elasticsearch', 9200);

  say('sidekick-ship: the app writes its log on a shared volume; the ship container stores every line once');
  const index = 'logs-sidekick-default';
  const count = async () => {
    await es(url, 'POST', `/${index}/_refresh`);
    return (await es(url, 'GET', `/${index}/_count`)).count ?? 0;
  };
  await until('the first lines stored', async () => (await count()) >= 50);
  const ship = id('ship');
  sh(['docker', 'kill', ship]);
  await sleep(2000);
  sh(['docker', 'start', ship]);
  inApp('touch', '/var/run/app/hold-writes');
  await sleep(500);
  const lines = Number(inApp('wc', '-l', '/var/log/app/app.log').stdout.trim().split(/\s+/)[0]);
  let stored = 0;
  await until(`${lines} documents`, async () => (stored = await count()) >= lines, 60_000).catch(() => {});
  check(stored === lines, `${stored} documents for ${lines} lines, after a docker kill and docker start of the ship container mid-stream`);
  const sample = await es(url, 'POST', `/${index}/_search`, { size: 1, sort: [{ 'log.offset': 'desc' }] });
  process.stdout.write(`one document:\n${JSON.stringify(sample.hits.hits[0]?._source, null, 2)}\n`);
  inApp('rm', '/var/run/app/hold-writes');

  say("sidekick-probe: in the app's network namespace, its image's HEALTHCHECK tells the engine the app's health");
  await until('the probe container healthy', () => health('probe') === 'healthy').catch(() => {});
  check(health('probe') === 'healthy', `docker inspect: the probe container is ${health('probe')}`);
  const checksNow = await (await fetch(`${port('app', 8080)}/checks`)).json();
  process.stdout.write(`${JSON.stringify(checksNow, null, 2).split('\n').slice(0, 24).join('\n')}\n`);

  say('sidekick-haproxy: HAProxy takes the app out when its heartbeat goes stale, through the probe\'s agent port');
  sh(['docker', 'exec', id('haproxy-sidekick'), 'node', '/app/dist/cmd/sidekick-haproxy.js', 'show', '--socket', '/var/lib/haproxy/admin.sock']);
  const lb = port('lb', 80);
  const front = async () => (await fetch(lb).catch(() => undefined))?.status ?? 0;
  const events = () =>
    sh(['docker', 'logs', id('haproxy-sidekick')], { visible: false })
      .stdout.split('\n')
      .filter((l) => l.startsWith('{"event":"server.state"'));
  await until('the app up in HAProxy', async () => (await front()) === 200);
  const seen = events().length;
  process.stdout.write('the app stops touching its heartbeat ...\n');
  inApp('touch', '/var/run/app/hold-heartbeat');
  const downEvent = await until('a server.state event', () => events().slice(seen).find((l) => l.includes('"to":"down"')), 60_000).catch(() => undefined);
  if (downEvent) process.stdout.write(`${downEvent}\n`);
  check(downEvent !== undefined && (await front()) === 503, `app1 is DOWN in HAProxy, which answers ${await front()}`);
  process.stdout.write('... and touches it again\n');
  inApp('rm', '/var/run/app/hold-heartbeat');
  const upEvent = await until('a server.state event', () => events().slice(seen).find((l) => l.includes('"to":"up"')), 60_000).catch(() => undefined);
  if (upEvent) process.stdout.write(`${upEvent}\n`);
  await until('the app back in HAProxy', async () => (await front()) === 200, 30_000).catch(() => {});
  check(upEvent !== undefined && (await front()) === 200, `app1 is UP again, HAProxy answers ${await front()}`);
  if (keep) {
    say('Addresses');
    for (const [name, service, p] of [['OpenSearch', 'elasticsearch', 9200], ['probe API', 'app', 8080], ['HAProxy', 'lb', 80], ['sidekick-haproxy', 'haproxy-sidekick', 9101]]) {
      process.stdout.write(`${name.padEnd(18)} ${port(service, p)}\n`);
    }
  }
} catch (err) {
  check(false, err.message);
} finally {
  down();
}
finish();
