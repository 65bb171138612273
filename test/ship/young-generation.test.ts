// V8's young generation sized for what the shipper reads (src/ship/young-generation.ts): held while it starts, then
// let grow to PLAIN_SEMI_SPACE_MIB semi-spaces when every input ships plain lines, or as V8 grows it otherwise.
// Read from the shipper's own /metrics (prom-client's nodejs_heap_space_size_total_bytes) after a drain.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAIN_SEMI_SPACE_MIB } from '../../src/ship/young-generation';
import { startEsStandin, type EsStandin } from './output/es-standin';
import { httpPort, lines, metricOf, startShipper, stopShipper, tempDir, waitFor, type ShipperRun } from './helpers';

jest.setTimeout(180_000);

const LINES = 150_000;
const NEW_SPACE = /nodejs_heap_space_size_total_bytes\{space="new"[^}]*\} (\d+)/;
const MIB = 1024 * 1024;

let standin: EsStandin;
let dir: string;
let run: ShipperRun | undefined;
beforeAll(async () => {
  standin = await startEsStandin();
  dir = tempDir('ship-young-');
  writeFileSync(join(dir, 'app.log'), lines('young', 0, LINES).join('\n') + '\n');
});
afterEach(async () => {
  if (run) await stopShipper(run, 'SIGKILL');
  run = undefined;
});
afterAll(async () => {
  await standin.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Drains the file into a fresh index and returns the shipper's new space in bytes once every line is stored. */
async function newSpaceAfterDrain(name: string, extra: Record<string, unknown>, nodeArgs?: string[]): Promise<number> {
  const state = join(dir, name);
  run = startShipper({ dir, esUrl: standin.url, index: name, paths: [join(dir, 'app.log')], extra: { state_dir: state, ...extra }, args: ['--http', '127.0.0.1:0'], nodeArgs });
  const port = await httpPort(run);
  await waitFor(`${LINES} lines stored in ${name}`, () => (standin.docs.get(name)?.size ?? 0) >= LINES, 150_000);
  const bytes = await metricOf(port, NEW_SPACE);
  expect(await stopShipper(run)).toBe(0);
  run = undefined;
  return bytes;
}

test(`plain lines: the young generation stops at ${PLAIN_SEMI_SPACE_MIB} MiB semi-spaces, where V8 left alone grows it further`, async () => {
  const capped = await newSpaceAfterDrain('young-plain', {});
  expect(capped).toBeGreaterThan(0);
  expect(capped).toBeLessThanOrEqual(2 * PLAIN_SEMI_SPACE_MIB * MIB);
  // The same drain with the growth factor given on the command line (the shipper then leaves it to V8).
  const free = await newSpaceAfterDrain('young-free', {}, ['--semi-space-growth-factor=2']);
  expect(free).toBeGreaterThan(2 * PLAIN_SEMI_SPACE_MIB * MIB);
});

test('an input with a filter (lines become strings and objects): V8 sizes the young generation as it would', async () => {
  const bytes = await newSpaceAfterDrain('young-parsed', { include_lines: ['young'] });
  expect(bytes).toBeGreaterThan(2 * PLAIN_SEMI_SPACE_MIB * MIB);
});
