import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { TaskStatus } from '../core/status';

/** Messages of the workflows, shared by the workflows and their callers (which import only these
 * definitions, never the workflow code). */

export interface TaskWorkflowInput {
  taskId: string;
  /** Carried over continue-as-new: the task was begun by an earlier run. */
  begun?: boolean;
}

export interface TaskWorkflowStatus {
  /** The task's status as the last sweep read it from its row (the one place it is kept). */
  status: TaskStatus;
  phase: 'starting' | 'waiting_for_start' | 'waiting_for_window' | 'dispatching' | 'waiting_for_receipts' | 'paused' | 'finishing';
  waitingUntil: string | null;
  /** Channels being dispatched now. */
  dispatching: string[];
  sweeps: number;
  lastSweep: { waiting: number; inFlight: number; held: number; expired: number; released: number } | null;
}

/**
 * "The task's control state changed; read it": sent by the API after it paused, resumed or
 * canceled the task in its row (db/tasks.ts#controlTask). A signal, not an update: the yes/no is
 * given by that transaction, and signals have no in-flight limit.
 */
export const taskControlSignal = defineSignal('taskControlChanged');
export const statusQuery = defineQuery<TaskWorkflowStatus>('status');

export function taskWorkflowId(taskId: string): string {
  return `task-${taskId}`;
}

export interface StreamWorkflowInput {
  /** How long each round's activities run before the workflow continues as new. */
  roundMs?: number;
}

export interface StreamWorkflowStatus {
  roundEndsAt: string;
  /** Per piece (the sweep, each channel): how many times it was started this round. */
  starts: Record<string, number>;
}
export const streamStatusQuery = defineQuery<StreamWorkflowStatus>('streamStatus');

/** The one long-running workflow that dispatches every API send (see workflows/stream.ts), one
 * per orchestrator task queue so separate deployments (or test runs) sharing a namespace never mix. */
export function streamWorkflowId(orchestratorTaskQueue: string): string {
  return orchestratorTaskQueue === 'orchestrator' ? 'notifications-stream' : `notifications-stream-${orchestratorTaskQueue}`;
}
