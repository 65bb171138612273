// `sidekick-ship --once` on a terminal (a real pseudo-terminal from `script`) shows a progress bar that reaches 100%.
import { spawn } from 'node:child_process';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithEngine, uniqueName, useEngine } from '../support/engine';
import { CLI, allDocs, expectExactlyOnce, lines, tempDir } from './helpers';

describeWithEngine('sidekick-ship --once on a terminal', () => {
  const engine = useEngine();

  test('draws bytes shipped of bytes to ship up to 100%, and ships every line once', async () => {
    const dir = tempDir();
    try {
      const index = uniqueName('ship-progress');
      const expected = lines('progress', 0, 20_000);
      appendFileSync(join(dir, 'app.log'), expected.map((l) => l + '\n').join(''));
      const cmd = [process.execPath, CLI, '--once', '--es', engine.url, '--index', index, '--state-dir', join(dir, 'state'), join(dir, '*.log')]
        .map((a) => `'${a}'`)
        .join(' ');
      // script(1) runs the command on a new pseudo-terminal and copies what it writes to our pipe.
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let screen = '';
      child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(0);
      const frames = screen.split('\r').filter((f) => f.startsWith('['));
      expect(frames.length).toBeGreaterThan(0);
      const last = frames[frames.length - 1];
      expect(last).toMatch(/^\[#{30}\] 100% \S+ of \S+ {2}\d+ lines\/s/);
      const [shipped, total] = /100% (\S+) of (\S+)/.exec(last)!.slice(1);
      expect(shipped).toBe(total);
      expectExactlyOnce(await allDocs(index), expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
