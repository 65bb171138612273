// Prometheus metrics from `show stat`: one gauge per state labelled proxy and server, plus weights, sessions, checks.
import { Gauge, Registry } from 'prom-client';
import type { StatRow, StatTable } from './stat';
import { STATES } from './status';

const STEADY = STATES.filter((s) => s !== 'unknown');

/**
 * Registers gauges that read the latest table at scrape time (nothing is computed per poll).
 * `current` returns undefined before the first successful poll.
 */
export function registerStatMetrics(registry: Registry, current: () => StatTable | undefined): void {
  const rows = (type: StatRow['type']): StatRow[] => (current()?.rows ?? []).filter((r) => r.type === type);
  const num = (r: StatRow, k: string): number | undefined => (typeof r.fields[k] === 'number' ? (r.fields[k] as number) : undefined);

  const stateGauge = (name: string, type: StatRow['type'], help: string, labels: string[]) =>
    new Gauge({
      name,
      help,
      labelNames: [...labels, 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows(type)) {
          const base: Record<string, string> = type === 'server' ? { proxy: r.proxy, server: r.name } : { proxy: r.proxy };
          for (const s of STEADY) this.set({ ...base, state: s }, r.state === s ? 1 : 0);
          if (r.state === 'unknown') this.set({ ...base, state: 'unknown' }, 1);
        }
      },
    });
  stateGauge('haproxy_server_state', 'server', 'Server state (1 for the current one): up, down, going-down, going-up, drain, maint, nolb, no-check', ['proxy', 'server']);
  stateGauge('haproxy_backend_state', 'backend', 'Backend state (1 for the current one)', ['proxy']);
  stateGauge('haproxy_frontend_state', 'frontend', 'Frontend state (1 for the current one): up is OPEN, down is STOP', ['proxy']);

  const valueGauge = (name: string, help: string, type: StatRow['type'], column: string, scale = 1) =>
    new Gauge({
      name,
      help,
      labelNames: type === 'server' ? ['proxy', 'server'] : ['proxy'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows(type)) {
          const v = num(r, column);
          if (v !== undefined) this.set(type === 'server' ? { proxy: r.proxy, server: r.name } : { proxy: r.proxy }, v * scale);
        }
      },
    });
  valueGauge('haproxy_server_weight', 'Effective server weight', 'server', 'weight');
  valueGauge('haproxy_server_current_sessions', 'Current sessions on the server', 'server', 'scur');
  valueGauge('haproxy_server_check_duration_seconds', 'Duration of the last health check', 'server', 'check_duration', 0.001);
  valueGauge('haproxy_server_last_change_seconds', 'Seconds since the last UP/DOWN change', 'server', 'lastchg');
  valueGauge('haproxy_server_check_failures', 'Failed health checks (counter since start)', 'server', 'chkfail');
  valueGauge('haproxy_backend_active_servers', 'Active servers in the backend', 'backend', 'act');
  valueGauge('haproxy_backend_current_sessions', 'Current sessions on the backend', 'backend', 'scur');
  valueGauge('haproxy_frontend_current_sessions', 'Current sessions on the frontend', 'frontend', 'scur');
}

/** Prometheus text for one snapshot (`show --prom`), without process metrics. */
export async function statToPrometheus(table: StatTable): Promise<string> {
  const registry = new Registry();
  registerStatMetrics(registry, () => table);
  return registry.metrics();
}
