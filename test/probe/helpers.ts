// Test helpers for sidekick-probe: real loopback servers, a self-signed certificate, and the built CLI.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export const CLI = join(__dirname, '../../dist/cmd/sidekick-probe.js');

import { tempDir } from '../support/wait';

export { tempDir };
export { waitUntil } from '../support/wait';

export async function listen<S extends Server | HttpServer>(server: S): Promise<{ server: S; port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function tcpServer(onConnection: (s: Socket) => void) {
  return listen(createTcpServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  }));
}

export function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  return listen(createHttpServer(handler));
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = await tcpServer(() => undefined);
  await s.close();
  return s.port;
}

/** A self-signed certificate for CN=localhost valid `days`, made with the openssl CLI. */
export function selfSigned(days = 1): { key: string; cert: string; certFile: string } {
  const dir = tempDir('sidekick-probe-tls-');
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', String(days), '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

export function httpsServer(tls: { key: string; cert: string }, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  return listen(createHttpsServer(tls, handler) as unknown as HttpServer);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI to completion (asynchronously, so servers in this process keep answering). With `as`, it runs
 * as that user from `as.root` (see test/support/other-user.ts), in /, so the checkout's location does not matter.
 * `nodeArgs` go to node before the script (`--require` a preload, say).
 */
export function cli(args: string[], opts: { as?: { uid: number; gid: number; root: string }; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const u = opts.as;
    const script = u ? join(u.root, 'dist', 'cmd', 'sidekick-probe.js') : CLI;
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], { ...(u ? { uid: u.uid, gid: u.gid, cwd: '/' } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function cliSync(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
