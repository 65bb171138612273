// Plain TCP connect checks (no send, expect or TLS) on Node's own TCP handle, as node:net drives it underneath,
// without a net.Socket's streams and events around it: serve runs a thousand of these a second.
import { getSystemErrorName } from 'node:util';
import type { ProbeResult, TcpTarget } from '../types';
import { abortMessage, abortReasonMessage, describeError, elapsed, result } from './common';

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
 * One check's plain connect, reusable run after run with no promise, closure or abort listener per run: serve's
 * scheduler starts it and, at the deadline or on shutdown, cancels it itself. `done` gets exactly one result per
 * started run: "connected" with connect_ms, or the net.Socket path's wording for refused, unreachable, timed out.
 */
export class FastConnect {
  /** The run in flight: its request (a late completion of a cancelled one is ignored) and handle. */
  private req?: ConnectReq;
  private handle?: TcpHandle;
  private start = 0;

  constructor(
    private readonly cfg: TcpTarget,
    private readonly family: 4 | 6,
    private readonly done: (r: ProbeResult) => void,
  ) {}

  get running(): boolean {
    return this.req !== undefined;
  }

  /**
   * Starts a run; `done` may be called before this returns (an immediate error). Throws FastPathUnusable,
   * before anything started, when the binding behaves unlike the one this was written for.
   */
  run(): void {
    const b = binding;
    if (!b) throw new FastPathUnusable('binding not loaded');
    const cfg = this.cfg;
    this.start = performance.now();
    const req = new b.TCPConnectWrap() as ConnectReq & { owner?: FastConnect };
    let handle: TcpHandle;
    let err: unknown;
    try {
      handle = new b.TCP(b.constants.SOCKET);
      err = this.family === 4 ? handle.connect(req, cfg.host, cfg.port) : handle.connect6(req, cfg.host, cfg.port);
    } catch (e) {
      throw new FastPathUnusable(`TCP handle connect threw: ${(e as Error)?.message ?? String(e)}`);
    }
    if (typeof err !== 'number') {
      handle.close();
      throw new FastPathUnusable(`TCP handle connect returned ${typeof err}, expected a number`);
    }
    if (err !== 0) {
      handle.close();
      return this.done(this.failed(describeError(connectError(err, cfg), cfg.host)));
    }
    req.owner = this;
    req.oncomplete = afterConnect;
    this.req = req;
    this.handle = handle;
  }

  /**
   * Ends the run in flight with a failure worded as an abort with this reason would be: "timed out after
   * 1000 ms while connecting" for a ProbeTimeout, "aborted (shutting down) while connecting" otherwise.
   * No-op when idle.
   */
  cancel(reason: unknown): void {
    const handle = this.handle;
    if (!handle) return;
    this.req = this.handle = undefined;
    handle.close(); // libuv then completes the connect request with ECANCELED, which afterConnect ignores
    this.done(this.failed(abortReasonMessage(reason, 'connecting')));
  }

  /** @internal the connect request of the run in flight completed. */
  completed(req: ConnectReq, status: number): void {
    const handle = this.handle;
    if (req !== this.req || !handle) return;
    this.req = this.handle = undefined;
    if (status === 0) {
      const connect_ms = elapsed(this.start);
      // RST, as the net path's resetAndDestroy(): no TIME_WAIT socket left per check.
      if (handle.reset() !== 0) handle.close();
      this.done({ ok: true, duration_ms: elapsed(this.start), message: 'connected', detail: { address: this.cfg.host, connect_ms } });
    } else {
      handle.close();
      this.done(this.failed(describeError(connectError(status, this.cfg), this.cfg.host)));
    }
  }

  private failed(message: string): ProbeResult {
    return result(this.start, false, message, { address: this.cfg.host });
  }
}

/** TCPConnectWrap's oncomplete, called on the request with (status, handle, req, readable, writable). */
function afterConnect(this: ConnectReq & { owner?: FastConnect }, status: number): void {
  this.owner?.completed(this, status);
}

/**
 * The Probe-shaped form of FastConnect (one-shot runs, the self-test): connects to an IP address and closes with
 * RST, resolving the same result the net.Socket path gives.
 */
export function connectCheck(cfg: TcpTarget, family: 4 | 6, signal: AbortSignal): Promise<ProbeResult> {
  if (!binding) throw new FastPathUnusable('binding not loaded');
  if (signal.aborted) return Promise.resolve(result(performance.now(), false, abortMessage(signal, 'connecting'), { address: cfg.host }));
  let resolve: ((r: ProbeResult) => void) | undefined;
  let settled: ProbeResult | undefined;
  const onAbort = (): void => conn.cancel(signal.reason);
  const conn = new FastConnect(cfg, family, (r) => {
    signal.removeEventListener('abort', onAbort);
    if (resolve) resolve(r);
    else settled = r;
  });
  conn.run(); // throws FastPathUnusable synchronously, for the caller to fall back
  if (settled) return Promise.resolve(settled);
  signal.addEventListener('abort', onAbort, { once: true });
  return new Promise((r) => (resolve = r));
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
