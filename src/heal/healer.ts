// The controller, level-triggered: an engine, probe or HAProxy event only queues a container; its decision reads
// what is true now (its state, health, start time, peers, the latest signals) and its own history of actions.
import type Docker from 'dockerode';
import type { Logger } from '../common/log';
import { errorMessage } from '../common/errors';
import { followTarget, netnsDependents, restartContainer, recreateContainer, type Dependent } from './actions';
import { labelNames, type HealAction, type HealSettings, type LabelNames } from './config';
import { EventFollower, engineError, isNotFound, toSummary, toView, type ContainerView, type EngineEvent } from './engine';
import type { HealMetrics } from './metrics';
import { containerPolicy, decide, quorumHolds, recentActions, serviceFilter, serviceOf, type ContainerPolicy, type History, type SkipReason, type Trigger, type TriggerReason } from './policy';
import { WorkQueue } from './queue';
import { Signals, type IncomingEvent } from './signals';

interface Subject {
  container: string;
  /** Short id (12 hex digits), as `docker ps` shows it. */
  id: string;
  check?: string;
  server?: string;
  service?: string;
}

/** An action was taken (or, with dry_run, would have been). `reason` is what asked for it. */
export interface ActionEvent extends Subject {
  event: 'heal.action';
  action: Exclude<HealAction, 'none'>;
  reason: TriggerReason;
  /** This action's number in the window, of max_actions. */
  attempt: number;
  max_actions: number;
  result: 'ok' | 'failed' | 'dry_run';
  error?: string;
  /** recreate: the new container's short id. */
  new_id?: string;
  /** Containers in its network namespace, restarted (or recreated) with it. */
  dependents?: string[];
  duration_ms: number;
}

/** An unhealthy container was left alone; `trigger` is what asked for an action, `reason` why there was none. */
export interface SkippedEvent extends Subject {
  event: 'heal.skipped';
  action: HealAction;
  reason: SkipReason;
  trigger: TriggerReason;
  detail?: string;
  retry_at?: string;
}

/** max_actions were taken in the window and the container is still unhealthy: no more actions until retry_at. */
export interface GaveUpEvent extends Subject {
  event: 'heal.gave_up';
  action: HealAction;
  reason: TriggerReason;
  actions: number;
  window_ms: number;
  retry_at: string;
}

/** What heal emits; `at` (ISO 8601) is added last, when it is sent. */
export type HealEvent = (ActionEvent | SkippedEvent | GaveUpEvent) & { at: string };

type Unsent = ActionEvent | SkippedEvent | GaveUpEvent;

export interface HealerOptions {
  settings: HealSettings;
  docker: Docker;
  logger: Logger;
  metrics: HealMetrics;
  emit: (e: HealEvent) => void;
}

/** Calls to the engine for reading (inspect, list) are abandoned after this long. */
const READ_TIMEOUT_MS = 15_000;

export class Healer {
  readonly signals: Signals;
  readonly follower: EventFollower;
  private readonly names: LabelNames;
  private readonly histories = new Map<string, History>();
  private readonly queue: WorkQueue;
  /** Ids held back by quorum, by service: a health change in the service queues them again. */
  private readonly quorumWaiters = new Map<string, Set<string>>();
  private readonly serviceLocks = new Map<string, Promise<void>>();
  /** Names of containers being restarted or recreated now: never counted as healthy peers. */
  private readonly acting = new Set<string>();
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: HealerOptions) {
    const s = opts.settings;
    this.names = labelNames(s.label);
    this.signals = new Signals(this.names, s.map, s.down_grace);
    this.queue = new WorkQueue(
      (id) => this.process(id),
      (id, err) => opts.logger.warn({ id: id.slice(0, 12), err: errorMessage(err) }, 'could not decide for a container; it is looked at again at the next event or resync'),
    );
    this.follower = new EventFollower({
      docker: opts.docker,
      address: s.docker_host,
      logger: opts.logger,
      onEvent: (e) => this.onEngineEvent(e),
      onConnect: () => void this.scan('connected'),
    });
  }

  start(): void {
    this.follower.start();
    if (this.opts.settings.resync > 0) {
      this.resyncTimer = setInterval(() => void this.scan('resync'), this.opts.settings.resync);
      this.resyncTimer.unref();
    }
  }

  /** Stops following events and waits for the actions in flight. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    await this.follower.stop();
    await this.queue.stop();
  }

  /** Records a probe or HAProxy event and queues the containers it maps to; resolves to how many were queued. */
  async receive(e: IncomingEvent): Promise<number> {
    this.opts.metrics.signals.inc({ source: e.source });
    if (this.signals.record(e, Date.now()) === undefined) return 0;
    const running = await this.opts.docker.listContainers({ abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) } as object);
    let queued = 0;
    for (const c of running.map(toSummary)) {
      if (Signals.concerns(this.signals.mapped(c, c.labels[this.names.enable] === 'true'), e)) {
        this.queue.add(c.id);
        queued++;
      }
    }
    return queued;
  }

  /** The per-container history and the latest signals, for /state. */
  view(): object {
    return {
      containers: [...this.histories].map(([name, h]) => ({
        container: name,
        actions: h.actions.map((t) => new Date(t).toISOString()),
        gave_up: h.gaveUp,
        ...(h.lastSkip ? { last_skipped: h.lastSkip } : {}),
      })),
      signals: this.signals.view(),
      queued: this.queue.length,
    };
  }

  private onEngineEvent(e: EngineEvent): void {
    this.opts.metrics.signals.inc({ source: 'engine' });
    if (e.action === 'destroy') {
      this.queue.forget(e.id);
      for (const waiters of this.quorumWaiters.values()) waiters.delete(e.id);
      return;
    }
    if (!e.action.startsWith('health_status')) return;
    if (e.attributes[this.names.enable] === 'true') this.queue.add(e.id);
    const service = serviceOf(e.attributes, this.names);
    if (service) this.wakeQuorumWaiters(service);
  }

  /** Lists the opted-in running containers and queues each: after (re)connecting nothing missed stays missed. */
  private async scan(why: 'connected' | 'resync'): Promise<void> {
    try {
      const list = await this.opts.docker.listContainers({ filters: { label: [`${this.names.enable}=true`] }, abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) } as object);
      for (const c of list) this.queue.add(c.Id);
      this.opts.logger.debug({ why, containers: list.length }, 'scanned the opted-in containers');
      this.forgetOldHistory(Date.now());
    } catch (err) {
      this.opts.logger.warn({ why, err: engineError(err, this.opts.settings.docker_host, 'listing containers').message }, 'scan failed; the next (re)connect or resync scans again');
    }
  }

  private history(name: string): History {
    let h = this.histories.get(name);
    if (!h) this.histories.set(name, (h = { actions: [], gaveUp: false }));
    return h;
  }

  private forgetOldHistory(now: number): void {
    for (const [name, h] of this.histories) {
      h.actions = recentActions(h, now, this.opts.settings.window);
      if (h.actions.length === 0 && !h.gaveUp && !this.acting.has(name)) this.histories.delete(name);
    }
  }

  private async process(id: string): Promise<void> {
    const { docker, settings } = this.opts;
    let view: ContainerView;
    try {
      view = toView(await docker.getContainer(id).inspect({ abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) }));
    } catch (err) {
      if (isNotFound(err)) return this.queue.forget(id);
      throw engineError(err, settings.docker_host, `inspecting container ${id.slice(0, 12)}`);
    }
    const now = Date.now();
    const policy = containerPolicy(view.labels, view.healthStartPeriodMs, this.names, settings);
    const mapped = this.signals.mapped(view, policy.optedIn);
    const external = this.signals.triggers(mapped, now);
    if (external.retryAt !== undefined) this.queue.addAfter(id, external.retryAt - now);
    const triggers: Trigger[] = [...(view.health === 'unhealthy' ? [{ reason: 'unhealthy' as const }] : []), ...external.triggers];
    const history = this.history(view.name);
    if (triggers.length === 0) {
      // Healthy again: a later run of failures is a new one (a new heal.gave_up, skips reported afresh).
      history.gaveUp = false;
      history.lastSkip = undefined;
      if (policy.service) this.wakeQuorumWaiters(policy.service, id);
      return;
    }
    // The engine's health of a container that did not opt in is none of heal's business; a signal someone mapped
    // to it by label or configuration is worth a heal.skipped.
    if (!policy.optedIn && !(mapped.explicit && external.triggers.length > 0)) return;
    const trigger = policy.optedIn ? triggers[0]! : external.triggers[0]!;
    await this.serialized(policy.service, () => this.decideAndAct(view, policy, trigger, history));
  }

  private async decideAndAct(view: ContainerView, policy: ContainerPolicy, trigger: Trigger, history: History): Promise<void> {
    const { settings } = this.opts;
    const now = Date.now();
    const d = decide(view, policy, history, settings, now);
    if (d.kind === 'skip') {
      if (d.retryAt !== undefined) this.queue.addAfter(view.id, d.retryAt - now);
      const detail = d.reason === 'bad_label' ? policy.labelErrors.join('; ') : undefined;
      return this.skipped(view, policy, trigger, d.reason, d.retryAt, detail);
    }
    if (d.kind === 'give_up') {
      history.gaveUp = true;
      history.lastSkip = 'gave_up';
      this.queue.addAfter(view.id, d.retryAt - now);
      this.opts.metrics.gaveUp.inc({ container: view.name });
      const actions = recentActions(history, now, settings.window).length;
      this.opts.logger.warn({ container: view.name, actions, window_ms: settings.window }, 'gave up: still unhealthy after max_actions in the window');
      return this.send({ event: 'heal.gave_up', ...this.subject(view, policy, trigger), action: policy.action, reason: trigger.reason, actions, window_ms: settings.window, retry_at: new Date(d.retryAt).toISOString() });
    }
    if (policy.service) {
      const q = await this.quorum(view, policy.service);
      if (!quorumHolds(policy.minHealthy, q.peers, q.healthy)) {
        let waiters = this.quorumWaiters.get(policy.service);
        if (!waiters) this.quorumWaiters.set(policy.service, (waiters = new Set()));
        waiters.add(view.id);
        const needed = Math.min(policy.minHealthy, q.peers);
        return this.skipped(view, policy, trigger, 'quorum', undefined, `${q.healthy} of ${q.peers} other containers of ${policy.service} healthy; ${needed} needed`);
      }
    }
    await this.act(view, policy, trigger, history);
  }

  private async act(view: ContainerView, policy: ContainerPolicy, trigger: Trigger, history: History): Promise<void> {
    const { settings, docker, logger, metrics } = this.opts;
    const action = policy.action as Exclude<HealAction, 'none'>;
    const started = Date.now();
    const attempt = recentActions(history, started, settings.window).length + 1;
    history.actions = [...recentActions(history, started, settings.window), started];
    history.lastSkip = undefined;
    let result: ActionEvent['result'] = 'dry_run';
    let error: string | undefined;
    let newId: string | undefined;
    let dependents: Dependent[] = [];
    if (!settings.dry_run) {
      this.acting.add(view.name);
      logger.info({ container: view.name, action, reason: trigger.reason, attempt }, `${action === 'restart' ? 'restarting' : 'recreating'} an unhealthy container`);
      try {
        dependents = await netnsDependents(docker, view);
        if (action === 'restart') await restartContainer(docker, view.id, policy.stopTimeoutMs);
        else newId = await recreateContainer(docker, view.info, policy.stopTimeoutMs, logger);
        await followTarget(docker, dependents, newId, policy.stopTimeoutMs, logger);
        result = 'ok';
      } catch (err) {
        result = 'failed';
        error = engineError(err, settings.docker_host, `${action === 'restart' ? 'restarting' : 'recreating'} ${view.name}`).message;
        logger.error({ container: view.name, action, err: error }, 'action failed');
      } finally {
        this.acting.delete(view.name);
      }
    }
    const durationMs = Date.now() - started;
    metrics.actions.inc({ container: view.name, action, reason: trigger.reason, result });
    if (result !== 'dry_run') metrics.actionSeconds.observe({ action }, durationMs / 1000);
    // The next decision is due when the back-off ends, even if no event comes (the container may stay unhealthy).
    this.queue.addAfter(newId ?? view.id, Math.max(1, this.opts.settings.min_interval));
    this.send({
      event: 'heal.action',
      ...this.subject(view, policy, trigger),
      action,
      reason: trigger.reason,
      attempt,
      max_actions: settings.max_actions,
      result,
      ...(error ? { error } : {}),
      ...(newId ? { new_id: newId.slice(0, 12) } : {}),
      ...(dependents.length > 0 ? { dependents: dependents.map((dep) => dep.name) } : {}),
      duration_ms: durationMs,
    });
  }

  private skipped(view: ContainerView, policy: ContainerPolicy, trigger: Trigger, reason: SkipReason, retryAt: number | undefined, detail: string | undefined): void {
    this.opts.metrics.skipped.inc({ reason });
    const history = this.history(view.name);
    // The same decision again (a resync, a repeated event) is counted, not emitted again.
    if (history.lastSkip === reason) return;
    history.lastSkip = reason;
    this.send({
      event: 'heal.skipped',
      ...this.subject(view, policy, trigger),
      action: policy.action,
      reason,
      trigger: trigger.reason,
      ...(detail ? { detail } : {}),
      ...(retryAt !== undefined ? { retry_at: new Date(retryAt).toISOString() } : {}),
    });
  }

  private subject(view: ContainerView, policy: ContainerPolicy, trigger: Trigger): Subject {
    return {
      container: view.name,
      id: view.id.slice(0, 12),
      ...('check' in trigger ? { check: trigger.check } : {}),
      ...('server' in trigger ? { server: trigger.server } : {}),
      ...(policy.service ? { service: policy.service } : {}),
    };
  }

  private send(e: Unsent): void {
    this.opts.emit({ ...e, at: new Date().toISOString() });
  }

  /** The other containers of the service, and how many are healthy enough: running, not acted on, no failing signal. */
  private async quorum(view: ContainerView, service: string): Promise<{ peers: number; healthy: number }> {
    const { docker } = this.opts;
    const filters = { label: serviceFilter(service, view.labels, this.names) };
    const list = await docker.listContainers({ all: true, filters, abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) } as object);
    // One-off containers (`compose run`) share the service's labels but are not replicas.
    const peers = list.filter((c) => c.Id !== view.id && c.Labels?.['com.docker.compose.oneoff'] !== 'True');
    let healthy = 0;
    for (const c of peers) {
      try {
        const p = toView(await docker.getContainer(c.Id).inspect({ abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) }));
        const ok = p.status === 'running' && (p.health === undefined || p.health === 'healthy') && !this.acting.has(p.name);
        const peerPolicy = containerPolicy(p.labels, p.healthStartPeriodMs, this.names, this.opts.settings);
        if (ok && this.signals.triggers(this.signals.mapped(p, peerPolicy.optedIn), Date.now()).triggers.length === 0) healthy++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return { peers: peers.length, healthy };
  }

  private wakeQuorumWaiters(service: string, except?: string): void {
    const waiters = this.quorumWaiters.get(service);
    if (!waiters) return;
    this.quorumWaiters.delete(service);
    for (const id of waiters) if (id !== except) this.queue.add(id);
  }

  /** Runs decisions of one service one at a time, so two replicas never both count the other as healthy. */
  private async serialized(service: string | undefined, fn: () => Promise<void>): Promise<void> {
    if (!service) return fn();
    const run = (this.serviceLocks.get(service) ?? Promise.resolve()).then(fn);
    const settled = run.catch(() => undefined);
    this.serviceLocks.set(service, settled);
    try {
      await run;
    } finally {
      if (this.serviceLocks.get(service) === settled) this.serviceLocks.delete(service);
    }
  }
}
