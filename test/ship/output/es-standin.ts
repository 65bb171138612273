/**
 * A stand-in that answers like Elasticsearch 8.19 does, on a real node:http socket, for the paths the shipper
 * uses and for faults the real engine will not produce on demand. What it mimics, from ES 8.x:
 * - every response carries `x-elastic-product: Elasticsearch` (what the 8.x client's product check requires);
 *   the response Content-Type follows the request's Accept (`application/vnd.elasticsearch+json;compatible-with=8`
 *   for the official client, `application/json` otherwise); compatible-with other than 7 or 8 is refused with
 *   400 media_type_header_exception, like ES 8 refuses a v9 client.
 * - GET / : name, cluster_name, cluster_uuid, version {number 8.19.0, build_flavor default, ...}, tagline.
 * - security on (when users/API keys are given): 401 security_exception "missing authentication credentials"
 *   with WWW-Authenticate headers; a wrong password is "unable to authenticate user".
 * - POST [/{index}]/_bulk: gzip request bodies; "The bulk request must be terminated by a newline [\n]";
 *   create on an existing _id = item 409 version_conflict_engine_exception "[id]: version conflict, document
 *   already exists (current version [1])"; a data stream (index matching a template with data_stream) stores into
 *   .ds-<name>-YYYY.MM.DD-000001 and requires @timestamp; dynamic mapping by first value seen, so a later
 *   non-numeric string in a long field, or an object where a value was mapped (or the reverse), is item 400
 *   document_parsing_exception; `errors` is true when any item failed; filter_path on the response.
 * - PUT /_ilm/policy/{name}, PUT /_index_template/{name}: acknowledged; GET/PUT /_data_stream/{name}: 404
 *   index_not_found_exception when missing, 400 resource_already_exists_exception on a second PUT, 400 when no
 *   data_stream template matches; unknown routes: 400 "no handler found for uri [...] and method [...]".
 * Faults (what ES does under load or misconfiguration, decided by the test): whole-request answers queued with
 * failNext() (429 es_rejected_execution_exception, 503, 401, ...), dropped connections or no answer; per-item 429
 * es_rejected_execution_exception through rejectItem; 413 with an empty body and a closed connection above
 * maxContentLength (http.max_content_length).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { readBody } from '../../support/http';

/** A whole-request fault: an error status, a dropped connection, or no answer at all (until close). */
export type Fault = { status: number } | 'drop' | 'hang';

export interface StandinOptions {
  /** Basic-auth users (name → password); when given or apiKeys given, requests must authenticate. */
  users?: Record<string, string>;
  /** Accepted API keys, as the base64 "id:key" text of the `ApiKey` header. */
  apiKeys?: string[];
  /** http.max_content_length in bytes (of the body as received); default 100 MiB like ES. */
  maxContentLength?: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: Buffer; cert: Buffer };
  /** Port to listen on (to come back on the same URL after close()); default any free port. */
  port?: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Decompressed body bytes. */
  bodyBytes: number;
  /** _ids of the create operations, for _bulk. */
  ids: string[];
}

export interface EsStandin {
  readonly url: string;
  /** Stored sources by data stream or index name, then _id. */
  readonly docs: Map<string, Map<string, Record<string, unknown>>>;
  readonly requests: SeenRequest[];
  /** Answers the next whole requests (any path except GET /) with these faults, in order. */
  failNext(...faults: Fault[]): void;
  /** When set, each create whose _id it returns true for is answered with an item 429. */
  rejectItem: ((id: string) => boolean) | undefined;
  close(): Promise<void>;
}

const PRODUCT = { 'x-elastic-product': 'Elasticsearch' };
const REJECTED =
  'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, ' +
  'coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=0]';

type FieldType = 'long' | 'float' | 'text' | 'boolean' | 'object';

interface Target {
  name: string;
  backing: string;
  dataStream: boolean;
  mapping: Map<string, FieldType>;
  seqNo: number;
}

export async function startEsStandin(opts: StandinOptions = {}): Promise<EsStandin> {
  const docs = new Map<string, Map<string, Record<string, unknown>>>();
  const requests: SeenRequest[] = [];
  const faults: Fault[] = [];
  const targets = new Map<string, Target>();
  const templates = new Map<string, { patterns: string[]; dataStream: boolean }>();
  const secured = opts.users !== undefined || opts.apiKeys !== undefined;
  const maxContentLength = opts.maxContentLength ?? 100 * 1024 * 1024;
  const sockets = new Set<Socket>();
  const state: { rejectItem: ((id: string) => boolean) | undefined } = { rejectItem: undefined };

  function contentType(req: http.IncomingMessage): string {
    const accept = String(req.headers.accept ?? '');
    return /compatible-with=8/.test(accept) ? 'application/vnd.elasticsearch+json;compatible-with=8' : 'application/json';
  }

  function reply(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, filterPath?: string | null): void {
    const filtered = filterPath ? applyFilterPath(body, filterPath) : body;
    const text = JSON.stringify(filtered ?? {});
    res.writeHead(status, { ...PRODUCT, 'content-type': contentType(req), 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function error(req: http.IncomingMessage, res: http.ServerResponse, status: number, type: string, reason: string, extra: Record<string, unknown> = {}): void {
    reply(req, res, status, { error: { root_cause: [{ type, reason, ...extra }], type, reason, ...extra }, status });
  }

  function authenticated(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean {
    if (!secured) return true;
    const h = String(req.headers.authorization ?? '');
    const challenge = { 'WWW-Authenticate': ['Basic realm="security" charset="UTF-8"', 'ApiKey'] };
    if (h.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      if (opts.users?.[user] !== undefined && opts.users[user] === rest.join(':')) return true;
      res.setHeader('WWW-Authenticate', challenge['WWW-Authenticate']);
      error(req, res, 401, 'security_exception', `unable to authenticate user [${user}] for REST request [${path}]`);
      return false;
    }
    if (h.startsWith('ApiKey ') && opts.apiKeys?.includes(h.slice(7))) return true;
    res.setHeader('WWW-Authenticate', challenge['WWW-Authenticate']);
    error(req, res, 401, 'security_exception', h.startsWith('ApiKey ') ? 'unable to authenticate with provided credentials and anonymous access is not allowed for this request' : `missing authentication credentials for REST request [${path}]`);
    return false;
  }

  function mediaTypeOk(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    for (const h of [req.headers['content-type'], req.headers.accept]) {
      const m = /compatible-with=(\d+)/.exec(String(h ?? ''));
      if (m && m[1] !== '7' && m[1] !== '8') {
        error(req, res, 400, 'media_type_header_exception', 'Invalid media-type value on headers [Accept, Content-Type]', {
          caused_by: { type: 'status_exception', reason: `Accept version must be either version 8 or 7, but found ${m[1]}. Accept=${String(req.headers.accept)}` },
        });
        return false;
      }
    }
    return true;
  }

  function matchesTemplate(name: string): boolean {
    for (const t of templates.values()) {
      if (t.dataStream && t.patterns.some((p) => new RegExp('^' + p.split('*').map(escapeRe).join('.*') + '$').test(name))) return true;
    }
    return false;
  }

  function targetFor(name: string, create: boolean): Target | undefined {
    let t = targets.get(name);
    if (!t && create) {
      const dataStream = matchesTemplate(name);
      const day = new Date().toISOString().slice(0, 10).replace(/-/g, '.');
      t = { name, backing: dataStream ? `.ds-${name}-${day}-000001` : name, dataStream, mapping: new Map(), seqNo: 0 };
      targets.set(name, t);
      docs.set(name, new Map());
    }
    return t;
  }

  /** Dynamic mapping: the first value seen fixes a field's type; ES refuses a later value it cannot coerce. */
  function mapDoc(t: Target, source: Record<string, unknown>, id: string): { type: string; reason: string } | undefined {
    const pending = new Map<string, FieldType>();
    const walk = (obj: Record<string, unknown>, prefix: string): { type: string; reason: string } | undefined => {
      for (const [k, v] of Object.entries(obj)) {
        const path = prefix + k;
        const have = t.mapping.get(path) ?? pending.get(path);
        const isObj = v !== null && typeof v === 'object' && !Array.isArray(v);
        const seen: FieldType = isObj ? 'object' : typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? (Number.isInteger(v) ? 'long' : 'float') : 'text';
        if (have === 'object' && !isObj && v !== null) {
          return { type: 'document_parsing_exception', reason: `[1:2] object mapping for [${path}] tried to parse field [${k}] as object, but found a concrete value` };
        }
        if (have && have !== 'object' && isObj) {
          return { type: 'document_parsing_exception', reason: `[1:2] failed to parse field [${path}] of type [${have === 'text' ? 'text' : have}] in document with id '${id}'. Preview of field's value: '${JSON.stringify(v)}'` };
        }
        if ((have === 'long' || have === 'float') && typeof v === 'string' && !/^-?\d+(\.\d+)?$/.test(v.trim())) {
          return { type: 'document_parsing_exception', reason: `[1:2] failed to parse field [${path}] of type [${have}] in document with id '${id}'. Preview of field's value: '${v}'` };
        }
        if (!have && v !== null) pending.set(path, seen);
        if (isObj) {
          const e = walk(v as Record<string, unknown>, path + '.');
          if (e) return e;
        }
      }
      return undefined;
    };
    const err = walk(source, '');
    if (!err) for (const [p, ty] of pending) t.mapping.set(p, ty);
    return err;
  }

  function bulk(req: http.IncomingMessage, res: http.ServerResponse, url: URL, text: string, seen: SeenRequest): void {
    const started = Date.now();
    if (text.length > 0 && !text.endsWith('\n')) {
      return error(req, res, 400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    }
    const pathIndex = /^\/([^/_][^/]*)\/_bulk$/.exec(url.pathname)?.[1];
    const lines = text.split('\n');
    const items: Record<string, unknown>[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === '') continue;
      const action = JSON.parse(lines[i]) as Record<string, { _id?: string; _index?: string }>;
      const [op, meta] = Object.entries(action)[0];
      if (op !== 'create' && op !== 'index') {
        return error(req, res, 400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${op}]`);
      }
      const source = JSON.parse(lines[++i]) as Record<string, unknown>;
      const name = meta._index ?? (pathIndex ? decodeURIComponent(pathIndex) : undefined);
      const id = meta._id ?? Math.random().toString(36).slice(2);
      seen.ids.push(id);
      if (!name) return error(req, res, 400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
      const t = targetFor(name, true) as Target;
      const itemErr = (status: number, type: string, reason: string): void => {
        errors = true;
        items.push({ [op]: { _index: t.backing, _id: id, status, error: { type, reason, index_uuid: 'standin-uuid', shard: '0', index: t.backing } } });
      };
      if (state.rejectItem?.(id)) {
        errors = true;
        items.push({ [op]: { _index: t.backing, _id: id, status: 429, error: { type: 'es_rejected_execution_exception', reason: REJECTED } } });
        continue;
      }
      const stored = docs.get(name) as Map<string, Record<string, unknown>>;
      if (stored.has(id)) {
        itemErr(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [1])`);
        continue;
      }
      if (t.dataStream && source['@timestamp'] === undefined) {
        itemErr(400, 'document_parsing_exception', '[1:2] failed to parse: data stream timestamp field [@timestamp] is missing');
        continue;
      }
      const mapErr = mapDoc(t, source, id);
      if (mapErr) {
        itemErr(400, mapErr.type, mapErr.reason);
        continue;
      }
      stored.set(id, source);
      items.push({
        [op]: { _index: t.backing, _id: id, _version: 1, result: 'created', _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: t.seqNo++, _primary_term: 1, status: 201 },
      });
    }
    reply(req, res, 200, { errors, took: Date.now() - started, items }, url.searchParams.get('filter_path'));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin.invalid');
    const raw = await readBody(req);
    if (raw.length > maxContentLength) {
      res.writeHead(413, { 'content-length': 0, connection: 'close' });
      res.end();
      return;
    }
    const gz = /gzip/.test(String(req.headers['content-encoding'] ?? ''));
    const text = (gz ? zlib.gunzipSync(raw) : raw).toString('utf8');
    const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, bodyBytes: Buffer.byteLength(text), ids: [] };
    requests.push(seen);
    const isRoot = url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD');
    if (!isRoot && faults.length > 0) {
      const f = faults.shift() as Fault;
      if (f === 'drop') {
        req.socket.destroy();
        return;
      }
      if (f === 'hang') return;
      const type = f.status === 429 ? 'es_rejected_execution_exception' : f.status === 401 ? 'security_exception' : f.status === 503 ? 'cluster_block_exception' : 'exception';
      const reason = f.status === 429 ? REJECTED : f.status === 401 ? `missing authentication credentials for REST request [${url.pathname}]` : 'blocked by: [SERVICE_UNAVAILABLE/2/no master];';
      return error(req, res, f.status, type, reason);
    }
    if (!authenticated(req, res, url.pathname) || !mediaTypeOk(req, res)) return;
    const m = req.method ?? 'GET';
    const p = url.pathname;
    if (isRoot) {
      return reply(req, res, 200, {
        name: 'standin-node',
        cluster_name: 'standin',
        cluster_uuid: 'VyRk8UWYSMq5L6Y6Z4nBvQ',
        version: {
          number: '8.19.0',
          build_flavor: 'default',
          build_type: 'tar',
          build_hash: '0000000000000000000000000000000000000000',
          build_date: '2025-07-17T00:00:00.000Z',
          build_snapshot: false,
          lucene_version: '9.12.2',
          minimum_wire_compatibility_version: '7.17.0',
          minimum_index_compatibility_version: '7.0.0',
        },
        tagline: 'You Know, for Search',
      });
    }
    if (m === 'POST' && /^(\/[^/_][^/]*)?\/_bulk$/.test(p)) return bulk(req, res, url, text, seen);
    let r = /^\/_ilm\/policy\/([^/]+)$/.exec(p);
    if (r && m === 'PUT') return reply(req, res, 200, { acknowledged: true });
    r = /^\/_index_template\/([^/]+)$/.exec(p);
    if (r && m === 'PUT') {
      const body = JSON.parse(text) as { index_patterns?: string[]; data_stream?: unknown };
      templates.set(decodeURIComponent(r[1]), { patterns: body.index_patterns ?? [], dataStream: body.data_stream !== undefined });
      return reply(req, res, 200, { acknowledged: true });
    }
    r = /^\/_data_stream\/([^/]+)$/.exec(p);
    if (r) {
      const name = decodeURIComponent(r[1]);
      const t = targets.get(name);
      if (m === 'GET') {
        if (!t?.dataStream) return error(req, res, 404, 'index_not_found_exception', `no such index [${name}]`, { 'resource.type': 'index_or_alias', 'resource.id': name, index: name });
        return reply(req, res, 200, { data_streams: [{ name, timestamp_field: { name: '@timestamp' }, indices: [{ index_name: t.backing }], generation: 1, status: 'GREEN' }] });
      }
      if (m === 'PUT') {
        if (t) return error(req, res, 400, 'resource_already_exists_exception', `data_stream [${name}] already exists`);
        if (!matchesTemplate(name)) return error(req, res, 400, 'illegal_argument_exception', `no matching index template found for data stream [${name}]`);
        targetFor(name, true);
        return reply(req, res, 200, { acknowledged: true });
      }
    }
    const body = JSON.stringify({ error: `no handler found for uri [${p}] and method [${m}]` });
    res.writeHead(400, { ...PRODUCT, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) error(req, res, 500, 'exception', err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest) : http.createServer(onRequest);
  server.on(opts.tls ? 'secureConnection' : 'connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    docs,
    requests,
    failNext: (...f: Fault[]) => faults.push(...f),
    get rejectItem() {
      return state.rejectItem;
    },
    set rejectItem(fn) {
      state.rejectItem = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** ES filter_path for the patterns the shipper uses: dotted paths with `*` matching any one key. */
export function applyFilterPath(value: unknown, filterPath: string): unknown {
  const paths = filterPath.split(',').map((p) => p.trim().split('.'));
  const pick = (v: unknown, rest: string[][]): unknown => {
    if (rest.some((r) => r.length === 0)) return v;
    if (Array.isArray(v)) {
      const out = v.map((x) => pick(x, rest)).filter((x) => x !== undefined);
      return out.length ? out : undefined;
    }
    if (v === null || typeof v !== 'object') return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      const next = rest.filter((r) => r[0] === '*' || r[0] === k).map((r) => r.slice(1));
      if (next.length === 0) continue;
      const picked = pick(child, next);
      if (picked !== undefined) out[k] = picked;
    }
    return Object.keys(out).length ? out : undefined;
  };
  return pick(value, paths) ?? {};
}
