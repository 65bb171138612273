// tcp probe: connect (optionally over TLS), optionally send text and expect a reply matching a regular expression.
import { connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Detail, Probe, TcpTarget } from '../types';
import { abortMessage, checkCertificate, describeError, elapsed, excerpt, result, unescape } from './common';

const MAX_READ = 64 * 1024;

export const tcpProbe: Probe<TcpTarget> = (cfg, signal) =>
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
