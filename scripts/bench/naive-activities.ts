import type { Pool } from 'pg';
import type { ChannelProvider } from '../../activities/channels/types';
import { applyStatusChanges } from '../../db/messages';
import { setTaskStatus } from '../../db/tasks';

/** Baseline activities: each message claimed, submitted and recorded on its own. */
export function createNaiveActivities(pool: Pool, provider: ChannelProvider) {
  return {
    async listMessageIds(taskId: string): Promise<string[]> {
      const { rows } = await pool.query('select id from messages where task_id = $1 order by seq', [taskId]);
      return rows.map((r) => r.id);
    },
    async sendOne(messageId: string): Promise<void> {
      const { rows } = await pool.query(
        `update messages set status = 'QUEUED', queued_at = now(), delivery_end_at = now() + make_interval(secs => lifetime_seconds)
         where id = $1 and status = 'CREATED' returning send_id, recipient, sender, text, payload, delivery_end_at`,
        [messageId],
      );
      const m = rows[0];
      if (!m) return;
      const [result] = await provider.submit([
        { messageId, sendId: m.send_id, channel: 'sms', recipient: m.recipient, sender: m.sender, text: m.text, payload: m.payload, deliveryEndAt: m.delivery_end_at },
      ]);
      if (result?.outcome === 'accepted') await applyStatusChanges(pool, [{ messageId, status: 'SENT', providerMessageId: result.providerMessageId }], 'naive');
    },
    async countUnfinished(taskId: string): Promise<number> {
      const { rows } = await pool.query(
        `select count(*)::int as n from messages where task_id = $1 and status not in ('DELIVERED', 'READ', 'UNDELIVERED', 'ERROR', 'CANCELED', 'SKIPPED')`,
        [taskId],
      );
      return rows[0].n;
    },
    async markCompleted(taskId: string): Promise<void> {
      await setTaskStatus(pool, taskId, 'completed');
    },
  };
}
export type NaiveActivities = ReturnType<typeof createNaiveActivities>;
