// The _bulk hot path's HTTP: one keep-alive node:http(s) Agent per engine node, round-robin across the nodes that
// answer (a node whose connection failed is left out for a backoff, then tried again), auth headers and TLS
// material prepared once. The node list is the configured URLs, or what sniffing found (replace()). Node's own
// HTTP client rather than undici: the shipper's peak RSS was ~20 MiB lower without undici loaded (issue #12).
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { UsageError } from '../../common/errors';
import { redactUrl } from '../../common/log';

export type Auth = { username: string; password: string } | { apiKey: string };

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
}

/** TLS material read from files, in the shape both node:https and the Elasticsearch client take. */
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
  /** scheme://host:port: what identifies a node across sniffs. */
  origin: string;
  /** The origin as a URL (scheme, host, port) for requests. */
  url: URL;
  /** Path prefix before /<index>/_bulk when the engine sits behind a path (no trailing slash). */
  prefix: string;
  agent: HttpAgent;
  authorization?: string;
  /** Connection failures in a row; 0 while the node answers. */
  failures: number;
  /** Left out of the rotation until then (ms since epoch) after a connection failure. */
  deadUntil: number;
}

/** What /healthz shows of one node. */
export interface EndpointState {
  url: string;
  alive: boolean;
  /** Connection failures in a row. */
  failures: number;
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
  /** How long a node whose connection failed is left out: doubling from initialMs per failure in a row, up to maxMs. */
  deadBackoff?: { initialMs: number; maxMs: number };
}

function parseEngineUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`invalid engine URL ${redactUrl(raw)}: expected http(s)://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`invalid engine URL ${redactUrl(raw)}: expected http:// or https://`);
  }
  return url;
}

/** A keep-alive agent for one engine node (TLS material for https). */
export function agentFor(url: URL, tls: TlsMaterial, maxSockets = 16): HttpAgent {
  const common = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  // Idle keep-alive connections close after 30 s (the engine's own default is longer): a node gone is noticed.
  return url.protocol === 'https:'
    ? new HttpsAgent({ ...common, timeout: 30_000, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized })
    : new HttpAgent({ ...common, timeout: 30_000 });
}

/** The parts of one request; the origin's scheme picks node:http or node:https. */
export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Aborts the request (it then rejects with an AbortError). */
  signal?: AbortSignal;
  /** The request fails when no byte comes from the server for this long (waiting for the answer or in its body). */
  timeoutMs: number;
  /**
   * Called once the whole request, body included, has been handed to the operating system (the request's
   * 'finish'), which may be after the answer came (an early 413); never when it failed before that. Until then the
   * body's memory is still being read from.
   */
  onSent?: () => void;
}

/** A URL's host as node:http takes it: an IPv6 address without the brackets URL.hostname keeps (`[::1]` -> `::1`). */
function bareHost(url: URL): string {
  return url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
}

/** Sends one request and reads the whole answer as text; rejects on network errors, timeouts and aborts. */
export function send(origin: URL, agent: HttpAgent, spec: RequestSpec): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...spec.headers };
    if (spec.body) headers['content-length'] = spec.body.length;
    const req = (origin.protocol === 'https:' ? httpsRequest : httpRequest)(
      { protocol: origin.protocol, hostname: bareHost(origin), port: origin.port, method: spec.method, path: spec.path, headers, agent, signal: spec.signal },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('connection closed before the answer was complete')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.setTimeout(spec.timeoutMs, () => {
      const err = new Error(`timeout: no answer within ${spec.timeoutMs} ms (request_timeout)`) as NodeJS.ErrnoException;
      err.code = 'ETIMEDOUT';
      req.destroy(err);
    });
    req.on('error', reject);
    if (spec.onSent) req.once('finish', spec.onSent);
    req.end(spec.body);
  });
}

/** The engine's nodes as pools, handed out round-robin among those not left out after a connection failure. */
export class Endpoints {
  private list: Endpoint[];
  /** The configured URLs: what sniffing starts from, and falls back to when every sniffed node is gone. */
  readonly seeds: readonly Endpoint[];
  private turn = 0;
  private readonly deadBackoff: { initialMs: number; maxMs: number };

  constructor(
    urls: readonly string[],
    private readonly opts: EndpointOptions,
  ) {
    if (urls.length === 0) throw new UsageError('no Elasticsearch/OpenSearch URL given');
    this.deadBackoff = opts.deadBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.list = urls.map((raw) => this.endpoint(parseEngineUrl(raw)));
    this.seeds = this.list;
  }

  private endpoint(url: URL, authorization = authHeader(this.opts.auth, url)): Endpoint {
    return {
      label: redactUrl(url.origin + url.pathname.replace(/\/+$/, '')),
      origin: url.origin,
      url: new URL(url.origin),
      prefix: url.pathname.replace(/\/+$/, ''),
      agent: agentFor(url, this.opts.tls),
      authorization,
      failures: 0,
      deadUntil: 0,
    };
  }

  get size(): number {
    return this.list.length;
  }

  /** The nodes in rotation now, for /healthz. */
  states(now = Date.now()): EndpointState[] {
    return this.list.map((e) => ({ url: e.label, alive: e.deadUntil <= now, failures: e.failures }));
  }

  /** The next node in turn that is not left out; when all are, the one that comes back first. */
  next(now = Date.now()): Endpoint {
    const n = this.list.length;
    for (let i = 0; i < n; i++) {
      const e = this.list[(this.turn + i) % n];
      if (e.deadUntil <= now) {
        this.turn = (this.turn + i + 1) % n;
        return e;
      }
    }
    let soonest = this.list[0];
    for (const e of this.list) if (e.deadUntil < soonest.deadUntil) soonest = e;
    return soonest;
  }

  /** Whether some node is in rotation now (not left out after a connection failure). */
  anyAlive(now = Date.now()): boolean {
    return this.list.some((e) => e.deadUntil <= now);
  }

  /** The connection to the node failed: leave it out for a while (longer for each failure in a row). */
  markDead(e: Endpoint, now = Date.now()): void {
    e.failures++;
    const { initialMs, maxMs } = this.deadBackoff;
    e.deadUntil = now + Math.min(maxMs, initialMs * 2 ** Math.min(e.failures - 1, 20));
  }

  markAlive(e: Endpoint): void {
    e.failures = 0;
    e.deadUntil = 0;
  }

  /**
   * Replaces the rotation with these node URLs (sniffing): nodes already known keep their agent and state, new
   * ones get one, and the agents of nodes gone are closed once their requests finish. Credentials are the seeds'.
   * Returns the URLs added and removed.
   */
  replace(urls: readonly string[]): { added: string[]; removed: string[] } {
    const byOrigin = new Map(this.list.map((e) => [e.origin, e]));
    const seedAuth = this.seeds[0].authorization;
    const next: Endpoint[] = [];
    const added: string[] = [];
    for (const raw of urls) {
      const url = parseEngineUrl(raw);
      const known = byOrigin.get(url.origin) ?? this.seeds.find((s) => s.origin === url.origin && s.prefix === '');
      if (known) {
        next.push(known);
        byOrigin.delete(url.origin);
      } else {
        next.push(this.endpoint(url, seedAuth));
        added.push(redactUrl(url.origin));
      }
    }
    if (next.length === 0) return { added: [], removed: [] };
    const removed = [...byOrigin.values()].map((e) => e.label);
    for (const e of byOrigin.values()) if (!this.seeds.includes(e)) closeAgent(e.agent);
    this.list = next;
    this.turn = 0;
    return { added, removed };
  }

  /** GETs a path from a given node (sniffing): rejects on network errors, resolves with any HTTP status. */
  async getFrom(e: Endpoint, path: string, signal?: AbortSignal): Promise<HttpReply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (e.authorization) headers.authorization = e.authorization;
    const res = await send(e.url, e.agent, { method: 'GET', path: e.prefix + path, headers, signal, timeoutMs: this.opts.requestTimeoutMs });
    return { status: res.status, text: res.text, endpoint: e };
  }

  /** The nodes to ask for the node list: those in rotation and not left out, then the seeds. */
  candidates(now = Date.now()): Endpoint[] {
    const alive = this.list.filter((e) => e.deadUntil <= now);
    return [...alive, ...this.seeds.filter((s) => !alive.includes(s))];
  }

  /**
   * POSTs a body to the next node; rejects on network errors and timeouts (the node is then left out for a
   * while), resolves with any HTTP status. `onSent`: see RequestSpec.
   */
  async post(path: string, body: Buffer, gzip: boolean, signal: AbortSignal, onSent?: () => void): Promise<HttpReply> {
    const endpoint = this.next();
    const headers: Record<string, string> = {
      'content-type': 'application/x-ndjson',
      accept: 'application/json',
    };
    if (gzip) headers['content-encoding'] = 'gzip';
    if (endpoint.authorization) headers.authorization = endpoint.authorization;
    let text: string;
    let status: number;
    try {
      const res = await send(endpoint.url, endpoint.agent, { method: 'POST', path: endpoint.prefix + path, headers, body, signal, timeoutMs: this.opts.requestTimeoutMs, onSent });
      status = res.status;
      text = res.text;
    } catch (err) {
      if (!signal.aborted) this.markDead(endpoint);
      throw err;
    }
    if (endpoint.failures > 0) this.markAlive(endpoint);
    return { status, text, endpoint };
  }

  private all(): Endpoint[] {
    return [...new Set([...this.list, ...this.seeds])];
  }

  /** GETs a path from the next endpoint (checks such as `test output`; not the shipping path). */
  get(path: string): Promise<HttpReply> {
    return this.getFrom(this.next(), path);
  }

  /** Closes the idle keep-alive connections; requests under way finish first (their sockets close when done). */
  async close(): Promise<void> {
    for (const e of this.all()) closeAgent(e.agent);
    return Promise.resolve();
  }

  destroy(): void {
    for (const e of this.all()) e.agent.destroy();
  }
}

/** Lets the agent's connections close once their requests are done (idle ones now). */
function closeAgent(agent: HttpAgent): void {
  // node:http's Agent reads this.keepAlive when a request ends: false closes that socket instead of keeping it.
  (agent as HttpAgent & { keepAlive: boolean }).keepAlive = false;
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}
