// The tcp fast path (Node's TCP handle) and the net.Socket path give the same results on real loopback sockets:
// open port (closed with RST), closed port, a listener whose backlog is full (timeout), shutdown, host names.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadProbeConfig } from '../../src/probe/config';
import { runProbe } from '../../src/probe/kinds';
import { disableTcpFastPath, enableTcpFastPath } from '../../src/probe/kinds/tcp';
import type { ProbeResult, TcpTarget } from '../../src/probe/types';
import { closedPort, tcpServer, tempDir } from './helpers';

// The module object itself (not an import namespace), so jest can spy on the net.connect the tcp probe calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import net = require('node:net');

type Path = 'net' | 'fast';

/** Runs the same check through both paths; also returns how many times each called net.connect. */
async function both(target: Omit<TcpTarget, 'kind'>, timeout: number, stop?: () => AbortSignal): Promise<Record<Path, ProbeResult> & { netConnects: Record<Path, number> }> {
  const spy = jest.spyOn(net, 'connect');
  const out = { netConnects: { net: 0, fast: 0 } } as Record<Path, ProbeResult> & { netConnects: Record<Path, number> };
  try {
    for (const path of ['net', 'fast'] as const) {
      if (path === 'fast') expect(await enableTcpFastPath()).toBeUndefined();
      else disableTcpFastPath();
      spy.mockClear();
      out[path] = await runProbe({ kind: 'tcp', ...target, timeout }, stop?.());
      out.netConnects[path] = spy.mock.calls.length;
    }
  } finally {
    disableTcpFastPath();
    spy.mockRestore();
  }
  return out;
}

/** A listener on a worker thread that blocks right after listening: connects beyond its full backlog get no SYN-ACK. */
async function blackhole(): Promise<{ port: number; close: () => Promise<void> }> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const srv = require('node:net').createServer();
     srv.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(srv.address().port);
       Atomics.wait(workerData, 0, 0); // nothing is accepted from here on
     });`,
    { eval: true, workerData: gate },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  // Fill the accept queue: once a connect no longer completes within 200 ms, the next ones hang too.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const s = net.connect(port, '127.0.0.1').on('error', () => undefined);
    fillers.push(s);
    const connected = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 200);
      s.once('connect', () => (clearTimeout(t), resolve(true)));
    });
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await worker.terminate();
    },
  };
}

afterEach(() => disableTcpFastPath());

describe('tcp fast path and net.connect give the same results', () => {
  it('open port: connected with the address and connect time, closed with RST', async () => {
    const resets: string[] = [];
    const s = await tcpServer((sock) => {
      sock.on('error', (err: NodeJS.ErrnoException) => resets.push(err.code ?? String(err)));
      sock.resume();
    });
    const r = await both({ host: '127.0.0.1', port: s.port }, 1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await s.close();
    for (const path of ['net', 'fast'] as const) {
      expect(r[path]).toMatchObject({ ok: true, message: 'connected', detail: { address: '127.0.0.1' } });
      expect(typeof r[path].detail.connect_ms).toBe('number');
    }
    expect(Object.keys(r.fast.detail).sort()).toEqual(Object.keys(r.net.detail).sort());
    expect(r.netConnects).toEqual({ net: 1, fast: 0 });
    // Each probe's connection reached the server as a reset, not a FIN: no TIME_WAIT left behind.
    expect(resets).toEqual(['ECONNRESET', 'ECONNRESET']);
  });

  it('closed port: connection refused', async () => {
    const r = await both({ host: '127.0.0.1', port: await closedPort() }, 1000);
    expect(r.net).toMatchObject({ ok: false, message: 'connection refused' });
    expect(r.fast).toMatchObject({ ok: false, message: 'connection refused', detail: { address: '127.0.0.1' } });
    expect(r.netConnects).toEqual({ net: 1, fast: 0 });
  });

  it('no SYN-ACK (listener backlog full): timed out while connecting', async () => {
    const hole = await blackhole();
    try {
      const r = await both({ host: '127.0.0.1', port: hole.port }, 300);
      expect(r.net).toMatchObject({ ok: false, message: 'timed out after 300 ms while connecting' });
      expect(r.fast).toMatchObject({ ok: false, message: 'timed out after 300 ms while connecting' });
      expect(r.fast.duration_ms).toBeGreaterThanOrEqual(290);
      expect(r.netConnects).toEqual({ net: 1, fast: 0 });
    } finally {
      await hole.close();
    }
  });

  it('shutdown while connecting: aborted', async () => {
    const hole = await blackhole();
    try {
      const stop = (): AbortSignal => AbortSignal.timeout(100);
      const r = await both({ host: '127.0.0.1', port: hole.port }, 5000, stop);
      expect(r.net.message).toBe(r.fast.message);
      expect(r.fast).toMatchObject({ ok: false });
      expect(r.fast.message).toMatch(/while connecting$/);
    } finally {
      await hole.close();
    }
  });

  it('IPv6 loopback', async () => {
    const server = net.createServer((sock) => sock.on('error', () => undefined).end());
    const listening = await new Promise<boolean>((resolve) => server.once('error', () => resolve(false)).listen(0, '::1', () => resolve(true)));
    if (!listening) return; // no IPv6 on this machine
    const port = (server.address() as net.AddressInfo).port;
    const r = await both({ host: '::1', port }, 1000);
    server.close();
    expect(r.net).toMatchObject({ ok: true, message: 'connected', detail: { address: '::1' } });
    expect(r.fast).toMatchObject({ ok: true, message: 'connected', detail: { address: '::1' } });
    expect(r.netConnects).toEqual({ net: 1, fast: 0 });
  });

  it('host names go through net.connect on both (name resolution, happy eyeballs)', async () => {
    const s = await tcpServer((sock) => sock.end());
    const named = await both({ host: 'localhost', port: s.port }, 2000);
    await s.close();
    expect(named.fast).toMatchObject({ ok: named.net.ok, message: named.net.message });
    expect(named.netConnects).toEqual({ net: 1, fast: 1 });

    const unknown = await both({ host: 'no-such-host.invalid', port: 80 }, 2000);
    expect(unknown.net.ok).toBe(false);
    expect(unknown.fast).toMatchObject({ ok: false });
    expect(unknown.net.message).toMatch(/^cannot resolve host no-such-host\.invalid|timed out/);
    expect(unknown.fast.message).toMatch(/^cannot resolve host no-such-host\.invalid|timed out/);
  });

  it('send/expect and TLS checks stay on net.connect', async () => {
    const s = await tcpServer((sock) => sock.end('+OK\r\n'));
    const r = await both({ host: '127.0.0.1', port: s.port, expect: '^\\+OK' }, 1000);
    await s.close();
    expect(r.fast).toMatchObject({ ok: true, message: 'reply matched /^\\+OK/' });
    expect(r.netConnects).toEqual({ net: 1, fast: 1 });
  });
});

describe('tcp_fastpath setting', () => {
  const file = join(tempDir(), 'checks.yml');
  writeFileSync(file, 'checks:\n  - {name: db, kind: tcp, target: "127.0.0.1:5432"}\n');

  it('is on by default and turned off by tcp_fastpath: false or SIDEKICK_PROBE_TCP_FASTPATH=0', () => {
    expect(loadProbeConfig(file, [], {}).tcp_fastpath).toBe(true);
    expect(loadProbeConfig(file, [], { SIDEKICK_PROBE_TCP_FASTPATH: '0' }).tcp_fastpath).toBe(false);
    const off = join(tempDir(), 'off.yml');
    writeFileSync(off, 'tcp_fastpath: false\nchecks:\n  - {name: db, kind: tcp, target: "127.0.0.1:5432"}\n');
    expect(loadProbeConfig(off, [], {}).tcp_fastpath).toBe(false);
  });
});
