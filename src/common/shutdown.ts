// Graceful shutdown: on SIGTERM or SIGINT stop accepting work, flush, and exit within a grace period.
import type { Logger } from './log';

export interface ShutdownOptions {
  logger: Logger;
  /** How long the stop handler may take before the process exits anyway (status 1). */
  graceMs: number;
  /** Stops accepting work and flushes what is in flight. */
  stop: (signal: NodeJS.Signals) => Promise<void>;
  /** Exit status after a clean stop; default 0. */
  exitCode?: () => number;
}

/** Installs the signal handlers; a second signal exits at once. Returns a function that removes them. */
export function onShutdown(opts: ShutdownOptions): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      opts.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    opts.logger.info({ signal, grace_ms: opts.graceMs }, 'stopping');
    const timer = setTimeout(() => {
      opts.logger.error({ grace_ms: opts.graceMs }, 'grace period over before stop finished; exiting');
      process.exit(1);
    }, opts.graceMs);
    timer.unref();
    opts.stop(signal).then(
      () => {
        clearTimeout(timer);
        process.exit(opts.exitCode ? opts.exitCode() : 0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        opts.logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
