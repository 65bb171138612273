/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a real engine, for tests of the shipper's
 * retry, back-off and idempotency paths:
 *
 *   const proxy = await startFaultProxy({ target: getEngine().url, status429: 0.5, mode: 'every' });
 *   // point the shipper at proxy.url ...
 *   proxy.set({ status429: 0, rejectBulkItems: 0.3 });
 *   expect(proxy.counters.itemsRejected).toBe(3);
 *   await proxy.close();
 *
 * Faults, each decided per request (items: per bulk item) at its share 0..1:
 * - drop:       the connection is destroyed; dropPhase 'before' (the engine never sees the request)
 *               or 'after' (the engine did the work, the client never hears of it).
 * - status429 / status503: answered by the proxy with an Elasticsearch-shaped error body.
 * - rejectBulkItems: in `_bulk` requests, that share of items gets a per-item 429
 *               (es_rejected_execution_exception); the rest are forwarded and the engine's answers
 *               merged back in the original order, with errors: true.
 * - delayMs:    every response waits this long before it is sent.
 * Decisions are reproducible: mode 'random' uses a PRNG seeded with `seed` (default 1); mode
 * 'every' spreads hits evenly (share 0.25 hits the 4th, 8th, ... request).
 * `only` limits faults to matching request paths (e.g. /_bulk/); other requests pass untouched.
 * `elasticCompat` makes OpenSearch look like Elasticsearch 8 to @elastic/elasticsearch: it rewrites
 * vendored `application/vnd.elasticsearch+json; compatible-with=N` types to plain ones and adds
 * `x-elastic-product: Elasticsearch` to responses.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { readBody } from './http';

export interface FaultSettings {
  status429: number;
  status503: number;
  rejectBulkItems: number;
  drop: number;
  dropPhase: 'before' | 'after';
  delayMs: number;
  mode: 'random' | 'every';
  seed: number;
  only?: RegExp;
  elasticCompat: boolean;
}

export interface FaultProxyOptions extends Partial<FaultSettings> {
  /** The engine's base URL, e.g. getEngine().url */
  target: string;
  /** Port to listen on, default 0 (any free port). */
  port?: number;
}

export interface FaultCounters {
  /** Requests received. */
  requests: number;
  /** Requests sent on to the engine (whole or with rejected items removed). */
  forwarded: number;
  dropped: number;
  status429: number;
  status503: number;
  delayed: number;
  bulkRequests: number;
  /** Bulk items answered 429 by the proxy. */
  itemsRejected: number;
  /** Bulk items forwarded to the engine. */
  itemsForwarded: number;
  /** Requests that failed between proxy and engine (answered 502). */
  upstreamErrors: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly counters: Readonly<FaultCounters>;
  readonly settings: Readonly<FaultSettings>;
  /** Changes faults at run time; changing mode or seed restarts the decision sequences. */
  set(changes: Partial<FaultSettings>): void;
  /** Zeroes the counters and restarts the decision sequences. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULTS: FaultSettings = {
  status429: 0,
  status503: 0,
  rejectBulkItems: 0,
  drop: 0,
  dropPhase: 'before',
  delayMs: 0,
  mode: 'random',
  seed: 1,
  only: undefined,
  elasticCompat: false,
};

type FaultKind = 'drop' | 'status429' | 'status503' | 'rejectBulkItems';
const KINDS: FaultKind[] = ['drop', 'status429', 'status503', 'rejectBulkItems'];

/** mulberry32: small, fast, seedable (also replays a test's random schedule). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Decider {
  private readonly counts = new Map<FaultKind, number>();
  private readonly rngs = new Map<FaultKind, () => number>();

  constructor(
    private readonly mode: FaultSettings['mode'],
    private readonly seed: number,
  ) {}

  hit(kind: FaultKind, share: number): boolean {
    if (!(share > 0)) return false;
    if (share >= 1) return true;
    if (this.mode === 'every') {
      const n = (this.counts.get(kind) ?? 0) + 1;
      this.counts.set(kind, n);
      return Math.floor(n * share + 1e-9) > Math.floor((n - 1) * share + 1e-9);
    }
    let rng = this.rngs.get(kind);
    if (!rng) {
      rng = prng(this.seed + KINDS.indexOf(kind) * 0x9e3779b9);
      this.rngs.set(kind, rng);
    }
    return rng() < share;
  }
}

function zeroCounters(): FaultCounters {
  return {
    requests: 0,
    forwarded: 0,
    dropped: 0,
    status429: 0,
    status503: 0,
    delayed: 0,
    bulkRequests: 0,
    itemsRejected: 0,
    itemsForwarded: 0,
    upstreamErrors: 0,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An Elasticsearch-shaped error response body. */
export function esErrorBody(status: number, type: string, reason: string): string {
  return JSON.stringify({ error: { root_cause: [{ type, reason }], type, reason }, status });
}

const REJECT_REASON =
  'rejected execution of coordinating operation [injected by the sidekick test fault proxy] ' +
  '[coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=0, max_coordinating_and_primary_bytes=0]';

function vendorToPlain(value: string): string {
  return value
    .replace(/application\/vnd\.elasticsearch\+x-ndjson(\s*;\s*compatible-with=\d+)?/gi, 'application/x-ndjson')
    .replace(/application\/vnd\.elasticsearch\+json(\s*;\s*compatible-with=\d+)?/gi, 'application/json');
}

interface BulkLine {
  action: string;
  index: string | null;
  id: string | null;
  lines: string[];
}

/** Splits an NDJSON bulk body into items: an action line plus its source line (none for delete). */
export function parseBulk(body: string, defaultIndex: string | null): BulkLine[] {
  const raw = body.split('\n');
  const items: BulkLine[] = [];
  for (let i = 0; i < raw.length; i++) {
    const line = raw[i] ?? '';
    if (line.trim() === '') continue;
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`bulk line ${i + 1} is not an action object`);
    }
    const entries = Object.entries(parsed as Record<string, unknown>);
    const first = entries[0];
    if (entries.length !== 1 || first === undefined) throw new Error(`bulk line ${i + 1} has ${entries.length} actions`);
    const [action, meta] = first;
    const m = (typeof meta === 'object' && meta !== null ? meta : {}) as Record<string, unknown>;
    const item: BulkLine = {
      action,
      index: typeof m._index === 'string' ? m._index : defaultIndex,
      id: typeof m._id === 'string' ? m._id : typeof m._id === 'number' ? String(m._id) : null,
      lines: [line],
    };
    if (action !== 'delete') {
      i += 1;
      while (i < raw.length && (raw[i] ?? '').trim() === '') i += 1;
      if (i >= raw.length) throw new Error(`bulk action on line ${i} has no source line`);
      item.lines.push(raw[i] ?? '');
    }
    items.push(item);
  }
  return items;
}

function defaultIndexOf(pathname: string): string | null {
  const m = /^\/([^/_][^/]*)\/_bulk\/?$/.exec(pathname);
  return m && m[1] !== undefined ? decodeURIComponent(m[1]) : null;
}

interface Upstream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const { target: _target, port: listenPort, ...rest } = options;
  const settings: FaultSettings = { ...DEFAULTS, ...rest };
  let decider = new Decider(settings.mode, settings.seed);
  let counters = zeroCounters();
  const sockets = new Set<Socket>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  function forward(method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      const up = http.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method,
          path,
          headers: { ...headers, host: target.host, 'content-length': String(body.length) },
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });
  }

  function requestHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      const key = k.toLowerCase();
      if (key === 'host' || key === 'connection' || key === 'keep-alive' || key === 'transfer-encoding' || key === 'content-length') continue;
      out[key] = settings.elasticCompat && (key === 'content-type' || key === 'accept') && typeof v === 'string' ? vendorToPlain(v) : v;
    }
    return out;
  }

  function responseHeaders(up: http.IncomingHttpHeaders, bodyLength: number): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(up)) {
      if (v === undefined) continue;
      const key = k.toLowerCase();
      if (key === 'connection' || key === 'keep-alive' || key === 'transfer-encoding' || key === 'content-length') continue;
      out[key] = v;
    }
    out['content-length'] = String(bodyLength);
    if (settings.elasticCompat) out['x-elastic-product'] = 'Elasticsearch';
    return out;
  }

  async function send(
    res: http.ServerResponse,
    status: number,
    headers: http.OutgoingHttpHeaders,
    body: Buffer,
    delay = true,
  ): Promise<void> {
    if (delay && settings.delayMs > 0) {
      counters.delayed += 1;
      await sleep(settings.delayMs);
    }
    if (res.destroyed) return;
    res.writeHead(status, headers);
    res.end(body);
  }

  function sendJson(res: http.ServerResponse, status: number, json: string): Promise<void> {
    const body = Buffer.from(json);
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(body.length) };
    if (settings.elasticCompat) headers['x-elastic-product'] = 'Elasticsearch';
    return send(res, status, headers, body);
  }

  function drop(req: http.IncomingMessage): void {
    counters.dropped += 1;
    req.socket.destroy();
  }

  async function handleBulk(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    headers: http.OutgoingHttpHeaders,
    raw: Buffer,
  ): Promise<void> {
    counters.bulkRequests += 1;
    const gzipped = String(req.headers['content-encoding'] ?? '').toLowerCase().includes('gzip');
    const text = (gzipped ? zlib.gunzipSync(raw) : raw).toString('utf8');
    const items = parseBulk(text, defaultIndexOf(url.pathname));
    const rejected = items.map(() => decider.hit('rejectBulkItems', settings.rejectBulkItems));
    const nRejected = rejected.filter(Boolean).length;
    if (nRejected === 0) {
      counters.itemsForwarded += items.length;
      return passThrough(req, res, url, headers, raw);
    }
    counters.itemsRejected += nRejected;
    const keep = items.filter((_, i) => !rejected[i]);
    counters.itemsForwarded += keep.length;
    let upstreamItems: Record<string, unknown>[] = [];
    let took = 0;
    if (keep.length > 0) {
      const fwdHeaders = { ...headers };
      delete fwdHeaders['content-encoding'];
      delete fwdHeaders['accept-encoding'];
      const body = Buffer.from(keep.map((it) => it.lines.join('\n')).join('\n') + '\n');
      counters.forwarded += 1;
      const up = await forward(req.method ?? 'POST', url.pathname + url.search, fwdHeaders, body);
      if (settings.drop > 0 && settings.dropPhase === 'after' && decider.hit('drop', settings.drop)) return drop(req);
      const parsed: unknown = up.status === 200 ? JSON.parse(up.body.toString('utf8')) : undefined;
      const upItems = (parsed as { items?: unknown } | undefined)?.items;
      if (!Array.isArray(upItems) || upItems.length !== keep.length) {
        // An error answer, or filter_path took the items away: hand it over as it is.
        return send(res, up.status, responseHeaders(up.headers, up.body.length), up.body);
      }
      upstreamItems = upItems as Record<string, unknown>[];
      took = Number((parsed as { took?: unknown }).took) || 0;
    }
    let next = 0;
    const merged = items.map((it, i) => {
      if (!rejected[i]) return upstreamItems[next++];
      return {
        [it.action]: {
          _index: it.index,
          _id: it.id,
          status: 429,
          error: { type: 'es_rejected_execution_exception', reason: REJECT_REASON },
        },
      };
    });
    return sendJson(res, 200, JSON.stringify({ took, errors: true, items: merged }));
  }

  async function passThrough(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    headers: http.OutgoingHttpHeaders,
    raw: Buffer,
    faulty = true,
  ): Promise<void> {
    counters.forwarded += 1;
    const up = await forward(req.method ?? 'GET', url.pathname + url.search, headers, raw);
    if (faulty && settings.drop > 0 && settings.dropPhase === 'after' && decider.hit('drop', settings.drop)) return drop(req);
    return send(res, up.status, responseHeaders(up.headers, up.body.length), up.body, faulty);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    counters.requests += 1;
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const raw = await readBody(req);
    const headers = requestHeaders(req);
    const faulty = settings.only === undefined || settings.only.test(url.pathname);
    if (!faulty) return passThrough(req, res, url, headers, raw, false);

    if (settings.dropPhase === 'before' && decider.hit('drop', settings.drop)) return drop(req);
    if (decider.hit('status429', settings.status429)) {
      counters.status429 += 1;
      return sendJson(res, 429, esErrorBody(429, 'es_rejected_execution_exception', REJECT_REASON));
    }
    if (decider.hit('status503', settings.status503)) {
      counters.status503 += 1;
      return sendJson(
        res,
        503,
        esErrorBody(503, 'unavailable_shards_exception', 'primary shard is not active [injected by the sidekick test fault proxy]'),
      );
    }
    if (req.method === 'POST' || req.method === 'PUT') {
      if (/(^|\/)_bulk\/?$/.test(url.pathname) && settings.rejectBulkItems > 0) {
        return handleBulk(req, res, url, headers, raw);
      }
      if (/(^|\/)_bulk\/?$/.test(url.pathname)) counters.bulkRequests += 1;
    }
    return passThrough(req, res, url, headers, raw);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      counters.upstreamErrors += 1;
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      const reason = err instanceof Error ? err.message : String(err);
      const body = Buffer.from(esErrorBody(502, 'sidekick_fault_proxy_exception', reason));
      res.writeHead(502, { 'content-type': 'application/json', 'content-length': String(body.length) });
      res.end(body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get counters(): Readonly<FaultCounters> {
      return { ...counters };
    },
    get settings(): Readonly<FaultSettings> {
      return { ...settings };
    },
    set(changes: Partial<FaultSettings>): void {
      Object.assign(settings, changes);
      if (changes.mode !== undefined || changes.seed !== undefined) decider = new Decider(settings.mode, settings.seed);
    },
    reset(): void {
      counters = zeroCounters();
      decider = new Decider(settings.mode, settings.seed);
    },
    close(): Promise<void> {
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      });
    },
  };
}
