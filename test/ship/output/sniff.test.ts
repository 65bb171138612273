// Sniffing's node list and the rotation's handling of nodes that fail to connect.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeUrls } from '../../../src/ship/output/sniff';
import { Endpoints } from '../../../src/ship/output/transport';

const tls = { rejectUnauthorized: true };

describe('nodeUrls (GET /_nodes/http)', () => {
  test('takes each node that takes writes, by hostname when given, and leaves dedicated cluster managers out', () => {
    const answer = {
      nodes: {
        a: { name: 'data-1', roles: ['cluster_manager', 'data', 'ingest'], http: { publish_address: '127.0.0.1:9201' } },
        b: { name: 'es-hot', roles: ['data_hot', 'data_content'], http: { publish_address: 'es-hot.internal/10.0.0.5:9200' } },
        c: { name: 'manager', roles: ['master'], http: { publish_address: '10.0.0.9:9200' } },
        d: { name: 'coordinating', roles: [], http: { publish_address: '[::1]:9202' } },
        e: { name: 'no-http', roles: ['data'] },
      },
    };
    expect(nodeUrls(JSON.stringify(answer), 'https:')).toEqual(['https://127.0.0.1:9201', 'https://[::1]:9202', 'https://es-hot.internal:9200']);
    expect(() => nodeUrls('{"error":"x"}', 'http:')).toThrow(/no nodes/);
  });
});

describe('Endpoints', () => {
  test('a node whose connection failed is left out for a backoff, then tried again; replace() keeps known nodes', async () => {
    const e = new Endpoints(['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'], { tls, requestTimeoutMs: 1000, deadBackoff: { initialMs: 1000, maxMs: 4000 } });
    const now = 1_000_000;
    const first = e.next(now);
    e.markDead(first, now);
    const picked = new Set([e.next(now).label, e.next(now).label, e.next(now).label]);
    expect(picked.has(first.label)).toBe(false);
    expect(picked.size).toBe(2);
    expect(e.states(now).filter((s) => !s.alive).map((s) => s.url)).toEqual([first.label]);
    // Back in rotation once its time is up; a second failure in a row leaves it out twice as long.
    expect([e.next(now + 1001), e.next(now + 1001), e.next(now + 1001)].map((x) => x.label)).toContain(first.label);
    e.markDead(first, now);
    expect(first.deadUntil).toBe(now + 2000);
    // All left out: the one coming back first is tried rather than none.
    for (const x of [e.next(now), e.next(now)]) e.markDead(x, now + 500);
    expect(e.anyAlive(now + 600)).toBe(false);
    expect(e.next(now + 600).deadUntil).toBe(now + 1500);
    const { added, removed } = e.replace(['http://127.0.0.1:2', 'http://127.0.0.1:4']);
    const bare = (urls: string[]): string[] => urls.map((u) => u.replace(/\/$/, '')).sort();
    expect(bare(added)).toEqual(['http://127.0.0.1:4']);
    expect(bare(removed)).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:3']);
    expect(e.size).toBe(2);
    expect(e.seeds.length).toBe(3);
    await e.close();
  });
});

describe('Endpoints over IPv6', () => {
  test('a node at an IPv6 address ([::1], as sniffing reports it) is reached for GET and POST', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${Buffer.concat(parts).toString()}`);
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '::1', r));
    const port = (server.address() as AddressInfo).port;
    const e = new Endpoints([`http://[::1]:${port}`], { tls, requestTimeoutMs: 5000, deadBackoff: { initialMs: 1000, maxMs: 4000 } });
    try {
      expect(await e.get('/')).toMatchObject({ status: 200, text: '{"ok":true}' });
      const posted = await e.post('/_bulk', Buffer.from('{"create":{}}\n{"message":"x"}\n'), false, new AbortController().signal);
      expect(posted.status).toBe(200);
      expect(seen).toEqual(['GET / ', 'POST /_bulk {"create":{}}\n{"message":"x"}\n']);
    } finally {
      e.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
