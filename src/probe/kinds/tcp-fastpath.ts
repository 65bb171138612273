// Plain TCP connect checks (no send, expect or TLS) on Node's own TCP handle, as node:net drives it underneath,
// without a net.Socket's streams and events around it: serve runs a thousand of these a second.
import { getSystemErrorName } from 'node:util';
import type { Detail, ProbeResult, TcpTarget } from '../types';
import { abortMessage, describeError, elapsed, result } from './common';

/** The part of `process.binding('tcp_wrap')` used here (Node 20 and 22: the same calls node:net makes). */
interface TcpHandle {
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  /** Closes with RST (uv_tcp_close_reset); returns a uv error code, 0 on success. */
  reset(): number;
  close(): void;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
}
interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number };
}

let binding: TcpWrapBinding | undefined;

/**
 * Loads the binding and checks it has the shape this module relies on. Returns why it cannot be used, or
 * undefined when it can. Never throws: anything unexpected means net.connect, not a failed check.
 */
export function loadBinding(): string | undefined {
  if (binding) return undefined;
  // process.binding() warns (DEP0111) only under --pending-deprecation; with --throw-deprecation too, that
  // warning would be thrown asynchronously and end the process, so stay on net.connect.
  if (process.throwDeprecation) return 'node runs with --throw-deprecation';
  let b: Partial<TcpWrapBinding> | undefined;
  try {
    b = (process as unknown as { binding(name: string): Partial<TcpWrapBinding> }).binding('tcp_wrap');
  } catch (err) {
    return `process.binding('tcp_wrap') is not available: ${(err as Error)?.message ?? String(err)}`;
  }
  const proto = typeof b?.TCP === 'function' ? (b.TCP.prototype as Partial<TcpHandle>) : undefined;
  if (
    !proto ||
    typeof b?.TCPConnectWrap !== 'function' ||
    typeof b.constants?.SOCKET !== 'number' ||
    !['connect', 'connect6', 'reset', 'close'].every((m) => typeof proto[m as keyof TcpHandle] === 'function')
  ) {
    return "process.binding('tcp_wrap') does not have TCP.connect/connect6/reset/close and TCPConnectWrap";
  }
  binding = b as TcpWrapBinding;
  return undefined;
}

/** Thrown synchronously when the binding behaves unlike the one this was written for; the caller falls back. */
export class FastPathUnusable extends Error {}

/**
 * Connects to an IP address and closes with RST, resolving the same result the net.Socket path gives:
 * "connected" with connect_ms, or the same wording for refused, unreachable, timed out while connecting.
 */
export function connectCheck(cfg: TcpTarget, family: 4 | 6, signal: AbortSignal): Promise<ProbeResult> {
  const b = binding;
  if (!b) throw new FastPathUnusable('binding not loaded');
  const start = performance.now();
  const detail: Detail = { address: cfg.host };
  if (signal.aborted) return Promise.resolve(result(start, false, abortMessage(signal, 'connecting'), detail));

  let handle: TcpHandle;
  const req = new b.TCPConnectWrap();
  let err: unknown;
  try {
    handle = new b.TCP(b.constants.SOCKET);
    err = family === 4 ? handle.connect(req, cfg.host, cfg.port) : handle.connect6(req, cfg.host, cfg.port);
  } catch (e) {
    throw new FastPathUnusable(`TCP handle connect threw: ${(e as Error)?.message ?? String(e)}`);
  }
  if (typeof err !== 'number') {
    handle.close();
    throw new FastPathUnusable(`TCP handle connect returned ${typeof err}, expected a number`);
  }
  if (err !== 0) {
    handle.close();
    return Promise.resolve(result(start, false, describeError(connectError(err, cfg), cfg.host), detail));
  }

  return new Promise((resolve) => {
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      handle.close(); // libuv then completes the connect request with ECANCELED, which is ignored below
      resolve(result(start, false, abortMessage(signal, 'connecting'), detail));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    req.oncomplete = (status: number): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (status === 0) {
        detail.connect_ms = elapsed(start);
        // RST, as the net path's resetAndDestroy(): no TIME_WAIT socket left per check.
        if (handle.reset() !== 0) handle.close();
        resolve(result(start, true, 'connected', detail));
      } else {
        handle.close();
        resolve(result(start, false, describeError(connectError(status, cfg), cfg.host), detail));
      }
    };
  });
}

/** The error node:net would raise for this uv status, so describeError words it the same way. */
function connectError(status: number, cfg: TcpTarget): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `uv error ${status}`;
  }
  const err: NodeJS.ErrnoException = new Error(`connect ${code} ${cfg.host}:${cfg.port}`);
  err.code = code;
  err.errno = status;
  err.syscall = 'connect';
  return err;
}
