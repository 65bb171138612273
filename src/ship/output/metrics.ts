// The sink's Prometheus metrics, registered once per registry (a second sink on the same registry reuses them).
import { Counter, Histogram, type Registry } from 'prom-client';

export interface SinkMetrics {
  acked: Counter;
  duplicates: Counter;
  retries: Counter<'reason'>;
  deadLetters: Counter;
  deadLetterRotations: Counter;
  deadLettersDropped: Counter;
  latency: Histogram;
  bytesSent: Counter;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function sinkMetrics(registry: Registry): SinkMetrics {
  const latencyName = 'sidekick_ship_bulk_request_duration_seconds';
  const latency =
    (registry.getSingleMetric(latencyName) as Histogram | undefined) ??
    new Histogram({
      name: latencyName,
      help: '_bulk request duration, from sending to the whole response read (failed requests included)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  return {
    acked: counter(registry, 'sidekick_ship_documents_acked_total', 'Documents the engine acknowledged (created or already stored)'),
    duplicates: counter(registry, 'sidekick_ship_documents_duplicate_total', 'Documents answered 409: already stored, counted as delivered'),
    retries: counter(registry, 'sidekick_ship_retries_total', 'Retries: of whole _bulk requests (reason=request) and of single documents (reason=item)', ['reason']),
    deadLetters: counter(registry, 'sidekick_ship_dead_letters_total', 'Documents refused for good and written to the dead-letter file'),
    deadLetterRotations: counter(registry, 'sidekick_ship_dead_letter_rotations_total', 'Times the dead-letter file reached dead_letter.max_size and was rotated'),
    deadLettersDropped: counter(
      registry,
      'sidekick_ship_dead_letters_dropped_total',
      'Dead-letter records deleted with the oldest rotated file (dead_letter.max_files reached)',
    ),
    latency,
    bytesSent: counter(registry, 'sidekick_ship_bytes_sent_total', '_bulk request body bytes sent (after compression)'),
  };
}
