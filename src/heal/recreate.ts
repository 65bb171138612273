// The create request that rebuilds a container from its own inspect answer: same name, image, configuration
// (labels, env, healthcheck), host configuration (mounts, restart policy) and networks with their aliases.
// Pure: actions.ts performs it. Follows what `docker compose up --force-recreate` keeps.
import type { ContainerCreateOptions, ContainerInspectInfo, EndpointSettings, HostConfig } from 'dockerode';

export interface RecreatePlan {
  name: string;
  /** The create request: configuration, host configuration, and the endpoint on the primary network. */
  create: ContainerCreateOptions;
  /** Further networks, connected after create and before start (the create call takes one). */
  connect: { network: string; endpoint: EndpointSettings }[];
}

type InspectEndpoint = ContainerInspectInfo['NetworkSettings']['Networks'][string];

/**
 * The plan for a new container like `info`, from `image` (a name that still resolves to the old container's image,
 * or that image's id), optionally in another network mode (a sidecar following its recreated host into the new
 * container's namespace). Anonymous volumes are reattached by name so their data stays; the short-id alias and
 * hostname the engine gave the old container are left for the engine to give the new one.
 */
export function recreatePlan(info: ContainerInspectInfo, image: string, networkMode?: string): RecreatePlan {
  const shortId = info.Id.slice(0, 12);
  const host = { ...info.HostConfig, ...(networkMode ? { NetworkMode: networkMode } : {}) } as HostConfig & { Links?: string[] | null };
  const mode = String(host.NetworkMode ?? 'default');
  const sharesNamespace = mode.startsWith('container:');

  const config = { ...info.Config } as ContainerInspectInfo['Config'] & { MacAddress?: string; Hostname?: string };
  if (sharesNamespace || config.Hostname === shortId) delete (config as { Hostname?: string }).Hostname;
  if (sharesNamespace) {
    // The engine refuses these with another container's network namespace (they belong to that container).
    delete (config as { Domainname?: string }).Domainname;
    delete (config as { ExposedPorts?: unknown }).ExposedPorts;
  }

  // Inspect shows legacy links as "/db:/web/alias"; create wants "db:alias".
  if (Array.isArray(host.Links)) host.Links = host.Links.map((l) => l.replace(/^\/([^:]+):\/[^/]+\/(.+)$/, '$1:$2'));
  host.Binds = [...(host.Binds ?? []), ...anonymousVolumeBinds(info)];

  const networks = info.NetworkSettings?.Networks ?? {};
  const own = Object.keys(networks);
  // NetworkMode may name the network, give its id, or be "default" (the bridge).
  const primary = ['host', 'none'].includes(mode) || sharesNamespace ? undefined : (own.find((n) => n === mode || (mode === 'default' && n === 'bridge') || networks[n]!.NetworkID.startsWith(mode)) ?? own[0]);
  const endpoint = (name: string): EndpointSettings => {
    const n = networks[name] as InspectEndpoint;
    const aliases = ((n.Aliases as string[] | null) ?? []).filter((a) => a !== shortId);
    return {
      ...(n.IPAMConfig ? { IPAMConfig: n.IPAMConfig } : {}),
      ...(Array.isArray(n.Links) && n.Links.length > 0 ? { Links: n.Links as string[] } : {}),
      ...(aliases.length > 0 ? { Aliases: aliases } : {}),
    };
  };

  const { Image: _oldImage, ...rest } = config;
  return {
    name: info.Name.replace(/^\//, ''),
    create: {
      ...(rest as ContainerCreateOptions),
      Image: image,
      HostConfig: host,
      ...(primary ? { NetworkingConfig: { EndpointsConfig: { [primary]: endpoint(primary) } } } : {}),
    },
    connect: primary ? own.filter((n) => n !== primary).map((network) => ({ network, endpoint: endpoint(network) })) : [],
  };
}

/** `volume:/path[:ro]` for each volume the old container has at a path no bind or mount of its own names. */
function anonymousVolumeBinds(info: ContainerInspectInfo): string[] {
  const host = info.HostConfig as HostConfig & { Mounts?: { Target?: string }[] | null };
  const covered = new Set<string>([
    ...(host.Binds ?? []).map((b) => b.split(':')[1]).filter((p): p is string => !!p),
    ...(host.Mounts ?? []).map((m) => m.Target).filter((p): p is string => !!p),
  ]);
  return (info.Mounts ?? [])
    .filter((m) => m.Type === 'volume' && m.Name && !covered.has(m.Destination))
    .map((m) => `${m.Name}:${m.Destination}${m.RW ? '' : ':ro'}`);
}
