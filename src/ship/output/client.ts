// The official Elasticsearch client, configured for the detected flavor; only `setup` uses it, so the shipping
// path never loads it (it costs ~17 MiB of RSS and ~140 ms of startup).
import { Client, Transport, type TransportOptions } from '@elastic/elasticsearch';
import type { ClientOptions, Flavor } from './flavor';
import { authHeader, readTls } from './transport';

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
