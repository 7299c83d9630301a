/**
 * The message status state machine (DESIGN.md, "Message model and status semantics").
 * Receipts may arrive late or out of order, so every write goes through `canTransition`:
 * a status never moves backwards and a final status only moves to a "better" final status.
 */
export const MESSAGE_STATUSES = [
  'CREATED',
  'QUEUED',
  'DELAYED',
  'PAUSED',
  'SENT',
  'PENDING',
  'DELIVERED',
  'READ',
  'UNDELIVERED',
  'ERROR',
  'CANCELED',
  'SKIPPED',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Statuses after which the message will not be (re)sent on its channel. */
export const FINAL_STATUSES: readonly MessageStatus[] = ['DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'CANCELED', 'SKIPPED'];
/** What a dispatcher may claim: waiting rows that are not paused (a QUEUED row only when nobody
 * owns it — a retry for later, or a claim given back; see db/dispatch.ts#claimableRow). */
export const CLAIMABLE_STATUSES: readonly MessageStatus[] = ['CREATED', 'DELAYED', 'QUEUED'];

const TRANSITIONS: Record<MessageStatus, readonly MessageStatus[]> = {
  // Waiting rows may expire too: a row that was tried once (a transient refusal) keeps the lifetime
  // it started, through a pause or a window wait.
  CREATED: ['QUEUED', 'DELAYED', 'PAUSED', 'CANCELED', 'ERROR', 'SKIPPED', 'UNDELIVERED'],
  DELAYED: ['QUEUED', 'CREATED', 'PAUSED', 'CANCELED', 'ERROR', 'SKIPPED', 'UNDELIVERED'],
  PAUSED: ['QUEUED', 'CREATED', 'DELAYED', 'CANCELED', 'ERROR', 'SKIPPED', 'UNDELIVERED'],
  // A claimed message that has not reached the provider yet can still be paused or canceled.
  QUEUED: ['SENT', 'PENDING', 'DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'PAUSED', 'DELAYED', 'CREATED', 'CANCELED'],
  SENT: ['PENDING', 'DELIVERED', 'READ', 'UNDELIVERED', 'ERROR'],
  PENDING: ['DELIVERED', 'READ', 'UNDELIVERED', 'ERROR'],
  DELIVERED: ['READ'],
  READ: [],
  // A delivery receipt that arrives after the lifetime expired is the truth about the carrier:
  // the row records it (UNDELIVERED, or SKIPPED once a fallback channel was used), but the
  // fallback decision already taken is never repeated.
  UNDELIVERED: ['DELIVERED', 'READ', 'SKIPPED'],
  ERROR: ['SKIPPED'],
  CANCELED: [],
  SKIPPED: ['DELIVERED', 'READ'],
};

export function isFinal(status: MessageStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function canTransition(from: MessageStatus, to: MessageStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Every status from which `to` may be reached: used to guard batched SQL updates. */
export function allowedPredecessors(to: MessageStatus): MessageStatus[] {
  return MESSAGE_STATUSES.filter((from) => canTransition(from, to));
}

export const TASK_STATUSES = ['created', 'in_progress', 'paused', 'completed', 'canceled', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
