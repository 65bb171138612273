// The shipper's status page in a real Chromium against the built `sidekick-ship --http` and the real engine behind a
// fault proxy: while the engine refuses everything the page shows it unreachable and the file behind, then the
// file draining to "caught up" once it answers, without a reload; no credential of the engine URL on the page;
// the page survives a restart of the shipper, which resumes where it was.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithBrowser, markDocument, openBrowser, shows, stillSameDocument, type BrowserSession } from '../support/browser';
import { describeWithEngine, engineUnavailableReason, uniqueName, useEngine } from '../support/engine';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { freePort, waitUntil } from '../support/wait';
import { count, lines, startShipper, stopShipper, tempDir, waitForCount, type ShipperRun } from './helpers';

const write = (file: string, ls: string[]): void => appendFileSync(file, ls.map((l) => l + '\n').join(''));
// Without an engine, describeWithEngine skips (locally) or fails (CI); with one, the browser decides the same way.
const d = engineUnavailableReason() === null ? describeWithBrowser : describeWithEngine;

d('sidekick-ship status page', () => {
  const engine = useEngine();
  const index = uniqueName('logs-pages');
  let dir: string;
  let file: string;
  let proxy: FaultProxy;
  let run: ShipperRun | undefined;
  let base: string;
  let b: BrowserSession;
  let start: () => Promise<void>;

  beforeAll(async () => {
    dir = tempDir('ship-page-');
    file = join(dir, 'app.log');
    writeFileSync(file, '');
    write(file, lines('page', 0, 2000));
    proxy = await startFaultProxy({ target: engine.url, status503: 1, mode: 'every', only: /_bulk/ });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // Credentials in the URL: the engine ignores them, the page must not show them.
    const esUrl = proxy.url.replace('http://', 'http://shipper:hunter2@');
    start = async () => {
      run = startShipper({ dir, esUrl, index, paths: [file], extra: { http: `127.0.0.1:${port}`, unhealthy_after: '1s' } });
      const r = run;
      await waitUntil('the shipper to answer', () => fetch(`${base}/healthz`).then(() => true, () => r.child.exitCode !== null && Promise.reject(new Error(r.stderr()))), 20_000);
    };
    await start();
    b = await openBrowser();
  });

  afterAll(async () => {
    await b?.close();
    if (run) await stopShipper(run);
    await proxy?.close();
  });

  it('shows the engine refusing and the file behind, then the file drained once the engine answers, without a reload', async () => {
    const res = await b.page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'.*script-src 'self'/);
    const row = `tr[data-path="${file}"]`;

    await shows(b.page, '#engine .value', /^Unreachable$/);
    await shows(b.page, '#engine .sub', /failing for .*HTTP 503/);
    await shows(b.page, `${row} td:nth-child(2)`, /^waiting for engine$/);
    await shows(b.page, '#lag .value', /^\d+(\.\d)?KiB$/);
    await shows(b.page, '#retries .value', /^[1-9]/);
    expect(await b.page.locator(`${row} .name`).innerText()).toBe(file);
    // Lag in seconds: how long the oldest byte not yet stored has been waiting; the page shows what /status says.
    await shows(b.page, `${row} td:nth-child(7)`, /^[1-9]\d*s$/);
    const status = (await (await fetch(`${base}/status`)).json()) as { engine: { urls: string[] }; files: Record<string, unknown>[] };
    expect(status.engine.urls).toEqual([`${proxy.url}/`]);
    expect(status.files).toEqual([expect.objectContaining({ path: file, acknowledged: 0, lines: 2000, lag_bytes: status.files[0]!.size, lag_seconds: expect.any(Number) })]);
    expect(status.files[0]!.lag_seconds).toBeGreaterThanOrEqual(1);
    const html = await b.page.content();
    expect(html).not.toContain('hunter2');
    expect(html).not.toContain('shipper@');
    expect(await b.page.locator('#engine .mono').first().innerText()).toBe(`${proxy.url}/`);
    await markDocument(b.page);

    proxy.set({ status503: 0 });
    // What follows waits on the engine too: bounds for a loaded CI machine, not speed targets.
    await shows(b.page, '#engine .value', /^Reachable$/, 30_000);
    await shows(b.page, '#lag .value', /^Caught up$/, 30_000);
    await shows(b.page, `${row} td:nth-child(2)`, /^caught up$/, 30_000);
    const cells = async () => (await b.page.locator(`${row} td.num`).allInnerTexts()).slice(0, 4);
    const [size, read, acked, behind] = await cells();
    expect([read, acked, behind]).toEqual([size, size, '0']);
    await shows(b.page, `${row} .sub`, /2,000 lines/);
    await waitForCount(index, 2000);

    write(file, lines('page', 2000, 3000));
    await shows(b.page, `${row} .sub`, /3,000 lines/, 30_000);
    await shows(b.page, '#rate .value', /^3,000$/);
    await shows(b.page, '#lag .value', /^Caught up$/, 30_000);
    await waitForCount(index, 3000);
    expect(await stillSameDocument(b.page)).toBe(true);
    expect(b.errors).toEqual([]);
    expect(b.offHost()).toEqual([]);
  });

  it('says when the shipper is gone and picks up again after it restarts and resumes where it was', async () => {
    expect(await stopShipper(run!)).toBe(0);
    run = undefined;
    await shows(b.page, '#conn', /^Cannot reach sidekick-ship/);
    await start();
    await shows(b.page, '#conn', /sidekick-ship restarted; connected again/);
    await shows(b.page, `tr[data-path="${file}"] td:nth-child(2)`, /^caught up$/, 30_000);
    // Resumed at the saved position: nothing read again, nothing stored twice.
    await shows(b.page, '#rate .value', /^0$/);
    expect(await count(index)).toBe(3000);
    expect(await stillSameDocument(b.page)).toBe(true);
    expect(b.offHost()).toEqual([]);
  });
});
