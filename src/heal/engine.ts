// The container engine: the Docker Engine API (or Podman's compatible one) through dockerode — the address,
// clear connection errors, a typed view of a container, and the events stream followed across engine restarts.
import type Docker from 'dockerode';
import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import type { Logger } from '../common/log';

/** Where the engine listens: a unix socket or a TCP address (plain HTTP, as the engine's own tcp:// means). */
export type EngineAddress = { kind: 'unix'; socketPath: string; url: string } | { kind: 'tcp'; host: string; port: number; url: string };

/** Parses DOCKER_HOST's syntax: unix:///path, an absolute path, or tcp://HOST:PORT. Returns undefined if it is neither. */
export function parseDockerHost(text: string): EngineAddress | undefined {
  const t = text.trim();
  if (t.startsWith('/')) return { kind: 'unix', socketPath: t, url: `unix://${t}` };
  const unix = /^unix:\/\/(\/.+)$/.exec(t);
  if (unix) return { kind: 'unix', socketPath: unix[1]!, url: t };
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(t);
  if (tcp && Number(tcp[2]) <= 65535) return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]), url: t };
  return undefined;
}

/** A client for the engine at `address`; dockerode is loaded here, on first use, so other programs never pay for it. */
export function engineClient(address: EngineAddress): Docker {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Dockerode = require('dockerode') as typeof import('dockerode');
  return address.kind === 'unix' ? new Dockerode({ socketPath: address.socketPath }) : new Dockerode({ host: address.host, port: address.port, protocol: 'http' });
}

/** The engine cannot be reached or refused a call; the message names the engine's address and the likely cause. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** Turns a socket or HTTP failure into a sentence a user can act on, naming the engine's address. */
export function engineError(err: unknown, address: EngineAddress, doing: string): EngineError {
  const e = err as { code?: string; statusCode?: number; json?: { message?: string } | null; message?: string };
  const where = address.url;
  const socket = address.kind === 'unix' ? address.socketPath : `${address.host}:${address.port}`;
  switch (e.code) {
    case 'ENOENT':
      return new EngineError(`cannot reach the container engine at ${where}: no such socket ${socket} (is the engine running, and is the socket mounted into this container?)`);
    case 'EACCES':
    case 'EPERM':
      return new EngineError(`cannot reach the container engine at ${where}: permission denied on ${socket} (run as root or as a member of the socket's group, e.g. --group-add $(stat -c %g ${socket}))`);
    case 'ECONNREFUSED':
      return new EngineError(`cannot reach the container engine at ${where}: connection refused (nothing listens there, or ${socket} is not a socket)`);
    case 'ENOTSOCK':
      return new EngineError(`cannot reach the container engine at ${where}: ${socket} is not a socket`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new EngineError(`the container engine at ${where} closed the connection while ${doing}`);
    case 'ETIMEDOUT':
    case 'ABORT_ERR':
      return new EngineError(`the container engine at ${where} did not answer in time while ${doing}`);
  }
  if (e.statusCode !== undefined) {
    const why = e.json?.message ?? e.message ?? '';
    return new EngineError(`the container engine at ${where} answered ${e.statusCode} while ${doing}${why ? `: ${why.trim()}` : ''}`, e.statusCode);
  }
  return new EngineError(`the container engine at ${where} failed while ${doing}: ${e.message ?? String(err)}`);
}

/** Whether an engine error means the container is gone (404). */
export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

/** Checks that the engine answers; resolves to its version and API version, or throws EngineError. */
export async function checkEngine(docker: Docker, address: EngineAddress): Promise<{ version: string; api_version: string }> {
  try {
    // The typings lag dockerode: version() takes options (abortSignal) like every other call.
    const withOptions = docker as unknown as { version(o: { abortSignal: AbortSignal }): Promise<{ Version: string; ApiVersion: string }> };
    const v = await withOptions.version({ abortSignal: AbortSignal.timeout(10_000) });
    return { version: String(v.Version), api_version: String(v.ApiVersion) };
  } catch (err) {
    throw engineError(err, address, 'asking its version');
  }
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** What heal decides from, read from one inspect; times in milliseconds since the epoch. */
export interface ContainerView {
  id: string;
  /** Without the leading slash. */
  name: string;
  labels: Record<string, string>;
  status: ContainerStatus;
  startedAt: number;
  restartCount: number;
  /** Absent when the container has no HEALTHCHECK. */
  health?: HealthStatus;
  /** The HEALTHCHECK's start period (0 when none). */
  healthStartPeriodMs: number;
  /** IP addresses on every network it is attached to. */
  addresses: string[];
  info: ContainerInspectInfo;
}

/** The typed view of an inspect answer. */
export function toView(info: ContainerInspectInfo): ContainerView {
  const health = info.State.Health?.Status;
  const startPeriodNs = (info.Config.Healthcheck as { StartPeriod?: number } | undefined)?.StartPeriod ?? 0;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    labels: info.Config.Labels ?? {},
    status: info.State.Status as ContainerStatus,
    startedAt: Date.parse(info.State.StartedAt) || 0,
    restartCount: info.RestartCount,
    health: health === 'starting' || health === 'healthy' || health === 'unhealthy' ? health : undefined,
    healthStartPeriodMs: startPeriodNs / 1e6,
    addresses: networkAddresses(info.NetworkSettings?.Networks),
    info,
  };
}

/** The IPv4 and IPv6 addresses in a Networks map (inspect or list answer). */
export function networkAddresses(networks: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> | undefined): string[] {
  return Object.values(networks ?? {}).flatMap((n) => [n.IPAddress, n.GlobalIPv6Address].filter((a): a is string => !!a));
}

/** A container as the list call shows it: enough to map signals without inspecting every container. */
export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  addresses: string[];
}

export function toSummary(c: ContainerInfo): ContainerSummary {
  return { id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), labels: c.Labels ?? {}, addresses: networkAddresses(c.NetworkSettings?.Networks) };
}

/** One container event from the engine's stream (`GET /events`). */
export interface EngineEvent {
  id: string;
  /** "health_status: unhealthy", "start", "die", … */
  action: string;
  /** The container's name, image and labels. */
  attributes: Record<string, string>;
}

export interface FollowerOptions {
  docker: Docker;
  address: EngineAddress;
  logger: Logger;
  onEvent: (e: EngineEvent) => void;
  /** Called each time the stream is (re)opened, after it is open: the place to rescan, so nothing between is missed. */
  onConnect: () => void;
  onDisconnect?: (why: string) => void;
  /** First delay before reconnecting, doubled up to maxRetryMs. Defaults 250 ms and 5 s. */
  retryMs?: number;
  maxRetryMs?: number;
}

/**
 * Follows the engine's container events for as long as it runs: when the stream ends (the engine restarted, the
 * socket went away) it reconnects with back-off and calls onConnect again, so the caller rescans.
 */
export class EventFollower {
  private stream: NodeJS.ReadableStream | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  /** Whether the stream is open now. */
  connected = false;
  /** Why the last attempt or stream failed, while disconnected. */
  lastError: string | undefined;
  /** Times an open stream was lost. */
  disconnects = 0;

  constructor(private readonly opts: FollowerOptions) {
    this.delay = opts.retryMs ?? 250;
  }

  start(): void {
    void this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const s = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    s?.destroy?.();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const { docker, logger } = this.opts;
    let stream: NodeJS.ReadableStream;
    try {
      stream = await docker.getEvents({ filters: { type: ['container'], event: ['health_status', 'start', 'die', 'destroy'] } });
    } catch (err) {
      this.lost(engineError(err, this.opts.address, 'opening the events stream').message);
      return;
    }
    if (this.stopped) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      return;
    }
    this.stream = stream;
    this.connected = true;
    this.lastError = undefined;
    this.delay = this.opts.retryMs ?? 250;
    logger.info({ engine: this.opts.address.url }, 'following the engine events');
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) this.parse(line);
      }
    });
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      this.stream = undefined;
      this.lost(why);
    };
    stream.on('end', () => end('the events stream ended'));
    stream.on('close', () => end('the events stream closed'));
    stream.on('error', (err: Error) => end(engineError(err, this.opts.address, 'following events').message));
    this.opts.onConnect();
  }

  private parse(line: string): void {
    try {
      const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; id?: string };
      const id = e.Actor?.ID ?? e.id;
      if (e.Type !== undefined && e.Type !== 'container') return;
      if (!id || !e.Action) return;
      this.opts.onEvent({ id, action: e.Action, attributes: e.Actor?.Attributes ?? {} });
    } catch {
      this.opts.logger.warn({ line: line.slice(0, 200) }, 'unreadable line in the engine events stream');
    }
  }

  private lost(why: string): void {
    const was = this.connected;
    this.connected = false;
    this.lastError = why;
    if (this.stopped) return;
    if (was) {
      this.disconnects++;
      this.opts.logger.warn({ engine: this.opts.address.url, why }, 'lost the engine events stream; reconnecting');
      this.opts.onDisconnect?.(why);
    } else this.opts.logger.debug({ engine: this.opts.address.url, why, retry_in_ms: this.delay }, 'engine still unreachable');
    this.timer = setTimeout(() => void this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? 5000);
  }
}
