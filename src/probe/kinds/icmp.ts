// icmp probe: echo requests through net-ping's raw socket. Names are resolved first; one session per address
// family is shared by every check in the process, because replies are matched by session id.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Detail, IcmpTarget, Probe } from '../types';
import { abortMessage, describeError, elapsed, result } from './common';

interface PingSession {
  pingHost(target: string, cb: (err: Error | null, target: string, sent: Date, rcvd: Date) => void): void;
  close(): void;
}
interface NetPing {
  createSession(opts: Record<string, unknown>): PingSession;
  NetworkProtocol: { IPv4: number; IPv6: number };
}

const sessions = new Map<4 | 6, PingSession>();

/** Closes the shared raw sockets (they keep the process alive). */
export function closeIcmpSessions(): void {
  for (const s of sessions.values()) s.close();
  sessions.clear();
}

/** Explains a raw-socket failure in terms of the missing privilege. */
export function privilegeMessage(err: unknown): string | undefined {
  const text = String((err as Error)?.message ?? err);
  if (/not permitted|EPERM|EACCES|permission denied/i.test(text)) {
    return 'ICMP needs a raw socket, which this process may not open: the CAP_NET_RAW capability is missing (run as root, grant it with `setcap cap_net_raw+ep`, or in Docker `--cap-add NET_RAW`)';
  }
  return undefined;
}

function session(family: 4 | 6, timeout: number): PingSession {
  let s = sessions.get(family);
  if (!s) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ping = require('net-ping') as NetPing;
    s = ping.createSession({
      networkProtocol: family === 6 ? ping.NetworkProtocol.IPv6 : ping.NetworkProtocol.IPv4,
      retries: 0,
      timeout,
      packetSize: 16,
    });
    sessions.set(family, s);
  }
  return s;
}

export const icmpProbe: Probe<IcmpTarget> = async (cfg, signal) => {
  const start = performance.now();
  const detail: Detail = {};
  let address = cfg.host;
  if (!isIP(cfg.host)) {
    try {
      address = (await lookup(cfg.host)).address;
      detail.dns_ms = elapsed(start);
    } catch (err) {
      return result(start, false, describeError(err, cfg.host), detail);
    }
  }
  detail.address = address;
  const family = isIP(address) === 6 ? 6 : 4;
  let s: PingSession;
  try {
    s = session(family, cfg.timeout);
  } catch (err) {
    return result(start, false, privilegeMessage(err) ?? `cannot open an ICMP socket: ${describeError(err)}`, detail);
  }
  const rtts: number[] = [];
  let lastError = '';
  for (let i = 0; i < cfg.count && !signal.aborted; i++) {
    const outcome = await new Promise<{ rtt?: number; error?: string }>((resolve) => {
      const onAbort = (): void => resolve({ error: abortMessage(signal) });
      signal.addEventListener('abort', onAbort, { once: true });
      s.pingHost(address, (err, _t, sent, rcvd) => {
        signal.removeEventListener('abort', onAbort);
        if (err) resolve({ error: pingError(err, cfg.timeout) });
        else resolve({ rtt: rcvd.getTime() - sent.getTime() });
      });
    });
    if (outcome.rtt !== undefined) rtts.push(outcome.rtt);
    else lastError = outcome.error ?? '';
  }
  detail.sent = cfg.count;
  detail.received = rtts.length;
  if (rtts.length > 0) {
    const avg = +(rtts.reduce((a, b) => a + b, 0) / rtts.length).toFixed(2);
    detail.rtt_ms = { min: Math.min(...rtts), avg, max: Math.max(...rtts) };
    const loss = cfg.count - rtts.length;
    return result(start, true, `${rtts.length}/${cfg.count} replies, round trip ${avg} ms${loss ? ` (${loss} lost: ${lastError})` : ''}`, detail);
  }
  if (signal.aborted) return result(start, false, abortMessage(signal), detail);
  return result(start, false, `no reply from ${address}: ${lastError}`, detail);
};

function pingError(err: Error, timeout: number): string {
  const privilege = privilegeMessage(err);
  if (privilege) return privilege;
  switch (err.name) {
    case 'RequestTimedOutError':
      return `timed out after ${timeout} ms`;
    case 'DestinationUnreachableError':
      return `destination unreachable (reported by ${(err as Error & { source?: string }).source ?? 'a router'})`;
    case 'TimeExceededError':
      return 'time to live exceeded';
    default:
      return err.message;
  }
}
