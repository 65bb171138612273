// Which engine is on the other end, and an official Elasticsearch client configured so that it talks to it:
// as shipped for Elasticsearch (product check, compatible-with=8 media types), without those for OpenSearch.
import { Client, Transport, errors, type TransportOptions } from '@elastic/elasticsearch';
import { authHeader, readTls, type Auth, type TlsFiles } from './transport';

export type Flavor = 'elasticsearch' | 'opensearch';

/**
 * The 8.x client hard-codes productCheck 'Elasticsearch' (any 2xx without x-elastic-product: Elasticsearch throws
 * ProductNotSupportedError) and vendored media types OpenSearch answers with 406. Both are transport options,
 * so a Transport that drops them makes the same client speak plain application/json to OpenSearch.
 */
export class OpenSearchTransport extends Transport {
  constructor(opts: TransportOptions) {
    super({ ...opts, productCheck: undefined, vendoredHeaders: undefined });
  }
}

export interface ClientOptions {
  urls: string[];
  auth?: Auth;
  tls?: TlsFiles;
  requestTimeoutMs: number;
}

export function createClient(opts: ClientOptions, flavor: Flavor): Client {
  const tls = readTls(opts.tls);
  const headers: Record<string, string> = {};
  // user:password in a URL is honoured like the bulk path does; the client would also take it, but one rule is simpler.
  const authorization = authHeader(opts.auth, new URL(opts.urls[0]));
  if (authorization) headers.authorization = authorization;
  return new Client({
    nodes: opts.urls.map((u) => {
      const url = new URL(u);
      url.username = '';
      url.password = '';
      return url.toString();
    }),
    headers,
    tls: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized },
    requestTimeout: opts.requestTimeoutMs,
    maxRetries: 2,
    compression: false,
    ...(flavor === 'opensearch' ? { Transport: OpenSearchTransport } : {}),
  });
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

function infoOf(body: RootInfo, flavor: Flavor): EngineInfo {
  return { flavor, version: body.version?.number ?? 'unknown', clusterName: body.cluster_name };
}

/**
 * GET / to learn the flavor: OpenSearch says version.distribution "opensearch". An Elasticsearch answer is then
 * fetched again through the unmodified client, so a server that only looks like Elasticsearch is refused by the
 * client's product check here rather than later.
 */
export async function detectEngine(opts: ClientOptions, configured: Flavor | 'auto' = 'auto'): Promise<EngineInfo> {
  if (configured === 'auto') {
    const probe = createClient(opts, 'opensearch');
    let body: RootInfo;
    try {
      body = await probe.transport.request<RootInfo>({ method: 'GET', path: '/' });
    } finally {
      await probe.close();
    }
    if (body.version?.distribution === 'opensearch') return infoOf(body, 'opensearch');
  }
  const flavor = configured === 'auto' ? 'elasticsearch' : configured;
  const client = createClient(opts, flavor);
  try {
    return infoOf(await client.transport.request<RootInfo>({ method: 'GET', path: '/' }), flavor);
  } catch (err) {
    if (err instanceof errors.ProductNotSupportedError) {
      throw new Error(
        `the server at ${opts.urls.length === 1 ? 'the configured URL' : 'the configured URLs'} is not Elasticsearch ` +
          `(no x-elastic-product: Elasticsearch header); if it is OpenSearch, set flavor opensearch`,
      );
    }
    throw err;
  } finally {
    await client.close();
  }
}
