// The _bulk hot path's HTTP: one keep-alive undici Pool per engine URL, round-robin across them (a failed
// request's retry goes to the next URL), auth headers and TLS material prepared once.
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { UsageError } from '../../common/errors';
import { safeUrl } from '../../common/log';

export type Auth = { username: string; password: string } | { apiKey: string };

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
}

/** TLS material read from files, in the shape both undici and the Elasticsearch client take. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

export function readTls(tls: TlsFiles | undefined): TlsMaterial {
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`cannot read TLS ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return {
    ca: read('CA', tls?.caFile),
    cert: read('certificate', tls?.certFile),
    key: read('key', tls?.keyFile),
    rejectUnauthorized: tls?.insecure !== true,
  };
}

/** The Authorization header for the configured credentials, or for user:password given in the URL. */
export function authHeader(auth: Auth | undefined, url?: URL): string | undefined {
  if (auth && 'apiKey' in auth) {
    // Elasticsearch hands out API keys both as "id:key" and already base64-encoded; the header wants base64.
    const key = auth.apiKey.includes(':') ? Buffer.from(auth.apiKey).toString('base64') : auth.apiKey;
    return `ApiKey ${key}`;
  }
  if (auth) return 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  if (url && (url.username || url.password)) {
    return 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  }
  return undefined;
}

export interface Endpoint {
  /** The URL without credentials, for logs and health. */
  label: string;
  /** Path prefix before /<index>/_bulk when the engine sits behind a path (no trailing slash). */
  prefix: string;
  pool: Pool;
  authorization?: string;
}

export interface HttpReply {
  status: number;
  text: string;
  endpoint: Endpoint;
}

export interface EndpointOptions {
  auth?: Auth;
  tls: TlsMaterial;
  requestTimeoutMs: number;
}

/** The engine URLs as pools, handed out round-robin. */
export class Endpoints {
  private readonly list: Endpoint[];
  private turn = 0;

  constructor(urls: readonly string[], opts: EndpointOptions) {
    if (urls.length === 0) throw new UsageError('no Elasticsearch/OpenSearch URL given');
    this.list = urls.map((raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new UsageError(`invalid engine URL ${safeUrl(raw)}: expected http(s)://host:port`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UsageError(`invalid engine URL ${safeUrl(raw)}: expected http:// or https://`);
      }
      const tls = opts.tls;
      const pool = new Pool(url.origin, {
        connections: 16,
        keepAliveTimeout: 30_000,
        headersTimeout: opts.requestTimeoutMs,
        bodyTimeout: opts.requestTimeoutMs,
        connect: url.protocol === 'https:' ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized } : undefined,
      });
      return {
        label: safeUrl(url.origin + url.pathname.replace(/\/+$/, '')),
        prefix: url.pathname.replace(/\/+$/, ''),
        pool,
        authorization: authHeader(opts.auth, url),
      };
    });
  }

  get size(): number {
    return this.list.length;
  }

  next(): Endpoint {
    const e = this.list[this.turn % this.list.length];
    this.turn = (this.turn + 1) % this.list.length;
    return e;
  }

  /** POSTs a body to the next endpoint; rejects on network errors and timeouts, resolves with any HTTP status. */
  async post(path: string, body: Buffer, gzip: boolean, signal: AbortSignal): Promise<HttpReply> {
    const endpoint = this.next();
    const headers: Record<string, string> = {
      'content-type': 'application/x-ndjson',
      accept: 'application/json',
    };
    if (gzip) headers['content-encoding'] = 'gzip';
    if (endpoint.authorization) headers.authorization = endpoint.authorization;
    const res = await endpoint.pool.request({
      method: 'POST',
      path: endpoint.prefix + path,
      headers,
      body,
      // Timeouts are the pool's headersTimeout/bodyTimeout; the signal is only stop().
      signal,
    });
    const text = await res.body.text();
    return { status: res.statusCode, text, endpoint };
  }

  /** GETs a path from the next endpoint (checks such as `test output`; not the shipping path). */
  async get(path: string): Promise<HttpReply> {
    const endpoint = this.next();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (endpoint.authorization) headers.authorization = endpoint.authorization;
    const res = await endpoint.pool.request({ method: 'GET', path: endpoint.prefix + path, headers });
    return { status: res.statusCode, text: await res.body.text(), endpoint };
  }

  async close(): Promise<void> {
    await Promise.all(this.list.map((e) => e.pool.close().catch(() => undefined)));
  }

  destroy(): void {
    for (const e of this.list) void e.pool.destroy().catch(() => undefined);
  }
}
