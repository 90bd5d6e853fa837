import type { App, Revision } from '../crds/index.js';
import type { ReplicaPhase } from './core/reconcile.js';

/** One replica as the activator sees it. */
export interface Endpoint {
  /** Stable for the replica's life: a process id locally, a pod name in Kubernetes. */
  readonly id: string;
  /** host:port the activator proxies to. */
  readonly address: string;
  readonly ready: boolean;
  /** Being stopped: route nothing new to it; report drained() when it has nothing in flight. */
  readonly draining: boolean;
}

export interface LogLine {
  readonly time: string;
  /** The replica that printed it; `dormant` for the platform's events. */
  readonly replica: string;
  /** platform: an event of Dormant's about the app (a deploy, a scale, a crash), among its lines as Heroku's are. */
  readonly stream: 'stdout' | 'stderr' | 'platform';
  readonly text: string;
}

export interface RolloutOptions {
  /** At zero replicas, prove the revision starts (like Dokku's CHECKS), then return to zero. */
  readonly verifyAtZero?: boolean;
}

export interface LogOptions {
  readonly follow?: boolean;
  /** Only lines at or after this time (ms since the epoch). */
  readonly sinceMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Where replicas run: processes and podman containers locally (issue #3, #8), Deployments in
 * Kubernetes (issue #10). Not implemented yet; this is the contract both will meet.
 */
/** One replica as `dormant ps` shows it (memory and CPU where the runtime can tell). */
export interface ReplicaReport {
  readonly id: string;
  readonly revision: string;
  readonly phase: ReplicaPhase;
  readonly pid: number | undefined;
  /** Since its process started. */
  readonly uptimeMs: number;
  /** Since it became ready (undefined until then). */
  readonly readyForMs?: number;
  readonly memoryBytes?: number;
  readonly cpuSeconds?: number;
}

/** The size of the terminal a one-off process gets (dormant run from a terminal): its standard streams are then one pseudo-terminal. */
export interface TerminalSize {
  readonly columns: number;
  readonly rows: number;
}

/** A one-off process of a release (dormant run): its standard streams, its end, and a way to end it. */
export interface OneOffProcess {
  readonly stdin: import('node:stream').Writable;
  readonly stdout: import('node:stream').Readable;
  readonly stderr: import('node:stream').Readable;
  /** Once it (and its sandbox or pod) is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): void;
  /** On a terminal: gives it a new size (the CLI's was resized); absent where the terminal cannot follow. */
  resize?(size: TerminalSize): void;
}

export interface Runtime {
  /**
   * New replicas become ready before old ones drain. At zero replicas it only records the
   * revision, unless verifyAtZero: then one replica starts as a check and stops once ready.
   */
  rollout(app: App, revision: Revision, options?: RolloutOptions): Promise<void>;
  /** reason: why (the autoscaler's words), for the app's platform events. */
  setScale(app: string, replicas: number, reason?: string): Promise<void>;
  /** Stops every replica and forgets the revision (a first deploy that failed after its rollout). */
  retire(app: string): Promise<void>;
  /** The current endpoints at once, then again on every change. */
  endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]>;
  drained(app: string, endpointId: string): void;
  logs(app: string, options?: LogOptions): AsyncIterable<LogLine>;
  /** An event of the platform's about the app (a deploy, a release), among its log lines; a runtime without a log of its own leaves it out. */
  record?(app: string, text: string): void;
  /** A one-off process in the revision, isolated as its replicas are (a pod on Kubernetes); absent: the runtime has none of its own. */
  runOneOff?(app: App, revision: Revision, argv: readonly string[], terminal?: TerminalSize): Promise<OneOffProcess>;
}
