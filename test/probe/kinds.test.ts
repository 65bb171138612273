// Each probe kind against the real thing on loopback: TCP and HTTP(S) servers, processes, ICMP, files.
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProbe } from '../../src/probe/kinds';
import { closeIcmpSessions } from '../../src/probe/kinds/icmp';
import type { HttpTarget, ProbeConfig } from '../../src/probe/types';
import { closedPort, httpServer, httpsServer, selfSigned, tcpServer, tempDir, waitUntil } from './helpers';

// The timeout of every check whose outcome does not depend on it: generous, because a loaded machine (the full
// suite on two cores) may take seconds to answer even on loopback. Tests of timeouts set their own, shorter ones
// against servers that never answer.
const PATIENT = 15_000;

const http = (url: string, extra: Partial<HttpTarget> = {}): ProbeConfig =>
  ({ kind: 'http', url, method: 'GET', status: [{ from: 200, to: 399 }], headers: {}, follow_redirects: 0, timeout: PATIENT, ...extra }) as ProbeConfig;

describe('tcp probe', () => {
  it('succeeds on an open port and reports the address and connect time', async () => {
    const s = await tcpServer((sock) => sock.end());
    const r = await runProbe({ kind: 'tcp', host: '127.0.0.1', port: s.port, timeout: PATIENT });
    await s.close();
    expect(r).toMatchObject({ ok: true, message: 'connected', detail: { address: '127.0.0.1' } });
    expect(typeof r.detail.connect_ms).toBe('number');
  });

  it('says "connection refused" on a closed port', async () => {
    const r = await runProbe({ kind: 'tcp', host: '127.0.0.1', port: await closedPort(), timeout: PATIENT });
    expect(r).toMatchObject({ ok: false, message: 'connection refused' });
  });

  it('sends text and matches the reply', async () => {
    const s = await tcpServer((sock) => sock.on('data', (d) => (d.toString() === 'PING\r\n' ? sock.end('+PONG\r\n') : sock.end('-ERR\r\n'))));
    const ok = await runProbe({ kind: 'tcp', host: '127.0.0.1', port: s.port, send: 'PING\\r\\n', expect: '^\\+PONG', timeout: PATIENT });
    const bad = await runProbe({ kind: 'tcp', host: '127.0.0.1', port: s.port, send: 'HELLO', expect: '^\\+PONG', timeout: PATIENT });
    await s.close();
    expect(ok).toMatchObject({ ok: true, detail: { matched: '+PONG' } });
    expect(bad.ok).toBe(false);
    expect(bad.message).toBe('connection closed before the reply matched /^\\+PONG/; got "-ERR"');
  });

  it('times out on a server that never answers, saying what it waited for', async () => {
    const s = await tcpServer(() => undefined);
    // Long enough for the connect to be over on a loaded machine: the phase named is the wait for the reply.
    const r = await runProbe({ kind: 'tcp', host: '127.0.0.1', port: s.port, expect: 'READY', timeout: 2000 });
    await s.close();
    expect(r.ok).toBe(false);
    expect(r.message).toBe('timed out after 2000 ms while waiting for a reply matching /READY/');
  });

  it('cannot resolve an unknown host name', async () => {
    const r = await runProbe({ kind: 'tcp', host: 'no-such-host.invalid', port: 80, timeout: 2000 });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/^cannot resolve host no-such-host\.invalid|timed out/);
  });
});

describe('http probe', () => {
  let server: Awaited<ReturnType<typeof httpServer>>;
  let base: string;
  beforeAll(async () => {
    server = await httpServer((req, res) => {
      if (req.url === '/ok') res.end('all ok');
      else if (req.url === '/down') res.writeHead(503).end('maintenance');
      else if (req.url === '/json') res.setHeader('content-type', 'application/json').end(JSON.stringify({ status: 'UP', checks: [{ state: 'ok' }] }));
      else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 20_000).unref();
      else if (req.url === '/headers') res.end(JSON.stringify(req.headers));
      else if (req.url === '/stall') res.writeHead(200, { 'content-length': '100' }).flushHeaders(); // headers, then nothing (kubernetes #122948)
      else if (req.url === '/stall-body') res.writeHead(200).write('all ok, and then'); // part of a body, then nothing
      else if (req.url === '/stall-503') res.writeHead(503).write('maint'); // a failing status whose body never ends
      else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end(); // Consul #2294
      else if (req.url === '/to-ftp') res.writeHead(302, { location: 'ftp://127.0.0.1/file' }).end();
      else if (req.url === '/echo') {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => res.end(JSON.stringify({ method: req.method, length: req.headers['content-length'] ?? null, body })));
      }
      else res.writeHead(404).end();
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it('passes on 2xx with phase timings', async () => {
    const r = await runProbe(http(`${base}/ok`));
    expect(r).toMatchObject({ ok: true, message: 'status 200', detail: { status: 200, address: '127.0.0.1' } });
    for (const k of ['connect_ms', 'first_byte_ms']) expect(typeof r.detail[k]).toBe('number');
  });

  it('fails on a status outside the accepted ranges, with the body excerpt', async () => {
    const r = await runProbe(http(`${base}/down`));
    expect(r).toMatchObject({ ok: false, message: 'status 503 not in 200-399; body "maintenance"' });
  });

  it('fails when the body does not match', async () => {
    const r = await runProbe(http(`${base}/ok`, { body: 'healthy' }));
    expect(r.ok).toBe(false);
    expect(r.message).toBe('status 200 but body did not match /healthy/; got "all ok"');
  });

  it('checks JSON values by path', async () => {
    const ok = await runProbe(http(`${base}/json`, { json_path: [{ path: 'status', value: 'UP' }, { path: '$.checks[0].state', value: 'ok' }] }));
    const bad = await runProbe(http(`${base}/json`, { json_path: [{ path: 'status', value: 'DOWN' }] }));
    expect(ok.ok).toBe(true);
    expect(bad).toMatchObject({ ok: false, message: 'status 200 but json path status is "UP", expected "DOWN"' });
  });

  it('does not follow redirects unless asked', async () => {
    const judged = await runProbe(http(`${base}/redirect`, { status: [{ from: 200, to: 299 }] }));
    const followed = await runProbe(http(`${base}/redirect`, { status: [{ from: 200, to: 299 }], follow_redirects: 5, body: 'all ok' }));
    expect(judged).toMatchObject({ ok: false, message: 'status 302 not in 200-299', detail: { location: '/ok' } });
    expect(followed).toMatchObject({ ok: true, detail: { redirects: 1, status: 200 } });
  });

  it('times out on a slow server', async () => {
    const r = await runProbe(http(`${base}/slow`, { timeout: 2000 } as Partial<HttpTarget>));
    expect(r).toMatchObject({ ok: false, message: 'timed out after 2000 ms while waiting for the response' });
  });

  it('decides a status-only check when the status arrives, even if the body then stalls', async () => {
    for (const path of ['/stall', '/stall-body']) {
      const r = await runProbe(http(`${base}${path}`, { timeout: 40_000 } as Partial<HttpTarget>));
      expect(r).toMatchObject({ ok: true, message: 'status 200', detail: { status: 200 } });
      // The verdict came with the status, not with the 40 s timeout.
      expect(r.duration_ms).toBeLessThan(15_000);
    }
    const bad = await runProbe(http(`${base}/stall-503`, { timeout: 40_000 } as Partial<HttpTarget>));
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/^status 503 not in 200-399/);
    expect(bad.duration_ms).toBeLessThan(15_000);
  });

  it('fails a check that reads the body when the body stalls: never healthy at the timeout', async () => {
    for (const path of ['/stall', '/stall-body']) {
      // Long enough for the headers to be in on a loaded machine: the phase named is reading the body.
      const r = await runProbe(http(`${base}${path}`, { body: 'ok', timeout: 2000 } as Partial<HttpTarget>));
      expect(r).toMatchObject({ ok: false, message: 'timed out after 2000 ms while reading the body', detail: { status: 200 } });
      const j = await runProbe(http(`${base}${path}`, { json_path: [{ path: 'status', value: 'UP' }], timeout: 2000 } as Partial<HttpTarget>));
      expect(j).toMatchObject({ ok: false, message: 'timed out after 2000 ms while reading the body' });
    }
  });

  it('fails on a redirect loop, stopping after the allowed number of redirects', async () => {
    const ten = await runProbe(http(`${base}/loop`, { follow_redirects: 10 }));
    expect(ten).toMatchObject({ ok: false, message: 'stopped after 10 redirects (last: 302 to /loop)', detail: { redirects: 10, status: 302 } });
    const two = await runProbe(http(`${base}/loop`, { follow_redirects: 2 }));
    expect(two).toMatchObject({ ok: false, message: 'stopped after 2 redirects (last: 302 to /loop)' });
  });

  it('sends the configured headers', async () => {
    const r = await runProbe(http(`${base}/headers`, { headers: { 'x-probe': 'yes' }, body: '"x-probe":"yes"' }));
    expect(r.ok).toBe(true);
  });

  it('says "connection refused" on a closed port', async () => {
    const r = await runProbe(http(`http://127.0.0.1:${await closedPort()}/`));
    expect(r).toMatchObject({ ok: false, message: 'connection refused' });
  });

  it('sends a request body with its length, with GET too (which node:http would send unframed)', async () => {
    for (const method of ['GET', 'POST']) {
      const r = await runProbe(http(`${base}/echo`, { method, request_body: '{"q":1}', body: `"method":"${method}","length":"7","body":"\\{\\\\"q\\\\":1\\}"` }));
      expect([method, r.ok, r.message]).toEqual([method, true, 'status 200, body matched']);
    }
  });

  it('does not follow a redirect away from http: and https:', async () => {
    const r = await runProbe(http(`${base}/to-ftp`, { follow_redirects: 5 }));
    expect(r).toMatchObject({ ok: false, message: 'redirected to ftp://127.0.0.1/file: only http: and https: URLs can be checked, not ftp:' });
  });

  it("says in plain words what was wrong with a server's answer", async () => {
    const s = await tcpServer((sock) =>
      sock.once('data', (d) => {
        const path = d.toString().split(' ')[1];
        if (path === '/close') sock.end(); // closed before any response
        else if (path === '/garbage') sock.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
        else sock.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n'); // a malformed chunk
      }),
    );
    const at = (path: string, extra: Partial<HttpTarget> = {}) => runProbe(http(`http://127.0.0.1:${s.port}${path}`, extra));
    expect((await at('/close')).message).toBe('connection closed by the server before the response');
    expect((await at('/garbage')).message).toBe('invalid HTTP response: Expected HTTP/, RTSP/ or ICE/');
    expect((await at('/chunk', { body: 'ok' })).message).toBe('invalid HTTP response: Invalid character in chunk size');
    await s.close();
  });

  it('refuses a header node:http cannot send, naming it', async () => {
    const r = await runProbe(http(`${base}/ok`, { headers: { 'x-bad': 'line\nbreak' } }));
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('invalid request header "x-bad"') });
  });
});

describe('TLS', () => {
  const cert = selfSigned(1);
  let server: Awaited<ReturnType<typeof httpsServer>>;
  let url: string;
  beforeAll(async () => {
    server = await httpsServer(cert, (_req, res) => res.end('secure'));
    url = `https://localhost:${server.port}/`;
  });
  afterAll(() => server.close());

  it('fails verification of a self-signed certificate by default, saying how to trust it', async () => {
    const r = await runProbe(http(url));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/^TLS verification failed: self[- ]signed certificate.*--ca FILE.*--insecure/);
  });

  it('passes with the certificate as CA, and reports TLS time and expiry', async () => {
    const r = await runProbe(http(url, { ca: cert.cert }));
    expect(r).toMatchObject({ ok: true, detail: { cert_subject: 'localhost', cert_days_left: 0 } });
    expect(typeof r.detail.tls_ms).toBe('number');
  });

  it('passes with insecure', async () => {
    expect((await runProbe(http(url, { insecure: true }))).ok).toBe(true);
  });

  it('fails when the certificate expires within the threshold', async () => {
    const r = await runProbe(http(url, { ca: cert.cert, cert_expiry: 7 * 86_400_000 }));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/^certificate expires in (23|24)h\d*m? \(< 7d\)$/);
  });

  it('verifies TLS over a tcp check too', async () => {
    const port = server.port;
    const refused = await runProbe({ kind: 'tcp', host: 'localhost', port, tls: true, timeout: PATIENT });
    const trusted = await runProbe({ kind: 'tcp', host: 'localhost', port, tls: true, ca: cert.cert, timeout: PATIENT });
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/^TLS verification failed/);
    expect(trusted).toMatchObject({ ok: true, message: 'connected (TLS verified)' });
  });
});

describe('exec probe', () => {

  it("shows what the command printed with the command's secrets redacted, in the output and the message", async () => {
    const r = await runProbe({
      kind: 'exec',
      command: ['sh', '-c', 'echo "NOAUTH: password $2 refused by redis://:$2@127.0.0.1:6379" >&2; exit 1', 'check', '--password', 'hunter22'],
      timeout: PATIENT,
    });
    expect(r.ok).toBe(false);
    expect(r.message).toBe('exit code 1: NOAUTH: password [redacted] refused by redis://:[redacted]@127.0.0.1:6379');
    expect(r.detail.output).toBe('NOAUTH: password [redacted] refused by redis://:[redacted]@127.0.0.1:6379\n');
    expect(JSON.stringify(r)).not.toContain('hunter22');
  });
  it('is healthy on exit 0 and unhealthy on any other exit code, with the output', async () => {
    const ok = await runProbe({ kind: 'exec', command: ['true'], timeout: PATIENT });
    const bad = await runProbe({ kind: 'exec', command: ['sh', '-c', 'echo queue too deep >&2; exit 3'], timeout: PATIENT });
    expect(ok).toMatchObject({ ok: true, message: 'exit code 0', detail: { exit_code: 0 } });
    expect(bad).toMatchObject({ ok: false, message: 'exit code 3: queue too deep', detail: { exit_code: 3, output: 'queue too deep\n' } });
  });

  it('runs without a shell unless asked', async () => {
    const literal = await runProbe({ kind: 'exec', command: ['echo', '$HOME', '|', 'x'], timeout: PATIENT });
    const shell = await runProbe({ kind: 'exec', command: ['echo', 'a', '|', 'tr', 'a', 'b'], shell: true, timeout: PATIENT });
    expect(literal.detail.output).toBe('$HOME | x\n');
    expect(shell.detail.output).toBe('b\n');
  });

  it('keeps the first 4 KiB of output', async () => {
    const r = await runProbe({ kind: 'exec', command: ['sh', '-c', 'head -c 10000 /dev/zero | tr "\\0" x'], timeout: PATIENT });
    expect(r.detail.output).toBe('x'.repeat(4096) + '...');
  });

  it('says when the command does not exist', async () => {
    const r = await runProbe({ kind: 'exec', command: ['/no/such/check'], timeout: PATIENT });
    expect(r).toMatchObject({ ok: false, message: 'command not found: /no/such/check' });
  });

  it('kills the whole process group of a hung command on timeout: no child survives', async () => {
    const dir = tempDir();
    const pids = join(dir, 'pids');
    const r = await runProbe({ kind: 'exec', command: ['sh', '-c', `sleep 1000 & echo $! >> ${pids}; sleep 1000 & echo $! >> ${pids}; wait`], timeout: 3000 });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/^timed out after 3000 ms; killed process group \d+$/);
    const children = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(children).toHaveLength(2);
    const alive = (pid: number): boolean => {
      if (!existsSync(`/proc/${pid}/stat`)) return false;
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      return state !== 'Z' && state !== 'X';
    };
    await waitUntil('the forked sleeps are gone', () => !children.some(alive), 15_000);
    // The shell itself was our child: it must have been reaped, not left a zombie.
    expect(existsSync(`/proc/${r.detail.pid as number}`)).toBe(false);
  });
});

describe('icmp probe', () => {
  afterAll(() => closeIcmpSessions());

  it('pings 127.0.0.1 for real', async () => {
    const r = await runProbe({ kind: 'icmp', host: '127.0.0.1', count: 2, timeout: PATIENT });
    expect(r).toMatchObject({ ok: true, detail: { sent: 2, received: 2, address: '127.0.0.1' } });
    expect(r.message).toMatch(/^2\/2 replies, round trip [\d.]+ ms$/);
  });

  it('resolves a host name first', async () => {
    const r = await runProbe({ kind: 'icmp', host: 'localhost', count: 1, timeout: PATIENT });
    expect(r.ok).toBe(true);
    expect(['127.0.0.1', '::1']).toContain(r.detail.address);
  });
});

describe('file probe', () => {
  it('tracks a heartbeat file going stale and fresh again', async () => {
    const file = join(tempDir(), 'heartbeat');
    writeFileSync(file, '');
    const fresh = await runProbe({ kind: 'file', path: file, max_age: 30_000, timeout: PATIENT });
    const old = new Date(Date.now() - 47_000);
    utimesSync(file, old, old);
    const stale = await runProbe({ kind: 'file', path: file, max_age: 30_000, timeout: PATIENT });
    expect(fresh.ok).toBe(true);
    expect(stale).toMatchObject({ ok: false, message: `${file} is 47s old > 30s` });
  });

  it('fails on a missing file', async () => {
    const r = await runProbe({ kind: 'file', path: '/no/such/heartbeat', timeout: PATIENT });
    expect(r).toMatchObject({ ok: false, message: '/no/such/heartbeat: no such file' });
  });
});
