// Imported by the entry points before anything else but the compile cache, for its effect: while modules load and
// the configuration is read, the shipper's young generation stays at its initial size (see young-generation.ts).
// In `sidekick <command>`, only the ship command's: the others keep V8's sizing.
import { basename } from 'node:path';
import { holdYoungGeneration } from './young-generation';

if (!/^sidekick(\.js)?$/.test(basename(process.argv[1] ?? '')) || process.argv[2] === 'ship') holdYoungGeneration();
