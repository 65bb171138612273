// `npm run screenshots`: the README's pictures of the three status pages, taken from a real run with the same tools
// as the page tests (real programs, a real HAProxy, the embedded engine, Debian's Chromium). Not part of `npm test`
// (jest runs only *.test.ts); writes docs/img/{probe,haproxy,ship}.png.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { openBrowser, shows, type BrowserSession } from './support/browser';
import { getEngine } from './support/engine';
import { Program } from './support/program';
import { freePort, sleep, tempDir } from './support/wait';
import { Backend, Haproxy } from './haproxy/helpers/haproxy';
import { startShipper, stopShipper } from './ship/helpers';

const OUT = join(__dirname, '..', 'docs', 'img');
const dist = (name: string) => join(__dirname, '..', 'dist', 'cmd', `${name}.js`);

async function listen(server: import('node:net').Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function shoot(b: BrowserSession, url: string, file: string, ready: () => Promise<unknown>): Promise<void> {
  await b.page.goto(url);
  await ready();
  await b.page.screenshot({ path: join(OUT, file), fullPage: true });
  process.stderr.write(`screenshots: wrote docs/img/${file}\n`);
}

describe('screenshots of the status pages', () => {
  let b: BrowserSession;
  const stops: (() => Promise<unknown> | void)[] = [];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    b = await openBrowser({ width: 1280, height: 760 });
  });
  afterAll(async () => {
    await b?.close();
    for (const stop of stops.reverse()) await stop();
  });

  test('sidekick-probe serve', async () => {
    const dir = tempDir('shots-probe-');
    const heartbeat = join(dir, 'heartbeat');
    const beat = setInterval(() => writeFileSync(heartbeat, ''), 300);
    writeFileSync(heartbeat, '');
    stops.push(() => clearInterval(beat));
    const db = createTcpServer((s) => s.end());
    const dbPort = await listen(db);
    let n = 0;
    const api = createHttpServer((req, res) => {
      n++;
      // /ping answers in 5-40 ms; /orders fails every fourth call; /payments is down.
      const delay = 5 + ((n * 7919) % 36);
      setTimeout(() => {
        if (req.url === '/payments/health') res.writeHead(503).end('{"status":"DOWN","reason":"database pool exhausted"}');
        else if (req.url === '/orders/health' && n % 4 === 0) res.writeHead(500).end('error');
        else res.writeHead(200).end('ok');
      }, req.url === '/ping' ? delay : 2);
    });
    const apiPort = await listen(api);
    stops.push(() => void db.close(), () => void api.close());
    const port = await freePort();
    const cfg = join(dir, 'checks.yml');
    writeFileSync(
      cfg,
      `http: 127.0.0.1:${port}
history: 20
defaults: {interval: 500ms}
checks:
  - {name: worker-heartbeat, kind: file, path: ${heartbeat}, max_age: 5s, rise: 2, fall: 3, role: both}
  - {name: db, kind: tcp, target: "127.0.0.1:${dbPort}", role: readiness}
  - {name: api, kind: http, url: "http://127.0.0.1:${apiPort}/ping", status: 200-299}
  - {name: orders, kind: http, url: "http://127.0.0.1:${apiPort}/orders/health", fall: 3, role: readiness}
  - {name: payments, kind: http, url: "http://127.0.0.1:${apiPort}/payments/health", role: readiness}
  - {name: queue-depth, kind: exec, command: [sh, -c, "test 3 -lt 1000"], interval: 1s, role: readiness}
  - {name: cache, kind: tcp, target: "127.0.0.1:1", start_period: 10m, role: readiness}
`,
    );
    const probe = await new Program(dist('sidekick-probe'), ['serve', '--config', cfg], `http://127.0.0.1:${port}/healthz`).start();
    stops.push(() => probe.stop());
    await sleep(11_000);
    await shoot(b, `http://127.0.0.1:${port}/`, 'probe.png', () => shows(b.page, 'tr[data-check="orders"] .progress', /1 of 3 failures/, 20_000));
  });

  test('sidekick-haproxy watch', async () => {
    const backends = await Promise.all([1, 2, 3, 4].map(() => new Backend().start()));
    stops.push(() => Promise.all(backends.map((x) => x.stop())));
    const hap = await new Haproxy({
      backends: [
        { name: 'app', http: true, servers: [{ name: 'web1', port: backends[0]!.port }, { name: 'web2', port: backends[1]!.port }, { name: 'web3', port: backends[2]!.port }] },
        { name: 'api', http: true, servers: [{ name: 'api1', port: backends[3]!.port }, { name: 'api2', port: backends[3]!.port, extra: 'weight 50' }] },
        { name: 'static', servers: [{ name: 'cdn1', port: backends[3]!.port, check: false }] },
      ],
    }).start();
    stops.push(() => hap.destroy());
    const port = await freePort();
    const watch = await new Program(dist('sidekick-haproxy'), ['watch', '--socket', hap.adminSocket, '--interval', '500ms', '--http', `127.0.0.1:${port}`], `http://127.0.0.1:${port}/healthz`).start();
    stops.push(() => watch.stop());
    await sleep(1500);
    await backends[1]!.stop();
    await sleep(1500);
    await new Promise<void>((resolve) => {
      const admin = connect(hap.adminSocket, () => admin.end('set server app/web3 state drain\n'));
      admin.resume().on('close', () => resolve());
    });
    await sleep(1500);
    await shoot(b, `http://127.0.0.1:${port}/`, 'haproxy.png', () => shows(b.page, '#events li', /web3/));
  });

  test('sidekick-ship --http', async () => {
    const dir = tempDir('shots-ship-');
    const big = join(dir, 'app.log');
    const worker = join(dir, 'worker.log');
    const access = join(dir, 'access.log');
    const line = (i: number) => `2026-11-30T16:${String(Math.floor(i / 6000) % 60).padStart(2, '0')}:00.000Z INFO  [http-nio-8080-exec-${i % 16}] c.e.orders.OrderController - order ${100000 + i} accepted in ${(i * 37) % 90} ms\n`;
    writeFileSync(big, Array.from({ length: 300_000 }, (_v, i) => line(i)).join(''));
    writeFileSync(worker, Array.from({ length: 1200 }, (_v, i) => `worker tick ${i}\n`).join(''));
    writeFileSync(access, '');
    const appending = setInterval(() => appendFileSync(access, Array.from({ length: 40 }, (_v, i) => `127.0.0.1 - - "GET /api/items/${i} HTTP/1.1" 200 512\n`).join('')), 100);
    stops.push(() => clearInterval(appending));
    const port = await freePort();
    const run = startShipper({ dir, esUrl: getEngine().url, index: 'logs-sidekick-screenshots', paths: [join(dir, '*.log')], extra: { http: `127.0.0.1:${port}`, batch: { max_latency: '200ms' } } });
    stops.push(() => stopShipper(run));
    for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false)); i++) await sleep(200);
    await sleep(4000);
    await shoot(b, `http://127.0.0.1:${port}/`, 'ship.png', () =>
      shows(b.page, `tr[data-path="${worker}"] td:nth-child(2)`, /caught up/, 30_000).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${run.stderr().slice(-2000)}`))),
    );
  });
});
