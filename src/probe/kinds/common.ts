// Helpers every probe kind shares: timing, the reason a probe was aborted, socket error wording, TLS certificate checks.
import type { TLSSocket } from 'node:tls';
import { roundMs, type Detail, type ProbeResult, type TlsOptions } from '../types';

/** Reason passed to AbortController.abort() when a probe runs past its timeout. */
export class ProbeTimeout extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'ProbeTimeout';
  }
}

/** Why an aborted probe stopped, e.g. "timed out after 1000 ms while connecting". */
export function abortMessage(signal: AbortSignal, phase?: string): string {
  return abortReasonMessage(signal.reason, phase);
}

/** The same for the reason itself (a ProbeTimeout, or anything else for a shutdown), when there is no signal. */
export function abortReasonMessage(reason: unknown, phase?: string): string {
  const base = reason instanceof ProbeTimeout ? reason.message : 'aborted (shutting down)';
  return phase ? `${base} while ${phase}` : base;
}

export function elapsed(start: number): number {
  return roundMs(performance.now() - start);
}

export function result(start: number, ok: boolean, message: string, detail: Detail): ProbeResult {
  return { ok, duration_ms: elapsed(start), message, detail };
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed by peer',
  EADDRNOTAVAIL: 'address not available',
};

const TLS_TRUST_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Plain words for a socket, DNS or TLS error. */
export function describeError(err: unknown, host?: string): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return `cannot resolve host ${host ?? ''}`.trim() + (code === 'EAI_AGAIN' ? ' (DNS temporary failure)' : '');
  if (SOCKET_ERRORS[code]) return SOCKET_ERRORS[code];
  if (TLS_TRUST_ERRORS.has(code)) return `TLS verification failed: ${e.message} (trust it with --ca FILE / ca:, or skip with --insecure)`;
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return `TLS error: ${e.message}`;
  return e?.message ? `${e.message}${code && !e.message.includes(code) ? ` (${code})` : ''}` : String(err);
}

/**
 * Certificate facts for the detail, and a failure message when the certificate expires within the threshold.
 */
export function checkCertificate(socket: TLSSocket, opts: TlsOptions): { detail: Detail; failure?: string } {
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.valid_to) return { detail: {} };
  const expires = Date.parse(cert.valid_to);
  const left = expires - Date.now();
  const detail: Detail = {
    tls_version: socket.getProtocol(),
    cert_subject: cert.subject?.CN,
    cert_issuer: cert.issuer?.CN,
    cert_expires_at: new Date(expires).toISOString(),
    cert_days_left: Math.floor(left / 86_400_000),
  };
  if (opts.cert_expiry !== undefined && left < opts.cert_expiry) {
    const when = left <= 0 ? `expired ${human(-left)} ago` : `expires in ${human(left)}`;
    return { detail, failure: `certificate ${when} (< ${human(opts.cert_expiry)})` };
  }
  return { detail };
}

/** Interprets \n, \r, \t and \\ in text given on the command line or in YAML single quotes. */
export function unescape(text: string): string {
  return text.replace(/\\([nrt0\\])/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\' })[c] ?? c);
}

/** A short, printable excerpt of received data for failure messages. */
export function excerpt(text: string, max = 80): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > max ? oneLine.slice(0, max) + '…' : oneLine);
}

/** Human form of a duration that may be days long: 950ms, 47s, 5m30s, 23h, 6d. */
export function human(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s / 60}m`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d`;
}
