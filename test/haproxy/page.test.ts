// The HAProxy watcher's status page in a real Chromium against a real HAProxy: a server whose backend goes away
// turns DOWN on the page, with its check status and an event, without a reload; the page is read-only, survives a
// restart of the watcher, and loads nothing from elsewhere.
import { join } from 'node:path';
import { describeWithBrowser, markDocument, openBrowser, shows, stillSameDocument, type BrowserSession } from '../support/browser';
import { Program } from '../support/program';
import { waitUntil } from '../support/wait';
import { Backend, freePort, Haproxy, haveHaproxy } from './helpers/haproxy';

const BIN = join(__dirname, '../../dist/cmd/sidekick-haproxy.js');
const d = haveHaproxy ? describeWithBrowser : describe.skip;

d('sidekick-haproxy watch status page', () => {
  const web1 = new Backend();
  const web2 = new Backend();
  let hap: Haproxy;
  let watch: Program;
  let base: string;
  let b: BrowserSession;

  beforeAll(async () => {
    await Promise.all([web1.start(), web2.start()]);
    hap = await new Haproxy({
      backends: [
        { name: 'app', http: true, servers: [{ name: 'web1', port: web1.port }, { name: 'web2', port: web2.port }] },
        { name: 'static', servers: [{ name: 'cdn1', port: web2.port, check: false }] },
      ],
    }).start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    watch = await new Program(BIN, ['watch', '--socket', hap.adminSocket, '--interval', '300ms', '--http', `127.0.0.1:${port}`, '--log-format', 'json'], `${base}/healthz`).start();
    b = await openBrowser();
  });

  afterAll(async () => {
    await b?.close();
    await watch?.stop();
    await hap?.destroy();
    await Promise.all([web1.stop(), web2.stop()]);
  });

  it('shows backends with their servers, and a server going DOWN with its check and an event, without a reload', async () => {
    const res = await b.page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'.*script-src 'self'/);

    const web1Row = '[data-backend="app"] tr[data-server="web1"]';
    await shows(b.page, '#haproxy .value', /^Reachable$/);
    await shows(b.page, '#servers .value', /^3 of 3$/);
    await shows(b.page, `${web1Row} .state`, /^up$/);
    await shows(b.page, `${web1Row} .msg`, /L7OK/);
    expect(await b.page.locator('[data-backend="static"] tr[data-server="cdn1"] .msg').innerText()).toBe('no check');
    expect(await b.page.locator('#events').innerText()).toMatch(/No state change since the watcher started/);
    // Read-only: nothing on the page can send anything to the watcher or HAProxy.
    expect(await b.page.locator('form, button, input, select, textarea').count()).toBe(0);
    await markDocument(b.page);

    await web1.stop();
    await shows(b.page, `${web1Row} .state`, /^down$/);
    await shows(b.page, `${web1Row} .msg`, /L4CON/);
    await shows(b.page, '#servers .value', /^2 of 3$/);
    await shows(b.page, '#servers .sub', /^1 down$/);
    await shows(b.page, '#events li', /app\/web1\s+up\s+→\s+down\s+L4CON/);
    await expect(b.page.title()).resolves.toMatch(/^1 down · sidekick-haproxy/);

    await web1.start();
    await shows(b.page, `${web1Row} .state`, /^up$/);
    await shows(b.page, '#events li', /app\/web1\s+down\s+→\s+up/);
    expect(await b.page.locator('#events li').count()).toBe(2);
    expect(await stillSameDocument(b.page)).toBe(true);
    expect(b.errors).toEqual([]);
    expect(b.offHost()).toEqual([]);
  });

  it('says when the watcher is gone and picks up again after it restarts on the same port', async () => {
    await watch.stop();
    await shows(b.page, '#conn', /^Cannot reach sidekick-haproxy/);
    await watch.start();
    await shows(b.page, '#conn', /sidekick-haproxy restarted; connected again/);
    await waitUntil('the page to leave its stale look', async () => (await b.page.locator('#main.stale').count()) === 0, 10_000);
    // A new watcher starts from a baseline: the servers are there again, the old events are not.
    await shows(b.page, '#servers .value', /^3 of 3$/);
    await shows(b.page, '#events', /No state change since the watcher started/);
    expect(await stillSameDocument(b.page)).toBe(true);
    expect(b.offHost()).toEqual([]);
  });

  it('shows where HAProxy could not be read when it is gone', async () => {
    await hap.stop();
    await shows(b.page, '#haproxy .value', /^Unreachable$/);
    await expect(b.page.title()).resolves.toMatch(/^HAProxy unreachable · sidekick-haproxy/);
    expect(await b.page.locator('#haproxy .sub').innerText()).toMatch(/admin\.sock|connect|ENOENT|ECONNREFUSED/i);
  });
});
