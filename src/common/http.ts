// A tiny shared HTTP listener for /healthz, /metrics and a program's own read-only routes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { UsageError } from './errors';
import type { Logger } from './log';
import { parseHostPort } from './config';

export interface HttpReply {
  status: number;
  body: unknown; // string is sent as text/plain, a Buffer as is, anything else as JSON
  contentType?: string;
  /** Extra response headers (e.g. a page's Content-Security-Policy). */
  headers?: Record<string, string>;
}

export type Route = (req: IncomingMessage, url: URL) => HttpReply | Promise<HttpReply>;

/** A route that takes a request body (read whole, at most `maxBodyBytes`). */
export type PostRoute = (req: IncomingMessage, url: URL, body: Buffer) => HttpReply | Promise<HttpReply>;

export interface HttpOptions {
  /** "host:port"; port 0 picks a free port. */
  listen: string;
  logger: Logger;
  registry?: Registry;
  /** Liveness of the program itself; default always healthy. */
  health?: () => { ok: boolean; detail?: unknown };
  routes?: Record<string, Route>;
  /** Routes answering POST only. */
  post?: Record<string, PostRoute>;
  /** Largest POST body accepted; a larger one gets 413. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface HttpListener {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttp(opts: HttpOptions): Promise<HttpListener> {
  const addr = parseHostPort(opts.listen);
  if (!addr) throw new UsageError(`listen address ${JSON.stringify(opts.listen)} is not valid; expected HOST:PORT such as 127.0.0.1:8080`);
  const routes: Record<string, Route> = {
    '/healthz': () => {
      const h = opts.health ? opts.health() : { ok: true };
      return { status: h.ok ? 200 : 503, body: { status: h.ok ? 'ok' : 'unhealthy', ...(h.detail ? { detail: h.detail } : {}) } };
    },
    ...(opts.registry
      ? { '/metrics': async () => ({ status: 200, body: await opts.registry!.metrics(), contentType: opts.registry!.contentType }) }
      : {}),
    ...opts.routes,
  };
  let closing = false;
  const server = createServer((req, res) => {
    // Once closing, answer and hang up: a page polling on a keep-alive connection would otherwise hold close() open
    // for as long as it polls (server.close() waits for every connection, and keeps serving those it has).
    if (closing) res.setHeader('Connection', 'close');
    else res.once('finish', () => closing && setImmediate(() => server.closeIdleConnections()));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
    const postRoute: PostRoute | undefined = opts.post?.[url.pathname];
    if (!route && !postRoute) return send(res, { status: 404, body: { error: `no route ${url.pathname}`, routes: [...Object.keys(routes), ...Object.keys(opts.post ?? {})] } });
    if (postRoute && req.method !== 'POST') return send(res, { status: 405, body: { error: 'only POST' } });
    if (route && req.method !== 'GET' && req.method !== 'HEAD') return send(res, { status: 405, body: { error: 'only GET' } });
    const answered = postRoute
      ? readLimited(req, opts.maxBodyBytes ?? 65_536).then((body) => (body ? postRoute(req, url, body) : { status: 413, body: { error: 'body too large' } }))
      : Promise.resolve().then(() => route!(req, url));
    answered
      .then(
        (reply) => send(res, reply),
        (err: unknown) => {
          opts.logger.error({ err, path: url.pathname }, 'http route failed');
          send(res, { status: 500, body: { error: 'internal error' } });
        },
      );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new UsageError(`listen address ${opts.listen} is already in use`) : err),
    );
    server.listen(addr.port, addr.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const host = addr.host === '0.0.0.0' || addr.host === '::' ? '127.0.0.1' : addr.host;
  opts.logger.info({ listen: `${addr.host}:${port}` }, 'http listening');
  return {
    server,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** The request body, or undefined once it passes `limit` bytes (the rest is drained, not kept). */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size <= limit ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: HttpReply): void {
  const isText = typeof reply.body === 'string' || Buffer.isBuffer(reply.body);
  const body = isText ? (reply.body as string | Buffer) : JSON.stringify(reply.body, null, 2) + '\n';
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': reply.contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json'),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
