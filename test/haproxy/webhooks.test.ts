// Webhook delivery against a real HTTP receiver: retries until accepted, order kept, bounded queue.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/common/log';
import { WebhookSender } from '../../src/haproxy/webhooks';
import { eventually } from './helpers/haproxy';

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

async function receiver(answer: (n: number) => number): Promise<{ server: Server; url: string; bodies: unknown[]; hits: () => number }> {
  const bodies: unknown[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = answer(++n);
      if (status < 300) bodies.push(JSON.parse(body));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, bodies, hits: () => n };
}

test('503s are retried until the receiver accepts; events arrive once each, in order', async () => {
  const r = await receiver((n) => (n <= 2 ? 503 : 200));
  const sender = new WebhookSender({ urls: [r.url], logger, backoffMs: 20 });
  try {
    for (const i of [1, 2, 3]) sender.send({ event: 'server.state', seq: i });
    await eventually(() => (r.bodies.length === 3 ? true : undefined), 5000, 'three deliveries');
    expect(r.bodies).toEqual([{ event: 'server.state', seq: 1 }, { event: 'server.state', seq: 2 }, { event: 'server.state', seq: 3 }]);
    expect(sender.stats).toMatchObject({ delivered: 3, failed: 0, dropped: 0, queued: 0 });
  } finally {
    r.server.close();
  }
});

test('a 4xx rejection is not retried', async () => {
  const r = await receiver(() => 400);
  const sender = new WebhookSender({ urls: [r.url], logger, backoffMs: 20 });
  try {
    sender.send({ seq: 1 });
    await eventually(() => (sender.stats.failed === 1 ? true : undefined), 5000, 'give up');
    expect(r.hits()).toBe(1);
  } finally {
    r.server.close();
  }
});

test('while the receiver is down the queue stays bounded, dropping the oldest events', async () => {
  const r = await receiver(() => 503);
  const sender = new WebhookSender({ urls: [r.url], logger, maxQueue: 2, backoffMs: 10_000 });
  try {
    for (const i of [1, 2, 3, 4, 5]) sender.send({ seq: i });
    expect(sender.stats.queued).toBe(2);
    expect(sender.stats.dropped).toBe(3);
  } finally {
    await sender.flush(100);
    r.server.close();
  }
});
