import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, makeTelemetryFilterString, type WorkerInterceptors, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { CHANNELS, channelTaskQueue, temporalConnectionOptions, type AppConfig } from '../core/config';
import { createControlActivities } from '../activities/control';
import { createDispatchActivities } from '../activities/dispatch';
import { createProviders } from '../activities/channels/registry';
import { SandboxCarrier } from '../activities/channels/sandbox';
import type { ProviderRegistry } from '../activities/channels/types';
import { DispatchWakeups } from '../db/notify';
import { setSdkMetricsUrl } from '../activities/metrics';
import { freePort } from './ports';
import { EngineSupervisor } from './supervisor';

export interface RunningWorkers {
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

let cachedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle is built once per process (a few seconds of webpack) and shared. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  cachedBundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: silentBundlerLogger });
  return cachedBundle;
}
const silentBundlerLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;

let runtimeInstalled = false;
/** The SDK logs every worker state change at INFO (and activity-only workers at WARN); keep it quiet unless asked.
 * Its own metrics (workflow task latency among them) are served by the SDK on a local port and
 * appended to this process's /metrics: `TEMPORAL_SDK_METRICS_PORT`, or a free port. */
export async function installWorkerRuntime(level: string, sdkMetricsPort = Number(process.env.TEMPORAL_SDK_METRICS_PORT || 0)): Promise<void> {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLevel = level === 'debug' || level === 'trace' ? 'DEBUG' : 'ERROR';
  const port = sdkMetricsPort || (await freePort());
  // The SDK's native core logs its warnings straight to stderr (e.g. a shutdown RPC cut short as the
  // connection closes on Ctrl-C): route them through the same logger and level.
  Runtime.install({
    logger: new DefaultLogger(sdkLevel),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: sdkLevel }), forward: {} },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, useSecondsForDurations: true } },
    },
  });
  setSdkMetricsUrl(`http://127.0.0.1:${port}/metrics`);
}

export async function connectWorker(config: AppConfig): Promise<NativeConnection> {
  await installWorkerRuntime(config.logLevel);
  return NativeConnection.connect(temporalConnectionOptions(config));
}

/**
 * Starts the orchestrator worker (task and stream workflows, control activities) and one activity
 * worker per channel task queue, each with its own rate limit; the process's LISTEN connection
 * that wakes idle dispatchers; the supervisor that keeps the stream and every campaign's workflow
 * running; and the sandbox carrier that delivers the sandbox provider's receipts.
 */
export async function startWorkers(deps: {
  config: AppConfig;
  pool: Pool;
  connection: NativeConnection;
  logger: Logger;
  providers?: ProviderRegistry;
  /** Activity interceptors (tests inject faults with them). */
  interceptors?: WorkerInterceptors;
}): Promise<RunningWorkers> {
  const { config, pool, connection, logger } = deps;
  // Configured providers connect first (an SMPP bind): a setting they refuse stops the start here.
  const configured = deps.providers
    ? undefined
    : createProviders({ configs: config.providers, pool, logger, publicUrl: config.api.publicUrl, sandboxLatencyMs: config.sandbox.latencyMs });
  await configured?.start();
  const providers = deps.providers ?? configured!.registry;
  const wakeups = new DispatchWakeups(config.databaseUrl);
  await wakeups.start();
  const orchestrator = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.orchestratorTaskQueue,
    workflowBundle: await workflowBundle(),
    activities: createControlActivities({ pool, wakeups, dispatchPartitions: config.dispatchPartitions }),
    maxConcurrentActivityTaskExecutions: 20,
    interceptors: deps.interceptors,
  });
  const dispatch = createDispatchActivities({ pool, providers, ratePerSecond: config.channelRatePerSecond, wakeups });
  const channelWorkers = await Promise.all(
    CHANNELS.map((channel) =>
      Worker.create({
        connection,
        namespace: config.temporal.namespace,
        taskQueue: channelTaskQueue(config.orchestratorTaskQueue, channel),
        activities: dispatch,
        maxConcurrentActivityTaskExecutions: 16,
        // A channel runs a few long-lived activities (the stream's dispatcher, a campaign's
        // partitions), not a stream of short ones: two pollers pick them up, and an idle worker
        // costs the Temporal server less than the default five.
        maxConcurrentActivityTaskPolls: 2,
        interceptors: deps.interceptors,
      }),
    ),
  );
  const carrier = new SandboxCarrier(pool);
  carrier.start();
  const workers = [orchestrator, ...channelWorkers];
  const runs = new Map(workers.map((w) => [w, w.run()]));
  const done = Promise.all(runs.values()).then(() => undefined);
  const supervisor = new EngineSupervisor({ client: new Client({ connection, namespace: config.temporal.namespace }), pool, config, logger });
  supervisor.start();
  logger.info({ taskQueues: [config.orchestratorTaskQueue, ...CHANNELS.map((channel) => channelTaskQueue(config.orchestratorTaskQueue, channel))] }, 'workers started');
  return {
    done,
    async shutdown() {
      await supervisor.stop();
      await carrier.stop();
      // Long-running activities see the shutdown as a cancellation and return at once, giving
      // back what they claimed but did not hand over. Channel workers stop first, while the
      // orchestrator still runs the workflows: they schedule the next dispatch attempts at once, so
      // the next start picks them up at once (a workflow task left for a stopped worker would
      // wait out its sticky queue's timeout first).
      const stop = async (some: Worker[]) => {
        for (const w of some) if (w.getState() === 'RUNNING') w.shutdown();
        await Promise.all(some.map((w) => runs.get(w)));
      };
      await stop(channelWorkers);
      await stop([orchestrator]);
      await done;
      await configured?.stop();
      await wakeups.stop();
    },
  };
}
