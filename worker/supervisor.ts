import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { AppConfig } from '../core/config';
import { STREAM_TASK_TYPE } from '../db/scope';
import { failTask, foldTaskCountChanges, recordTaskEvent } from '../db/tasks';
import { ensureStreamWorkflow, startTaskWorkflow } from '../workflows/client';

/** A campaign whose workflow is missing is restarted only once it has been running this long
 * (its workflow is started before its row says in_progress, but visibility may lag). */
const MISSING_GRACE_SECONDS = 30;
const FOLD_PER_ROUND = 50_000;

/**
 * Keeps the engine whole, from every worker process (each step is idempotent, so several workers
 * doing it at once is harmless):
 * - the notifications stream runs: accepted API sends are durable in Postgres and wait for it, so
 *   if it was terminated (or Temporal's state was reset) it is started again within seconds;
 * - every running or paused campaign has its workflow: one that failed, timed out or was
 *   terminated leaves its task `failed` with the reason (workflow code cannot run on termination);
 *   one that is gone altogether (Temporal's state lost) is started again and goes on from the rows;
 * - the per-status counters' change log is folded into the counts.
 */
export class EngineSupervisor {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly deps: { client: Client; pool: Pool; config: AppConfig; logger: Logger },
  ) {}

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      await this.superviseOnce();
      if (!this.stopped) this.timer = setTimeout(() => (this.running = tick()), this.deps.config.superviseEveryMs);
    };
    this.running = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  async superviseOnce(): Promise<void> {
    const { client, config, logger } = this.deps;
    await ensureStreamWorkflow(client, config).catch((error) => logger.warn({ err: error }, 'notifications stream not started yet; will retry'));
    await this.reconcileCampaigns().catch((error) => logger.warn({ err: error }, 'campaign reconciliation failed; will retry'));
    await this.foldCounts().catch((error) => logger.warn({ err: error }, 'folding task counters failed; will retry'));
  }

  /** Keeps the counters' change log short (counts read right either way: see db/tasks.ts#countsByTask). */
  private async foldCounts(): Promise<void> {
    for (let round = 0; round < 20 && !this.stopped; round++) {
      if ((await foldTaskCountChanges(this.deps.pool, FOLD_PER_ROUND)) < FOLD_PER_ROUND) return;
    }
  }

  /** Finds running or paused campaigns whose workflow is not running, and fails or restarts them. */
  async reconcileCampaigns(): Promise<void> {
    const { client, pool, config, logger } = this.deps;
    const { rows: tasks } = await pool.query<{ id: string; name: string; template_id: string | null; workflow_id: string; settled: boolean }>(
      `select id, name, template_id, workflow_id, started_at < now() - make_interval(secs => $2) as settled
       from tasks where type <> $1 and status in ('in_progress', 'paused')`,
      [STREAM_TASK_TYPE, MISSING_GRACE_SECONDS],
    );
    for (const task of tasks) {
      const handle = client.workflow.getHandle(task.workflow_id);
      let status: string;
      try {
        status = (await handle.describe()).status.name;
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
        if (!task.settled) continue;
        await startTaskWorkflow(client, config, { id: task.id, name: task.name, templateId: task.template_id });
        await recordTaskEvent(pool, task.id, 'restarted', { reason: 'its workflow was not found in Temporal' });
        logger.warn({ taskId: task.id }, 'campaign workflow was missing: restarted');
        continue;
      }
      if (status === 'RUNNING') continue;
      if (status === 'COMPLETED' || status === 'CONTINUED_AS_NEW') {
        // Ended while the row still says running (e.g. an old version's run): go on from the rows.
        await startTaskWorkflow(client, config, { id: task.id, name: task.name, templateId: task.template_id });
        await recordTaskEvent(pool, task.id, 'restarted', { reason: `its workflow had ${status.toLowerCase()}` });
        continue;
      }
      const reason = await endReason(client, task.workflow_id, status);
      if (await failTask(pool, task.id, reason)) logger.warn({ taskId: task.id, reason }, 'campaign failed');
    }
  }
}

/** "workflow terminated: <reason>", "workflow failed: <message>", "workflow timed out"… from the run's last event. */
async function endReason(client: Client, workflowId: string, status: string): Promise<string> {
  const base = `workflow ${status.toLowerCase().replace('_', ' ')}`;
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const last = history.events?.[history.events.length - 1];
    const detail =
      last?.workflowExecutionTerminatedEventAttributes?.reason ??
      last?.workflowExecutionFailedEventAttributes?.failure?.message ??
      undefined;
    return detail ? `${base}: ${detail}` : base;
  } catch {
    return base;
  }
}
