// Sizes V8's young generation for what the shipper will read. From the first line of an entry point it is held at
// its initial size (1 MiB semi-spaces); once the configuration is known, sizeYoungGeneration() lets it grow to
// PLAIN_SEMI_SPACE_MIB when every input ships plain lines, or as far as V8 would (--max-semi-space-size) when any
// input has parsers.
//
// Why: plain lines are written into their batch's body as bytes (Pipeline.lineBytes) and allocate ~0.35 KiB each,
// only the lines in flight surviving a scavenge; a young generation of 4 MiB semi-spaces holds them, and V8 would
// otherwise grow it to 16 MiB (Node 20; Node 24 to 32 without the images' --max-semi-space-size=16), ~16-24 MiB of
// peak RSS that buys the plain drain nothing. Parsed events carry strings and objects and pay for a small young
// generation in CPU (README, Drain targets), so they keep V8's.
//
// How: V8 sizes the semi-spaces' maximum once, at start (--max-semi-space-size cannot be changed later), but reads
// --semi-space-growth-factor each time a scavenge decides to grow them: 1 stops growth, and one step of the right
// factor from the held initial size lands on the target. A flag given on the command line or in NODE_OPTIONS wins.
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Semi-space size for plain inputs, MiB (the young generation is two of them). */
export const PLAIN_SEMI_SPACE_MIB = 4;

/** V8's own growth factor (src/heap/heap.h, v8_flags.semi_space_growth_factor's default). */
const V8_GROWTH_FACTOR = 2;

const MIB = 1024 * 1024;

function growthFactorGiven(): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /semi[-_]space[-_]growth[-_]factor/.test(a));
}

let held = false;

/** Bytes of V8's new space now (both semi-spaces). */
export function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** Stops the young generation's growth until sizeYoungGeneration() (call before anything else is loaded). */
export function holdYoungGeneration(): void {
  if (held || growthFactorGiven()) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

/**
 * Lets the held young generation grow: to PLAIN_SEMI_SPACE_MIB semi-spaces when `plain` (every input ships its
 * lines as they are), else as V8 grows it. Returns the semi-space size aimed at in MiB (undefined: V8's own, or
 * nothing was held). Growth stops at the first scavenge that reaches the target, so the young generation never
 * passes it.
 */
export function sizeYoungGeneration(plain: boolean): number | undefined {
  if (!held) return undefined;
  held = false;
  if (!plain) {
    setFlagsFromString(`--semi-space-growth-factor=${V8_GROWTH_FACTOR}`);
    return undefined;
  }
  const target = 2 * PLAIN_SEMI_SPACE_MIB * MIB;
  const now = newSpaceBytes();
  if (now > 0 && now < target) {
    setFlagsFromString(`--semi-space-growth-factor=${Math.ceil(target / now)}`);
    const gcs = new PerformanceObserver(() => {
      if (newSpaceBytes() < target) return;
      setFlagsFromString('--semi-space-growth-factor=1');
      gcs.disconnect();
    });
    gcs.observe({ entryTypes: ['gc'] });
  }
  return PLAIN_SEMI_SPACE_MIB;
}
