// One Prometheus registry per program, with the process metrics every long-running part exposes.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function newRegistry(program: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ program });
  collectDefaultMetrics({ register: registry });
  return registry;
}
