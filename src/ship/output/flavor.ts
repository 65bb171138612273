// Which engine is on the other end: GET / over node:http(s) (the official client is not loaded for this), with
// the official client's product check applied to Elasticsearch so a look-alike server is refused here.
import { redactUrl } from '../../common/log';
import { agentFor, authHeader, readTls, send, type Auth, type TlsFiles } from './transport';

export type Flavor = 'elasticsearch' | 'opensearch';

export interface ClientOptions {
  urls: string[];
  auth?: Auth;
  tls?: TlsFiles;
  requestTimeoutMs: number;
}

export interface EngineInfo {
  flavor: Flavor;
  /** version.number from GET /. */
  version: string;
  clusterName?: string;
}

interface RootInfo {
  cluster_name?: string;
  version?: { number?: string; distribution?: string };
}

/** What the official 8.x client sends to Elasticsearch; OpenSearch answers these media types with 406. */
const ES_ACCEPT = 'application/vnd.elasticsearch+json; compatible-with=8,text/plain';
const PLAIN_ACCEPT = 'application/json';

/** The header by which the official client recognises Elasticsearch (its productCheck), on 2xx answers only. */
const PRODUCT_HEADER = 'x-elastic-product';
const PRODUCT = 'Elasticsearch';

export class NotElasticsearchError extends Error {
  constructor(urls: number) {
    super(
      `the server at ${urls === 1 ? 'the configured URL' : 'the configured URLs'} is not Elasticsearch ` +
        `(no ${PRODUCT_HEADER}: ${PRODUCT} header); if it is OpenSearch, set flavor opensearch`,
    );
    this.name = 'NotElasticsearchError';
  }
}

interface RootReply {
  body: RootInfo;
  product: string | undefined;
}

/** GET / on the first URL that answers (like the client, only an unreachable URL moves on to the next one). */
async function getRoot(opts: ClientOptions, accept: string): Promise<RootReply> {
  const tls = readTls(opts.tls);
  let unreachable: unknown;
  for (const raw of opts.urls) {
    const url = new URL(raw);
    const headers: Record<string, string> = { accept };
    const authorization = authHeader(opts.auth, url);
    if (authorization) headers.authorization = authorization;
    const agent = agentFor(url, tls, 1);
    let status: number;
    let text: string;
    let product: string | string[] | undefined;
    try {
      const res = await send(url, agent, { method: 'GET', path: url.pathname.replace(/\/+$/, '') + '/', headers, timeoutMs: opts.requestTimeoutMs });
      status = res.status;
      product = res.headers[PRODUCT_HEADER];
      text = res.text;
    } catch (err) {
      unreachable = err;
      continue;
    } finally {
      agent.destroy();
    }
    if (status < 200 || status >= 300) {
      throw new Error(`GET / at ${redactUrl(url.origin + url.pathname)} answered HTTP ${status}: ${text.slice(0, 200).replace(/\s+/g, ' ') || '(empty body)'}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the flavor decision below still holds; the version stays unknown.
    }
    return { body: body !== null && typeof body === 'object' ? (body as RootInfo) : {}, product: Array.isArray(product) ? product[0] : product };
  }
  throw unreachable;
}

function infoOf(body: RootInfo, flavor: Flavor): EngineInfo {
  return { flavor, version: body.version?.number ?? 'unknown', clusterName: body.cluster_name };
}

/**
 * GET / to learn the flavor: OpenSearch says version.distribution "opensearch". Elasticsearch is asked again the
 * way the official client asks (compatible-with=8 media type) and must answer with x-elastic-product:
 * Elasticsearch, as the client's product check demands, so a server that only looks like Elasticsearch is
 * refused here rather than later by `setup`.
 */
export async function detectEngine(opts: ClientOptions, configured: Flavor | 'auto' = 'auto'): Promise<EngineInfo> {
  if (configured !== 'elasticsearch') {
    const { body } = await getRoot(opts, PLAIN_ACCEPT);
    if (configured === 'opensearch' || body.version?.distribution === 'opensearch') return infoOf(body, 'opensearch');
  }
  const { body, product } = await getRoot(opts, ES_ACCEPT);
  if (product !== PRODUCT) throw new NotElasticsearchError(opts.urls.length);
  return infoOf(body, 'elasticsearch');
}
