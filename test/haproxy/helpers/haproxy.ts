// Test helpers: real local HTTP and agent-check servers, and a real HAProxy started from a generated config.
import { spawn, type ChildProcess } from 'node:child_process';
import { eventually as waitFor, freePort, sleep } from '../../support/wait';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAPROXY = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';
export const haveHaproxy = existsSync(HAPROXY);

/** An HTTP server that answers 200 and can be stopped and started again on the same port. */
export class Backend {
  private server: HttpServer | undefined;
  port = 0;

  async start(): Promise<this> {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** An agent-check endpoint: answers each connection with the current reply line ("up", "drain", "down#why"). */
export class Agent {
  reply = 'up';
  port = 0;
  private server: Server | undefined;

  async start(): Promise<this> {
    const server = createTcpServer((sock) => {
      sock.on('error', () => undefined);
      sock.end(`${this.reply}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export { freePort, sleep };

export interface ServerSpec {
  name: string;
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  /** Extra server-line keywords, e.g. "agent-check agent-port 1234 agent-inter 200ms". */
  extra?: string;
  check?: boolean;
}

export interface BackendSpec {
  name: string;
  http?: boolean;
  servers: ServerSpec[];
}

export interface HaproxyOptions {
  backends: BackendSpec[];
  /** -W: master-worker mode, so SIGUSR2 reloads into a new worker with a new pid. */
  masterWorker?: boolean;
}

/** A running HAProxy with an admin-level and a user-level stats socket. */
export class Haproxy {
  readonly dir: string;
  readonly adminSocket: string;
  readonly userSocket: string;
  readonly config: string;
  frontendPort = 0;
  private proc: ChildProcess | undefined;
  output = '';

  constructor(private readonly opts: HaproxyOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'sidekick-haproxy-'));
    this.adminSocket = join(this.dir, 'admin.sock');
    this.userSocket = join(this.dir, 'user.sock');
    this.config = join(this.dir, 'haproxy.cfg');
  }

  async start(): Promise<this> {
    this.frontendPort = this.frontendPort || (await freePort());
    writeFileSync(this.config, this.renderConfig());
    const args = ['-f', this.config, '-db', ...(this.opts.masterWorker ? ['-W'] : [])];
    const proc = spawn(HAPROXY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.proc = proc;
    await this.waitForSocket();
    return this;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  renderConfig(): string {
    const lines = [
      'global',
      `  stats socket ${this.adminSocket} mode 600 level admin`,
      `  stats socket ${this.userSocket} mode 600 level user`,
      '  stats timeout 10s',
      '  stats maxconn 10',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 5s',
      '  timeout server 5s',
      '  timeout check 2s',
      'frontend fe_main',
      `  bind 127.0.0.1:${this.frontendPort}`,
      `  default_backend ${this.opts.backends[0]!.name}`,
    ];
    for (const b of this.opts.backends) {
      lines.push(`backend ${b.name}`);
      if (b.http) lines.push('  option httpchk GET /health');
      for (const s of b.servers) {
        lines.push(`  server ${s.name} ${s.host ?? '127.0.0.1'}:${s.port}${s.check === false ? '' : ' check inter 200ms fall 2 rise 2'}${s.extra ? ' ' + s.extra : ''}`);
      }
    }
    return lines.join('\n') + '\n';
  }

  /** Master-worker reload: the master starts a new worker (new pid) and the old one leaves. */
  reload(): void {
    if (!this.opts.masterWorker) throw new Error('reload needs masterWorker');
    this.proc!.kill('SIGUSR2');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null) {
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitForSocket(): Promise<void> {
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      if (this.proc?.exitCode !== null && this.proc?.exitCode !== undefined) throw new Error(`haproxy exited ${this.proc.exitCode}: ${this.output}`);
      if (await canConnect(this.adminSocket)) return;
      await sleep(50);
    }
    throw new Error(`haproxy socket ${this.adminSocket} did not appear: ${this.output}`);
  }
}

export function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.end('quit\n');
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls `fn` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10000, what = 'condition'): Promise<T> {
  const found = await waitFor(what, async () => {
    const value = await fn();
    return value === undefined ? undefined : { value };
  }, timeoutMs);
  return found.value;
}
