/** jest globalTeardown: stops the embedded engine that global-setup.ts started (an external one is left alone). */
import { ENGINE_HANDLE_KEY, type EngineGlobal } from './engine-state';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as EngineGlobal;
  const handle = g[ENGINE_HANDLE_KEY];
  if (!handle) return;
  delete g[ENGINE_HANDLE_KEY];
  const exit = await handle.stop();
  if (exit.code !== 0 && exit.code !== 143 && exit.signal !== 'SIGTERM') {
    process.stderr.write(`[sidekick engine] stopped with code ${exit.code} signal ${exit.signal}\n`);
  }
}
