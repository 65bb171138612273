/** Types for build.js (plain CommonJS so `npm run images` and jest can both load it without a build). */

/** Dockerfile target -> image repository, e.g. { ship: 'sidekick-ship', ... }. */
export declare const IMAGES: Readonly<Record<string, string>>;
/** Stand-ins for the public images of docker-compose.elk.yml: { app, haproxy, opensearch } -> repository. */
export declare const STANDINS: Readonly<Record<string, string>>;
/** The official base images/Dockerfile names by default (node:24-bookworm-slim). */
export declare const NODE_IMAGE: string;
/** The repository root, the build context. */
export declare const ROOT: string;

export interface BuildOptions {
  /** Dockerfile targets to build; default every key of IMAGES. */
  targets?: string[];
  /** Also tag each image `<repo>:<tag>` (the CLI uses 'dev'). */
  tag?: string;
  /** Build on the offline stand-in base without trying the official one. */
  standin?: boolean;
  /** Pass the builder's output to log too. */
  verbose?: boolean;
  log?: (line: string) => void;
}

export interface BuildResult {
  /** The base image reference the images were built on. */
  base: string;
  /** target -> `<repo>:build-<hash>` */
  images: Record<string, string>;
}

/** Why no Docker engine can be used from here, or null when `docker info` answers. */
export declare function dockerUnavailableReason(): string | null;
/** The base image to build on (see build.js): the official one, a forced one, or the offline stand-in. */
export declare function nodeImage(options?: { standin?: boolean; log?: (line: string) => void }): Promise<string>;
/** Builds sidekick's images not built yet (one build per content hash, serialised across processes). */
export declare function buildImages(options?: BuildOptions): Promise<BuildResult>;
/** Builds the stand-ins not built yet (opensearch: the Maven-built test engine, built first when needed). */
export declare function buildStandins(options?: BuildOptions): Promise<BuildResult>;
/** Runs a command in the repository root; resolves to its stdout, rejects with the tail of its output. */
export declare function run(cmd: string, args: string[], log: (line: string) => void, options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<string>;
