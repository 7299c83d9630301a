import { startTaskWorkflow } from '../../workflows/client';
import { seedSmsCampaign } from '../../scripts/bench/seed-campaign';
import { eventually, startStack, type TestStack } from '../support/harness';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: true });
});
afterAll(async () => {
  await stack.close();
});

it('a 20,000-recipient task completes with a workflow history far below Temporal limits', async () => {
  const { taskId } = await seedSmsCampaign(stack.deps.pool, { recipients: 20_000 });
  const workflowId = await startTaskWorkflow(stack.deps.temporal, stack.config, { id: taskId, name: '20k', templateId: null });
  const done = await eventually(
    async () => (await stack.admin().get(`/api/v1/tasks/${taskId}`).expect(200)).body,
    (t) => t.status === 'completed',
    180_000,
    500,
  );
  expect(done.counts).toEqual({ DELIVERED: 20_000 });
  const history = await stack.deps.temporal.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events?.length ?? 0;
  const bytes = JSON.stringify(history).length;
  // Events depend on rounds (dispatch partitions, sweeps while receipts arrive), not on recipients:
  // 51,200 events / 50 MB are the limits; see docs/ARCHITECTURE.md for the extrapolation.
  console.log(`20,000 recipients: ${events} history events, ${bytes} bytes of history`);
  expect(events).toBeLessThan(500);
  expect(bytes).toBeLessThan(500_000);
}, 240_000);
