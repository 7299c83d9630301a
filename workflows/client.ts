import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AppConfig } from '../core/config';
import { TASK_ID, TASK_NAME, TASK_STATUS, TEMPLATE_ID } from '../core/search-attributes';
import { streamWorkflowId, taskControlSignal, taskWorkflowId, type StreamWorkflowInput } from './definitions';

/** Starting and messaging the workflows from outside (the API, the worker's supervisor, scripts).
 * Never imported by workflow code. */

/** Starts a task's workflow (`task-<id>`) with its search attributes. Starting twice is harmless:
 * the workflow id is the task's, so a repeat finds the run already there. */
export async function startTaskWorkflow(
  client: Client,
  config: AppConfig,
  task: { id: string; name: string; templateId: string | null },
): Promise<string> {
  const workflowId = taskWorkflowId(task.id);
  try {
    await client.workflow.start('taskWorkflow', {
      workflowId,
      taskQueue: config.orchestratorTaskQueue,
      args: [{ taskId: task.id }],
      typedSearchAttributes: [
        { key: TASK_ID, value: task.id },
        { key: TASK_NAME, value: task.name },
        { key: TASK_STATUS, value: 'created' },
        ...(task.templateId ? [{ key: TEMPLATE_ID, value: task.templateId }] : []),
      ],
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  return workflowId;
}

/** Tells a campaign's workflow that its task row changed (paused, resumed, canceled). False when
 * the workflow is not there (the supervisor restarts or fails such tasks). */
export async function signalTaskControl(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).signal(taskControlSignal);
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

export function temporalUiUrl(config: AppConfig, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** How long the stream's workflow task may stay with a worker before the server gives it to
 * another. A worker stopped (Ctrl-C, a deploy) just after taking one leaves it unanswered, and API
 * sends wait this long after the workers are back (with the default 10 s, 8 s in
 * test/e2e/engine-faults.test.ts). The stream's tasks replay a few dozen events: milliseconds. */
const STREAM_WORKFLOW_TASK_TIMEOUT = '5 seconds';

/** Makes sure the notifications stream runs (started if absent, left alone if running). A
 * describe first: reading is cheaper for the server than a start that finds the run there. */
export async function ensureStreamWorkflow(client: Client, config: AppConfig): Promise<string> {
  const workflowId = streamWorkflowId(config.orchestratorTaskQueue);
  const running = await client.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.status.name === 'RUNNING')
    .catch((error) => {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    });
  if (running) return workflowId;
  const input: StreamWorkflowInput = { roundMs: config.streamRoundMs };
  await client.workflow.start('notificationStreamWorkflow', {
    workflowId,
    taskQueue: config.orchestratorTaskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowTaskTimeout: STREAM_WORKFLOW_TASK_TIMEOUT,
  });
  return workflowId;
}
