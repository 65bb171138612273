// Running the built programs as another user (nobody) wherever the checkout lives: a fresh clone inside `mktemp -d`
// (mode 0700) cannot be read by anyone else, so what the programs need (dist and the production dependencies) is
// copied to a world-readable temporary directory. When even that copy cannot be read by the user, tests skip with
// the reason.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCi } from './engine';

export interface User {
  uid: number;
  gid: number;
  name: string;
}

export const NOBODY: User = { uid: 65534, gid: 65534, name: 'nobody' };

/** A place `user` can run the built programs from (`root` holds dist/ and node_modules/), or why there is none. */
export type Install = { root: string; cleanup(): void } | { reason: string };

const ROOT = join(__dirname, '..', '..');

/** Whether `user` can read `path` (every directory on the way included) and run Node. */
function canRead(user: User, path: string): boolean {
  const r = spawnSync(process.execPath, ['-e', 'require("fs").accessSync(process.argv[1], 4)', path], { uid: user.uid, gid: user.gid, cwd: '/', stdio: 'ignore' });
  return r.status === 0;
}

/** Makes every file readable and every directory searchable by all (a checkout made under umask 077 has neither). */
function openUp(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.mode | (st.isDirectory() ? 0o555 : 0o444));
  if (st.isDirectory()) for (const name of readdirSync(path)) openUp(join(path, name));
}

/**
 * Where `user` can run dist/cmd/*.js: the checkout itself when the user can read it, else a copy of dist/ and the
 * production packages of package-lock.json in a new directory under the system's temporary directory.
 * Needs root (to run a check as the user).
 */
export function installFor(user: User): Install {
  if (process.getuid?.() !== 0) return { reason: `running as ${user.name} needs root; this runs as uid ${process.getuid?.()}` };
  if (canRead(user, join(ROOT, 'dist', 'cmd', 'sidekick.js'))) return { root: ROOT, cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-readable-'));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const copied: string[] = [];
    for (const [path, meta] of Object.entries(lock.packages)) {
      if (!path.startsWith('node_modules/') || meta.dev || !existsSync(join(ROOT, path))) continue;
      if (copied.some((p) => path.startsWith(`${p}/`))) continue; // nested in a package copied already
      cpSync(join(ROOT, path), join(dir, path), { recursive: true });
      copied.push(path);
    }
    openUp(dir);
  } catch (err) {
    cleanup();
    return { reason: `cannot copy the build to ${dir} for ${user.name}: ${String(err)}` };
  }
  if (!canRead(user, join(dir, 'dist', 'cmd', 'sidekick.js'))) {
    cleanup();
    return { reason: `${user.name} can read neither the checkout (${ROOT}) nor a copy in ${tmpdir()}, or cannot run ${process.execPath}` };
  }
  return { root: dir, cleanup };
}

/**
 * describe() for tests that run a program as `user`; `root()` is where dist/cmd/*.js can be run from as that user.
 * Skipped locally with the reason when that is impossible; under CI=true the tests run and fail with it.
 */
export function describeAsUser(user: User, name: string, fn: (root: () => string) => void): void {
  const install = installFor(user);
  if ('reason' in install && !isCi()) {
    describe.skip(`${name} [skipped: ${install.reason}]`, () => fn(() => ROOT));
    return;
  }
  describe(name, () => {
    beforeAll(() => {
      if ('reason' in install) throw new Error(`cannot run the programs as ${user.name} (CI=true): ${install.reason}`);
    });
    afterAll(() => {
      if ('cleanup' in install) install.cleanup();
    });
    fn(() => ('root' in install ? install.root : ROOT));
  });
}
