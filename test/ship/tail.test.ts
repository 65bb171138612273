// The tailer with a real file: a file truncated and refilled past the read position while the tailer is
// catching up (paused by backpressure) is read again from its start, each new line once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintOf, FINGERPRINT_BYTES } from '../../src/ship/input/identity';
import { Tailer, type TailHooks } from '../../src/ship/input/tail';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ship-tail-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const text = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => `${prefix} line ${i} ${'.'.repeat(40)}\n`).join('');

test('truncate-and-refill while catching up restarts at 0 under a new key: every new line once', async () => {
  const file = join(dir, 'a.log');
  const old = text('old', 5000);
  writeFileSync(file, old);
  const fh = await open(file, 'r');
  const got: { key: string; text: string }[] = [];
  let reads = 0;
  let open_: (() => void) | undefined;
  const hooks: TailHooks = {
    line: (l) => got.push({ key: l.file.key, text: l.text }),
    consumed: () => undefined,
    // One read, then backpressure until the test lets it go on.
    room: () => (reads++ === 0 || !open_ ? undefined : new Promise<void>((r) => (open_ = r))),
    release: () => undefined,
    truncated: (t) => ({ key: 'k2', dev: t.file.dev, ino: t.file.ino }),
    keyFor: () => Promise.resolve(undefined),
    fingerprint: () => undefined,
    bytesRead: () => undefined,
    failed: (_t, err) => {
      throw err;
    },
    closed: () => undefined,
  };
  open_ = () => undefined; // armed: the second room() waits
  const fp = fingerprintOf(Buffer.from(old).subarray(0, FINGERPRINT_BYTES));
  const opts = { maxLine: 1 << 20, bufferSize: 4096, pollMs: 50, closeInactiveMs: 100, once: true };
  const tailer = new Tailer(fh, { key: 'k1', dev: 1, ino: 1 }, file, 0, old.length, fp, opts, hooks);
  await new Promise((r) => setTimeout(r, 1100));
  const fresh = text('new', 6000); // longer than what was read: size stays above the position
  writeFileSync(file, fresh);
  const go = open_;
  open_ = undefined;
  go();
  await tailer.done;
  const newLines = got.filter((g) => g.text.startsWith('new'));
  expect(newLines.map((g) => g.text)).toEqual(fresh.trimEnd().split('\n'));
  expect(new Set(newLines.map((g) => g.key))).toEqual(new Set(['k2']));
});
