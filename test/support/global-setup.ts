/**
 * jest globalSetup: one search engine for the whole run.
 *
 * - SIDEKICK_TEST_ES_URL set: use that engine (your own Elasticsearch/OpenSearch); it must answer.
 * - otherwise: build (if needed) and start the embedded OpenSearch from test/engine on a free port,
 *   and publish its URL as SIDEKICK_TEST_ES_URL for the test workers (they inherit process.env).
 * - Java or Maven missing: with CI=true the run fails here, loudly. Locally the run goes on and the
 *   engine tests report themselves skipped with the reason (SIDEKICK_TEST_ENGINE_UNAVAILABLE).
 * (jest.config.js leaves this module out when SIDEKICK_TEST_NO_ENGINE=1.)
 */
import { EngineToolMissingError, OPENSEARCH_VERSION, startEngine, waitForHealth } from '../engine/engine';
import { ENGINE_HANDLE_KEY, type EngineGlobal } from './engine-state';

function say(line: string): void {
  process.stderr.write(`[sidekick engine] ${line}\n`);
}

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export default async function globalSetup(): Promise<void> {
  const given = process.env.SIDEKICK_TEST_ES_URL;
  if (given) {
    const url = given.replace(/\/+$/, '');
    process.env.SIDEKICK_TEST_ES_URL = url;
    process.env.SIDEKICK_TEST_ENGINE_SOURCE = 'external';
    await waitForHealth(url, Date.now() + 30000);
    say(`using the engine at ${url} (SIDEKICK_TEST_ES_URL)`);
    return;
  }
  if (process.env.SIDEKICK_TEST_NO_ENGINE === '1') {
    process.env.SIDEKICK_TEST_ENGINE_UNAVAILABLE = 'SIDEKICK_TEST_NO_ENGINE=1';
    return;
  }
  const t0 = Date.now();
  try {
    const handle = await startEngine({ port: 0, log: say });
    (globalThis as EngineGlobal)[ENGINE_HANDLE_KEY] = handle;
    process.env.SIDEKICK_TEST_ES_URL = handle.url;
    process.env.SIDEKICK_TEST_ENGINE_SOURCE = 'embedded';
    delete process.env.SIDEKICK_TEST_ENGINE_UNAVAILABLE;
    say(`OpenSearch ${OPENSEARCH_VERSION} ready at ${handle.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${handle.pid})`);
  } catch (err) {
    if (err instanceof EngineToolMissingError && !isCi()) {
      const reason = err.message;
      process.env.SIDEKICK_TEST_ENGINE_UNAVAILABLE = reason;
      say(`NOT STARTED, tests that need a search engine will be skipped: ${reason}`);
      return;
    }
    say(`FAILED to start the embedded OpenSearch${isCi() ? ' (CI=true: this fails the run)' : ''}`);
    throw err;
  }
}
