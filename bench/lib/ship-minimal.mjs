// The baseline for bench/ship.mjs: the least a Node.js program must do to ship a file to _bulk — read, split
// on \n, build the same ECS documents, POST ~5 MB bulks one at a time, same compression; no durability at all.
// Usage: node bench/lib/ship-minimal.mjs FILE URL gzip|none
import { open } from 'node:fs/promises';
import { request, Agent } from 'node:http';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

const gzip = promisify(gzipCb);
const [file, url, compression] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true });
const target = new URL('/bench-minimal/_bulk?filter_path=errors,items.*.status,items.*.error', url);
const tail = ',' + JSON.stringify({ host: { name: hostname() }, agent: { type: 'sidekick-ship', version: '0.1.0' } }).slice(1, -1) + '}';
const pathJson = JSON.stringify(file);
const key = 'minimalkey01';

function post(body) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/x-ndjson', 'content-length': body.length };
    if (compression === 'gzip') headers['content-encoding'] = 'gzip';
    const req = request(target, { method: 'POST', agent, headers }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function send(body) {
  let payload = Buffer.from(body);
  if (compression === 'gzip') payload = await gzip(payload, { level: 1 });
  await post(payload);
}

const fh = await open(file, 'r');
const buf = Buffer.allocUnsafe(1024 * 1024);
let pos = 0;
let carry = Buffer.alloc(0);
let body = '';
let lines = 0;
for (;;) {
  const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
  if (bytesRead === 0) break;
  let chunk = buf.subarray(0, bytesRead);
  let base = pos - carry.length;
  if (carry.length > 0) chunk = Buffer.concat([carry, chunk]);
  pos += bytesRead;
  let start = 0;
  let nl;
  while ((nl = chunk.indexOf(10, start)) !== -1) {
    const offset = base + start;
    if (nl > start) {
      const ts = new Date().toISOString();
      body +=
        '{"create":{"_id":"' + key + '-' + offset.toString(36) + '"}}\n' +
        '{"@timestamp":"' + ts + '","message":' + JSON.stringify(chunk.toString('utf8', start, nl)) +
        ',"log":{"file":{"path":' + pathJson + '},"offset":' + offset + '}' + tail + '\n';
      lines++;
      if (body.length >= 5 * 1024 * 1024) {
        await send(body);
        body = '';
      }
    }
    start = nl + 1;
  }
  carry = Buffer.from(chunk.subarray(start));
}
if (body) await send(body);
await fh.close();
agent.destroy();
process.stdout.write(JSON.stringify({ lines }) + '\n');
