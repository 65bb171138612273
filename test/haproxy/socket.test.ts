// Runtime API client faults the real HAProxy cannot be made to produce: cut-off answers, foreign servers, silence.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSocketAddress, RuntimeApiError, RuntimeClient } from '../../src/haproxy/socket';

let dir: string;
const servers: { close(cb: () => void): void }[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sidekick-socket-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  rmSync(dir, { recursive: true, force: true });
});

/** A unix-socket server whose answer to each command line is decided by `reply`. */
async function fake(name: string, reply: (cmd: string, sock: Socket) => void): Promise<string> {
  const path = join(dir, name);
  const server: Server = createServer((sock) => {
    sock.on('error', () => undefined);
    let buf = '';
    sock.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        reply(cmd, sock);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  servers.push(server);
  return path;
}

const failure = async (p: Promise<unknown>): Promise<RuntimeApiError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof RuntimeApiError)) throw new Error(`expected a RuntimeApiError, got ${String(err)}`);
  return err;
};

test('socket addresses: paths are unix sockets, HOST:PORT is TCP', () => {
  expect(parseSocketAddress('/run/haproxy/admin.sock')).toEqual({ kind: 'unix', path: '/run/haproxy/admin.sock' });
  expect(parseSocketAddress('admin.sock')).toEqual({ kind: 'unix', path: 'admin.sock' });
  expect(parseSocketAddress('127.0.0.1:9999')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9999 });
  expect(parseSocketAddress('[::1]:9999')).toEqual({ kind: 'tcp', host: '::1', port: 9999 });
  expect(parseSocketAddress('')).toBeUndefined();
});

test('one-shot: an answer cut off before the empty line is an error, not a partial result', async () => {
  const path = await fake('cut.sock', (_cmd, sock) => sock.end('# pxname,svname,status,\nbe,s1,UP,\nbe,s2,DO'));
  const err = await failure(new RuntimeClient({ address: { kind: 'unix', path } }).command('show stat'));
  expect(err.code).toBe('TRUNCATED');
  expect(err.message).toMatch(/cut off after \d+ bytes/);
});

test('prompt: a session closed mid-answer is an error', async () => {
  const path = await fake('cut-prompt.sock', (cmd, sock) => {
    if (cmd === 'prompt') sock.write('\n> ');
    else sock.end('Name: HAProxy\nPid: 1');
  });
  const err = await failure(new RuntimeClient({ address: { kind: 'unix', path }, mode: 'prompt' }).command('show info'));
  expect(err.code).toBe('TRUNCATED');
});

test('prompt: answers are framed by the "\\n> " prompt, over several commands on one connection', async () => {
  const path = await fake('prompt.sock', (cmd, sock) => {
    if (cmd === 'prompt') sock.write('\n> ');
    else if (cmd === 'show info') {
      // Split writes, with the prompt's bytes in separate chunks, as a slow socket delivers them.
      sock.write('Name: HAProxy\nPid: 4');
      setTimeout(() => sock.write('2\n\n'), 20);
      setTimeout(() => sock.write('> '), 40);
    } else sock.write('\n> ');
  });
  const c = new RuntimeClient({ address: { kind: 'unix', path }, mode: 'prompt' });
  try {
    expect(await c.command('show info')).toBe('Name: HAProxy\nPid: 42\n');
    expect(await c.command('set server a/b state ready')).toBe('');
    expect(c.connections).toBe(1);
  } finally {
    c.close();
  }
});

test('non-ASCII text in an answer (a UTF-8 description) is decoded as UTF-8', async () => {
  const path = await fake('utf8.sock', (_cmd, sock) => sock.end('description: Zürich édge\n\n'));
  expect(await new RuntimeClient({ address: { kind: 'unix', path } }).command('show info')).toBe('description: Zürich édge\n');
});

test('an HTTP server is reported as not an HAProxy socket', async () => {
  const http = createHttpServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  servers.push(http);
  const port = (http.address() as AddressInfo).port;
  for (const mode of ['oneshot', 'prompt'] as const) {
    const err = await failure(new RuntimeClient({ address: { kind: 'tcp', host: '127.0.0.1', port }, mode, timeoutMs: 1000 }).command('show info'));
    expect(err.code).toBe('NOT_HAPROXY');
    expect(err.message).toMatch(/does not speak HAProxy's runtime API/);
  }
});

test('a server that never answers times out with a message naming the command and the wait', async () => {
  const path = await fake('silent.sock', () => undefined);
  const err = await failure(new RuntimeClient({ address: { kind: 'unix', path }, timeoutMs: 300 }).command('show stat'));
  expect(err.code).toBe('TIMEOUT');
  expect(err.message).toMatch(/no complete answer to `show stat` .* within 300 ms/);
});

test('a missing socket and a refused port get their own clear errors', async () => {
  const missing = await failure(new RuntimeClient({ address: { kind: 'unix', path: join(dir, 'nope.sock') } }).command('show info'));
  expect(missing.code).toBe('ENOENT');
  expect(missing.message).toMatch(/does not exist; is HAProxy running/);
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const refused = await failure(new RuntimeClient({ address: { kind: 'tcp', host: '127.0.0.1', port } }).command('show info'));
  expect(refused.code).toBe('ECONNREFUSED');
});
