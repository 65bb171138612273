// tcp probe: connect (optionally over TLS), optionally send text and expect a reply matching a regular expression.
import { createServer, isIP, connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Detail, Probe, ProbeResult, TcpTarget } from '../types';
import { abortMessage, checkCertificate, describeError, elapsed, excerpt, ProbeTimeout, result, unescape } from './common';

const MAX_READ = 64 * 1024;

type FastPath = typeof import('./tcp-fastpath');
type FastConnect = import('./tcp-fastpath').FastConnect;
/** Set by enableTcpFastPath() (serve); one-shot commands never load the fast path. */
let fast: FastPath | undefined;

/**
 * Routes plain connect checks to IP addresses through Node's TCP handle (./tcp-fastpath) from now on, after
 * checking on a loopback listener that it connects and reports a refusal as node:net does. Returns why it stays
 * on net.connect instead, or undefined when it is on.
 */
export async function enableTcpFastPath(): Promise<string | undefined> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require('./tcp-fastpath') as FastPath;
  const missing = m.loadBinding();
  if (missing) return missing;
  const failed = await selfTest(m);
  if (failed) return failed;
  fast = m;
  return undefined;
}

/** Turns the fast path off again (tests compare both paths in one process). */
export function disableTcpFastPath(): void {
  fast = undefined;
}

async function selfTest(m: FastPath): Promise<string | undefined> {
  // FIN, not RST: a reset that arrives before the connect completes fails it (ECONNRESET) on either path.
  const server = createServer((s) => s.on('error', () => undefined).end());
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  } catch (err) {
    return `cannot listen on 127.0.0.1 to test it: ${describeError(err)}`;
  }
  const port = (server.address() as { port: number }).port;
  const target: TcpTarget = { kind: 'tcp', host: '127.0.0.1', port };
  const check = async (): Promise<ProbeResult> => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new ProbeTimeout(1000)), 1000);
    try {
      return await m.connectCheck(target, 4, ac.signal);
    } catch (err) {
      return { ok: false, duration_ms: 0, message: `threw ${(err as Error)?.message ?? String(err)}`, detail: {} };
    } finally {
      clearTimeout(timer);
    }
  };
  const open = await check();
  await new Promise((resolve) => server.close(resolve));
  if (!open.ok || typeof open.detail.connect_ms !== 'number') return `self-test: connecting to a loopback listener gave "${open.message}"`;
  const closed = await check();
  if (closed.ok || closed.message !== 'connection refused') return `self-test: connecting to a closed loopback port gave "${closed.message}", expected "connection refused"`;
  return undefined;
}

/** The address family when this check can take the fast path (on, plain connect, IP address), else undefined. */
function fastFamily(cfg: TcpTarget): 4 | 6 | undefined {
  if (!fast || cfg.send !== undefined || cfg.expect !== undefined || cfg.tls) return undefined;
  const family = isIP(cfg.host);
  return family === 4 || family === 6 ? family : undefined;
}

/** The fast path threw FastPathUnusable: net.connect from now on. Rethrows anything else. */
function fastPathFailed(err: unknown): void {
  if (!fast || !(err instanceof fast.FastPathUnusable)) throw err;
  fast = undefined; // this Node's handle differs from what the fast path expects
  process.emitWarning(`sidekick-probe: TCP fast path turned off, using net.connect: ${err.message}`);
}

export const tcpProbe: Probe<TcpTarget> = (cfg, signal) => {
  const family = fastFamily(cfg);
  if (family) {
    try {
      return fast!.connectCheck(cfg, family, signal);
    } catch (err) {
      fastPathFailed(err);
    }
  }
  return netProbe(cfg, signal);
};

/**
 * For serve's scheduler: a connect runner reused run after run, which the scheduler times out itself (cancel()),
 * when this check can take the fast path; undefined when it runs as tcpProbe.
 */
export function fastConnect(cfg: TcpTarget, done: (r: ProbeResult) => void): FastConnect | undefined {
  const family = fastFamily(cfg);
  return family ? new fast!.FastConnect(cfg, family, done) : undefined;
}

/** Starts a run of a fastConnect() runner; false when the fast path turned out unusable (now off): run tcpProbe. */
export function runFast(conn: FastConnect): boolean {
  try {
    conn.run();
    return true;
  } catch (err) {
    fastPathFailed(err);
    return false;
  }
}

const netProbe: Probe<TcpTarget> = (cfg, signal) =>
  new Promise((resolve) => {
    const start = performance.now();
    const detail: Detail = {};
    let phase = 'connecting';
    let received = '';
    let done = false;
    const expect = cfg.expect !== undefined ? new RegExp(cfg.expect) : undefined;

    const socket: Socket = cfg.tls
      ? // node:tls costs a few ms to load; plain TCP one-shots never pay for it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('node:tls') as typeof import('node:tls')).connect({
          host: cfg.host,
          port: cfg.port,
          servername: cfg.servername ?? (isIp(cfg.host) ? undefined : cfg.host),
          ca: cfg.ca,
          rejectUnauthorized: !cfg.insecure,
        })
      : netConnect({ host: cfg.host, port: cfg.port });

    const finish = (ok: boolean, message: string): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      // Closing with RST, as HAProxy's checks do, leaves no TIME_WAIT socket behind: a thousand checks a second
      // would otherwise hold tens of thousands of them and exhaust local ports.
      if (socket.readyState === 'open' && !cfg.tls) socket.resetAndDestroy();
      else socket.destroy();
      resolve(result(start, ok, message, detail));
    };
    const onAbort = (): void => finish(false, abortMessage(signal, phase));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);

    if (isIp(cfg.host)) detail.address = cfg.host;
    else
      socket.once('lookup', (err, address) => {
        if (!err) {
          detail.address = address;
          detail.dns_ms = elapsed(start);
        }
      });
    socket.once('connect', () => {
      detail.connect_ms = elapsed(start);
      if (cfg.tls) phase = 'TLS handshake';
      else connected();
    });
    if (cfg.tls) socket.once('secureConnect', () => {
      detail.tls_ms = elapsed(start);
      const cert = checkCertificate(socket as TLSSocket, cfg);
      Object.assign(detail, cert.detail);
      if (cert.failure) return finish(false, cert.failure);
      connected();
    });
    socket.on('error', (err) => finish(false, describeError(err, cfg.host)));

    function connected(): void {
      if (cfg.send !== undefined) socket.write(unescape(cfg.send));
      if (!expect) return finish(true, cfg.tls ? 'connected (TLS verified)' : 'connected');
      phase = `waiting for a reply matching /${cfg.expect}/`;
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        if (received.length < MAX_READ) received += chunk;
        detail.bytes_read = Buffer.byteLength(received);
        const m = expect!.exec(received);
        if (m) {
          detail.matched = m[0];
          finish(true, `reply matched /${cfg.expect}/`);
        } else if (received.length >= MAX_READ) {
          finish(false, `reply did not match /${cfg.expect}/ in the first ${MAX_READ} bytes`);
        }
      });
      socket.once('end', () =>
        finish(false, `connection closed before the reply matched /${cfg.expect}/; got ${received ? excerpt(received) : 'nothing'}`),
      );
    }
  });

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
