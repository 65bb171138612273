/**
 * Test helpers for the real Docker engine (the one `docker info` answers; .ci/run starts dockerd when none does).
 *
 *   describeWithDocker('probe image', () => {
 *     const d = useDocker('probe');                     // a network and a label of this file's own, removed after
 *     let image = '';
 *     beforeAll(async () => { image = await buildImage('probe'); }, BUILD_TIMEOUT_MS);
 *     it('...', async () => { const r = await d.run(['--rm', image, '--help']); expect(r.code).toBe(0); });
 *   });
 *
 * Without an engine (or with SIDEKICK_TEST_NO_DOCKER=1) describeWithDocker() skips its tests with the reason;
 * under CI=true it runs them and they fail: never a silent skip in CI. Images come from images/build.js: built on
 * the official base or the offline stand-in, once per content hash and machine, shared by every test file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { buildImages, buildStandins, dockerUnavailableReason as engineReason, nodeImage } from '../../images/build';
import { isCi } from './engine';

/** Time a beforeAll that builds images may take on a machine that has never built them (base + all targets). */
export const BUILD_TIMEOUT_MS = 20 * 60_000;

let reason: string | null | undefined;
/** Why the container tests cannot run here, or null when a Docker engine answers. */
export function dockerUnavailableReason(): string | null {
  if (reason === undefined) reason = process.env.SIDEKICK_TEST_NO_DOCKER === '1' ? 'SIDEKICK_TEST_NO_DOCKER=1' : engineReason();
  return reason;
}

/** describe() for tests that need the engine: skipped locally with the reason when there is none, failing under CI. */
export function describeWithDocker(name: string, fn: () => void): void {
  const why = dockerUnavailableReason();
  if (why !== null && !isCi()) {
    describe.skip(`${name} [skipped: no Docker engine: ${why}]`, fn);
    return;
  }
  describe(name, () => {
    beforeAll(() => {
      if (why !== null) throw new Error(`no Docker engine for the container tests (CI=true): ${why}`);
    });
    fn();
  });
}

const log = (line: string): void => void process.stderr.write(`[sidekick images] ${line}\n`);

/** The base image the project's images build on: the official node image, or the offline stand-in (built once). */
export function ensureBaseImage(): Promise<string> {
  return nodeImage({ log });
}

/** The image of a Dockerfile target (ship, probe, haproxy, sidekick, ...) built from this tree: `<repo>:build-<hash>`. */
export async function buildImage(target: string): Promise<string> {
  return (await buildImages({ targets: [target], log })).images[target];
}

/** The images of these targets (default: every one images/build.js knows), as target -> `<repo>:build-<hash>`. */
export async function buildAllImages(targets?: string[]): Promise<Record<string, string>> {
  return (await buildImages({ targets, log })).images;
}

/** The local stand-ins for the compose stack's public images: { app, haproxy, opensearch } -> `<repo>:build-<hash>`. */
export async function buildStandinImages(): Promise<Record<string, string>> {
  return (await buildStandins({ log })).images;
}

export interface ComposeCommand {
  /** How it is called, e.g. 'docker-compose 1.29.2' or 'docker compose v2.29.7'. */
  readonly name: string;
  /** The command line before the subcommand: ['docker-compose'] or ['docker', 'compose']. */
  readonly argv: string[];
  /** Why it cannot be used here (not installed), or undefined when `version` answers. */
  readonly missing?: string;
}

/**
 * Both Compose implementations the compose file must work with, docker-compose (1.x, Debian's package) and the
 * docker CLI's compose plugin (v2), each with its version or, when it does not answer, `missing` saying why.
 */
export function composeCommands(): ComposeCommand[] {
  return [
    { argv: ['docker-compose'], install: 'apt-get install -y docker-compose' },
    { argv: ['docker', 'compose'], install: 'the compose plugin v2 in ~/.docker/cli-plugins: see .ci/compose-v2.sh' },
  ].map(({ argv, install }) => {
    const r = spawnSync(argv[0], [...argv.slice(1), 'version', '--short'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0) return { name: `${argv.join(' ')} ${r.stdout.trim()}`, argv };
    return { name: argv.join(' '), argv, missing: `\`${argv.join(' ')} version\` failed, not installed (${install})` };
  });
}

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line (argv[0] and its arguments); resolves with its exit status and output, never rejecting for a non-zero status. */
export function runCommand(argv: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the docker CLI (see runCommand). */
export function docker(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<DockerResult> {
  return runCommand(['docker', ...args], options);
}

/** Like docker(), but throws naming the command and its output unless it exits 0; resolves to trimmed stdout. */
export async function dockerOk(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await docker(args, options);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

export interface DockerScope {
  /** Prefix of every name this scope gives out (lower-case, unique to this file and run). */
  readonly prefix: string;
  /** The scope's own bridge network: containers of a test talk on it and nowhere else. */
  readonly network: string;
  /** A container/volume name within the scope. */
  name(what: string): string;
  /** `docker run` with the scope's label and network (unless args choose --network), e.g. run(['-d', image, ...]). */
  run(args: string[], options?: { timeoutMs?: number }): Promise<DockerResult>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what runs killed before their clean-up left on the engine: the containers (with their anonymous volumes),
 * networks and volumes whose name, compose project or `sidekick.test` label is `<prefix><pid>-…` for a pid no
 * longer running. A run still going (in another worktree too) has a live pid, so nothing of it is touched; names
 * without that shape are never matched. Resolves to what was removed, as `container|network|volume <name>`.
 */
export async function removeStale(prefix: string): Promise<string[]> {
  if (!/^[a-z0-9-]+$/.test(prefix)) throw new Error(`removeStale: prefix "${prefix}" must be lower-case letters, digits and dashes`);
  const owner = new RegExp(`^${prefix}(\\d+)-`);
  const stale = (...keys: string[]): boolean =>
    keys.some((k) => {
      const m = owner.exec(k);
      return m !== null && !alive(Number(m[1]));
    });
  const list = async (args: string[]): Promise<string[][]> =>
    (await docker(args)).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
  const fmt = '{{.Label "com.docker.compose.project"}}\t{{.Label "sidekick.test"}}';
  const removed: string[] = [];
  const containers = (await list(['ps', '-a', '--format', `{{.Names}}\t${fmt}`])).filter((f) => stale(...f)).map((f) => f[0]);
  if (containers.length) await docker(['rm', '-f', '-v', ...containers], { timeoutMs: 180_000 });
  removed.push(...containers.map((c) => `container ${c}`));
  for (const [kind, args] of [
    ['network', ['network', 'ls', '--format', `{{.Name}}\t${fmt}`]],
    ['volume', ['volume', 'ls', '--format', `{{.Name}}\t${fmt}`]],
  ] as const) {
    const names = (await list([...args])).filter((f) => stale(...f)).map((f) => f[0]);
    if (names.length) await docker([kind, 'rm', ...names]);
    removed.push(...names.map((n) => `${kind} ${n}`));
  }
  if (removed.length) process.stderr.write(`[sidekick docker] removed what a killed earlier run left: ${removed.join(', ')}\n`);
  return removed;
}

/**
 * For use inside describeWithDocker(): removes what a killed earlier run of the same scope left (removeStale),
 * creates a network before the tests and removes, after them, every container and volume this scope labelled and
 * the network. Nothing else on the shared engine is touched.
 */
export function useDocker(label: string): DockerScope {
  const prefix = `sidekick-test-${label}-${process.pid}-${Date.now().toString(36)}`.toLowerCase();
  const network = `${prefix}-net`;
  const labelArg = `sidekick.test=${prefix}`;
  beforeAll(async () => {
    await removeStale(`sidekick-test-${label}-`.toLowerCase());
    await dockerOk(['network', 'create', '--label', labelArg, network]);
  }, 200_000);
  afterAll(async () => {
    const ids = (await docker(['ps', '-aq', '--filter', `label=${labelArg}`])).stdout.split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', '-v', ...ids]);
    const vols = (await docker(['volume', 'ls', '-q', '--filter', `label=${labelArg}`])).stdout.split('\n').filter(Boolean);
    if (vols.length) await docker(['volume', 'rm', '-f', ...vols]);
    await docker(['network', 'rm', network]);
  }, 120_000);
  return {
    prefix,
    network,
    name: (what) => `${prefix}-${what}`,
    run: (args, options) => {
      const net = args.some((a) => a === '--network' || a.startsWith('--network=')) ? [] : ['--network', network];
      return docker(['run', '--label', labelArg, ...net, ...args], options);
    },
  };
}
