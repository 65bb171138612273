// http probe: one request through node:http on a socket of our own connector, so DNS, connect, TLS and first-byte
// times are measured. node:http rather than undici: a one-shot check (a HEALTHCHECK, every 10 s) starts a whole
// process, and loading undici cost ~0.13 CPU-s of each start on Node 24 against ~0.03 for node:http.
import { lookup } from 'node:dns/promises';
import { request as httpRequest, validateHeaderName, validateHeaderValue, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Detail, HttpTarget, Probe, StatusRange } from '../types';
import { redactUrl } from '../../common/redact';
import { abortMessage, checkCertificate, describeError, elapsed, excerpt, result } from './common';

const MAX_BODY = 64 * 1024;
/** How long a failed status waits for its body, which only decorates the message with an excerpt. */
const EXCERPT_WAIT_MS = 250;

interface Phases {
  dns_ms?: number;
  connect_ms?: number;
  tls_ms?: number;
  first_byte_ms?: number;
  address?: string;
}

export const httpProbe: Probe<HttpTarget> = async (cfg, signal) => {
  const start = performance.now();
  const detail: Detail = {};
  let phase = 'connecting';
  let url: URL;
  try {
    url = new URL(cfg.url);
  } catch {
    return result(start, false, `not a valid URL: ${redactUrl(cfg.url)}`, detail);
  }
  try {
    for (let redirects = 0; ; redirects++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        const where = redirects > 0 ? `redirected to ${redactUrl(url.href)}: ` : '';
        return result(start, false, `${where}only http: and https: URLs can be checked, not ${url.protocol}`, detail);
      }
      const phases: Phases = {};
      const certFailure: { message?: string } = {};
      let res: IncomingMessage | undefined;
      let req: ClientRequest | undefined;
      let requestError: Error | undefined;
      try {
        phase = 'connecting';
        const headers: Record<string, string> = { 'user-agent': 'sidekick-probe', accept: '*/*', ...cfg.headers };
        if (url.username || url.password) {
          headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
        }
        // node:http frames a body by itself only for methods that usually carry one: a GET with a body needs its length.
        if (cfg.request_body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
          headers['content-length'] = String(Buffer.byteLength(cfg.request_body));
        }
        const invalid = invalidHeader(headers);
        if (invalid) return result(start, false, invalid, detail);
        const secure = url.protocol === 'https:';
        const port = Number(url.port) || (secure ? 443 : 80);
        const target = url;
        res = await new Promise<IncomingMessage>((resolve, reject) => {
          req = httpRequest({
            host: target.hostname.replace(/^\[|\]$/g, ''),
            port,
            // The Host header leaves out the scheme's own port, as a browser's does.
            defaultPort: secure ? 443 : 80,
            path: target.pathname + target.search,
            method: cfg.method,
            headers,
            signal,
            // No agent: one connection for this request, closed after it (Connection: close). node:http takes the
            // socket when the callback is called (a function that returns nothing and calls back later).
            createConnection: ((_opts: unknown, done: (err: Error | null, socket?: Socket) => void) => {
              connectWithPhases(target.hostname, port, secure, cfg, start, phases, detail, certFailure, signal).then(
                (socket) => {
                  phase = 'waiting for the response';
                  done(null, socket);
                },
                (err: Error) => done(err),
              );
              return undefined;
            }) as unknown as RequestOptions['createConnection'],
          });
          req.once('response', resolve);
          // Every error of the request is listened to, also those after the response (a malformed chunk while the body
          // is read), and the first one kept.
          req.on('error', (err) => {
            requestError ??= err;
            reject(err);
          });
          req.end(cfg.request_body);
        });
        phases.first_byte_ms = elapsed(start);
        Object.assign(detail, phases, { status: res.statusCode });
        // From here on a verdict that needs no body is given at once: a body that stalls after the headers
        // (kubernetes #122948) must not hold a decided check until its timeout, so the body is dropped, not drained.
        if (certFailure.message) return result(start, false, certFailure.message, detail);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && typeof location === 'string' && cfg.follow_redirects > 0) {
          if (redirects >= cfg.follow_redirects) {
            // A redirect loop (Consul #2294) or a chain too long: unhealthy, as curl, Go's client and blackbox_exporter decide.
            detail.location = redactUrl(location);
            return result(start, false, `stopped after ${redirects} redirects (last: ${status} to ${redactUrl(location)})`, detail);
          }
          url = new URL(location, url);
          detail.redirects = redirects + 1;
          continue;
        }
        if (typeof location === 'string') detail.location = redactUrl(location);
        if (!inRanges(status, cfg.status)) {
          const text = await readAvailable(res, EXCERPT_WAIT_MS);
          return result(start, false, `status ${status} not in ${formatRanges(cfg.status)}${text ? `; body ${excerpt(text)}` : ''}`, detail);
        }
        if (cfg.body === undefined && !cfg.json_path?.length) return result(start, true, `status ${status}`, detail);
        phase = 'reading the body';
        const text = await readBody(res);
        detail.body_bytes = Buffer.byteLength(text);
        if (cfg.body !== undefined && !new RegExp(cfg.body).test(text)) {
          return result(start, false, `status ${status} but body did not match /${cfg.body}/; got ${excerpt(text)}`, detail);
        }
        for (const jp of cfg.json_path ?? []) {
          const failure = checkJsonPath(text, jp.path, jp.value);
          if (failure) return result(start, false, `status ${status} but ${failure}`, detail);
        }
        return result(start, true, `status ${status}, body matched`, detail);
      } catch (err) {
        // The request's own error says more than the response's "aborted" (a malformed chunk while reading the body).
        throw requestError ?? err;
      } finally {
        // The connection is this request's alone: closed whatever is left of the body.
        res?.destroy();
        (req as ClientRequest | undefined)?.destroy();
      }
    }
  } catch (err) {
    if (signal.aborted) return result(start, false, abortMessage(signal, phase), detail);
    return result(start, false, describeHttpError(err, url.hostname), detail);
  }
};

/** node:http's own errors in the words the probe uses; socket, DNS and TLS errors as describeError says them. */
function describeHttpError(err: unknown, host: string): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  if (typeof e?.code === 'string' && e.code.startsWith('HPE_')) return `invalid HTTP response: ${e.reason ?? e.message}`;
  if (e?.message === 'socket hang up') return 'connection closed by the server before the response';
  if (e?.message === 'aborted') return 'connection closed before the body ended';
  return describeError(err, host);
}

/** Why a request header cannot be sent (name or value not allowed by node:http, RFC 9110 section 5), or undefined. */
function invalidHeader(headers: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch (err) {
      return `invalid request header ${JSON.stringify(name)}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

async function connectWithPhases(
  hostname: string,
  port: number,
  secure: boolean,
  cfg: HttpTarget,
  start: number,
  phases: Phases,
  detail: Detail,
  certFailure: { message?: string },
  signal: AbortSignal,
): Promise<Socket> {
  const host = hostname.replace(/^\[|\]$/g, '');
  let address = host;
  if (!isIP(host)) {
    address = (await lookup(host)).address;
    phases.dns_ms = elapsed(start);
  }
  // An abort while the name was looked up fires no listener added after it: checked here, before connecting.
  signal.throwIfAborted();
  phases.address = address;
  return new Promise<Socket>((resolve, reject) => {
    const socket: Socket = secure
      ? tlsConnect({ host: address, port, servername: cfg.servername ?? (isIP(host) ? undefined : host), ca: cfg.ca, rejectUnauthorized: !cfg.insecure, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host: address, port });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    socket.once('connect', () => {
      phases.connect_ms = elapsed(start);
      if (!secure) {
        signal.removeEventListener('abort', onAbort);
        resolve(socket);
      }
    });
    if (secure) socket.once('secureConnect', () => {
      phases.tls_ms = elapsed(start);
      signal.removeEventListener('abort', onAbort);
      const cert = checkCertificate(socket as TLSSocket, cfg);
      Object.assign(detail, cert.detail);
      if (cert.failure) certFailure.message = cert.failure;
      resolve(socket);
    });
  });
}

/** What of the body arrives within waitMs (or until it ends, fails, or reaches MAX_BODY), as text. */
function readAvailable(body: NodeJS.ReadableStream, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      body.removeListener('data', onData);
      resolve(Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8'));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_BODY) done();
    };
    const timer = setTimeout(done, waitMs);
    body.on('data', onData);
    body.once('end', done);
    body.once('error', done);
  });
}

async function readBody(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < MAX_BODY) chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_BODY) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
}

export function inRanges(status: number, ranges: StatusRange[]): boolean {
  return ranges.some((r) => status >= r.from && status <= r.to);
}

export function formatRanges(ranges: StatusRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}

/** Checks PATH=VALUE against a JSON body; PATH is dotted with [index] (a leading "$." is allowed). */
export function checkJsonPath(text: string, path: string, expected: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `body is not JSON (needed for json path ${path}); got ${excerpt(text)}`;
  }
  const parts = path.replace(/^\$\.?/, '').match(/[^.[\]]+/g) ?? [];
  for (const p of parts) {
    if (value === null || typeof value !== 'object') return `json path ${path}: not found`;
    value = (value as Record<string, unknown>)[p];
    if (value === undefined) return `json path ${path}: not found`;
  }
  const actual = typeof value === 'string' ? value : JSON.stringify(value);
  return actual === expected ? undefined : `json path ${path} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
}
