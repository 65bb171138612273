// exec probe: run a command (no shell unless asked) in its own process group; exit 0 is healthy. On timeout the
// whole group is killed with SIGKILL and the child reaped, so a hung check leaves no orphans behind.
import { spawn } from 'node:child_process';
import type { Detail, ExecTarget, Probe } from '../types';
import { redactOutput } from '../../common/redact';
import { abortMessage, result } from './common';

/** Output kept from stdout and stderr together, as Docker and Consul keep. */
export const MAX_OUTPUT = 4096;

export const execProbe: Probe<ExecTarget> = (cfg, signal) =>
  new Promise((resolve) => {
    const start = performance.now();
    const detail: Detail = {};
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    let done = false;
    let aborted = false;

    const [file, ...args] = cfg.shell ? ['/bin/sh', '-c', cfg.command.join(' ')] : cfg.command;
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    detail.pid = child.pid;

    const collect = (chunk: Buffer): void => {
      if (kept >= MAX_OUTPUT) {
        truncated = true;
        return;
      }
      const part = chunk.subarray(0, MAX_OUTPUT - kept);
      if (part.length < chunk.length) truncated = true;
      chunks.push(part);
      kept += part.length;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);

    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const onAbort = (): void => {
      aborted = true;
      killGroup();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });

    // What the command printed, redacted once (it may print what it was given: a connection string, a token).
    let shown: string | undefined;
    const printed = (): string => (shown ??= redactOutput(Buffer.concat(chunks).toString('utf8'), cfg.command, cfg.shell));

    const finish = (ok: boolean, message: string): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      detail.output = printed() + (truncated ? '...' : '');
      resolve(result(start, ok, message, detail));
    };

    child.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? `command not found: ${file}` : err.code === 'EACCES' ? `permission denied: ${file}` : err.message;
      finish(false, why);
    });
    child.once('exit', () => {
      // Whatever the command left running in its group goes with it: a probe must not leave processes behind.
      killGroup();
      // A process that left the group (setsid) could hold the pipes open for ever; stop reading soon.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 200).unref();
    });
    child.once('close', (code, sig) => {
      detail.exit_code = code;
      if (aborted) {
        detail.killed = true;
        return finish(false, `${abortMessage(signal)}; killed process group ${child.pid}`);
      }
      if (sig) {
        detail.signal = sig;
        return finish(false, `killed by ${sig}`);
      }
      if (code === 0) return finish(true, 'exit code 0');
      const first = firstLine(printed());
      finish(false, `exit code ${code}${first ? `: ${first}` : ''}`);
    });
  });

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 200 ? line.slice(0, 200) + '…' : line.trim();
}
