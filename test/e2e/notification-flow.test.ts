import request from 'supertest';
import { startTaskWorkflow } from '../../workflows/client';
import { TASK_STATUS } from '../../core/search-attributes';
import { seedSmsCampaign } from '../../scripts/bench/seed-campaign';
import { streamWorkflowId } from '../../workflows/definitions';
import { eventually, smsTemplate, startStack, type TestStack, postWebhook } from '../support/harness';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: true });
});
afterAll(async () => {
  await stack.close();
});

describe('one notification through the real stack', () => {
  it('API → Postgres → task workflow → sandbox SMS → receipt → DELIVERED, visible in Temporal', async () => {
    const templateId = await smsTemplate(stack);
    const sent = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, variables: { order: 'A-1' }, recipients: [{ externalId: 'crm-42', phone: '8 (999) 000-00-07', variables: { name: 'Ann' } }] })
      .expect(202);
    expect(sent.body.messages).toEqual([
      { id: expect.any(String), channel: 'sms', recipient: '+79990000007', status: 'CREATED', optional: false },
    ]);
    const messageId = sent.body.messages[0].id;

    const message = await eventually(
      async () => (await stack.admin().get(`/api/v1/messages/${messageId}`).expect(200)).body,
      (m) => m.status === 'DELIVERED',
    );
    expect(message.text).toBe('Hi Ann, order A-1 is ready');
    expect(message.parts).toBe(1);
    expect(message.cost).toBeGreaterThan(0);
    expect(message.sentAt).not.toBeNull();
    expect(message.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);

    const task = await eventually(
      async () => (await stack.admin().get(`/api/v1/tasks/${sent.body.taskId}`).expect(200)).body,
      (t) => t.status === 'completed',
    );
    expect(task.counts).toEqual({ DELIVERED: 1 });
    // API sends are dispatched by the notifications stream, visible in the Temporal UI as one run.
    expect(task.workflowId).toBe(streamWorkflowId(stack.config.orchestratorTaskQueue));
    expect(task.temporalUiUrl).toContain(`/workflows/${task.workflowId}`);
    const stream = await stack.deps.temporal.workflow.getHandle(task.workflowId).describe();
    expect(stream.status.name).toBe('RUNNING');
    expect(stream.type).toBe('notificationStreamWorkflow');

    const history = (await stack.admin().get(`/api/v1/tasks/${sent.body.taskId}/history`).expect(200)).body;
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'started', 'completed']);
  });

  it('/metrics shows what an engineer graphs: messages by channel and status, hand-overs, claim lag, receipt latency, sweeps, rows, workflow tasks', async () => {
    const templateId = await smsTemplate(stack);
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { order: 'M-1' }, recipients: [{ phone: '+79990000017', variables: { name: 'Max' } }] }).expect(202);
    await eventually(
      async () => (await stack.admin().get(`/api/v1/messages/${sent.body.messages[0].id}`).expect(200)).body,
      (m) => m.status === 'DELIVERED',
    );
    const metrics = await eventually(
      async () => (await request(stack.app).get('/metrics').expect(200)).text,
      (text) => /sweep_seconds_count\{scope="stream"\} [1-9]/.test(text),
    );
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    for (const status of ['CREATED', 'QUEUED', 'SENT', 'DELIVERED']) {
      expect(value(`messages_status_changes_total{channel="sms",status="${status}"}`)).toBeGreaterThanOrEqual(1);
    }
    expect(value('dispatch_handed_over_total{channel="sms"}')).toBeGreaterThanOrEqual(1);
    expect(value('dispatch_claim_lag_seconds_count{channel="sms"}')).toBeGreaterThanOrEqual(1);
    expect(value('receipt_latency_seconds_count{channel="sms",status="DELIVERED"}')).toBeGreaterThanOrEqual(1);
    expect(value('messages_in_flight')).toBeGreaterThanOrEqual(0);
    expect(metrics).toMatch(/^messages_waiting \d+$/m);
    expect(metrics).toMatch(/^messages_held \d+$/m);
    // The Temporal SDK's own metrics, appended: workflow task latency among them.
    expect(metrics).toMatch(/^temporal_workflow_task_schedule_to_start_latency\w*_count\{[^}]*\} [1-9]/m);
  });

  it('a campaign task runs as its own workflow task-<id>, found in Temporal by its search attributes', async () => {
    const { taskId } = await seedSmsCampaign(stack.deps.pool, { recipients: 3, name: 'three' });
    const workflowId = await startTaskWorkflow(stack.deps.temporal, stack.config, { id: taskId, name: 'three', templateId: null });
    expect(workflowId).toBe(`task-${taskId}`);
    const handle = stack.deps.temporal.workflow.getHandle(workflowId);
    expect(await handle.result()).toEqual({ status: 'completed' });
    expect((await handle.describe()).typedSearchAttributes.get(TASK_STATUS)).toBe('completed');
    const found = [];
    for await (const run of stack.deps.temporal.workflow.list({ query: `TaskId = "${taskId}"` })) found.push(run.workflowId);
    expect(found).toEqual([workflowId]);
    const task = (await stack.admin().get(`/api/v1/tasks/${taskId}`).expect(200)).body;
    expect(task).toMatchObject({ status: 'completed', counts: { DELIVERED: 3 }, workflowId });
  });

  it('a signed provider webhook records the receipt; a bad signature gets 401, an unknown message 200', async () => {
    const templateId = await smsTemplate(stack);
    // Sandbox digit 3: accepted, no receipt of its own, so the webhook's is the one that counts.
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Cy', order: 'C-3' }, recipients: [{ phone: '+79990000033' }] }).expect(202);
    const messageId = sent.body.messages[0].id;
    const accepted = await eventually(async () => (await stack.admin().get(`/api/v1/messages/${messageId}`)).body, (m) => m.status === 'SENT');
    const body = JSON.stringify({ receipts: [{ providerMessageId: accepted.providerMessageId, status: 'DELIVERED', description: 'carrier: delivered' }, { providerMessageId: 'nope', status: 'DELIVERED' }] });
    await postWebhook(stack, '/webhooks/sms/sandbox', body, 'sha256=0000').expect(401);
    expect((await postWebhook(stack, '/webhooks/sms/sandbox', body).expect(200)).body).toEqual({ applied: 1, unknown: 1 });
    const message = (await stack.admin().get(`/api/v1/messages/${messageId}`).expect(200)).body;
    expect(message.status).toBe('DELIVERED');
    expect(message.events.at(-1)).toMatchObject({ status: 'DELIVERED', description: 'carrier: delivered', source: 'webhook:sandbox' });
  });

  it('an Idempotency-Key repeat returns the first answer and sends nothing new', async () => {
    const templateId = await smsTemplate(stack);
    // A number no other test (nor the seeded campaigns, +7999…) uses: the count below is global.
    const body = { templateId, variables: { name: 'Bo', order: 'B-2' }, recipients: [{ phone: '+79890000017' }] };
    const first = await stack.admin().post('/api/v1/notifications').set('Idempotency-Key', 'order-B-2').send(body).expect(202);
    const again = await stack.admin().post('/api/v1/notifications').set('Idempotency-Key', 'order-B-2').send(body).expect(202);
    expect(again.body).toEqual(first.body);
    const { rows } = await stack.deps.pool.query('select count(*)::int as n from messages where recipient = $1', ['+79890000017']);
    expect(rows[0].n).toBe(1);
    const other = await stack.admin().post('/api/v1/notifications').set('Idempotency-Key', 'order-B-2').send({ ...body, variables: { name: 'X', order: 'Y' } });
    expect(other.status).toBe(409);
  });
});
