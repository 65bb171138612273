// The package's version and root directory, found once from package.json wherever the code runs from (src/ or dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findPackage(): { version: string; root: string | undefined } {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sidekick' && pkg.version) return { version: pkg.version, root: dir };
    }
    const parent = dirname(dir);
    if (parent === dir) return { version: '0.0.0', root: undefined };
    dir = parent;
  }
}

const found = findPackage();
/** The package version (package.json), `0.0.0` when no sidekick package.json is above this module. */
export const VERSION = found.version;
/** The directory of sidekick's package.json (the repository, or /app in the images); undefined when not found. */
export const PACKAGE_ROOT = found.root;
