// Makes the built entry points executable (npm links them as the package's bin commands).
import { chmodSync, readdirSync } from 'node:fs';

for (const f of readdirSync('dist/cmd')) if (f.endsWith('.js')) chmodSync(`dist/cmd/${f}`, 0o755);
