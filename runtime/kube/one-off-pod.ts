/**
 * `dormant run` on Kubernetes: a pod of the serving revision (its image, config Secret,
 * user, limits and network policies, as its replicas have), whose container runs the
 * command, attached over the apiserver for stdin, stdout and stderr, and deleted once the
 * command ends or the CLI leaves. The pod carries the app's label (so every policy for app
 * pods holds it) and the run label, which the runtime's replica watch leaves out.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { Attach, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
// Not re-exported by the package's index: its streams default to this process's own, which a server's close frame would end.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import type { App, Revision } from '../../crds/index.js';
import { parseDuration } from '../../crds/index.js';
import type { OneOffProcess, TerminalSize } from '../runtime.js';
import { appLabel, deploymentFor } from './deployment-spec.js';
import { isNotFound } from './deployments.js';

/** Marks a pod of dormant run: never a replica. */
export const runLabel = 'dormant.dev/run';
/** Output held for a CLI that reads slower than the command writes: past it, the attach stops reading from the apiserver. Input waits likewise. */
const maxBufferedBytes = 1024 * 1024;
/** The longest a run lasts: a pod its CLI and Dormant both lost ends by then. */
export const runDeadlineSeconds = 24 * 3600;
/** How long the pod's status may take to say how its command ended, once the attach closed. */
const exitReportMs = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The pod: the revision's pod template, its container running the command once told to go.
 * The command waits for one line on stdin (sent once attached), so that no output is
 * written before anyone reads it.
 */
export function oneOffPodFor(app: App, revision: Revision, argv: readonly string[], name: string, terminal?: TerminalSize): V1Pod {
  const template = deploymentFor(app, revision, 1).spec?.template;
  const spec = template?.spec;
  const [container] = spec?.containers ?? [];
  if (spec === undefined || container === undefined) throw new Error(`revision ${revision.metadata.name} has no pod template`);
  const { readinessProbe: _probe, lifecycle: _lifecycle, ports: _ports, ...runContainer } = container;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: app.metadata.namespace ?? 'default',
      labels: { [appLabel]: app.metadata.name, [runLabel]: 'true' },
      // Collected with its App, should Dormant not delete it itself.
      ...(app.metadata.uid === undefined ? {} : { ownerReferences: [{ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', name: app.metadata.name, uid: app.metadata.uid }] }),
    },
    spec: {
      ...spec,
      restartPolicy: 'Never',
      activeDeadlineSeconds: runDeadlineSeconds,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          ...runContainer,
          name: 'run',
          // On a terminal, the go line is not echoed, and the terminal takes the CLI's size.
          command:
            terminal === undefined
              ? ['/bin/sh', '-c', 'IFS= read -r _dormant_go && exec "$@"', 'dormant-run', ...argv]
              : ['/bin/sh', '-c', `stty -echo; IFS= read -r _dormant_go && stty echo cols ${terminal.columns} rows ${terminal.rows} && exec "$@"`, 'dormant-run', ...argv],
          args: [],
          stdin: true,
          stdinOnce: true,
          tty: terminal !== undefined,
        },
      ],
    },
  };
}

/** Starts a one-off pod and attaches to it; resolves once its command may run. */
export async function startOneOffPod(options: { config: KubeConfig; core: CoreV1Api; app: App; revision: Revision; argv: readonly string[]; terminal?: TerminalSize | undefined }): Promise<OneOffProcess> {
  const { core, app, revision } = options;
  const namespace = app.metadata.namespace ?? 'default';
  const name = `${revision.metadata.name}-run-${randomBytes(4).toString('hex')}`;
  await core.createNamespacedPod({ namespace, body: oneOffPodFor(app, revision, options.argv, name, options.terminal) });
  const remove = () => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).then(() => undefined, () => undefined);
  try {
    const deadline = Date.now() + (parseDuration(revision.spec.run.startTimeout) ?? 60_000);
    for (;;) {
      const pod = await core.readNamespacedPod({ name, namespace });
      if (pod.status?.phase === 'Running') break;
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
      if (pod.status?.phase === 'Failed' || (waiting?.reason !== undefined && /Err|BackOff|Invalid/.test(waiting.reason))) throw new Error(`the run's pod did not start: ${waiting?.reason ?? pod.status?.phase}${waiting?.message ? ` (${waiting.message})` : ''}`);
      if (Date.now() > deadline) throw new Error(`the run's pod did not start within ${revision.spec.run.startTimeout}`);
      await sleep(100);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  const toPod = new PassThrough();
  const stdout = new PassThrough({ highWaterMark: 64 * 1024 });
  const stderr = new PassThrough({ highWaterMark: 64 * 1024 });
  let socket: { pause(): void; resume(): void; terminate(): void; readonly bufferedAmount: number } | undefined;
  let paused = false;
  // The apiserver's frames are written as they come; a reader that falls behind pauses the attach, not Dormant's memory.
  const held = (target: PassThrough) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        target.write(chunk);
        if (!paused && socket !== undefined && target.writableLength + target.readableLength > maxBufferedBytes) {
          paused = true;
          socket.pause();
          target.once('drain', () => {
            paused = false;
            socket?.resume();
          });
        }
        done();
      },
      final(done) {
        target.end();
        done();
      },
    });
  // What the CLI sends, passed on while the WebSocket has room (client-node sends whatever it is given): a command that reads slowly holds the CLI back.
  const stdin = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, done) {
      const pass = () => {
        if (socket !== undefined && socket.bufferedAmount > maxBufferedBytes) {
          setTimeout(pass, 10);
          return;
        }
        toPod.write(chunk);
        done();
      };
      pass();
    },
    final(done) {
      toPod.end();
      done();
    },
  });
  // The line the command waits for: sent first, before anything the CLI sends.
  toPod.write('\n');
  let ws: Awaited<ReturnType<Attach['attach']>>;
  try {
    // On a terminal, one stream carries both outputs.
    const heldOut = held(stdout);
    const heldErr = held(stderr);
    const handler = new WebSocketHandler(options.config, undefined, { stdin: toPod, stdout: heldOut, stderr: heldErr });
    ws = await new Attach(options.config, handler).attach(namespace, name, 'run', heldOut, options.terminal === undefined ? heldErr : null, toPod, options.terminal !== undefined);
    if (options.terminal !== undefined) stderr.end();
  } catch (error) {
    await remove();
    throw error;
  }
  socket = ws as unknown as typeof socket;
  const exited = (async (): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    await new Promise<void>((resolve) => {
      ws.on('close', () => resolve());
      ws.on('error', () => resolve());
    });
    if (!stdout.writableEnded) stdout.end();
    if (!stderr.writableEnded) stderr.end();
    try {
      // The attach ends as the command does; its exit code is in the pod's status a moment later (on a busy node, some seconds).
      for (let tries = 0; tries < exitReportMs / 100; tries++) {
        const pod = await core.readNamespacedPod({ name, namespace }).catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        });
        const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
        if (terminated !== undefined) return { code: terminated.exitCode, signal: null };
        if (pod === undefined) return { code: null, signal: 'SIGKILL' };
        await sleep(100);
      }
      return { code: null, signal: 'SIGKILL' };
    } finally {
      await remove();
    }
  })();
  return {
    stdin,
    stdout,
    stderr,
    exited,
    stop: () => {
      ws.terminate();
      void remove();
    },
    // The attach's resize channel (4): the kubelet sets the container's terminal to it, which signals the process (SIGWINCH).
    ...(options.terminal === undefined
      ? {}
      : {
          resize: (size: TerminalSize) => {
            if (ws.readyState === ws.OPEN && ws.bufferedAmount < maxBufferedBytes) ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: size.columns, Height: size.rows }))]));
          },
        }),
  };
}

/** Deletes the run pods a gitd that stopped or died left (one gitd runs: none of them has a CLI any more). */
export async function sweepRunPods(core: CoreV1Api, namespace: string): Promise<void> {
  await core.deleteCollectionNamespacedPod({ namespace, labelSelector: `${appLabel},${runLabel}`, gracePeriodSeconds: 0 });
}
