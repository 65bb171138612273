// Shared by the micro-benchmarks: time a function over `runs` runs after a warm-up, in milliseconds.

/** Median, 90th percentile and minimum of `runs` timed calls of fn, after 3 untimed ones (V8 optimises first). */
export function measure(fn, runs) {
  for (let i = 0; i < 3; i++) fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { median_ms: +times[Math.floor(times.length / 2)].toFixed(2), p90_ms: +times[Math.floor(times.length * 0.9)].toFixed(2), min_ms: +times[0].toFixed(2) };
}
