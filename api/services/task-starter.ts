import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { AppConfig } from '../../core/config';
import { TASK_ID, TASK_NAME, TASK_STATUS, TEMPLATE_ID } from '../../core/search-attributes';
import { streamWorkflowId, taskWorkflowId } from '../../workflows/definitions';

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

export function temporalUiUrl(config: AppConfig, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Makes sure the notifications stream runs (started if absent, left alone if running). */
export async function ensureStreamWorkflow(client: Client, config: AppConfig): Promise<string> {
  const workflowId = streamWorkflowId(config.orchestratorTaskQueue);
  await client.workflow.start('notificationStreamWorkflow', {
    workflowId,
    taskQueue: config.orchestratorTaskQueue,
    args: [],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return workflowId;
}
