// The shipper's own health: what /healthz answers and what sidekick_ship_waiting exports, from the sink (engine
// unreachable, a cluster block, the dead-letter file) and the registry (positions cannot be saved).
import { Gauge, type Registry } from 'prom-client';
import type { FileRegistry } from './input/registry';
import type { Sink, SinkHealth, WaitReason } from './output/sink';

/** Why shipping waits: the sink's reasons, or `state_dir` (positions cannot be saved, reading paused). */
export type ShipWaitReason = WaitReason | 'state_dir';

export const WAIT_REASONS: readonly ShipWaitReason[] = ['engine_unreachable', 'cluster_block', 'dead_letter_file', 'state_dir'];

export interface ShipWait {
  reason: ShipWaitReason;
  message: string;
  for_ms: number;
}

export interface ShipHealth {
  ok: boolean;
  detail: {
    /** Everything it waits for now (empty when it ships freely). */
    waiting: ShipWait[];
    engine: SinkHealth;
    bytes_pending: number;
  };
}

/**
 * Healthy unless the state directory cannot be saved to (at once: positions would stop moving), or the sink has
 * been waiting longer than unhealthyAfterMs (the engine unreachable or refusing writes by a block).
 */
export function shipHealth(sink: Sink, registry: FileRegistry, pendingBytes: number, unhealthyAfterMs: number): ShipHealth {
  const engine = sink.health();
  const waiting: ShipWait[] = [];
  const saving = registry.saveFailure();
  if (saving) waiting.push({ reason: 'state_dir', message: saving.error, for_ms: Date.now() - saving.since });
  if (engine.waiting) waiting.push({ reason: engine.waiting.reason, message: engine.waiting.message, for_ms: engine.waiting.forMs });
  const ok = !saving && (!engine.waiting || engine.waiting.forMs <= unhealthyAfterMs);
  return { ok, detail: { waiting, engine, bytes_pending: pendingBytes } };
}

/** sidekick_ship_waiting{reason}: 1 while shipping waits for that reason. */
export function registerWaitingMetric(metrics: Registry, current: () => ShipWait[]): void {
  new Gauge({
    name: 'sidekick_ship_waiting',
    help: 'Whether shipping waits, by reason: engine_unreachable, cluster_block (the engine refuses writes for now), dead_letter_file or state_dir (positions cannot be saved; reading paused)',
    labelNames: ['reason'],
    registers: [metrics],
    collect() {
      const now = new Set(current().map((w) => w.reason));
      for (const reason of WAIT_REASONS) this.set({ reason }, now.has(reason) ? 1 : 0);
    },
  });
}
