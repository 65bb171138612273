// One owner per state directory. The owner listens on a unix socket in the directory (owner.sock): only one
// process can listen on a path, the kernel closes the socket when its process dies however it dies (kill -9
// included), and whoever finds the path taken can ask the owner who it is. A socket file left by a dead owner
// refuses connections, which is proof that nobody owns the directory: it is taken over (one taker at a time).
// Works across containers sharing the volume (same kernel); not across hosts sharing a network file system.
import { createHash } from 'node:crypto';
import { mkdirSync, readlinkSync, realpathSync, symlinkSync, unlinkSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../common/errors';

export const OWNER_SOCKET = 'owner.sock';

/** Who owns a state directory, as the owner tells it. */
export interface OwnerInfo {
  program: string;
  version: string;
  pid: number;
  hostname: string;
  /** ISO time the owner started. */
  started: string;
}

/** Another process owns the state directory: a usage error (exit 2) naming it. */
export class StateDirOwned extends UsageError {
  constructor(
    readonly dir: string,
    readonly owner: OwnerInfo | undefined,
  ) {
    const who = owner
      ? `${owner.program} ${owner.version}, pid ${owner.pid} on host ${owner.hostname}, running since ${owner.started}`
      : 'a process that did not say who it is';
    super(
      `state_dir ${dir} is in use by another shipper (${who}); two shippers on one state directory would ` +
        'overwrite each other\'s positions: give each its own state_dir, or stop the other one',
    );
    this.name = 'StateDirOwned';
  }
}

export interface StateDirLock {
  readonly socketPath: string;
  /** Stops owning the directory (closes and removes the socket). */
  release(): Promise<void>;
}

/** Longest unix socket path Linux takes (sun_path is 108 bytes with its NUL), with a margin. */
const MAX_SOCKET_PATH = 100;
/** A takeover file older than this was left by a taker that died in the middle: ignored. */
const STALE_TAKEOVER_MS = 10_000;

/**
 * Makes this process the owner of `dir` (created if missing), or throws StateDirOwned naming the owner.
 * Throws a UsageError when the directory cannot hold the socket (read-only, not a directory).
 */
export async function claimStateDir(dir: string, me: OwnerInfo): Promise<StateDirLock> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`state_dir ${dir}: cannot create it (${(err as NodeJS.ErrnoException).code ?? err}); expected a writable directory`);
  }
  const socketPath = join(dir, OWNER_SOCKET);
  const bindPath = reachable(dir, socketPath);
  const deadline = Date.now() + STALE_TAKEOVER_MS + 5000;
  for (;;) {
    try {
      const server = await listen(bindPath, me);
      return {
        socketPath,
        release: async () => {
          // The socket file is removed first, so a successor never finds ours and asks a closing server.
          await unlink(socketPath).catch(() => undefined);
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE') {
        throw new UsageError(`state_dir ${dir}: cannot create the owner socket ${socketPath} (${code ?? String(err)}); expected a writable directory`);
      }
    }
    const answer = await ask(bindPath);
    if (answer.kind === 'owner') throw new StateDirOwned(dir, answer.info);
    if (answer.kind === 'stale') await takeOver(socketPath, bindPath);
    if (Date.now() > deadline) throw new UsageError(`state_dir ${dir}: could not take over ${socketPath} left by a stopped shipper; remove it if no shipper runs`);
  }
}

function listen(path: string, me: OwnerInfo): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(JSON.stringify(me) + '\n');
    });
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // Owning the directory must not keep the process alive.
      server.unref();
      resolve(server);
    });
  });
}

type Answer = { kind: 'owner'; info: OwnerInfo | undefined } | { kind: 'stale' } | { kind: 'gone' };

/** Connects to the socket: an owner answers who it is; a refused connection means its process is gone. */
function ask(path: string): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    let text = '';
    const timer = setTimeout(() => {
      // Connected but silent (its event loop is busy): still an owner.
      socket.destroy();
      resolve({ kind: 'owner', info: undefined });
    }, 2000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => {
      clearTimeout(timer);
      let info: OwnerInfo | undefined;
      try {
        info = JSON.parse(text) as OwnerInfo;
      } catch {
        info = undefined;
      }
      resolve({ kind: 'owner', info });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' ? { kind: 'stale' } : err.code === 'ENOENT' ? { kind: 'gone' } : { kind: 'owner', info: undefined });
    });
  });
}

/** Removes a dead owner's socket, one taker at a time (two starting together must not both win). */
async function takeOver(socketPath: string, bindPath: string): Promise<void> {
  const mutex = `${socketPath}.takeover`;
  let fh;
  try {
    fh = await open(mutex, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (await stat(mutex).then((s) => s.mtimeMs).catch(() => Date.now()));
    if (age > STALE_TAKEOVER_MS) await unlink(mutex).catch(() => undefined);
    else await new Promise((r) => setTimeout(r, 100));
    return;
  }
  try {
    // Asked again under the mutex: another taker may have become the owner meanwhile.
    if ((await ask(bindPath)).kind === 'stale') await unlink(socketPath).catch(() => undefined);
  } finally {
    await fh.close();
    await unlink(mutex).catch(() => undefined);
  }
}

/**
 * The path to bind for socketPath: itself, or when it is too long for a unix socket, the same file reached
 * through a short symlink to its directory in the temp directory (named after the directory, so every
 * process finds the same one).
 */
function reachable(dir: string, socketPath: string): string {
  if (Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH) return socketPath;
  const real = realpathSync(dir);
  const link = join(tmpdir(), `sidekick-ship-${createHash('sha1').update(real).digest('hex').slice(0, 16)}`);
  let current: string | undefined;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current !== real) {
    if (current !== undefined) unlinkSync(link);
    try {
      symlinkSync(real, link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return join(link, OWNER_SOCKET);
}
