// The naive baseline the benchmark compares against: one activity per message, ids in history.
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { NaiveActivities } from './naive-activities';

const acts = proxyActivities<NaiveActivities>({ startToCloseTimeout: '1 minute' });

export async function naiveCampaignWorkflow(taskId: string): Promise<number> {
  const ids = await acts.listMessageIds(taskId);
  const CONCURRENCY = 200;
  for (let i = 0; i < ids.length; i += CONCURRENCY) {
    await Promise.all(ids.slice(i, i + CONCURRENCY).map((id) => acts.sendOne(id)));
  }
  while ((await acts.countUnfinished(taskId)) > 0) await sleep('200 milliseconds');
  await acts.markCompleted(taskId);
  return ids.length;
}
