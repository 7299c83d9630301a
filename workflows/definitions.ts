import { defineQuery, defineUpdate } from '@temporalio/workflow';

/** Messages of the task workflow, shared by the workflow and the API (which imports only these
 * definitions, never the workflow code). Updates give the API a synchronous yes/no: a refused
 * transition (e.g. resuming a canceled task) comes back as an error the API turns into a 409. */
export type TaskControlState = 'running' | 'paused' | 'canceling';

export interface TaskWorkflowInput {
  taskId: string;
  /** Carried over continue-as-new. */
  control?: TaskControlState;
  begun?: boolean;
}

export interface TaskWorkflowStatus {
  control: TaskControlState;
  phase: 'starting' | 'waiting_for_start' | 'waiting_for_window' | 'dispatching' | 'waiting_for_receipts' | 'paused' | 'finishing';
  waitingUntil: string | null;
  sweeps: number;
  lastSweep: { inFlight: number; held: number; waiting: number; expired: number; released: number } | null;
}

/** The argument names the task: the notifications stream runs many; a task workflow ignores it. */
export const pauseUpdate = defineUpdate<{ status: string }, [taskId: string]>('pause');
export const resumeUpdate = defineUpdate<{ status: string }, [taskId: string]>('resume');
export const cancelUpdate = defineUpdate<{ status: string }, [taskId: string]>('cancel');
export const statusQuery = defineQuery<TaskWorkflowStatus>('status');

export function taskWorkflowId(taskId: string): string {
  return `task-${taskId}`;
}

/** The one long-running workflow that dispatches every API send (see workflows/stream.ts), one
 * per orchestrator task queue so separate deployments (or test runs) sharing a namespace never mix. */
export function streamWorkflowId(orchestratorTaskQueue: string): string {
  return orchestratorTaskQueue === 'orchestrator' ? 'notifications-stream' : `notifications-stream-${orchestratorTaskQueue}`;
}
