/** Types for engine.js (plain CommonJS so run.mjs and jest can both load it without a build). */
import type { ChildProcess } from 'node:child_process';

export declare const OPENSEARCH_VERSION: string;
export declare const ENGINE_DIR: string;

export declare class EngineToolMissingError extends Error {
  readonly code: 'ENGINE_TOOL_MISSING';
  readonly tool: 'java' | 'mvn';
  constructor(tool: 'java' | 'mvn', detail: string);
}

export interface BuildResult {
  built: boolean;
  reason: string;
  ms: number;
}

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** HTTP port; 0 (default) lets the engine pick a free one. */
  port?: number;
  /** JVM max heap, default '768m'. */
  heap?: string;
  /** JVM flags: 'test' (default; serial GC, C1 only: quick to start) or 'server' (both JIT tiers as a deployed engine, fixed heap, parallel GC: the lowest p99 of bench/ship-latency.mjs on 2 cores). */
  jvm?: 'test' | 'server';
  /** log4j root level, default env SIDEKICK_ENGINE_LOG or WARN. */
  logLevel?: string;
  timeoutMs?: number;
  log?: (line: string) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Default true: the JVM exits when this process goes away (stdin EOF). */
  exitWithParent?: boolean;
}

export interface EngineHandle {
  url: string;
  port: number;
  pid: number;
  startMs: number;
  child: ChildProcess;
  exited: Promise<EngineExit>;
  stop(graceMs?: number): Promise<EngineExit>;
}

export declare function buildEngine(options?: { force?: boolean; log?: (line: string) => void }): Promise<BuildResult>;
export declare function buildReason(): string | null;
export declare function checkJava(): number;
export declare function checkMaven(): void;
export declare function startEngine(options?: StartOptions): Promise<EngineHandle>;
export declare function waitForHealth(url: string, deadline: number, isDead?: () => boolean): Promise<unknown>;

export interface ClusterNode {
  readonly name: string;
  /** http://127.0.0.1:PORT, the same across restarts. */
  readonly url: string;
  readonly port: number;
  readonly transportPort: number;
  /** The node's own data path (kept across kill/start, removed by the cluster's stop()). */
  readonly dataDir: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Ends the node abruptly (default SIGKILL); resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the node again on its ports and data path; resolves once it has rejoined and the cluster is green. */
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
  exited(): Promise<EngineExit | null>;
  ref(): void;
}

export interface ClusterOptions extends Omit<StartOptions, 'port'> {
  /** 2 to 9 nodes; default 3. */
  nodes?: number;
  /** Consecutive ports from these; default: free ports. */
  basePorts?: { http: number; transport: number };
}

export interface ClusterHandle {
  urls: string[];
  nodes: ClusterNode[];
  startMs: number;
  health(): Promise<Record<string, unknown>>;
  /** Stops every node and removes their data paths. */
  stop(): Promise<void>;
}

export declare function startCluster(options?: ClusterOptions): Promise<ClusterHandle>;
export declare function waitForCluster(url: string, count: number, deadline: number, isDead?: () => boolean): Promise<unknown>;
