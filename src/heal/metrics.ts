// sidekick-heal's Prometheus metrics: actions, decisions not to act, events received and refused, the engine link.
import { Counter, Histogram, type Registry } from 'prom-client';

export interface HealMetrics {
  actions: Counter<'container' | 'action' | 'reason' | 'result'>;
  actionSeconds: Histogram<'action'>;
  skipped: Counter<'reason'>;
  gaveUp: Counter<'container'>;
  signals: Counter<'source'>;
  rejected: Counter<'reason'>;
}

export function healMetrics(registry: Registry): HealMetrics {
  const registers = [registry];
  return {
    actions: new Counter({ name: 'sidekick_heal_actions_total', help: 'Actions on containers, by what asked for them and how they ended (ok, failed, dry_run)', labelNames: ['container', 'action', 'reason', 'result'], registers }),
    actionSeconds: new Histogram({ name: 'sidekick_heal_action_duration_seconds', help: 'Time a restart or recreate took', labelNames: ['action'], registers, buckets: [0.5, 1, 2.5, 5, 10, 20, 40, 80] }),
    skipped: new Counter({ name: 'sidekick_heal_skipped_total', help: 'Decisions not to act on an unhealthy container, by reason', labelNames: ['reason'], registers }),
    gaveUp: new Counter({ name: 'sidekick_heal_gave_up_total', help: 'Times heal gave up on a container after max_actions in the window', labelNames: ['container'], registers }),
    signals: new Counter({ name: 'sidekick_heal_signals_total', help: 'Health signals received: engine events, probe and HAProxy events accepted', labelNames: ['source'], registers }),
    rejected: new Counter({ name: 'sidekick_heal_events_rejected_total', help: 'POSTed events refused: disabled, unsigned, bad_signature, stale, replayed, bad_token, malformed', labelNames: ['reason'], registers }),
  };
}
