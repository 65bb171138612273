// Webhook delivery against a real HTTP receiver: retried until accepted, order kept, 4xx not retried, queue bounded.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/common/log';
import { Webhooks, where } from '../../src/common/webhooks';
import { waitUntil as until } from '../support/wait';

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

interface Receiver {
  server: Server;
  url: string;
  bodies: unknown[];
  hits: () => number;
}

/** A receiver answering request n with answer(n); `hold` keeps each request open until it resolves. */
async function receiver(answer: (n: number) => number, hold?: Promise<void>): Promise<Receiver> {
  const bodies: unknown[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = answer(++n);
      if (status < 300) bodies.push(JSON.parse(body));
      void (hold ?? Promise.resolve()).then(() => res.writeHead(status).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events?token=secret`, bodies, hits: () => n };
}

test('503s are retried until the receiver accepts; events arrive once each, in order', async () => {
  const r = await receiver((n) => (n <= 2 ? 503 : 200));
  const hooks = new Webhooks({ targets: [{ url: r.url }], logger, backoffMs: 20 });
  try {
    for (const i of [1, 2, 3]) hooks.send({ event: 'server.state', seq: i });
    await until('three deliveries', () => r.bodies.length === 3);
    expect(r.bodies).toEqual([{ event: 'server.state', seq: 1 }, { event: 'server.state', seq: 2 }, { event: 'server.state', seq: 3 }]);
    await until('stats settle', () => hooks.stats.delivered === 3);
    expect(hooks.stats).toEqual({ delivered: 3, failed: 0, dropped: 0, retries: 2, queued: 0 });
  } finally {
    await hooks.close(100);
    r.server.close();
  }
});

test('a 4xx rejection is not retried', async () => {
  const r = await receiver(() => 400);
  const hooks = new Webhooks({ targets: [{ url: r.url }], logger, backoffMs: 20 });
  try {
    hooks.send({ seq: 1 });
    await until('give up', () => hooks.stats.failed === 1);
    expect(r.hits()).toBe(1);
    expect(hooks.stats.retries).toBe(0);
  } finally {
    await hooks.close(100);
    r.server.close();
  }
});

test('an event is given up after maxAttempts failures, and the next one still goes out', async () => {
  const r = await receiver((n) => (n <= 3 ? 500 : 200));
  const hooks = new Webhooks({ targets: [{ url: r.url }], logger, backoffMs: 5, maxAttempts: 3 });
  try {
    hooks.send({ seq: 1 });
    hooks.send({ seq: 2 });
    await until('second delivered', () => hooks.stats.delivered === 1);
    expect(r.bodies).toEqual([{ seq: 2 }]);
    expect(hooks.stats).toMatchObject({ delivered: 1, failed: 1, retries: 2 });
  } finally {
    await hooks.close(100);
    r.server.close();
  }
});

test('while the receiver hangs the queue stays bounded: the oldest waiting events are dropped, the newest kept', async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const r = await receiver(() => 204, gate);
  const hooks = new Webhooks({ targets: [{ url: r.url, timeoutMs: 10_000 }], logger, maxQueue: 2 });
  try {
    hooks.send({ n: 0 });
    await until('first event in flight', () => r.hits() === 1);
    for (const n of [1, 2, 3, 4]) hooks.send({ n });
    expect(hooks.stats.queued).toBe(2);
    expect(hooks.stats.dropped).toBe(2);
    release();
    await until('queue drained', () => r.bodies.length === 3);
    expect(r.bodies).toEqual([{ n: 0 }, { n: 3 }, { n: 4 }]);
  } finally {
    await hooks.close(1000);
    r.server.close();
  }
});

test('a webhook URL is logged by its origin only (tokens live in paths and queries)', () => {
  expect(where('https://hooks.example.com/services/T000/B000/XXXX?token=abc')).toBe('https://hooks.example.com/…');
  expect(where('not a url')).toBe('(invalid URL)');
});
