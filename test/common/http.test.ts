// The shared listener serves /healthz, /metrics and a program's routes over real HTTP.
import { Counter } from 'prom-client';
import { Agent, request } from 'node:http';
import { PassThrough } from 'node:stream';
import { startHttp } from '../../src/common/http';
import { createLogger } from '../../src/common/log';
import { newRegistry } from '../../src/common/metrics';
import { UsageError } from '../../src/common/errors';
import { waitUntil } from '../support/wait';

const logger = createLogger({ name: 't', destination: new PassThrough(), format: 'json' });

describe('startHttp', () => {
  it('serves health, metrics and routes; health follows the program state', async () => {
    const registry = newRegistry('sidekick-test');
    const counter = new Counter({ name: 'sidekick_test_events_total', help: 'events', registers: [registry] });
    counter.inc(3);
    let ok = true;
    const http = await startHttp({ listen: '127.0.0.1:0', logger, registry, health: () => ({ ok }), routes: { '/state': () => ({ status: 200, body: { a: 1 } }) } });
    try {
      let res = await fetch(`${http.url}/healthz`);
      expect(res.status).toBe(200);
      ok = false;
      res = await fetch(`${http.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'unhealthy' });

      res = await fetch(`${http.url}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toContain('sidekick_test_events_total{program="sidekick-test"} 3');
      expect(text).toContain('process_cpu_seconds_total');

      expect(await (await fetch(`${http.url}/state`)).json()).toEqual({ a: 1 });
      expect((await fetch(`${http.url}/nope`)).status).toBe(404);
      expect((await fetch(`${http.url}/state`, { method: 'POST' })).status).toBe(405);
    } finally {
      await http.close();
    }
  });

  it('closes while a client keeps polling on a keep-alive connection (a page left open), answering what it has', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let served = 0;
    const http = await startHttp({
      listen: '127.0.0.1:0',
      logger,
      routes: {
        '/poll': async () => {
          if (served++ === 0) await gate;
          return { status: 200, body: { served } };
        },
      },
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const statuses: number[] = [];
    let polling = true;
    const poll = (): void => {
      if (!polling) return;
      request(`${http.url}/poll`, { agent }, (res) => {
        statuses.push(res.statusCode ?? 0);
        res.resume();
        res.on('end', () => setImmediate(poll));
      })
        .on('error', () => undefined)
        .end();
    };
    poll();
    await waitUntil('the first poll to be in flight', () => served === 1, 5_000);
    // Closed with a request in flight on the kept-alive connection, whose client asks again at once: without hanging
    // up after answering, close() would wait for as long as the client polls (the test's timeout).
    const closed = http.close();
    release();
    await closed;
    polling = false;
    agent.destroy();
    expect(statuses[0]).toBe(200);
  });

  it('rejects a bad address and an address in use with a usage error', async () => {
    await expect(startHttp({ listen: 'nowhere', logger })).rejects.toThrow(UsageError);
    const first = await startHttp({ listen: '127.0.0.1:0', logger });
    try {
      await expect(startHttp({ listen: `127.0.0.1:${first.port}`, logger })).rejects.toThrow(/already in use/);
    } finally {
      await first.close();
    }
  });
});
