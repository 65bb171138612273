// The domain of sidekick-probe: typed check configurations, the result every probe returns, and the Probe signature.
// Kept free of library imports so the one-shot path can use it without loading any.
import { redactCommand, redactUrl } from '../common/redact';

export type Kind = 'tcp' | 'http' | 'exec' | 'icmp' | 'file';
export type Role = 'liveness' | 'readiness' | 'both';

/** TLS options shared by tcp --tls and https. */
export interface TlsOptions {
  insecure?: boolean;
  /** PEM text of extra CA certificates (read at the edge from --ca FILE). */
  ca?: string;
  /** Fail when the peer certificate expires within this many milliseconds. */
  cert_expiry?: number;
  servername?: string;
}

export interface TcpTarget extends TlsOptions {
  kind: 'tcp';
  host: string;
  port: number;
  send?: string;
  expect?: string; // a regular expression
  tls?: boolean;
}

export interface StatusRange {
  from: number;
  to: number;
}

export interface HttpTarget extends TlsOptions {
  kind: 'http';
  url: string;
  method: string;
  status: StatusRange[];
  headers: Record<string, string>;
  body?: string; // regular expression the body must match
  json_path?: { path: string; value: string }[];
  /** Redirects followed; 0 means a redirect is the response that is judged. */
  follow_redirects: number;
  request_body?: string;
}

export interface ExecTarget {
  kind: 'exec';
  command: string[];
  shell?: boolean;
}

export interface IcmpTarget {
  kind: 'icmp';
  host: string;
  count: number;
}

export interface FileTarget {
  kind: 'file';
  path: string;
  max_age?: number;
}

export type Target = TcpTarget | HttpTarget | ExecTarget | IcmpTarget | FileTarget;

/** Everything a probe needs to run once: the target and its timeout. */
export type ProbeConfig<T extends Target = Target> = T & { timeout: number };

export type Detail = Record<string, unknown>;

/** What every probe returns; a failure always says why in `message`. */
export interface ProbeResult {
  ok: boolean;
  duration_ms: number;
  message: string;
  detail: Detail;
}

/** The one signature every probe kind implements. The signal aborts the probe at its timeout or on shutdown. */
export type Probe<T extends Target> = (config: ProbeConfig<T>, signal: AbortSignal) => Promise<ProbeResult>;

/** A check as `serve` and `run` know it: a named target with its schedule and thresholds. */
export interface CheckConfig {
  name: string;
  target: Target;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
  start_period: number;
  role: Role;
  /** Heartbeat/TTL push: a URL called after every healthy run. */
  push?: { url: string; method: string };
}

/** The printed form of one result (`--json`, events). */
export interface ResultLine {
  check: string;
  kind: Kind;
  target: string;
  ok: boolean;
  duration_ms: number;
  message: string;
  detail: Detail;
}

/** A short human-readable name for a target, as printed in results, pages and logs: secrets in it redacted. */
export function describeTarget(t: Target): string {
  switch (t.kind) {
    case 'tcp':
      return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
    case 'http':
      return redactUrl(t.url);
    case 'exec':
      return redactCommand(t.command, t.shell);
    case 'icmp':
      return t.host;
    case 'file':
      return t.path;
  }
}

export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
