/**
 * Test helpers for the real search engine that jest's globalSetup provides (see global-setup.ts):
 * its URL is in SIDEKICK_TEST_ES_URL, either your own engine or the embedded OpenSearch 2.19.6.
 *
 *   const engine = useEngine();                 // in a describe(): fails (or, locally, skips) without one
 *   await esRequest('PUT', '/_index_template/x', {...});
 *   await countDocs('logs-sidekick-default');
 *
 * With no engine (Java/Maven missing locally, or SIDEKICK_TEST_NO_ENGINE=1) describeWithEngine()
 * skips its tests with the reason; under CI=true it fails them instead: never a silent skip in CI.
 */

export type EsBody = Record<string, unknown>;

export interface EngineInfo {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** 'embedded' (test/engine) or 'external' (SIDEKICK_TEST_ES_URL given by the user). */
  readonly source: 'embedded' | 'external';
}

export interface EsResponse<T = EsBody> {
  status: number;
  /** Parsed JSON; for a non-JSON answer (e.g. _cat) the text, whatever T says. */
  body: T;
  text: string;
  headers: Headers;
}

/** True when CI is set to anything but empty, 0 or false: a missing engine or tool then fails tests, never skips them. */
export function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** Why there is no engine, or null when there is one. */
export function engineUnavailableReason(): string | null {
  if (process.env.SIDEKICK_TEST_ES_URL) return null;
  return (
    process.env.SIDEKICK_TEST_ENGINE_UNAVAILABLE ??
    (process.env.SIDEKICK_TEST_NO_ENGINE === '1'
      ? 'SIDEKICK_TEST_NO_ENGINE=1'
      : 'SIDEKICK_TEST_ES_URL is not set (was jest run without test/support/global-setup.ts?)')
  );
}

/** The engine of this run; throws with the reason when there is none. */
export function getEngine(): EngineInfo {
  const url = process.env.SIDEKICK_TEST_ES_URL;
  if (!url) throw new Error(`no search engine for this test run: ${engineUnavailableReason() ?? 'unknown'}`);
  return {
    url: url.replace(/\/+$/, ''),
    source: process.env.SIDEKICK_TEST_ENGINE_SOURCE === 'external' ? 'external' : 'embedded',
  };
}

/**
 * For use inside describe(): adds a beforeAll that checks the engine is there and answers, and
 * returns an object whose fields read the engine lazily (valid inside tests and hooks).
 */
export function useEngine(): EngineInfo {
  beforeAll(async () => {
    const { url } = getEngine();
    const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=30s`);
    if (res.status !== 200) throw new Error(`engine at ${url} is not healthy: HTTP ${res.status} ${await res.text()}`);
  });
  return {
    get url(): string {
      return getEngine().url;
    },
    get source(): EngineInfo['source'] {
      return getEngine().source;
    },
  };
}

/**
 * describe() for tests that need the engine. Without one: under CI the block runs and fails
 * (getEngine throws in beforeAll); locally it is skipped with a warning naming the reason.
 */
export function describeWithEngine(name: string, fn: () => void): void {
  const reason = engineUnavailableReason();
  if (reason !== null && !isCi()) {
    describe.skip(`${name} [skipped: no search engine: ${reason}]`, fn);
    return;
  }
  describe(name, fn);
}

let nameCounter = 0;
/** A name unique to this test file and run, lower-case (valid as an index/data stream suffix). */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${nameCounter}`.toLowerCase();
}

function encodeBody(path: string, body: unknown): { payload?: string; contentType?: string } {
  if (body === undefined) return {};
  const ndjson = /(^|\/)_(bulk|msearch)(\?|$)/.test(path.replace(/^\//, ''));
  if (Array.isArray(body) && ndjson) {
    return { payload: body.map((line) => JSON.stringify(line)).join('\n') + '\n', contentType: 'application/x-ndjson' };
  }
  if (typeof body === 'string') {
    return { payload: body, contentType: ndjson ? 'application/x-ndjson' : 'application/json' };
  }
  return { payload: JSON.stringify(body), contentType: 'application/json' };
}

/**
 * One request to the engine (or to baseUrl, e.g. a fault proxy in front of it). A body that is an
 * array on a _bulk/_msearch path is sent as NDJSON (one element per line); a string is sent as is.
 * Never throws for an HTTP error status: check res.status.
 */
export async function esRequest<T = EsBody>(
  method: string,
  path: string,
  body?: unknown,
  options: { baseUrl?: string; headers?: Record<string, string> } = {},
): Promise<EsResponse<T>> {
  const base = (options.baseUrl ?? getEngine().url).replace(/\/+$/, '');
  const { payload, contentType } = encodeBody(path, body);
  const headers: Record<string, string> = { accept: 'application/json', ...(options.headers ?? {}) };
  if (contentType && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = contentType;
  }
  const res = await fetch(`${base}${path.startsWith('/') ? '' : '/'}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown = text;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed as T, text, headers: res.headers };
}

function fail(what: string, res: EsResponse<unknown>): never {
  throw new Error(`${what} failed: HTTP ${res.status} ${res.text.slice(0, 500)}`);
}

function enc(name: string): string {
  return encodeURIComponent(name).replace(/%2C/gi, ',').replace(/%2A/gi, '*');
}

/** POST /{index}/_refresh (index, alias or data stream; wildcards allowed). */
export async function refresh(index: string): Promise<void> {
  const res = await esRequest('POST', `/${enc(index)}/_refresh?ignore_unavailable=true&allow_no_indices=true`);
  if (res.status !== 200) fail(`refresh ${index}`, res);
}

/** Refreshes, then counts the documents; 0 when the index or data stream does not exist. */
export async function countDocs(index: string): Promise<number> {
  await refresh(index);
  const res = await esRequest<{ count?: number }>('GET', `/${enc(index)}/_count`);
  if (res.status === 404) return 0;
  if (res.status !== 200 || typeof res.body.count !== 'number') fail(`count ${index}`, res);
  return res.body.count;
}

export interface StoredDoc<S = EsBody> {
  _index: string;
  _id: string;
  _source: S;
}

/**
 * The document with this _id in an index or data stream (searched, so it works across a data
 * stream's backing indices), or undefined. Refreshes first.
 */
export async function getById<S = EsBody>(index: string, id: string): Promise<StoredDoc<S> | undefined> {
  await refresh(index);
  const res = await esRequest<{ hits?: { hits?: StoredDoc<S>[] } }>(
    'POST',
    `/${enc(index)}/_search?ignore_unavailable=true&allow_no_indices=true`,
    { query: { ids: { values: [id] } }, size: 2, seq_no_primary_term: false },
  );
  if (res.status === 404) return undefined;
  if (res.status !== 200) fail(`search ${index} for ${id}`, res);
  const hits = res.body.hits?.hits ?? [];
  if (hits.length > 1) throw new Error(`_id ${id} is stored ${hits.length} times in ${index}`);
  return hits[0];
}

/** Deletes a data stream, or else an index, by name (wildcards allowed); absent is fine. */
export async function deleteDataStreamOrIndex(name: string): Promise<void> {
  const ds = await esRequest('DELETE', `/_data_stream/${enc(name)}`);
  if (ds.status === 200) return;
  if (ds.status !== 404) fail(`delete data stream ${name}`, ds);
  const idx = await esRequest('DELETE', `/${enc(name)}?ignore_unavailable=true&allow_no_indices=true`);
  if (idx.status !== 200 && idx.status !== 404) fail(`delete index ${name}`, idx);
}
