// V8 heap tuning for the shipping path, applied at startup before the heap grows.
import { setFlagsFromString } from 'node:v8';

/**
 * After each full GC, V8 lets the old generation grow by a factor of up to 4 before the next one. Lines in
 * flight that outlive two scavenges are promoted and die there, so the old space filled with that garbage:
 * 40-55 MiB for ~20 MiB live on a 1 GB backlog. A 20 % allowance keeps it near what is live (peak RSS about
 * 10-20 MiB lower) for a few more, cheap, full GCs. A value given on the command line or in NODE_OPTIONS wins.
 */
export const HEAP_GROWING_PERCENT = 20;

/**
 * The V8 flags set at startup, each unless the command line or NODE_OPTIONS names it.
 * `--no-incremental-marking`: a full GC marks the heap in one pause. With the old generation kept small (above) and
 * the young one at its 16 MiB semi-spaces, V8 started the next incremental marking soon after each full GC ended:
 * ~17 full GCs in a 1M-line drain, marked concurrently on V8's worker threads (0.7-0.9 CPU-s of ~5.8). Without it
 * the same drain has one full GC, and the old generation it marks is small (~15-30 MiB), so the pause is short.
 */
const FLAGS: readonly { name: RegExp; flag: string }[] = [
  { name: /heap[-_]growing[-_]percent/, flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` },
  { name: /incremental[-_]marking/, flag: '--no-incremental-marking' },
];

/**
 * Node flags the images start the shipper with (images/Dockerfile, targets ship and sidekick): V8 sizes the young
 * generation when the process starts, so they cannot be set from here. Run by hand on Node >= 22, pass them on the
 * command line or in NODE_OPTIONS.
 * `--max-semi-space-size=16` (MiB): Node 20's V8 grows each semi-space up to 16 MiB; Node 24's grows it about twice
 * as far (scavenges at ~43 MiB of heap against ~27, --trace-gc). For the shipper that bought nothing: draining 1M
 * lines on Node 24.22 (bench/ship.mjs --image-node, 4 alternating rounds at load 1.7) took the same 3.84-3.90
 * CPU-s per million lines as without it (3.81-3.91), and peaked at 116-126 MiB RSS against 148-151.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** Applies FLAGS (before the heap grows: call it first thing). */
export function tuneHeap(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''];
  for (const { name, flag } of FLAGS) if (!given.some((a) => name.test(a))) setFlagsFromString(flag);
}
