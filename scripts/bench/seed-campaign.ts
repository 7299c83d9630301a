import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { sqlUuidv7 } from '../../db/ids';
import { inTransaction } from '../../db/pool';
import { taskWorkflowId } from '../../workflows/definitions';

export interface SeededCampaign {
  taskId: string;
  recipients: number;
}

/**
 * Creates a task of `recipients` SMS messages to sandbox numbers ending in `lastDigit` (default 0:
 * delivered; see API.md, "Sandbox numbers"), generated
 * inside PostgreSQL (generate_series) so the campaign itself, not the seeding, is what gets measured.
 */
export async function seedSmsCampaign(
  pool: Pool,
  options: {
    recipients: number;
    templateId?: string | null;
    sender?: string;
    lifetimeSeconds?: number;
    name?: string;
    sendWindows?: { from: string; to: string }[];
    timezone?: string;
    startAt?: Date;
    lastDigit?: number;
  },
): Promise<SeededCampaign> {
  const taskId = randomUUID();
  await inTransaction(pool, async (client) => {
    await client.query(
      `insert into tasks (id, name, type, status, template_id, timezone, send_windows, total, workflow_id, start_at)
       values ($1, $2, 'sms', 'created', $3, $6, $7, $4, $5, $8)`,
      [
        taskId,
        options.name ?? `campaign of ${options.recipients}`,
        options.templateId ?? null,
        options.recipients,
        taskWorkflowId(taskId),
        options.timezone ?? 'UTC',
        JSON.stringify(options.sendWindows ?? []),
        options.startAt ?? null,
      ],
    );
    await client.query(
      // CREATED rows need no event row: the registration is the row (db/messages.ts#messageEvents).
      `insert into messages (id, task_id, group_id, send_id, seq, channel, channel_index, optional, released, status,
         sender, recipient, text, parts, cost, lifetime_seconds)
       -- One channel: each row is its group's first row, whose id is the group's (planRecipient).
       select id, $1::uuid, id, $1::text || ':' || g || ':sms', g, 'sms', 0, false, true, 'CREATED',
         $2, '+7999' || lpad(g::text, 6, '0') || $5::text, 'Your order is ready', 1, 0.05, $3
       from (select g, ${sqlUuidv7('g')} as id from generate_series(1, $4::int) g) s`,
      [taskId, options.sender ?? 'ACME', options.lifetimeSeconds ?? 3600, options.recipients, options.lastDigit ?? 0],
    );
  });
  return { taskId, recipients: options.recipients };
}
