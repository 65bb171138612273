// Runtime API client: one command per connection, or a persistent `prompt` session that reconnects; exact framing.
import { isAscii } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { parseHostPort } from '../common/config';

export type SocketAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };
export type SocketMode = 'oneshot' | 'prompt';

export type RuntimeErrorCode = 'ENOENT' | 'EACCES' | 'ECONNREFUSED' | 'CONNECT' | 'NOT_HAPROXY' | 'PERMISSION' | 'UNKNOWN_COMMAND' | 'TIMEOUT' | 'TRUNCATED' | 'CLOSED';

/** A failure talking to HAProxy; the message says what to check. */
export class RuntimeApiError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeApiError';
  }
}

/** "/run/haproxy/admin.sock" (anything with a slash, or no port) is a unix socket; "host:port" is TCP. */
export function parseSocketAddress(text: string): SocketAddress | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (t.startsWith('unix:')) return { kind: 'unix', path: t.slice(5) };
  if (t.includes('/') || !/:\d+$/.test(t)) return { kind: 'unix', path: t };
  const hp = parseHostPort(t.replace(/^tcp:/, ''), '127.0.0.1');
  return hp ? { kind: 'tcp', host: hp.host, port: hp.port } : undefined;
}

export function formatAddress(a: SocketAddress): string {
  return a.kind === 'unix' ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export interface ClientOptions {
  address: SocketAddress;
  /** oneshot: a connection per command (HAProxy's default). prompt: one interactive session kept open. */
  mode?: SocketMode;
  /** Longest wait for a complete answer (and for the connection). Default 5 s. */
  timeoutMs?: number;
  /**
   * prompt mode: reopen the session before a command when it has been idle this long, so HAProxy's
   * `stats timeout` (default 10 s) never closes it under us mid-command. Default 8 s.
   */
  idleReconnectMs?: number;
}

const PROMPT = Buffer.from('\n> ');

/** A client for HAProxy's runtime API. Commands run one at a time, in call order. */
export class RuntimeClient {
  readonly address: SocketAddress;
  readonly mode: SocketMode;
  private readonly timeoutMs: number;
  private readonly idleReconnectMs: number;
  private session: PromptSession | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Connections opened so far (both modes); lets tests and metrics see reconnects. */
  connections = 0;

  constructor(opts: ClientOptions) {
    this.address = opts.address;
    this.mode = opts.mode ?? 'oneshot';
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.idleReconnectMs = opts.idleReconnectMs ?? 8000;
  }

  /**
   * Runs one command and returns its output without the terminating empty line.
   * Throws RuntimeApiError on connection problems, timeouts, truncated output, "Permission denied" and unknown commands.
   */
  command(cmd: string): Promise<string> {
    if (/[\n\r]/.test(cmd)) return Promise.reject(new RuntimeApiError('UNKNOWN_COMMAND', 'a runtime API command must be one line'));
    const run = this.queue.then(
      () => this.run(cmd),
      () => this.run(cmd),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the prompt session, if any. */
  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  private async run(cmd: string): Promise<string> {
    const out = this.mode === 'prompt' ? await this.prompted(cmd) : await this.oneshot(cmd);
    return checkReply(cmd, out, this.address);
  }

  private async prompted(cmd: string): Promise<string> {
    let s = this.session;
    if (s && (s.closed || Date.now() - s.lastUsed > this.idleReconnectMs)) {
      s.destroy();
      s = this.session = undefined;
    }
    const reused = s !== undefined;
    if (!s) {
      s = this.session = await PromptSession.open(this.address, this.timeoutMs);
      this.connections++;
    }
    try {
      return await s.send(cmd, this.timeoutMs);
    } catch (err) {
      this.close();
      // HAProxy may close an idle session just as we send; nothing was answered, so one retry on a fresh session is safe.
      if (reused && err instanceof RuntimeApiError && err.code === 'CLOSED') {
        const fresh = (this.session = await PromptSession.open(this.address, this.timeoutMs));
        this.connections++;
        try {
          return await fresh.send(cmd, this.timeoutMs);
        } catch (again) {
          this.close();
          throw again;
        }
      }
      throw err;
    }
  }

  private oneshot(cmd: string): Promise<string> {
    this.connections++;
    const where = formatAddress(this.address);
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const sock = dial(this.address);
      const finish = (err: Error | undefined, text?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(text!);
      };
      const timer = setTimeout(() => finish(timeoutError(cmd, where, this.timeoutMs, Buffer.concat(chunks))), this.timeoutMs);
      sock.on('connect', () => sock.write(`${cmd}\n`));
      sock.on('data', (b: Buffer) => {
        chunks.push(b);
        size += b.length;
      });
      sock.on('error', (err: NodeJS.ErrnoException) => finish(connectError(err, this.address)));
      sock.on('close', () => {
        if (done) return;
        const all = Buffer.concat(chunks, size);
        if (size === 0) return finish(new RuntimeApiError('CLOSED', `${where} closed the connection without answering \`${cmd}\` (not an HAProxy stats socket, or stats maxconn reached)`));
        const text = decode(all);
        // Non-interactive framing: the output, then one "\n", then close. Output lines all end in "\n".
        if (text === '\n') return finish(undefined, '');
        if (text.endsWith('\n\n')) return finish(undefined, text.slice(0, -1));
        if (looksForeign(text)) return finish(notHaproxy(where, text));
        finish(new RuntimeApiError('TRUNCATED', `the answer to \`${cmd}\` from ${where} was cut off after ${size} bytes (no terminating empty line); not using a partial result`));
      });
    });
  }
}

/** One interactive session: "prompt" sent first, then each answer ends with "\n> ". */
class PromptSession {
  closed = false;
  lastUsed = Date.now();
  private pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  private tail = Buffer.alloc(0);
  private closeError: RuntimeApiError | undefined;

  private constructor(
    private readonly sock: Socket,
    private readonly where: string,
  ) {
    sock.on('data', (b: Buffer) => this.onData(b));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      const p = this.pending;
      this.pending = undefined;
      if (p) {
        p.reject(
          this.closeError ??
            (this.size === 0
              ? new RuntimeApiError('CLOSED', `${where} closed the session before answering`)
              : new RuntimeApiError('TRUNCATED', `${where} closed the session after ${this.size} bytes, before the end of the answer; not using a partial result`)),
        );
      }
    });
  }

  static open(address: SocketAddress, timeoutMs: number): Promise<PromptSession> {
    const where = formatAddress(address);
    return new Promise<PromptSession>((resolve, reject) => {
      const sock = dial(address);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new RuntimeApiError('TIMEOUT', `no connection to ${where} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        reject(connectError(err, address));
      };
      sock.once('error', onError);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.off('error', onError);
        const session = new PromptSession(sock, where);
        session.send('prompt', timeoutMs).then(
          (reply) => {
            if (reply !== '') {
              session.destroy();
              reject(notHaproxy(where, reply));
            } else resolve(session);
          },
          (err: unknown) => {
            session.destroy();
            reject(err instanceof RuntimeApiError && (err.code === 'TIMEOUT' || err.code === 'CLOSED' || err.code === 'TRUNCATED') ? notHaproxy(where, '', err) : err);
          },
        );
      });
    });
  }

  send(cmd: string, timeoutMs: number): Promise<string> {
    if (this.closed) return Promise.reject(new RuntimeApiError('CLOSED', `session to ${this.where} is closed`));
    this.chunks = [];
    this.size = 0;
    this.tail = Buffer.alloc(0);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeError = timeoutError(cmd, this.where, timeoutMs, Buffer.concat(this.chunks));
        this.sock.destroy();
      }, timeoutMs);
      this.pending = {
        resolve: (b) => {
          clearTimeout(timer);
          this.lastUsed = Date.now();
          resolve(decode(b));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.sock.write(`${cmd}\n`);
    });
  }

  destroy(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private onData(b: Buffer): void {
    if (!this.pending) return; // nothing asked: stray bytes are dropped
    this.chunks.push(b);
    this.size += b.length;
    // Only the last 4 bytes decide whether the answer is complete, so keep a small rolling tail.
    this.tail = Buffer.concat([this.tail, b.subarray(Math.max(0, b.length - 4))]).subarray(-4);
    const t = this.tail;
    const endsWithPrompt = t.length >= 3 && t.subarray(t.length - 3).equals(PROMPT);
    if (!endsWithPrompt) return;
    // An empty answer is just "\n> "; otherwise the output's last line ends in "\n" before the prompt's "\n".
    if (this.size === 3 || (t.length === 4 && t[0] === 10)) {
      const all = Buffer.concat(this.chunks, this.size);
      const p = this.pending;
      this.pending = undefined;
      p.resolve(all.subarray(0, this.size - 3));
    }
  }
}

/** Answers are almost always ASCII, which decodes faster as latin1 (same result); UTF-8 otherwise. */
function decode(b: Buffer): string {
  return isAscii(b) ? b.toString('latin1') : b.toString('utf8');
}

function dial(a: SocketAddress): Socket {
  return a.kind === 'unix' ? connect({ path: a.path }) : connect({ host: a.host, port: a.port });
}

function checkReply(cmd: string, text: string, address: SocketAddress): string {
  const first = text.slice(0, 120);
  if (first.startsWith('Permission denied')) {
    throw new RuntimeApiError(
      'PERMISSION',
      `HAProxy refused \`${cmd}\` on ${formatAddress(address)}: Permission denied. The socket's level is too low for this command; ` +
        (/^(set|enable|disable|add|del|clear|shutdown|commit|new|abort)\b/.test(cmd) ? 'it needs a stats socket with "level admin".' : 'use a socket with "level operator" or "level admin".'),
    );
  }
  if (first.startsWith('Unknown command')) {
    throw new RuntimeApiError('UNKNOWN_COMMAND', `HAProxy does not know \`${cmd}\` (${formatAddress(address)}); this HAProxy version may be too old for it`);
  }
  return text;
}

function connectError(err: NodeJS.ErrnoException, a: SocketAddress): RuntimeApiError {
  const where = formatAddress(a);
  switch (err.code) {
    case 'ENOENT':
      return new RuntimeApiError('ENOENT', `socket ${where} does not exist; is HAProxy running, with "stats socket ${where}" in its global section?`);
    case 'EACCES':
    case 'EPERM':
      return new RuntimeApiError('EACCES', `permission denied opening socket ${where}; run as a user allowed by the socket's "mode"/"user"/"group", or as root`);
    case 'ECONNREFUSED':
      return new RuntimeApiError('ECONNREFUSED', `nothing is listening on ${where} (connection refused); is HAProxy running?`);
    case 'ENOTSOCK':
      return new RuntimeApiError('NOT_HAPROXY', `${where} is not a socket`);
    default:
      return new RuntimeApiError('CONNECT', `cannot connect to ${where}: ${err.message}`);
  }
}

function timeoutError(cmd: string, where: string, ms: number, got: Buffer): RuntimeApiError {
  if (got.length > 0 && looksForeign(got.toString('latin1', 0, 200))) return notHaproxy(where, got.toString('latin1', 0, 200));
  return new RuntimeApiError('TIMEOUT', `no complete answer to \`${cmd}\` from ${where} within ${ms} ms${got.length ? ` (${got.length} bytes received)` : ''}`);
}

function looksForeign(text: string): boolean {
  // HTTP, SSH, a TLS alert, SMTP/FTP greetings, POP3/Redis replies, or binary data.
  return /^(HTTP\/|SSH-|220 |\+OK|-ERR)/.test(text) || text.charCodeAt(0) === 0x15 || text.includes('\0');
}

function notHaproxy(where: string, got: string, cause?: Error): RuntimeApiError {
  const sample = got ? `; it answered ${JSON.stringify(got.slice(0, 40))}` : cause ? `; ${cause.message}` : '';
  return new RuntimeApiError('NOT_HAPROXY', `${where} does not speak HAProxy's runtime API${sample}`);
}
