// A local stand-in for Elasticsearch that only counts: GET / answers like ES 8, POST _bulk gunzips if needed,
// counts the items and answers every one 201 in Elasticsearch's response shape (honouring filter_path).
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

const ROOT = JSON.stringify({
  name: 'bench-node',
  cluster_name: 'bench',
  cluster_uuid: 'bench-cluster-uuid-000000',
  version: {
    number: '8.15.0',
    build_flavor: 'default',
    build_type: 'docker',
    build_hash: '0000000000000000000000000000000000000000',
    build_date: '2024-08-05T10:05:34.233336849Z',
    build_snapshot: false,
    lucene_version: '9.11.1',
    minimum_wire_compatibility_version: '7.17.0',
    minimum_index_compatibility_version: '7.0.0',
  },
  tagline: 'You Know, for Search',
});

export async function startCountingEndpoint({ port = 0, host = '127.0.0.1' } = {}) {
  const stats = { requests: 0, items: 0, bytesIn: 0, bytesRaw: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const headers = { 'x-elastic-product': 'Elasticsearch', 'content-type': 'application/json' };
      const url = new URL(req.url, 'http://x');
      if (req.method === 'GET' && url.pathname === '/') {
        res.writeHead(200, headers).end(ROOT);
        return;
      }
      if (req.method === 'POST' && url.pathname.endsWith('/_bulk')) {
        let body = Buffer.concat(chunks);
        stats.bytesIn += body.length;
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        stats.bytesRaw += body.length;
        // NDJSON: one action line and one source line per item.
        let lines = 0;
        for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) lines++;
        if (body.length > 0 && body[body.length - 1] !== 10) lines++;
        const items = lines >> 1;
        stats.requests++;
        stats.items += items;
        const index = decodeURIComponent(url.pathname.split('/')[1] || 'bench');
        const filtered = url.searchParams.has('filter_path');
        const one = filtered
          ? '{"create":{"status":201}}'
          : `{"create":{"_index":${JSON.stringify(index)},"_id":"x","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}`;
        const out = `{${filtered ? '' : '"took":1,'}"errors":false,"items":[${new Array(items).fill(one).join(',')}]}`;
        res.writeHead(200, headers).end(out);
        return;
      }
      res.writeHead(200, headers).end('{}');
    });
  });
  await new Promise((r) => server.listen(port, host, r));
  const addr = server.address();
  return {
    url: `http://${host}:${addr.port}`,
    stats,
    reset() {
      Object.assign(stats, { requests: 0, items: 0, bytesIn: 0, bytesRaw: 0 });
    },
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}
