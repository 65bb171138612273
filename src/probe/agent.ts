// HAProxy agent-check port: every connection gets one line (`up ready`, `down #reason`, `drain`, a weight…)
// built from the readiness of the checks, so HAProxy takes the server out when a portless check fails.
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '../common/config';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';
import type { AgentOptions } from './config';
import type { CheckRuntime } from './scheduler';

const DOWN_WORDS = /^(down|fail|stopped)\b/;

/** The agent's answer for the current states; down-like answers carry the first failing check as #reason. */
export function agentReply(checks: CheckRuntime[], replies: AgentOptions): string {
  const gating = checks.filter((c) => c.config.role !== 'liveness');
  const bad = gating.find((c) => c.state.health === 'unhealthy');
  const starting = gating.find((c) => c.state.health === 'starting');
  const [reply, culprit] = bad ? [replies.unhealthy, bad] : starting ? [replies.starting, starting] : [replies.healthy, undefined];
  if (!culprit || !DOWN_WORDS.test(reply) || reply.includes('#')) return reply;
  const why = culprit.state.health === 'starting' ? 'starting' : (culprit.last?.message ?? 'unhealthy');
  return `${reply} #${culprit.config.name}: ${why}`.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

export interface AgentListener {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function startAgent(opts: AgentOptions, reply: () => string, logger: Logger): Promise<AgentListener> {
  const addr = parseHostPort(opts.listen);
  if (!addr) throw new UsageError(`agent address ${JSON.stringify(opts.listen)} is not valid; expected HOST:PORT such as 0.0.0.0:8081`);
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    // HAProxy may send its agent-send string first; the answer does not depend on it, so reply at once.
    socket.end(`${reply()}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new UsageError(`agent address ${opts.listen} is already in use`) : err));
    server.listen(addr.port, addr.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ agent: `${addr.host}:${port}` }, 'haproxy agent-check listening');
  return { server, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
