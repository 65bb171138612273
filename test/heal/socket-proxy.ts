// A socket proxy like the ones the README recommends (tecnativa/docker-socket-proxy, wollomatic/socket-proxy):
// TCP in front of the engine's unix socket, passing only an allowlist of API calls and refusing the rest with 403.
// Heal runs through it in the engine tests, so the README's list of the calls heal needs is checked, not guessed.
import { createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Call {
  method: string;
  /** Matched against the path without the /v1.NN prefix and the query. */
  path: RegExp;
}

const ID = '[^/]+';
/** What restarting needs (README: "narrowing the socket"). */
export const RESTART_CALLS: Call[] = [
  { method: 'GET', path: /^\/version$/ },
  { method: 'GET', path: /^\/events$/ },
  { method: 'GET', path: /^\/containers\/json$/ },
  { method: 'GET', path: new RegExp(`^/containers/${ID}/json$`) },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/restart$`) },
];
/** What recreating needs besides. */
export const RECREATE_CALLS: Call[] = [
  ...RESTART_CALLS,
  { method: 'GET', path: new RegExp(`^/images/.+/json$`) },
  { method: 'POST', path: /^\/containers\/create$/ },
  { method: 'POST', path: new RegExp(`^/containers/${ID}/(rename|stop|start)$`) },
  { method: 'POST', path: new RegExp(`^/networks/${ID}/connect$`) },
  { method: 'DELETE', path: new RegExp(`^/containers/${ID}$`) },
];

export interface SocketProxy {
  /** tcp://127.0.0.1:PORT, for docker_host. */
  url: string;
  /** Refused calls, "METHOD /path". */
  denied: string[];
  close(): Promise<void>;
}

export async function socketProxy(socketPath: string, allow: Call[]): Promise<SocketProxy> {
  const denied: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v\d+\.\d+/, '');
    if (!allow.some((c) => c.method === req.method && c.path.test(path))) {
      denied.push(`${req.method} ${path}`);
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden by the socket proxy\n');
      return;
    }
    const upstream = request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      // Headers now, not with the first body chunk: the events stream may stay silent for minutes.
      res.flushHeaders();
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // A client gone (or the proxy closed) ends its upstream call too: an events stream would stay open for good.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    denied,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
