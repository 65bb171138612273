// The probe's status page in a real Chromium against the built `sidekick-probe serve`: a heartbeat that goes stale
// and fresh again shows up without a reload, the page survives a restart of the program, and it is complete,
// escaped and self-contained (CSP, no request off the machine, readable with scripts off), and shows no secret.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithBrowser, markDocument, openBrowser, shows, stillSameDocument, type BrowserSession } from '../support/browser';
import { Program } from '../support/program';
import { freePort, waitUntil } from '../support/wait';
import { CLI, httpServer, tcpServer, tempDir } from './helpers';

describeWithBrowser('sidekick-probe status page', () => {
  let heartbeat: string;
  let config: string;
  let base: string;
  let probe: Program;
  let tcp: Awaited<ReturnType<typeof tcpServer>>;
  let web: Awaited<ReturnType<typeof httpServer>>;
  const authorizations: (string | undefined)[] = [];
  let b: BrowserSession;
  // The worker's heartbeat: touched every 200ms while it is alive.
  let beating = true;
  let beat: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    const dir = tempDir('sidekick-probe-page-');
    // A name a browser would read as markup if the page did not escape it.
    heartbeat = join(dir, 'heart<i>beat & "x"');
    writeFileSync(heartbeat, '');
    beat = setInterval(() => beating && writeFileSync(heartbeat, String(Date.now())), 200);
    tcp = await tcpServer((s) => s.end());
    web = await httpServer((req, res) => {
      authorizations.push(req.headers.authorization);
      res.end('ok');
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    config = join(dir, 'checks.yml');
    writeFileSync(
      config,
      [
        `http: 127.0.0.1:${port}`,
        'checks:',
        `  - {name: worker, kind: file, path: ${JSON.stringify(heartbeat)}, max_age: 3s, interval: 200ms, fall: 2, role: both}`,
        `  - {name: db, kind: tcp, target: "127.0.0.1:${tcp.port}", interval: 300ms, role: readiness}`,
        // Secrets as people put them in checks: in the URL's user info and query, and in a command's arguments.
        `  - {name: api, kind: http, url: "http://monitor:hunter2@127.0.0.1:${web.port}/health?token=tok-abc&check=db", interval: 300ms, role: readiness}`,
        '  - {name: job, kind: exec, command: [env, API_TOKEN=tok-exec, "true", --password, pw-exec], interval: 300ms, role: readiness}',
        '',
      ].join('\n'),
    );
    probe = await new Program(CLI, ['serve', '--config', config, '--log-format', 'json'], `${base}/healthz`).start();
    b = await openBrowser();
  });

  afterAll(async () => {
    clearInterval(beat);
    await b?.close();
    await probe?.stop();
    await tcp?.close();
    await web?.close();
  });

  it('shows every check and follows a heartbeat going stale and fresh again, without a reload', async () => {
    const res = await b.page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'.*script-src 'self'.*style-src 'self'/);

    const worker = 'tr[data-check="worker"]';
    await shows(b.page, `${worker} .state`, /^healthy$/);
    await shows(b.page, '#liveness .value', /^Live$/);
    await shows(b.page, '#readiness .value', /^Ready$/);
    expect(await b.page.locator(`${worker} .mono`).innerText()).toBe(heartbeat);
    expect(await b.page.locator(`${worker} .mono i`).count()).toBe(0);
    expect(await b.page.locator('tr[data-check="db"] .mono').innerText()).toBe(`127.0.0.1:${tcp.port}`);
    await markDocument(b.page);

    beating = false;
    await shows(b.page, `${worker} .state`, /^unhealthy$/);
    await shows(b.page, '#liveness .value', /^Not live$/);
    await shows(b.page, '#readiness .sub', /waiting for: worker/);
    await shows(b.page, `${worker} .msg`, /failed:.* is [\d.]+m?s old > [\d.]+m?s/);
    expect(await b.page.locator(`${worker} svg.strip rect.bad`).count()).toBeGreaterThan(0);
    expect(b.page.url()).toBe(`${base}/`);
    await expect(b.page.title()).resolves.toMatch(/^1 unhealthy · sidekick-probe/);

    beating = true;
    await shows(b.page, `${worker} .state`, /^healthy$/);
    await shows(b.page, '#liveness .value', /^Live$/);
    expect(await stillSameDocument(b.page)).toBe(true);
    expect(b.errors).toEqual([]);
    expect(b.offHost()).toEqual([]);
  });

  it('says when the probe cannot be reached and picks up again after it restarts on the same port', async () => {
    await markDocument(b.page);
    await probe.stop();
    await shows(b.page, '#conn', /^Cannot reach sidekick-probe .* since \d\d:\d\d:\d\d; retrying every 1s/);
    expect(await b.page.locator('#main.stale').count()).toBe(1);

    await probe.start();
    await shows(b.page, '#conn', /sidekick-probe restarted; connected again at \d\d:\d\d:\d\d/);
    await waitUntil('the page to leave its stale look', async () => (await b.page.locator('#main.stale').count()) === 0, 10_000);
    await shows(b.page, 'tr[data-check="worker"] .state', /^(starting|healthy)$/);
    await shows(b.page, '#foot', /up \d+s/);
    expect(await stillSameDocument(b.page)).toBe(true);
    // The fetches that failed while the probe was down are console errors of the browser's own; nothing else is.
    expect(b.errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
    expect(b.offHost()).toEqual([]);
  });

  it('shows the targets of checks with their secrets redacted, on the page, in /checks and in the logs', async () => {
    await b.page.goto(`${base}/`);
    await shows(b.page, 'tr[data-check="api"] .state', /^healthy$/);
    await shows(b.page, 'tr[data-check="job"] .state', /^healthy$/);
    // The probe itself still sends the real credentials.
    expect(authorizations).toContain(`Basic ${Buffer.from('monitor:hunter2').toString('base64')}`);
    expect(await b.page.locator('tr[data-check="api"] .mono').innerText()).toBe(`http://monitor:[redacted]@127.0.0.1:${web.port}/health?token=[redacted]&check=db`);
    expect(await b.page.locator('tr[data-check="job"] .mono').innerText()).toBe('env API_TOKEN=[redacted] true --password [redacted]');
    const checks = await (await fetch(`${base}/checks`)).text();
    const targets = (JSON.parse(checks) as { checks: { check: string; target: string }[] }).checks.map((c) => [c.check, c.target]);
    expect(targets).toContainEqual(['api', `http://monitor:[redacted]@127.0.0.1:${web.port}/health?token=[redacted]&check=db`]);
    expect(targets).toContainEqual(['job', 'env API_TOKEN=[redacted] true --password [redacted]']);
    for (const seen of [await b.page.content(), await b.page.locator('body').innerText(), checks, probe.stderr]) {
      for (const secret of ['hunter2', 'tok-abc', 'tok-exec', 'pw-exec']) expect(seen).not.toContain(secret);
    }
  });

  it('is complete with scripts off', async () => {
    const context = await b.browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/`);
      expect(await page.locator('#checks tbody tr').count()).toBe(4);
      expect(await page.locator('#readiness .value').innerText()).toMatch(/^(Ready|Not ready)$/);
      expect(await page.locator('tr[data-check="db"] .state').innerText()).toMatch(/^(starting|healthy)$/);
      expect(await page.locator('noscript').count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
