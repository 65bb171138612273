// Makes the built entry points executable (npm links them as the package's bin commands) and copies the status
// pages' assets (stylesheet, script, icon) next to the compiled module that serves them.
import { chmodSync, cpSync, readdirSync } from 'node:fs';

for (const f of readdirSync('dist/cmd')) if (f.endsWith('.js')) chmodSync(`dist/cmd/${f}`, 0o755);
cpSync('src/common/assets', 'dist/src/common/assets', { recursive: true });
