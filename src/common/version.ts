// The package version, read once from package.json wherever the code runs from (src/ or dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findVersion(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sidekick' && pkg.version) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

export const VERSION = findVersion();
