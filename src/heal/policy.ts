// The guardrails, as pure functions: from a container's state now, its labels and its history of actions,
// decide whether to act, wait (and until when), or give up. No I/O here, so every rule is unit-tested.
import { DURATION_EXPECTED, parseDuration } from '../common/units';
import { ACTIONS, type HealAction, type LabelNames } from './config';
import type { ContainerStatus } from './engine';

/** Why a container is thought unhealthy: its own HEALTHCHECK, a mapped sidekick-probe check, a mapped HAProxy server. */
export type Trigger = { reason: 'unhealthy' } | { reason: 'probe_failing'; check: string } | { reason: 'haproxy_down'; server: string };
export type TriggerReason = Trigger['reason'];

/** Why heal did not act on an unhealthy container (the `reason` of heal.skipped). */
export type SkipReason =
  | 'not_opted_in' // a probe or HAProxy signal is mapped to it, but it lacks the opt-in label
  | 'bad_label' // one of its heal labels does not parse
  | 'action_none' // sidekick.heal.action=none: report only
  | 'starting' // inside its start period (HEALTHCHECK start period or heal's start_period)
  | 'restarting'
  | 'paused'
  | 'dead'
  | 'removing'
  | 'not_running' // created or exited: nothing to heal
  | 'backoff' // acted on recently; the next action waits
  | 'quorum' // too few healthy peers in its service
  | 'gave_up'; // max_actions reached in the window

/** A container's heal settings: its labels over heal's configuration. */
export interface ContainerPolicy {
  optedIn: boolean;
  action: HealAction;
  /** Left alone this long after each start: the longer of heal's start_period (or label) and the HEALTHCHECK start period. */
  startPeriodMs: number;
  stopTimeoutMs: number;
  /** Quorum group: the service label, else compose's project/service; undefined when it has none. */
  service?: string;
  minHealthy: number;
  /** Labels that did not parse, as "label: why". */
  labelErrors: string[];
}

export interface PolicyDefaults {
  action: HealAction;
  start_period: number;
  stop_timeout: number;
  min_healthy: number;
}

const COMPOSE_PROJECT = 'com.docker.compose.project';
const COMPOSE_SERVICE = 'com.docker.compose.service';

/** Reads a container's heal labels (see LabelNames) over the defaults; a bad label is reported, never guessed. */
export function containerPolicy(labels: Record<string, string>, healthStartPeriodMs: number, names: LabelNames, d: PolicyDefaults): ContainerPolicy {
  const errors: string[] = [];
  const labelDuration = (name: string, fallback: number): number => {
    const v = labels[name];
    if (v === undefined) return fallback;
    // A bare number is refused: Docker's own stop timeouts are seconds, this project's durations milliseconds.
    const ms = /[a-z]$/i.test(v.trim()) ? parseDuration(v) : undefined;
    if (ms === undefined) errors.push(`${name}: ${JSON.stringify(v)} is not valid; expected ${DURATION_EXPECTED}, with a unit`);
    return ms ?? fallback;
  };
  let action = d.action;
  const a = labels[names.action];
  if (a !== undefined) {
    if ((ACTIONS as readonly string[]).includes(a)) action = a as HealAction;
    else errors.push(`${names.action}: ${JSON.stringify(a)} is not valid; expected one of ${ACTIONS.join(', ')}`);
  }
  let minHealthy = d.min_healthy;
  const m = labels[names.min_healthy];
  if (m !== undefined) {
    if (/^\d+$/.test(m.trim())) minHealthy = Number(m);
    else errors.push(`${names.min_healthy}: ${JSON.stringify(m)} is not valid; expected a whole number of healthy peers`);
  }
  return {
    optedIn: labels[names.enable] === 'true',
    action,
    startPeriodMs: Math.max(labelDuration(names.start_period, d.start_period), healthStartPeriodMs),
    stopTimeoutMs: labelDuration(names.stop_timeout, d.stop_timeout),
    service: serviceOf(labels, names),
    minHealthy,
    labelErrors: errors,
  };
}

/** The label filter that lists a service's containers (its peers), for the engine's list call. */
export function serviceFilter(service: string, labels: Record<string, string>, names: LabelNames): string[] {
  if (labels[names.service]) return [`${names.service}=${service}`];
  return [`${COMPOSE_PROJECT}=${labels[COMPOSE_PROJECT]}`, `${COMPOSE_SERVICE}=${labels[COMPOSE_SERVICE]}`];
}

/** The quorum group of a container from its labels alone (as events carry them). */
export function serviceOf(labels: Record<string, string>, names: LabelNames): string | undefined {
  const project = labels[COMPOSE_PROJECT];
  const composeService = labels[COMPOSE_SERVICE];
  return labels[names.service] || (project && composeService ? `${project}/${composeService}` : undefined);
}

/** What heal remembers of a container between decisions, kept by name so it survives a recreate. */
export interface History {
  /** When each action started, oldest first, milliseconds. */
  actions: number[];
  /** heal.gave_up was emitted for the current run of failures. */
  gaveUp: boolean;
  /** The last heal.skipped reason emitted, so a repeated decision is not emitted again. */
  lastSkip?: SkipReason;
}

export interface Limits {
  min_interval: number;
  max_interval: number;
  max_actions: number;
  window: number;
}

export type Decision = { kind: 'act' } | { kind: 'skip'; reason: SkipReason; retryAt?: number } | { kind: 'give_up'; retryAt: number };

/** The wait after the n-th action in the window before the next: min_interval doubling per action, capped at max_interval. */
export function backoffMs(n: number, l: Limits): number {
  if (n <= 0) return 0;
  return Math.min(l.max_interval, l.min_interval * 2 ** Math.min(n - 1, 30));
}

/** Actions inside the window ending now. */
export function recentActions(h: History, now: number, window: number): number[] {
  return h.actions.filter((t) => t > now - window);
}

const STATUS_SKIP: Partial<Record<ContainerStatus, SkipReason>> = {
  restarting: 'restarting',
  paused: 'paused',
  dead: 'dead',
  removing: 'removing',
  created: 'not_running',
  exited: 'not_running',
};

/**
 * Decides for an opted-in container that a trigger says is unhealthy, from what is true now (level-triggered):
 * the order is labels, action, state, start period, the cap per window, back-off. Quorum is checked after, by the
 * caller, because it needs the peers. `retryAt` is when the answer may change without any new event.
 */
export function decide(state: { status: ContainerStatus; startedAt: number }, p: ContainerPolicy, h: History, l: Limits, now: number): Decision {
  if (!p.optedIn) return { kind: 'skip', reason: 'not_opted_in' };
  if (p.labelErrors.length > 0) return { kind: 'skip', reason: 'bad_label' };
  if (p.action === 'none') return { kind: 'skip', reason: 'action_none' };
  const byStatus = STATUS_SKIP[state.status];
  if (byStatus) return { kind: 'skip', reason: byStatus };
  if (now < state.startedAt + p.startPeriodMs) return { kind: 'skip', reason: 'starting', retryAt: state.startedAt + p.startPeriodMs };
  const recent = recentActions(h, now, l.window);
  if (recent.length >= l.max_actions) {
    const retryAt = recent[0]! + l.window;
    return h.gaveUp ? { kind: 'skip', reason: 'gave_up', retryAt } : { kind: 'give_up', retryAt };
  }
  if (recent.length > 0) {
    const next = recent[recent.length - 1]! + backoffMs(recent.length, l);
    if (now < next) return { kind: 'skip', reason: 'backoff', retryAt: next };
  }
  return { kind: 'act' };
}

/**
 * Quorum, as Rancher's recreateOnQuorum: act only while at least `minHealthy` of the other containers of the
 * service are healthy. With fewer peers than that, all of them must be healthy; a service's only container is
 * always eligible (holding it back would leave it broken for good).
 */
export function quorumHolds(minHealthy: number, peers: number, healthyPeers: number): boolean {
  return healthyPeers >= Math.min(minHealthy, peers);
}
