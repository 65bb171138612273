// A built CLI run as a long-running process that a test can stop (SIGTERM) and start again with the same arguments.
import { spawn, type ChildProcess } from 'node:child_process';
import { waitUntil } from './wait';

export class Program {
  private child: ChildProcess | undefined;
  /** stderr of every run so far (logs), for failure messages. */
  stderr = '';

  /**
   * @param bin the built entry point, e.g. dist/cmd/sidekick-probe.js
   * @param args its arguments
   * @param ready a URL that answers (any status) once the program is up
   */
  constructor(
    private readonly bin: string,
    private readonly args: string[],
    private readonly ready: string,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  async start(): Promise<this> {
    const child = spawn(process.execPath, [this.bin, ...this.args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...this.env } });
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-50_000)));
    this.child = child;
    await waitUntil(`${this.ready} to answer (${this.stderr.slice(-300)})`, () => fetch(this.ready).then(() => true, () => child.exitCode !== null && Promise.reject(new Error(`exited ${child.exitCode}: ${this.stderr.slice(-1000)}`))), 20_000);
    return this;
  }

  /** SIGTERM, then waits for the exit. */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    await exited;
  }
}
