// The line the drain benchmark's file is made of (bench/ship.mjs), for benchmarks that need the same lines.

const LEVELS = ['INFO', 'WARN', 'DEBUG', 'ERROR'];

/** Line `i` (0-based) of the drain benchmark's file, without its newline: ~150 bytes, like a Java service's log line. */
export function drainLine(i) {
  const ts = new Date(Date.UTC(2026, 0, 1) + i * 7).toISOString();
  return `${ts} ${LEVELS[i % 4].padEnd(5)} [http-nio-8080-exec-${i % 16}] c.e.orders.OrderService - order ${i} processed in ${i % 997}ms customer=${(i * 7919) % 100000} items=${i % 7} status=OK`;
}
