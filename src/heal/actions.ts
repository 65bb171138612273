// The two things heal does to a container through the engine: restart it, or recreate it (a new container with
// the same configuration replaces the old one, rolled back if the new one cannot be started).
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import type { Logger } from '../common/log';
import { errorMessage } from '../common/errors';
import { recreatePlan } from './recreate';

/** Whole seconds for the engine's `t` (stop timeout) parameter, at least 1. */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Slack beyond the stop timeout before a call to the engine is abandoned. */
const CALL_SLACK_MS = 30_000;

/** `POST /containers/{id}/restart?t=…`: the engine stops (SIGTERM, then SIGKILL after the timeout) and starts it. */
export async function restartContainer(docker: Docker, id: string, stopTimeoutMs: number): Promise<void> {
  await docker.getContainer(id).restart({ t: seconds(stopTimeoutMs), abortSignal: AbortSignal.timeout(stopTimeoutMs + CALL_SLACK_MS) } as object);
}

/**
 * Replaces the container by a new one built from its inspect answer: rename the old one aside, create the new one
 * under the name (and connect its other networks), stop the old one, start the new one, remove the old one (its
 * volumes stay). If create, connect or start fails, the new container is removed and the old one takes its name
 * back and is started again. Resolves to the new container's id.
 */
export async function recreateContainer(docker: Docker, info: ContainerInspectInfo, stopTimeoutMs: number, logger: Logger, networkMode?: string): Promise<string> {
  const signal = () => AbortSignal.timeout(stopTimeoutMs + CALL_SLACK_MS);
  const plan = recreatePlan(info, await sameImageRef(docker, info), networkMode);
  const old = docker.getContainer(info.Id);
  const aside = `${plan.name}-replaced-${info.Id.slice(0, 12)}`;
  await old.rename({ name: aside, abortSignal: signal() } as object);
  let created: Docker.Container | undefined;
  let stopped = false;
  try {
    created = await docker.createContainer({ ...plan.create, name: plan.name, abortSignal: signal() });
    for (const c of plan.connect) await docker.getNetwork(c.network).connect({ Container: created.id, EndpointConfig: c.endpoint, abortSignal: signal() } as object);
    // Stopped before the new one starts: published ports and fixed addresses are free only once it is down.
    await old.stop({ t: seconds(stopTimeoutMs), abortSignal: signal() } as object).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err; // 304: already stopped
    });
    stopped = true;
    await created.start({ abortSignal: signal() } as object);
  } catch (err) {
    logger.warn({ container: plan.name, err: errorMessage(err) }, 'recreate failed; restoring the old container');
    await created?.remove({ force: true, abortSignal: signal() } as object).catch(() => undefined);
    await old.rename({ name: plan.name, abortSignal: signal() } as object).catch(() => undefined);
    if (stopped && info.State.Running) await old.start({ abortSignal: signal() } as object).catch(() => undefined);
    throw err;
  }
  await old.remove({ force: true, v: false, abortSignal: signal() } as object).catch((err: unknown) => {
    logger.warn({ container: aside, err: errorMessage(err) }, 'the new container runs, but the old one could not be removed');
  });
  return created.id;
}

/** A running container that shares another's network namespace (`network_mode: container:…` or compose's `service:…`). */
export interface Dependent {
  id: string;
  name: string;
}

/**
 * The running containers in `target`'s network namespace. Restarting or recreating the target gives it a new
 * namespace and leaves them in the old one with no interface but loopback (checked on dockerd 20.10), so they
 * must follow it: the classic sidekick (sidekick-probe beside its app) is such a container.
 */
export async function netnsDependents(docker: Docker, target: { id: string; name: string }): Promise<Dependent[]> {
  const running = await docker.listContainers({ abortSignal: AbortSignal.timeout(CALL_SLACK_MS) } as object);
  return running
    .filter((c) => {
      const mode = c.HostConfig?.NetworkMode ?? '';
      if (!mode.startsWith('container:')) return false;
      const ref = mode.slice('container:'.length);
      return ref === target.name || (ref.length >= 12 && target.id.startsWith(ref));
    })
    .map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, '') }));
}

/** Restarts (or, after a recreate, recreates into the new container's namespace) the containers that shared the old one's. */
export async function followTarget(docker: Docker, dependents: Dependent[], newTargetId: string | undefined, stopTimeoutMs: number, logger: Logger): Promise<void> {
  for (const dep of dependents) {
    if (newTargetId === undefined) await restartContainer(docker, dep.id, stopTimeoutMs);
    else await recreateContainer(docker, await docker.getContainer(dep.id).inspect(), stopTimeoutMs, logger, `container:${newTargetId}`);
  }
}

/** The old container's image by the name it was created with, if that name still means the same image; else by id. */
async function sameImageRef(docker: Docker, info: ContainerInspectInfo): Promise<string> {
  const name = info.Config.Image;
  if (!name || name.startsWith('sha256:')) return info.Image;
  try {
    const current = await docker.getImage(name).inspect();
    return current.Id === info.Image ? name : info.Image;
  } catch {
    return info.Image;
  }
}
